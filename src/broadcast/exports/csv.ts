/**
 * CSV export: one row per face per analysed frame. Columns (documented in docs/analyze.md):
 * file, frame, time, track_id, x, y, w, h, score, status, emotion, p_<emotion>×7, age, gender, p_male,
 * emotion_smoothed, ps_<emotion>×7, age_smoothed, gender_smoothed, p_male_smoothed; with race estimation on
 * (`--race`), also RACE_COLUMNS: race, p_race (its probability), race_smoothed, p_race_smoothed.
 * `time` is on the source's clock (SourceInfo.startSec added). Numbers use '.' decimals; absent values are empty cells. For a list of images, one CSV holds them all.
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

/** Appended when race estimation is on (the columns exist only when the model ran, never empty by default). */
export const RACE_COLUMNS = ['race', 'p_race', 'race_smoothed', 'p_race_smoothed'] as const;

/** Quotes a cell when it holds a separator, quote or line break (RFC 4180). */
export function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

const n = (v: number | undefined, digits: number): string => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(digits));

const top = (v: { probs: number[] } | undefined): number | undefined => (v ? Math.max(...v.probs) : undefined);

function faceRow(file: string, rec: FrameRecord, f: FaceRecord, race: boolean, start: number): string {
  const r = f.raw;
  const s = f.smoothed;
  const cells = [
    csvCell(file), String(rec.frame), (rec.time + start).toFixed(3), String(f.trackId),
    n(f.box.x, 1), n(f.box.y, 1), n(f.box.w, 1), n(f.box.h, 1), n(f.score, 3), f.status,
    r?.emotion?.label ?? '', ...EMOTIONS.map((_, i) => n(r?.emotion?.probs[i], 4)), n(r?.age, 1), r?.gender?.label ?? '', n(r?.gender?.male, 3),
    s?.emotion?.label ?? '', ...EMOTIONS.map((_, i) => n(s?.emotion?.probs[i], 4)), n(s?.age, 1), s?.gender?.label ?? '', n(s?.gender?.male, 3),
  ];
  if (race) cells.push(r?.race?.label ?? '', n(top(r?.race), 3), s?.race?.label ?? '', n(top(s?.race), 3));
  return cells.join(',') + '\n';
}

export class CsvExporter implements Exporter {
  readonly path: string;
  readonly #out: TextFileWriter;
  readonly #race: boolean;
  #ended = false;

  constructor(path: string, opts: { race?: boolean } = {}) {
    this.path = path;
    this.#race = opts.race === true;
    this.#out = new TextFileWriter(path);
    this.#out.write([...CSV_COLUMNS, ...(this.#race ? RACE_COLUMNS : [])].join(',') + '\n');
  }

  frame(rec: FrameRecord, source: SourceInfo): void {
    const start = source.startSec ?? 0;
    for (const f of rec.faces) this.#out.write(faceRow(source.input, rec, f, this.#race, start));
  }

  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#out.close();
  }
}
