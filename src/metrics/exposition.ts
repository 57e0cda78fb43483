/**
 * Prometheus text exposition (format 0.0.4) of histograms whose counts live in the stages (core/stage-stats).
 * prom-client's Histogram can only be fed one observation at a time, and the point of the stage counters is that
 * the hot path never calls prom-client; so the histogram families are written here, from the counts, at scrape
 * time, and appended to prom-client's output (gauges, counters, the default process metrics).
 */
import type { HistogramCounts } from '../core/stage-stats.js';

/** One labelled histogram: label values (same keys for every series of a family) and its counts. */
export interface HistogramSeries {
  labels: Readonly<Record<string, string>>;
  /** Non-cumulative counts per bucket, the last one above the last bound (HistogramCounts.counts). */
  counts: ArrayLike<number>;
  sum: number;
}

export interface HistogramFamily {
  /** Base name, e.g. facecast_stage_duration_seconds (the _bucket/_sum/_count series are derived). */
  name: string;
  help: string;
  /** Upper bounds of the buckets, ascending (+Inf is implicit). */
  bounds: readonly number[];
  series: readonly HistogramSeries[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values: backslash, double quote and line feed are escaped (the only escapes the format has). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Numbers as Prometheus reads them (Go's ParseFloat): +Inf, -Inf, NaN. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelString(labels: Readonly<Record<string, string>>, le?: string): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  if (le !== undefined) parts.push(`le="${le}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

/**
 * The family as exposition text (HELP, TYPE, then per series the cumulative buckets, +Inf, _sum and _count),
 * ending without a newline, like each family of prom-client's output. A family without series is still
 * announced (HELP and TYPE), so the metric is known before it has data.
 * @throws TypeError on an invalid metric or label name, or a series whose counts do not fit the bounds
 */
export function formatHistogram(f: HistogramFamily): string {
  if (!NAME.test(f.name)) throw new TypeError(`formatHistogram: invalid metric name "${f.name}"`);
  const lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} histogram`];
  for (const s of f.series) {
    for (const k of Object.keys(s.labels)) if (!LABEL.test(k) || k === 'le' || k.startsWith('__')) throw new TypeError(`formatHistogram: invalid label name "${k}"`);
    if (s.counts.length !== f.bounds.length + 1) throw new TypeError(`formatHistogram: ${f.name}: ${s.counts.length} counts for ${f.bounds.length} bounds (+Inf)`);
    let cumulative = 0;
    for (let i = 0; i < f.bounds.length; i++) {
      cumulative += s.counts[i];
      lines.push(`${f.name}_bucket${labelString(s.labels, formatValue(f.bounds[i]))} ${cumulative}`);
    }
    // +Inf and _count are the total of the buckets by definition: derived, so they can never disagree.
    cumulative += s.counts[f.bounds.length];
    lines.push(`${f.name}_bucket${labelString(s.labels, '+Inf')} ${cumulative}`);
    lines.push(`${f.name}_sum${labelString(s.labels)} ${formatValue(s.sum)}`);
    lines.push(`${f.name}_count${labelString(s.labels)} ${cumulative}`);
  }
  return lines.join('\n');
}

/** A series from a HistogramCounts (its live arrays: format it before anything else can observe). */
export function seriesOf(h: HistogramCounts, labels: Readonly<Record<string, string>>): HistogramSeries {
  return { labels, counts: h.counts, sum: h.sum };
}

/**
 * Batch sizes as a histogram: `sizes[n]` batches of n items (the Batcher's counts), into buckets `bounds`.
 * Sum = items; the count (batches) is the total of the buckets.
 */
export function batchSizeSeries(sizes: readonly number[], bounds: readonly number[], labels: Readonly<Record<string, string>>): HistogramSeries {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  let sum = 0;
  for (let n = 1; n < sizes.length; n++) {
    const c = sizes[n] ?? 0;
    if (c === 0) continue;
    let i = 0;
    while (i < bounds.length && n > bounds[i]) i++;
    counts[i] += c;
    sum += n * c;
  }
  return { labels, counts, sum };
}
