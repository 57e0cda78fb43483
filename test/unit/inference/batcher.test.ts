import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Batcher } from '../../../src/inference/batcher.ts';
import { AbortError, InvalidStateError } from '../../../src/core/errors.ts';

function doubling(log: number[][], delayMs = 0): (items: number[]) => Promise<number[]> {
  return async (items) => {
    log.push([...items]);
    if (delayMs) await sleep(delayMs);
    return items.map((x) => x * 2);
  };
}

test('Batcher gathers submissions from the same tick into one run, in order', async () => {
  const runs: number[][] = [];
  const b = new Batcher({ name: 't', maxBatch: 8, maxWaitMs: 20, run: doubling(runs) });
  const results = await Promise.all([1, 2, 3].map((x) => b.submit(x)));
  assert.deepEqual(results, [2, 4, 6]);
  assert.deepEqual(runs, [[1, 2, 3]]);
  await b.close();
});

test('Batcher dispatches at maxBatch without waiting for maxWaitMs', async () => {
  const runs: number[][] = [];
  const b = new Batcher({ name: 't', maxBatch: 2, maxWaitMs: 10_000, run: doubling(runs) });
  const t0 = performance.now();
  const r = await Promise.all([b.submit(1), b.submit(2)]);
  assert.deepEqual(r, [2, 4]);
  assert.ok(performance.now() - t0 < 1000, 'a full batch must not wait for the timer');
  await b.close();
});

test('Batcher waits at most maxWaitMs for a partial batch', async () => {
  const runs: number[][] = [];
  const b = new Batcher({ name: 't', maxBatch: 64, maxWaitMs: 30, run: doubling(runs) });
  const t0 = performance.now();
  assert.equal(await b.submit(5), 10);
  const dt = performance.now() - t0;
  assert.ok(dt >= 25 && dt < 1000, `waited ${dt} ms`);
  await b.close();
});

test('Batcher runs one batch at a time and sends items that arrived meanwhile next', async () => {
  const runs: number[][] = [];
  let active = 0;
  let maxActive = 0;
  const b = new Batcher<number, number>({
    name: 't',
    maxBatch: 3,
    maxWaitMs: 1,
    run: async (items) => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs.push([...items]);
      await sleep(20);
      active--;
      return items.map((x) => -x);
    },
  });
  const first = [1, 2, 3].map((x) => b.submit(x));
  await sleep(5); // first batch is running
  const second = [4, 5, 6, 7].map((x) => b.submit(x));
  assert.deepEqual(await Promise.all([...first, ...second]), [-1, -2, -3, -4, -5, -6, -7]);
  assert.equal(maxActive, 1);
  assert.deepEqual(runs, [[1, 2, 3], [4, 5, 6], [7]]);
  assert.equal(b.stats.items, 7);
  assert.equal(b.stats.sizes[3], 2);
  await b.close();
});

test('Batcher: aborting a queued item removes it from the batch and rejects with AbortError', async () => {
  const runs: number[][] = [];
  const b = new Batcher({ name: 't', maxBatch: 8, maxWaitMs: 30, run: doubling(runs) });
  const ac = new AbortController();
  const a = b.submit(1);
  const cancelled = b.submit(2, ac.signal);
  const c = b.submit(3);
  ac.abort();
  await assert.rejects(cancelled, (e: unknown) => e instanceof AbortError && e.code === 'E_ABORTED');
  assert.deepEqual(await Promise.all([a, c]), [2, 6]);
  assert.deepEqual(runs, [[1, 3]]);
  assert.equal(b.stats.cancelled, 1);
  await b.close();
});

test('Batcher: aborting an item whose batch is running rejects at once; the others still resolve', async () => {
  const b = new Batcher({ name: 't', maxBatch: 2, maxWaitMs: 0, run: doubling([], 50) });
  const ac = new AbortController();
  const x = b.submit(1, ac.signal);
  const y = b.submit(2);
  await sleep(10);
  const t0 = performance.now();
  ac.abort();
  await assert.rejects(x, AbortError);
  assert.ok(performance.now() - t0 < 40, 'rejection must not wait for the run');
  assert.equal(await y, 4);
  await b.close();
});

test('Batcher: an already-aborted signal rejects without running', async () => {
  const runs: number[][] = [];
  const b = new Batcher({ name: 't', maxBatch: 2, maxWaitMs: 0, run: doubling(runs) });
  await assert.rejects(b.submit(1, AbortSignal.abort()), AbortError);
  await sleep(5);
  assert.equal(runs.length, 0);
  await b.close();
});

test('Batcher: a failing run rejects every item of that batch only', async () => {
  let n = 0;
  const b = new Batcher<number, number>({
    name: 't',
    maxBatch: 2,
    maxWaitMs: 0,
    run: async (items) => {
      if (n++ === 0) throw new Error('boom');
      return items;
    },
  });
  const first = [b.submit(1), b.submit(2)];
  for (const p of first) await assert.rejects(p, /boom/);
  assert.equal(await b.submit(3), 3);
  await b.close();
});

test('Batcher: a run returning the wrong number of results rejects the batch', async () => {
  const b = new Batcher<number, number>({ name: 't', maxBatch: 2, maxWaitMs: 0, run: async () => [1] });
  await assert.rejects(Promise.all([b.submit(1), b.submit(2)]), /1 results for 2 items/);
  await b.close();
});

test('Batcher.close() rejects queued items, is idempotent, and refuses new work', async () => {
  const b = new Batcher({ name: 't', maxBatch: 8, maxWaitMs: 10_000, run: doubling([]) });
  const p = b.submit(1);
  await b.close();
  await b.close();
  await assert.rejects(p, InvalidStateError);
  await assert.rejects(b.submit(2), InvalidStateError);
  assert.equal(b.closed, true);
});

test('Batcher is correct under many concurrent callers with random cancellation', async () => {
  const b = new Batcher<number, number>({
    name: 't',
    maxBatch: 5,
    maxWaitMs: 2,
    run: async (items) => {
      await sleep(Math.random() * 3);
      return items.map((x) => x + 1000);
    },
  });
  const jobs: Promise<void>[] = [];
  let resolved = 0;
  let aborted = 0;
  for (let i = 0; i < 200; i++) {
    const ac = new AbortController();
    const p = b.submit(i, ac.signal).then(
      (v) => {
        assert.equal(v, i + 1000);
        resolved++;
      },
      (e: unknown) => {
        assert.ok(e instanceof AbortError);
        aborted++;
      },
    );
    if (i % 7 === 0) setTimeout(() => ac.abort(), Math.random() * 5);
    jobs.push(p);
    if (i % 20 === 0) await sleep(1);
  }
  await Promise.all(jobs);
  assert.equal(resolved + aborted, 200);
  assert.ok(resolved >= 200 - Math.ceil(200 / 7));
  assert.ok(Math.max(...b.stats.sizes.map((c, size) => (c > 0 ? size : 0))) <= 5);
  await b.close();
});

test('Batcher holds one abort listener per signal however many items share it, and none once they settle', async () => {
  const { EventEmitter } = await import('node:events');
  const listeners = (t: EventTarget): number => EventEmitter.getEventListeners(t, 'abort').length;
  const runs: number[][] = [];
  const b = new Batcher({ name: 't', maxBatch: 4, maxWaitMs: 5, run: doubling(runs, 5) });
  const ac = new AbortController();
  const items = Array.from({ length: 30 }, (_, i) => b.submit(i, ac.signal));
  assert.equal(listeners(ac.signal), 1);
  assert.equal((await Promise.all(items)).length, 30);
  assert.equal(listeners(ac.signal), 0);
  // Aborting still cancels every queued item of that signal.
  const more = Array.from({ length: 12 }, (_, i) => b.submit(i, ac.signal).catch((e: unknown) => e));
  ac.abort();
  const settled = await Promise.all(more);
  assert.ok(settled.filter((r) => r instanceof AbortError).length >= 8);
  assert.equal(listeners(ac.signal), 0);
  await b.close();
});
