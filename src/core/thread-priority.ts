/**
 * Per-thread scheduling priority (Linux). On a loaded camera server inference must yield to live video: a
 * classification burst that takes the cores for 50 ms makes the event loop and the decoders late, frames then
 * arrive in bursts and viewers see stutter, whereas analysis is latest-frame-wins and only analyses a little less
 * often. Linux schedules threads, not processes, and setpriority(PRIO_PROCESS, tid) sets one thread's nice
 * value; threads it creates afterwards (onnxruntime's pool) inherit it.
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
