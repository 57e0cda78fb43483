/** Bounded polling for tests: every wait names what it waits for and fails after its limit. */
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves with the time it took once `pred` holds (polled every 20 ms); rejects after `ms`. */
export async function until(pred: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!pred()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
  return performance.now() - t0;
}

/** Polls an async check every 100 ms until it gives a truthy value, which it resolves with; rejects after `ms`. */
export async function untilValue<T>(fn: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}
