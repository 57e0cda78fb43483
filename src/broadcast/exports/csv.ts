/**
 * CSV export: one row per face per analysed frame. Columns (documented in docs/analyze.md):
 * file, frame, time, track_id, x, y, w, h, score, status, emotion, p_<emotion>×7, age, gender, p_male,
 * emotion_smoothed, ps_<emotion>×7, age_smoothed, gender_smoothed, p_male_smoothed.
 * Numbers use '.' decimals; absent values are empty cells. For a list of images, one CSV holds them all.
 */
import { EMOTIONS } from '../../core/types.js';
import type { FaceRecord, FrameRecord } from '../../core/records.js';
import type { Exporter, SourceInfo } from './types.js';
import { TextFileWriter } from './writer.js';

export const CSV_COLUMNS = [
  'file', 'frame', 'time', 'track_id', 'x', 'y', 'w', 'h', 'score', 'status',
  'emotion', ...EMOTIONS.map((e) => `p_${e}`), 'age', 'gender', 'p_male',
  'emotion_smoothed', ...EMOTIONS.map((e) => `ps_${e}`), 'age_smoothed', 'gender_smoothed', 'p_male_smoothed',
] as const;

/** Quotes a cell when it holds a separator, quote or line break (RFC 4180). */
export function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

const n = (v: number | undefined, digits: number): string => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(digits));

function faceRow(file: string, rec: FrameRecord, f: FaceRecord): string {
  const r = f.raw;
  const s = f.smoothed;
  const cells = [
    csvCell(file), String(rec.frame), rec.time.toFixed(3), String(f.trackId),
    n(f.box.x, 1), n(f.box.y, 1), n(f.box.w, 1), n(f.box.h, 1), n(f.score, 3), f.status,
    r?.emotion?.label ?? '', ...EMOTIONS.map((_, i) => n(r?.emotion?.probs[i], 4)), n(r?.age, 1), r?.gender?.label ?? '', n(r?.gender?.male, 3),
    s?.emotion?.label ?? '', ...EMOTIONS.map((_, i) => n(s?.emotion?.probs[i], 4)), n(s?.age, 1), s?.gender?.label ?? '', n(s?.gender?.male, 3),
  ];
  return cells.join(',') + '\n';
}

export class CsvExporter implements Exporter {
  readonly path: string;
  readonly #out: TextFileWriter;
  #ended = false;

  constructor(path: string) {
    this.path = path;
    this.#out = new TextFileWriter(path);
    this.#out.write(CSV_COLUMNS.join(',') + '\n');
  }

  frame(rec: FrameRecord, source: SourceInfo): void {
    for (const f of rec.faces) this.#out.write(faceRow(source.input, rec, f));
  }

  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#out.close();
  }
}
