/**
 * Per-thread scheduling priority (Linux), for `inference.niceness`: an operator who prefers smooth video to
 * analysis can let inference yield the cores (analysis is latest-frame-wins: it then analyses fewer frames).
 * Not the default: CFS gives a nice-10 thread ~1/10 of a contended core, and on 2 cores analysis starved long
 * before video needed the time (bench/results/live-niceness10.md). Linux schedules threads, not processes, and
 * setpriority(PRIO_PROCESS, tid) sets one thread's nice value; threads it creates afterwards (onnxruntime's pool)
 * inherit it.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** This thread's kernel id (`/proc/thread-self` → "PID/task/TID"), or undefined where there is no procfs. */
export function currentThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lowers the calling thread's priority to nice `niceness` (0..19; raising it back needs privileges, so this only
 * ever lowers). Returns the thread id it applied to, or undefined where that is not possible (not Linux).
 */
export function lowerThreadPriority(niceness: number): number | undefined {
  if (process.platform !== 'linux' || niceness <= 0) return undefined;
  const tid = currentThreadId();
  if (tid === undefined) return undefined;
  setPriority(tid, Math.min(19, Math.round(niceness)));
  return tid;
}
