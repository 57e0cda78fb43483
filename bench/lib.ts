/**
 * Shared helpers for the benches: timing loops with summary statistics, deterministic inputs, machine info,
 * and a guard against other processes' CPU load (on a 2-core machine one busy neighbour halves a result).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/models/manifest.js';

/** Iteration plan: warm up, then time runs until the budget is spent (at least minIters, at most maxIters). */
export interface Plan { warmup: number; warmupMs: number; budgetMs: number; minIters: number; maxIters: number }

export interface Stats {
  iters: number; meanMs: number; p50Ms: number; p95Ms: number; minMs: number; perImageMeanMs: number; perImageP50Ms: number;
  /** CPU cores' worth of time other processes used while this was measured (0 = quiet machine). */
  foreignCpu: number;
  /** Times this measurement was thrown away and redone because the machine was busy. */
  retries: number;
}

export function stats(samples: number[], batch: number, foreignCpu: number, retries: number): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    iters: s.length, meanMs: r(mean), p50Ms: r(q(0.5)), p95Ms: r(q(0.95)), minMs: r(s[0]),
    perImageMeanMs: r(mean / batch), perImageP50Ms: r(q(0.5) / batch), foreignCpu: Math.round(foreignCpu * 100) / 100, retries,
  };
}

interface CpuSnapshot { t: number; busy: number; own: number }

/** System-wide busy jiffies (/proc/stat) and this process's (all threads, /proc/self/stat); null off Linux. */
function snapshot(): CpuSnapshot | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const busy = cpu.reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0); // minus idle and iowait
    const self = readFileSync('/proc/self/stat', 'utf8');
    const f = self.slice(self.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return { t: performance.now(), busy, own: Number(f[11]) + Number(f[12]) }; // utime, stime
  } catch {
    return null;
  }
}

/** Cores' worth of CPU that other processes used between two snapshots (USER_HZ = 100 on Linux). */
function foreign(a: CpuSnapshot | null, b: CpuSnapshot | null): number {
  if (!a || !b || b.t <= a.t) return 0;
  return Math.max(0, (b.busy - a.busy - (b.own - a.own)) / 100 / ((b.t - a.t) / 1000));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Contention policy: wait for a quiet machine before measuring, and redo a measurement disturbed by others. */
export interface Guard { maxForeign: number; maxWaitMs: number; maxRetries: number; /** Cap on all waiting in the process. */ totalWaitMs: number }

let waitedMs = 0;
/** Milliseconds spent waiting for a quiet machine so far. */
export const totalWaited = (): number => Math.round(waitedMs);

/** Waits (up to maxWaitMs) until other processes use less than maxForeign cores over a 1 s window. */
export async function waitQuiet(g: Guard): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; ; i++) {
    const a = snapshot();
    await sleep(1000);
    const load = foreign(a, snapshot());
    const waited = performance.now() - t0;
    if (load < g.maxForeign || waited > g.maxWaitMs || waitedMs + waited > g.totalWaitMs) {
      waitedMs += waited;
      return load;
    }
    if (i % 10 === 0) console.log(`    (machine busy: other processes use ${load.toFixed(2)} cores; waiting)`);
  }
}

/** Warm-up, then timed runs until the plan's budget is spent; returns each run's milliseconds. */
async function timeRuns(fn: () => Promise<unknown>, plan: Plan): Promise<number[]> {
  const w0 = performance.now();
  for (let i = 0; i < plan.warmup || performance.now() - w0 < plan.warmupMs; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < plan.maxIters && (samples.length < plan.minIters || performance.now() - start < plan.budgetMs)) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** Whether a measurement disturbed by `load` foreign cores is kept (else it is redone). */
function keep(guard: Guard | null, load: number, attempt: number): boolean {
  if (!guard || load < guard.maxForeign || attempt >= guard.maxRetries || waitedMs > guard.totalWaitMs) return true;
  console.log(`    (other processes used ${load.toFixed(2)} cores during the measurement; redoing it)`);
  return false;
}

export async function measure(fn: () => Promise<unknown>, batch: number, plan: Plan, guard: Guard | null): Promise<Stats> {
  for (let attempt = 0; ; attempt++) {
    if (guard) await waitQuiet(guard);
    const before = snapshot();
    const samples = await timeRuns(fn, plan);
    const load = foreign(before, snapshot());
    if (keep(guard, load, attempt)) return stats(samples, batch, load, attempt);
  }
}

export interface Runner { key: string; batch: number; fn: () => Promise<unknown> }
export interface Interleaved { stats: Map<string, Stats>; roundP50: Map<string, number[]> }

/**
 * Rounds of short timed blocks, one block per runner in turn, so that slow drifts in the machine's speed (a
 * shared host, other VMs) hit every runner alike and ratios between them stay fair. Samples are pooled.
 */
export async function measureInterleaved(runners: readonly Runner[], rounds: number, block: Plan, guard: Guard | null): Promise<Interleaved> {
  const pooled = new Map(runners.map((r) => [r.key, [] as number[]]));
  const roundP50 = new Map(runners.map((r) => [r.key, [] as number[]]));
  let load = 0;
  let retries = 0;
  for (let round = 0; round < rounds; round++) {
    for (let attempt = 0; ; attempt++) {
      if (guard && (round === 0 || attempt > 0)) await waitQuiet(guard);
      const before = snapshot();
      const got: number[][] = [];
      for (const r of runners) got.push(await timeRuns(r.fn, block));
      const l = foreign(before, snapshot());
      if (!keep(guard, l, attempt)) continue;
      runners.forEach((r, i) => {
        pooled.get(r.key)?.push(...got[i]);
        roundP50.get(r.key)?.push(stats(got[i], 1, 0, 0).p50Ms);
      });
      load += l / rounds;
      retries += attempt;
      break;
    }
  }
  return { stats: new Map(runners.map((r) => [r.key, stats(pooled.get(r.key) ?? [], r.batch, load, retries)])), roundP50 };
}

/** Deterministic uniform values in [lo, hi) (mulberry32): the same bytes go to every runtime. */
export function randomInput(n: number, [lo, hi]: readonly [number, number], seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

export function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  } catch {
    return cpus()[0]?.model ?? 'unknown';
  }
}
