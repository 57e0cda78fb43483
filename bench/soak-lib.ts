/**
 * Soak sampling for `facecast serve`: while N streams run, read the server's own /metrics (RSS, heap, open file
 * descriptors, from prom-client's process metrics) and /api/streams (latency, frames, drops) every few seconds.
 * Shared by bench/soak.ts (30 minutes by default) and the CI test test/e2e/overload-soak.test.ts (short).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface SoakSample {
  /** Seconds since sampling began. */
  t: number;
  rssMb: number;
  heapMb: number;
  fds: number;
  /** Over the streams: max and mean of the status latency (ingest → analysed, EWMA), ms. */
  latencyMaxMs: number;
  latencyMeanMs: number;
  received: number;
  dropped: number;
  analysedFps: number;
  /** Per stream, frames received and neither dropped nor skipped: analysed or in analysis (each camera must still
   *  get its turn under overload). */
  analysedByStream: number[];
  /** /healthz round trip, ms. */
  healthMs: number;
  /** Video frames each WHEP viewer received so far (when the soak runs viewers). */
  viewerFrames?: number[];
}

interface StreamsBody { streams: { id: string; status: { latencyMs: number; framesReceived: number; framesDropped: number; framesSkipped: number; analysedFps: number; state: string } }[] }

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

export async function sample(base: string, t0: number, headers: Record<string, string> = {}): Promise<SoakSample> {
  const h0 = performance.now();
  const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
  const healthMs = performance.now() - h0;
  if (health.status !== 200) throw new Error(`/healthz answered ${health.status}`);
  const metrics = await (await fetch(`${base}/metrics`, { headers, signal: AbortSignal.timeout(5000) })).text();
  const { streams } = (await (await fetch(`${base}/api/streams`, { headers, signal: AbortSignal.timeout(5000) })).json()) as StreamsBody;
  const lat = streams.map((s) => s.status.latencyMs);
  return {
    t: (performance.now() - t0) / 1000,
    rssMb: metric(metrics, 'process_resident_memory_bytes') / 2 ** 20,
    heapMb: metric(metrics, 'nodejs_heap_size_used_bytes') / 2 ** 20,
    fds: metric(metrics, 'process_open_fds'),
    latencyMaxMs: Math.max(0, ...lat),
    latencyMeanMs: lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length),
    received: streams.reduce((a, s) => a + s.status.framesReceived, 0),
    dropped: streams.reduce((a, s) => a + s.status.framesDropped, 0),
    analysedFps: streams.reduce((a, s) => a + s.status.analysedFps, 0),
    analysedByStream: streams.map((s) => s.status.framesReceived - s.status.framesDropped - s.status.framesSkipped),
    healthMs,
  };
}

/** Samples every `everySec` until `done` (asked after each interval, with the samples so far and the seconds since
 *  sampling began) says to stop. `viewers`: the frame counts of the soak's WHEP viewers, recorded with each sample. */
async function sampleUntil(
  base: string,
  everySec: number,
  done: (samples: readonly SoakSample[], elapsedSec: number) => boolean,
  onSample?: (s: SoakSample) => void,
  viewers?: () => number[],
): Promise<SoakSample[]> {
  const t0 = performance.now();
  const out: SoakSample[] = [];
  do {
    const s = await sample(base, t0);
    if (viewers) s.viewerFrames = viewers();
    out.push(s);
    onSample?.(s);
    await sleep(everySec * 1000);
  } while (!done(out, (performance.now() - t0) / 1000));
  return out;
}

/** Samples every `everySec` for `seconds`; returns every sample (bounded by the duration). `viewers`: the frame
 *  counts of the soak's WHEP viewers, recorded with each sample. */
export function soak(base: string, seconds: number, everySec: number, onSample?: (s: SoakSample) => void, viewers?: () => number[]): Promise<SoakSample[]> {
  return sampleUntil(base, everySec, (_, elapsed) => elapsed >= seconds, onSample, viewers);
}

/**
 * Samples until RSS has settled, then for `measureSec` more. Warm-up is not a fixed time: how long the JIT, the
 * codecs' buffer pools, the per-thread malloc arenas and ORT's memory arenas (which grow to the largest batch
 * seen) take to reach their size depends on how fast the machine analyses. Settled means the last `settleSec` of
 * samples span less than `settleMb`; a process that never settles within `maxWarmupSec` is growing (a leak),
 * and `settledAt` is then undefined. Bounded: at most maxWarmupSec + measureSec (+ one interval).
 */
export async function soakSettled(
  base: string,
  o: { everySec: number; settleSec: number; settleMb: number; maxWarmupSec: number; measureSec: number },
  onSample?: (s: SoakSample) => void,
): Promise<{ samples: SoakSample[]; settledAt: number | undefined }> {
  let settledAt: number | undefined;
  const samples = await sampleUntil(
    base,
    o.everySec,
    (out) => {
      const s = out[out.length - 1];
      if (settledAt !== undefined) return s.t - settledAt >= o.measureSec;
      const recent = out.filter((x) => x.t >= s.t - o.settleSec);
      const span = Math.max(...recent.map((x) => x.rssMb)) - Math.min(...recent.map((x) => x.rssMb));
      if (s.t >= o.settleSec && recent.length >= 3 && span < o.settleMb) settledAt = s.t;
      return settledAt === undefined && s.t >= o.maxWarmupSec;
    },
    onSample,
  );
  return { samples, settledAt };
}

/** Least-squares slope of y over t (units of y per second). */
export function slope(points: readonly { t: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.y - my), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den > 0 ? num / den : 0;
}

export interface SoakSummary {
  samples: number;
  seconds: number;
  rssMb: { first: number; last: number; max: number; slopeMbPerMin: number };
  heapMb: { first: number; last: number; max: number; slopeMbPerMin: number };
  fds: { first: number; last: number; max: number };
  latencyMs: { meanOfMeans: number; max: number };
  dropRatio: number;
  healthMsMax: number;
  /** With viewers: sampling intervals in which some viewer received no frame (a stall), and the slowest viewer's
   *  mean frames per second. */
  viewers?: { count: number; stalls: number; minFps: number };
}

/** Summary over the samples after `warmupSec` (JIT, buffer pools and model arenas settle first). */
export function summarise(all: readonly SoakSample[], warmupSec: number): SoakSummary {
  const s = all.filter((x) => x.t >= warmupSec);
  const pts = (f: (x: SoakSample) => number) => s.map((x) => ({ t: x.t, y: f(x) }));
  const first = s[0];
  const last = s[s.length - 1];
  return {
    samples: s.length,
    seconds: last.t - first.t,
    rssMb: { first: first.rssMb, last: last.rssMb, max: Math.max(...s.map((x) => x.rssMb)), slopeMbPerMin: slope(pts((x) => x.rssMb)) * 60 },
    heapMb: { first: first.heapMb, last: last.heapMb, max: Math.max(...s.map((x) => x.heapMb)), slopeMbPerMin: slope(pts((x) => x.heapMb)) * 60 },
    fds: { first: first.fds, last: last.fds, max: Math.max(...s.map((x) => x.fds)) },
    latencyMs: { meanOfMeans: s.reduce((a, x) => a + x.latencyMeanMs, 0) / s.length, max: Math.max(...s.map((x) => x.latencyMaxMs)) },
    dropRatio: (last.dropped - first.dropped) / Math.max(1, last.received - first.received),
    healthMsMax: Math.max(...s.map((x) => x.healthMs)),
    ...(first.viewerFrames ? { viewers: viewerSummary(s) } : {}),
  };
}

function viewerSummary(s: readonly SoakSample[]): { count: number; stalls: number; minFps: number } {
  const n = s[0].viewerFrames?.length ?? 0;
  let stalls = 0;
  for (let i = 1; i < s.length; i++) for (let v = 0; v < n; v++) if ((s[i].viewerFrames?.[v] ?? 0) <= (s[i - 1].viewerFrames?.[v] ?? 0)) stalls++;
  const dt = Math.max(1e-9, s[s.length - 1].t - s[0].t);
  const fps = Array.from({ length: n }, (_, v) => ((s[s.length - 1].viewerFrames?.[v] ?? 0) - (s[0].viewerFrames?.[v] ?? 0)) / dt);
  return { count: n, stalls, minFps: n ? Math.min(...fps) : 0 };
}
