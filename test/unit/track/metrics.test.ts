import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateMot, type MotFrame } from '../../../src/pipeline/track/metrics.ts';

const box = (x: number) => ({ x, y: 0, w: 10, h: 10 });

test('perfect tracking scores 1 everywhere, whatever the tracker ids are', () => {
  const gt: MotFrame[] = [0, 1, 2].map((f) => [{ id: 1, box: box(f) }, { id: 2, box: box(50 + f) }]);
  const hyp: MotFrame[] = [0, 1, 2].map((f) => [{ id: 7, box: box(f + 1) }, { id: 9, box: box(50 + f) }]);
  const m = evaluateMot(gt, hyp);
  assert.equal(m.mota, 1);
  assert.equal(m.idf1, 1);
  assert.equal(m.idSwitches, 0);
  assert.equal(m.recall, 1);
  assert.equal(m.precision, 1);
});

test('an identity switch, a miss and a false positive are counted', () => {
  const gt: MotFrame[] = [[{ id: 1, box: box(0) }], [{ id: 1, box: box(0) }], [{ id: 1, box: box(0) }], [{ id: 1, box: box(0) }]];
  const hyp: MotFrame[] = [[{ id: 5, box: box(0) }], [{ id: 5, box: box(0) }], [{ id: 6, box: box(0) }, { id: 8, box: box(40) }], []];
  const m = evaluateMot(gt, hyp);
  assert.equal(m.tp, 3);
  assert.equal(m.fn, 1);
  assert.equal(m.fp, 1);
  assert.equal(m.idSwitches, 1);
  assert.equal(m.mota, 1 - 3 / 4);
  assert.equal(m.idtp, 2, 'gt 1 ↔ tracker 5 for two frames');
  assert.equal(m.idf1, (2 * 2) / (4 + 4));
  assert.equal(m.precision, 3 / 4);
  assert.equal(m.recall, 3 / 4);
});

test('boxes overlapping less than IoU 0.5 do not match; the previous correspondence is kept while valid', () => {
  const m = evaluateMot([[{ id: 1, box: box(0) }]], [[{ id: 2, box: box(6) }]]);
  assert.equal(m.tp, 0);
  // Frame 2: tracker 3 fits slightly better, but the established tracker 2 still overlaps: no switch.
  const gt: MotFrame[] = [[{ id: 1, box: box(0) }], [{ id: 1, box: box(0) }]];
  const hyp: MotFrame[] = [[{ id: 2, box: box(0) }], [{ id: 2, box: box(2) }, { id: 3, box: box(1) }]];
  assert.equal(evaluateMot(gt, hyp).idSwitches, 0);
  assert.throws(() => evaluateMot(gt, hyp.slice(1)), RangeError);
});
