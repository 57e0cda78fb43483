/**
 * Event-loop lag p99 (prom-client's nodejs_eventloop_lag_p99_seconds, sampled every 1 ms by FacecastMetrics):
 * a synchronous stall of the main thread shows up in the next scrape with about its real length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { FacecastMetrics } from '../../../src/metrics/metrics.ts';

function p99(text: string): number {
  const m = /^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text);
  assert.ok(m, 'nodejs_eventloop_lag_p99_seconds in the scrape');
  return Number(m[1]);
}

test('nodejs_eventloop_lag_p99_seconds reports a 60 ms stall of the event loop in the next scrape', async () => {
  const metrics = new FacecastMetrics({ streams: () => [] });
  await sleep(50);
  await metrics.render(); // the lag histogram restarts at each scrape
  await sleep(50);
  // Many 60 ms blocks, so that they are more than 1 % of the samples (one sample per ms otherwise).
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    while (performance.now() - t0 < 60);
    await sleep(2);
  }
  const lag = p99(await metrics.render());
  assert.ok(lag >= 0.05, `p99 ${lag} s after 60 ms stalls`);
});
