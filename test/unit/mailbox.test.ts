import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatestMailbox } from '../../src/core/mailbox.ts';
import { TypedEmitter } from '../../src/core/emitter.ts';

test('LatestMailbox: put() replaces an unconsumed value, counts it and hands it to onDrop', async () => {
  const freed: number[] = [];
  const mb = new LatestMailbox<number>({ onDrop: (v) => freed.push(v) });
  assert.equal(mb.put(1), true);
  mb.put(2);
  mb.put(3);
  assert.equal(mb.dropped, 2);
  assert.deepEqual(freed, [1, 2]);
  assert.equal(await mb.take(), 3, 'the latest value wins');
  assert.equal(mb.full, false);
  assert.equal(mb.taken, 1);
});

test('LatestMailbox: take() waits for the next put(); a waiting consumer gets the value directly (no drop)', async () => {
  const mb = new LatestMailbox<string>();
  const p = mb.take();
  mb.put('a');
  assert.equal(await p, 'a');
  mb.put('b');
  assert.equal(mb.dropped, 0);
  assert.equal(mb.tryTake(), 'b');
  assert.equal(mb.tryTake(), undefined);
});

test('LatestMailbox: close() rejects waiters and later takes with InvalidStateError, frees the held value', async () => {
  const freed: string[] = [];
  const mb = new LatestMailbox<string>({ onDrop: (v) => freed.push(v) });
  const waiting = mb.take();
  mb.close();
  await assert.rejects(waiting, { code: 'E_INVALID_STATE' });
  await assert.rejects(mb.take(), { code: 'E_INVALID_STATE' });
  const mb2 = new LatestMailbox<string>({ onDrop: (v) => freed.push(v) });
  mb2.put('held');
  mb2.close();
  mb2.close(); // idempotent
  assert.equal(mb2.put('late'), false, 'put after close is refused');
  assert.deepEqual(freed, ['held', 'late'], 'nothing leaks: held and late values go back to the owner');
  assert.equal(mb2.dropped, 0, 'values discarded at close are not counted as drops');
});

test('LatestMailbox: take(signal) rejects with AbortError on abort and leaves no waiter behind', async () => {
  const mb = new LatestMailbox<number>();
  const ac = new AbortController();
  const p = mb.take(ac.signal);
  ac.abort();
  await assert.rejects(p, { code: 'E_ABORTED' });
  mb.put(7); // would go to the stale waiter if it were still queued
  assert.equal(mb.tryTake(), 7);
  await assert.rejects(mb.take(AbortSignal.abort()), { code: 'E_ABORTED' });
});

test('LatestMailbox: a throwing onDrop leaves the mailbox consistent', async () => {
  const mb = new LatestMailbox<number>({ onDrop: () => { throw new Error('owner bug'); } });
  mb.put(1);
  assert.throws(() => mb.put(2), /owner bug/);
  assert.equal(mb.dropped, 1);
  assert.equal(await mb.take(), 2);
});

test('TypedEmitter: a throwing listener is counted and does not stop the others or the emitter', () => {
  class E extends TypedEmitter<{ tick: [n: number]; done: [] }> {
    fire(n: number): boolean {
      return this.safeEmit('tick', n);
    }
  }
  const e = new E();
  const got: number[] = [];
  e.on('tick', () => { throw new Error('bad listener'); });
  e.on('tick', (n) => got.push(n));
  e.once('tick', (n) => got.push(n * 10));
  assert.equal(e.fire(1), true);
  assert.equal(e.fire(2), true);
  assert.deepEqual(got, [1, 10, 2]);
  assert.equal(e.listenerErrors, 2);
  assert.equal(e.listenerCount('done'), 0);
});
