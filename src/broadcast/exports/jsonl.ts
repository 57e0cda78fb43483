/**
 * JSON Lines export: one object per analysed frame — the same face data as the CSV (raw and smoothed) plus the
 * group aggregates — preceded by one `{"type":"source", ...}` line describing the input.
 */
import type { FrameRecord } from '../../core/records.js';
import type { Exporter, SourceInfo } from './types.js';
import { TextFileWriter } from './writer.js';

/** Rounds numbers so files stay small and diffs stay readable (4 decimals is below any model's precision). */
function round(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e4) / 1e4 : v;
}

export class JsonlExporter implements Exporter {
  readonly path: string;
  readonly #out: TextFileWriter;
  #wroteSource = new Set<string>();
  #ended = false;

  constructor(path: string) {
    this.path = path;
    this.#out = new TextFileWriter(path);
  }

  frame(rec: FrameRecord, source: SourceInfo): void {
    if (!this.#wroteSource.has(source.input)) {
      this.#wroteSource.add(source.input);
      this.#out.write(JSON.stringify({ type: 'source', ...source }, round) + '\n');
    }
    // `time` on the source's clock (its start time added), as in the CSV and ASS.
    this.#out.write(JSON.stringify({ type: 'frame', file: source.input, ...rec, time: rec.time + (source.startSec ?? 0) }, round) + '\n');
  }

  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#out.close();
  }
}
