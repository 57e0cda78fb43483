/**
 * Allocation-free histograms that the stages own and update once per frame (or per batch), read by src/metrics
 * at scrape time. No prom-client here: the hot path only bumps one bucket, a sum and a count, and the exporter
 * turns the counts into Prometheus histograms when it is asked (see src/metrics/README.md).
 *
 * Values are stored in base units (seconds for durations), as Prometheus names them (`*_seconds`).
 */

/** Upper bounds (inclusive, ascending) for stage durations, seconds: 0.5 ms (tracking) … 2.5 s (a stalled run). */
export const STAGE_BUCKETS: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);

/** Upper bounds for end-to-end frame latency, seconds (tens of ms when the pipeline keeps up; seconds when not). */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5]);

/**
 * Counts of observations per bucket (not cumulative; the last slot is +Inf), their sum and their count.
 * Counts only grow: a consumer that needs a reset makes a new one. Non-finite or negative values are ignored
 * (counted in `rejected`), so one bad timing cannot poison the sum.
 */
export class HistogramCounts {
  readonly bounds: readonly number[];
  /** counts[i]: observations v with bounds[i-1] < v <= bounds[i]; counts[bounds.length]: above the last bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  rejected = 0;

  constructor(bounds: readonly number[]) {
    if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= bounds[i - 1]))) {
      throw new TypeError('HistogramCounts: bounds must be finite and strictly ascending');
    }
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!(value >= 0) || value === Infinity) {
      this.rejected++;
      return;
    }
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++; // ~12 bounds: a linear scan beats a binary search
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  /** A duration measured in milliseconds (performance.now() differences), stored in seconds. */
  observeMs(ms: number): void {
    this.observe(ms / 1000);
  }

  /** Adds another histogram with the same bounds (e.g. a finished runtime's into its stream's total). */
  add(other: HistogramCounts): void {
    if (other.bounds.length !== this.bounds.length || other.bounds.some((b, i) => b !== this.bounds[i])) throw new TypeError('HistogramCounts.add: different bounds');
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.sum += other.sum;
    this.count += other.count;
  }
}

/** The stages whose durations are exported as facecast_stage_duration_seconds{stage}. */
export const STAGES = ['decode', 'detect', 'track', 'classify', 'group', 'overlay', 'encode'] as const;
export type StageName = (typeof STAGES)[number];

/**
 * Per-stage durations of the whole process (every stream, every analysis), one observation per frame or run:
 * - decode: the decoder and pixel conversion, per delivered frame (src/ingest/video.ts);
 * - detect, track, classify, group: per analysed frame that runs them (src/pipeline/analyzer.ts); detect and
 *   classify include the wait for a shared batch;
 * - overlay, encode: drawing the burnt-in overlay and the x264 encode, per video frame (src/broadcast).
 * Process-wide rather than per stream on purpose: stages are shared (one engine batches every stream) and the
 * metric is labelled by stage only, which keeps its cardinality fixed.
 */
export const stageTimings: Readonly<Record<StageName, HistogramCounts>> = Object.freeze(
  Object.fromEntries(STAGES.map((s) => [s, new HistogramCounts(STAGE_BUCKETS)])) as Record<StageName, HistogramCounts>,
);
