/**
 * The two pages of the WHIP bench (bench/whip.ts), served on facecast's own origin (the bench fulfils
 * `/__bench/*` with Playwright's router, so `/whip.js`, `/whep.js`, `/whip/…` and `/whep/…` are facecast's).
 *
 * Publisher: draws 1280×720 frames at 25 fps on a canvas — a group photo of real people (the
 * @vladmandic/face-api demo photos, scaled to 1600 px wide) panning slowly, above a grey band, and the wall-clock
 * barcode of bench/live-lib.ts (same layout, so DECODE_JS reads it) stamped with Date.now() at draw time — and
 * publishes the canvas's stream over WHIP with web/whip.js.
 *
 * Viewer: plays `/whep/<stream>?overlay=…` with web/whep.js and reads the barcode of every displayed frame
 * (requestVideoFrameCallback), like bench/live.ts's page.
 */
import { CODE, DECODE_JS } from '../live-lib.js';

/** Query: stream, token, capture = "timer" (canvas.captureStream(25)) | "manual" (captureStream(0) + requestFrame()). */
export const PUBLISHER_PAGE = `<!doctype html><html><body style="margin:0;background:#000">
<canvas id="c" width="${CODE.width}" height="${CODE.height}" style="width:320px;height:180px"></canvas>
<script type="module">
import { publishWhip } from '/whip.js';
const q = new URLSearchParams(location.search);
const CODE = ${JSON.stringify(CODE)};
const FPS = 25, PER_PHOTO = 4 * FPS, W = CODE.width, H = CODE.height, PH = CODE.photoH - 20;
const P = (window.__pub = { drawn: 0, skipped: 0, error: null, session: null, visibility: document.visibilityState, capture: q.get('capture') });
const c = document.getElementById('c');
const g = c.getContext('2d', { alpha: false });
function barcodeBits(stampMs) {
  const v = stampMs % 2 ** 32;
  const bytes = [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const check = bytes[0] ^ bytes[1] ^ bytes[2] ^ bytes[3];
  const bits = [1, 0];
  for (const b of bytes) for (let k = 7; k >= 0; k--) bits.push((b >> k) & 1);
  for (let k = 7; k >= 0; k--) bits.push((check >> k) & 1);
  bits.push(0, 1);
  return bits;
}
try {
  const photos = await Promise.all([1, 2, 3, 4, 5, 6].map(async (n) => {
    const blob = await (await fetch('/__bench/sample' + n + '.jpg')).blob();
    return createImageBitmap(blob, { resizeWidth: Math.round(W * 1.25), resizeQuality: 'high' });
  }));
  const draw = (i) => {
    const p = photos[Math.floor(i / PER_PHOTO) % photos.length];
    const k = (i % PER_PHOTO) / PER_PHOTO;
    const ox = Math.round(k * (p.width - W));
    const oy = Math.max(0, Math.round((p.height - PH) / 3));
    g.fillStyle = '#808080';
    g.fillRect(0, PH, W, H - PH);
    g.drawImage(p, ox, oy, W, PH, 0, 0, W, PH);
    const bits = barcodeBits(Date.now());
    for (let b = 0; b < bits.length; b++) {
      g.fillStyle = bits[b] ? '#fff' : '#000';
      g.fillRect(CODE.x0 + b * CODE.blockW, CODE.y0, CODE.blockW, CODE.blockH);
    }
  };
  draw(0);
  const manual = q.get('capture') === 'manual';
  const media = c.captureStream(manual ? 0 : FPS);
  const track = media.getVideoTracks()[0];
  // A paced loop: frame i is due at t0 + i/FPS; a frame more than one period late is skipped (a camera drops it).
  const period = 1000 / FPS, t0 = performance.now();
  let i = 0;
  const tick = () => {
    const late = performance.now() - (t0 + i * period);
    if (late > period) { const j = Math.floor((performance.now() - t0) / period); P.skipped += j - i; i = j; }
    draw(i);
    if (manual) track.requestFrame();
    P.drawn++;
    i++;
    setTimeout(tick, Math.max(0, t0 + i * period - performance.now()));
  };
  tick();
  P.session = await publishWhip(media, '/whip/' + encodeURIComponent(q.get('stream')), { token: q.get('token') || undefined });
  P.answerSdp = P.session.pc.remoteDescription && P.session.pc.remoteDescription.sdp;
  P.offerSdp = P.session.pc.localDescription && P.session.pc.localDescription.sdp;
} catch (e) {
  P.error = String((e && e.message) || e);
}
</script></body></html>`;

/** Query: whep (the WHEP URL, with ?overlay=server|client). */
export const VIEWER_PAGE = `<!doctype html><html><body style="margin:0;background:#000">
<video id="v" muted playsinline autoplay style="width:640px;height:360px"></video>
<script type="module">
import { playWhep } from '/whep.js';
${DECODE_JS}
const B = (window.__bench = { samples: [], callbacks: 0, bad: 0, error: null, width: 0, height: 0, overlayHeader: null });
// Records facecast's X-Facecast-Overlay answer header (which overlay the server chose for this viewer).
const realFetch = window.fetch.bind(window);
window.fetch = async (...a) => { const r = await realFetch(...a); if (r.headers.get('X-Facecast-Overlay')) B.overlayHeader = r.headers.get('X-Facecast-Overlay'); return r; };
const v = document.getElementById('v');
const c = document.createElement('canvas');
c.width = CODE.width; c.height = CODE.blockH;
const g = c.getContext('2d', { willReadFrequently: true });
const onFrame = (_now, md) => {
  const t = Date.now();
  B.callbacks++;
  if (v.videoWidth > 0) {
    B.width = v.videoWidth; B.height = v.videoHeight;
    const k = v.videoHeight / CODE.height;
    g.drawImage(v, 0, CODE.y0 * k, v.videoWidth, CODE.blockH * k, 0, 0, CODE.width, CODE.blockH);
    const d = g.getImageData(0, 0, CODE.width, CODE.blockH).data;
    const luma = (x, y) => { const i = (Math.round(y - CODE.y0) * CODE.width + Math.round(x)) * 4; return 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]; };
    const stamp = decodeStamp(luma, t);
    const o = performance.timeOrigin;
    if (stamp < 0) B.bad++;
    else B.samples.push([stamp, t, o + md.expectedDisplayTime, md.receiveTime !== undefined ? o + md.receiveTime : -1, md.processingDuration ?? -1, v.videoWidth, v.videoHeight]);
  }
  v.requestVideoFrameCallback(onFrame);
};
v.requestVideoFrameCallback(onFrame);
try { B.session = await playWhep(v, new URLSearchParams(location.search).get('whep')); } catch (e) { B.error = String((e && e.message) || e); }
</script></body></html>`;

/** Page-side getStats() of the publisher's outbound video (cumulative counters and the codec in use). */
export const PUBLISHER_STATS_JS = `(async () => {
  const s = window.__pub && window.__pub.session;
  if (!s) return null;
  const out = { drawn: window.__pub.drawn, skipped: window.__pub.skipped, visibility: document.visibilityState };
  const reps = await s.pc.getStats();
  reps.forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') {
      for (const k of ['frameWidth', 'frameHeight', 'framesPerSecond', 'framesEncoded', 'framesSent', 'keyFramesEncoded', 'totalEncodeTime', 'totalPacketSendDelay', 'packetsSent', 'bytesSent', 'targetBitrate', 'nackCount', 'pliCount', 'firCount', 'retransmittedPacketsSent', 'qualityLimitationResolutionChanges', 'hugeFramesSent']) out[k] = r[k];
      out.qualityLimitationReason = r.qualityLimitationReason;
      out.qualityLimitationDurations = r.qualityLimitationDurations;
      out.encoderImplementation = r.encoderImplementation;
      out.powerEfficientEncoder = r.powerEfficientEncoder;
      const codec = r.codecId && reps.get(r.codecId);
      if (codec) { out.codec = codec.mimeType; out.codecFmtp = codec.sdpFmtpLine; }
    }
    if (r.type === 'remote-inbound-rtp' && r.kind === 'video') { out.remotePacketsLost = r.packetsLost; out.roundTripTime = r.roundTripTime; }
  });
  return out;
})()`;

/** Page-side getStats() of the viewer's inbound video. */
export const VIEWER_STATS_JS = `(async () => {
  const s = window.__bench && window.__bench.session;
  if (!s) return null;
  const out = {};
  const reps = await s.pc.getStats();
  reps.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') {
      for (const k of ['packetsReceived', 'packetsLost', 'nackCount', 'pliCount', 'firCount', 'framesReceived', 'framesDecoded', 'framesDropped', 'keyFramesDecoded', 'freezeCount', 'jitterBufferDelay', 'jitterBufferEmittedCount', 'totalDecodeTime', 'bytesReceived', 'frameWidth', 'frameHeight']) out[k] = r[k];
      out.decoderImplementation = r.decoderImplementation;
      const codec = r.codecId && reps.get(r.codecId);
      if (codec) { out.codec = codec.mimeType; out.codecFmtp = codec.sdpFmtpLine; }
    }
  });
  return out;
})()`;
