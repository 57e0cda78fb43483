/**
 * ASS subtitle export: a box and a label per face, positioned in the video's own pixel space (PlayResX/Y =
 * the source size), so VLC and mpv draw them over the original video (`vlc video.mp4 --sub-file video.ass`).
 * Each analysed frame's faces are shown until the next analysed frame; a small panel top-left shows the scene
 * group (dominant emotion, valence, cohesion, face count).
 */
import type { FaceRecord, FrameRecord } from '../../core/records.js';
import { EMOTION_RGB, UNKNOWN_RGB } from '../palette.js';
import type { Exporter, SourceInfo } from './types.js';
import { TextFileWriter } from './writer.js';

/** h:mm:ss.cc as ASS wants it. */
export function assTime(sec: number): string {
  const cs = Math.max(0, Math.round(sec * 100));
  const h = Math.floor(cs / 360000);
  const m = Math.floor((cs % 360000) / 6000);
  const s = Math.floor((cs % 6000) / 100);
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(cs % 100).padStart(2, '0')}`;
}

/** ASS colours are &HBBGGRR&. */
function assColour(rgb: readonly [number, number, number]): string {
  return `&H${rgb[2].toString(16).padStart(2, '0')}${rgb[1].toString(16).padStart(2, '0')}${rgb[0].toString(16).padStart(2, '0')}&`.toUpperCase();
}

/** Text safe inside a Dialogue line: braces start override blocks and newlines end the line. */
function assText(s: string): string {
  return s.replace(/[{}]/g, '').replace(/\r?\n/g, '\\N');
}

export function faceLabel(f: FaceRecord): string {
  if (f.status === 'too-small') return `#${f.trackId} too small`;
  const v = f.smoothed ?? f.raw;
  const parts = [`#${f.trackId}`];
  if (v?.emotion) parts.push(`${v.emotion.label} ${Math.round(100 * Math.max(...v.emotion.probs))}%`);
  if (v?.age !== undefined) parts.push(`${Math.round(v.age)}y`);
  if (v?.gender) parts.push(v.gender.label === 'male' ? 'M' : 'F');
  return parts.join(' ');
}

function header(src: SourceInfo): string {
  const fontSize = Math.max(12, Math.round(src.height / 36));
  return [
    '[Script Info]',
    `Title: facecast ${assText(src.name)}`,
    'ScriptType: v4.00+',
    `PlayResX: ${src.width}`,
    `PlayResY: ${src.height}`,
    'WrapStyle: 2',
    'ScaledBorderAndShadow: yes',
    '',
    '[V4+ Styles]',
    'Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding',
    'Style: Box,Sans,20,&HFF000000,&H000000FF,&H0000FF00,&H00000000,0,0,0,0,100,100,0,0,1,2,0,7,0,0,0,1',
    `Style: Label,Sans,${fontSize},&H00FFFFFF,&H000000FF,&H00000000,&H80000000,1,0,0,0,100,100,0,0,3,1,0,1,0,0,0,1`,
    `Style: Panel,Sans,${fontSize},&H00FFFFFF,&H000000FF,&H00000000,&H80000000,0,0,0,0,100,100,0,0,3,1,0,7,10,10,10,1`,
    '',
    '[Events]',
    'Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text',
    '',
  ].join('\n');
}

export class AssExporter implements Exporter {
  readonly path: string;
  readonly #out: TextFileWriter;
  #pending: { rec: FrameRecord; src: SourceInfo } | undefined;
  #started = false;
  #ended = false;

  constructor(path: string) {
    this.path = path;
    this.#out = new TextFileWriter(path);
  }

  frame(rec: FrameRecord, source: SourceInfo): void {
    if (!this.#started) {
      this.#out.write(header(source));
      this.#started = true;
    }
    // A frame's overlays last until the next analysed frame, so each is written one frame late.
    if (this.#pending) this.#emit(this.#pending.rec, rec.time);
    this.#pending = { rec, src: source };
  }

  /** Event times on the source's clock: a player shows the video's frames at their time plus the start time. */
  #emit(rec: FrameRecord, until: number, offset = this.#pending?.src.startSec ?? 0): void {
    const start = assTime(rec.time + offset);
    const end = assTime(Math.max(until, rec.time + 0.01) + offset);
    for (const f of rec.faces) {
      const v = f.smoothed ?? f.raw;
      const colour = assColour(v?.emotion ? EMOTION_RGB[v.emotion.label] : UNKNOWN_RGB);
      const { x, y, w, h } = f.box;
      const [x0, y0, x1, y1] = [x, y, x + w, y + h].map((c) => Math.round(c));
      this.#out.write(`Dialogue: 0,${start},${end},Box,,0,0,0,,{\\an7\\pos(0,0)\\1a&HFF&\\3c${colour}\\p1}m ${x0} ${y0} l ${x1} ${y0} l ${x1} ${y1} l ${x0} ${y1}{\\p0}\n`);
      this.#out.write(`Dialogue: 1,${start},${end},Label,,0,0,0,,{\\an1\\pos(${x0},${Math.max(0, y0 - 4)})\\3c${colour}}${assText(faceLabel(f))}\n`);
    }
    const scene = rec.groups.find((g) => g.kind === 'scene');
    if (scene && scene.faceCount > 0) {
      const text = `${scene.faceCount} faces · ${scene.dominant ?? '-'} · valence ${scene.valence.toFixed(2)} · cohesion ${scene.cohesion.toFixed(2)}`;
      this.#out.write(`Dialogue: 2,${start},${end},Panel,,0,0,0,,${assText(text)}\n`);
    }
  }

  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#pending) {
      const { rec, src } = this.#pending;
      this.#emit(rec, rec.time + (src.fps > 0 ? 1 / src.fps : 1));
    }
    this.#out.close();
  }
}
