import type { FrameRecord } from '../../core/records.js';

/** Facts about the analysed input that exports need (names, sizes, rates). */
export interface SourceInfo {
  /** Input path or URL, as given. */
  input: string;
  /** Base name used for output files. */
  name: string;
  width: number;
  height: number;
  /** Source frame rate (frames per second); 0 for still images. */
  fps: number;
  durationSec?: number;
  /**
   * The stream's start time (s); frame times are relative to it. CSV, JSONL and ASS add it, so their times are
   * the ones a player shows for the source video (a stream starting at 0.852 s would otherwise get subtitles
   * 0.85 s early). Absent = 0.
   */
  startSec?: number;
}

/** An export: fed frame records in order, then ended once. */
export interface Exporter {
  readonly path: string;
  frame(rec: FrameRecord, source: SourceInfo): void;
  /** Writes what remains and closes the file. Idempotent. */
  end(): Promise<void>;
}
