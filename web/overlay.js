// Client-side overlay: boxes and labels drawn on a <canvas> over the live <video> from the socket.io `faces`
// data, used with clean video (passthrough of the camera's H.264, or a clean encode). Each displayed video frame
// is paired with the analysis of that very frame: the server stamps RTP timestamps as 90 kHz × the source
// timeline, the same clock as FrameSummary.time, and Chromium reports each frame's RTP timestamp through
// requestVideoFrameCallback. Without that metadata (other browsers) the latest analysis is drawn.
import { COLOURS } from './charts.js';
import { drawZones } from './zones.js';

/** @typedef {import('../src/broadcast/protocol.ts').FrameSummary} FrameSummary */

/** Analyses kept for pairing: ~2 s at 25 fps covers the video's jitter buffer and the network. */
const KEEP = 50;
/** A displayed frame further than this from every analysis gets the nearest anyway, if within this, s. */
const MAX_GAP_SEC = 1;
const RTP_WRAP = 2 ** 32;

/** Label of a face, as the server-burnt overlay writes it (src/broadcast/exports/ass.ts faceLabel). @param {FrameSummary['faces'][number]} f */
export function faceLabel(f) {
  if (f.status === 'too-small') return `#${f.trackId} too small`;
  const parts = [`#${f.trackId}`];
  if (f.emotion) parts.push(`${f.emotion.label} ${Math.round(100 * Math.max(...f.emotion.probs))}%`);
  if (f.age !== null) parts.push(`${Math.round(f.age)}y`);
  if (f.gender) parts.push(f.gender.label === 'male' ? 'M' : 'F');
  return parts.join(' ');
}

export class ClientOverlay {
  /** @param {HTMLVideoElement} video @param {HTMLCanvasElement} canvas */
  constructor(video, canvas) {
    this.video = video;
    this.canvas = canvas;
    /** @type {FrameSummary[]} time order */
    this.frames = [];
    /** Frames drawn with a paired analysis vs with the latest one (for tests and the curious). */
    this.paired = 0;
    this.unpaired = 0;
    /** The frame drawn last (tests read it). @type {FrameSummary | null} */
    this.drawn = null;
    this.enabled = false;
    this.stopped = false;
    /** The stream's zones (config), outlined under the boxes. @type {import('./zones.js').Zone[]} */
    this.zones = [];
    this.hasRvfc = 'requestVideoFrameCallback' in HTMLVideoElement.prototype;
    this.loop();
  }

  /** @param {FrameSummary} f */
  push(f) {
    const last = this.frames.at(-1);
    if (last && f.time < last.time) this.frames.length = 0; // a new timeline (stream restarted)
    this.frames.push(f);
    if (this.frames.length > KEEP) this.frames.shift();
    if (this.enabled && !this.hasRvfc) this.draw(f);
  }

  /** @param {boolean} on */
  setEnabled(on) {
    this.enabled = on;
    this.canvas.hidden = !on;
    if (!on) this.clear();
  }

  stop() {
    this.stopped = true;
  }

  /** @param {import('./zones.js').Zone[]} zones */
  setZones(zones) {
    this.zones = zones;
  }

  loop() {
    if (this.stopped || !this.hasRvfc) return;
    this.video.requestVideoFrameCallback((_now, meta) => {
      if (this.enabled) {
        const f = this.pick(meta.rtpTimestamp);
        if (f) this.draw(f);
      }
      this.loop();
    });
  }

  /** The analysis of the displayed frame (nearest in time, RTP wrap-around aware), else the latest. @param {number | undefined} rtp */
  pick(rtp) {
    const latest = this.frames.at(-1);
    if (rtp === undefined || !latest) return latest ?? null;
    let best = null;
    let bestGap = Infinity;
    for (const f of this.frames) {
      let d = Math.abs(((Math.round(f.time * 90000) % RTP_WRAP) - rtp) / 90000);
      d = Math.min(d, RTP_WRAP / 90000 - d);
      if (d < bestGap) {
        bestGap = d;
        best = f;
      }
    }
    if (best && bestGap <= MAX_GAP_SEC) {
      this.paired++;
      return best;
    }
    this.unpaired++;
    return latest;
  }

  clear() {
    const ctx = this.canvas.getContext('2d');
    ctx?.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** @param {FrameSummary} f */
  draw(f) {
    const c = this.canvas;
    const v = this.video;
    // The canvas covers the video element; the picture is letterboxed inside it (object-fit: contain).
    const cw = c.clientWidth || v.clientWidth;
    const ch = c.clientHeight || v.clientHeight;
    if (c.width !== cw || c.height !== ch) {
      c.width = cw;
      c.height = ch;
    }
    const ctx = c.getContext('2d');
    if (!ctx || !f.width || !f.height) return;
    ctx.clearRect(0, 0, cw, ch);
    const s = Math.min(cw / f.width, ch / f.height);
    const ox = (cw - f.width * s) / 2;
    const oy = (ch - f.height * s) / 2;
    drawZones(ctx, this.zones, ox, oy, f.width * s, f.height * s);
    ctx.lineWidth = 2;
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    for (const face of f.faces) {
      const colour = face.emotion ? COLOURS[face.emotion.label] : '#8c8c8c';
      const x = ox + face.box.x * s;
      const y = oy + face.box.y * s;
      ctx.strokeStyle = colour;
      ctx.strokeRect(x, y, face.box.w * s, face.box.h * s);
      const label = faceLabel(face);
      const w = ctx.measureText(label).width + 6;
      const ly = y - 16 >= 0 ? y - 16 : y + face.box.h * s + 2;
      ctx.fillStyle = colour;
      ctx.fillRect(x, ly, w, 15);
      ctx.fillStyle = '#000';
      ctx.fillText(label, x + 3, ly + 1);
    }
    this.drawn = f;
  }
}
