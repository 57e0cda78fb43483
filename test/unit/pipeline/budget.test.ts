import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassificationBudget, defaultDetectEvery } from '../../../src/pipeline/budget.ts';
import type { Detection } from '../../../src/core/types.ts';

const det = (size: number, roll = 0): Detection => {
  const dy = Math.tan(roll) * 40;
  return { box: { x: 0, y: 0, w: size, h: size }, score: 0.9, keypoints: [{ x: 30, y: 40 }, { x: 70, y: 40 + dy }] };
};

test('defaultDetectEvery gives about five detections per second', () => {
  assert.equal(defaultDetectEvery(25), 5);
  assert.equal(defaultDetectEvery(30), 6);
  assert.equal(defaultDetectEvery(5), 1);
  assert.equal(defaultDetectEvery(1), 1);
});

test('a new track is due in full; then its emotion after the interval, everything after the demographics interval', () => {
  const b = new ClassificationBudget({ intervalSec: 1, demographicsIntervalSec: 4 });
  assert.equal(b.due(1, 0, det(80)), 'all');
  b.done(1, 0, det(80), 'all');
  assert.equal(b.due(1, 0.5, det(80)), undefined);
  assert.equal(b.due(1, 1.0, det(80)), 'emotion');
  b.done(1, 1.0, det(80), 'emotion');
  assert.equal(b.due(1, 1.5, det(80)), undefined, 'an emotion reading restarts the emotion interval');
  assert.equal(b.due(1, 2.0, det(80)), 'emotion');
  b.done(1, 2.0, det(80), 'emotion');
  b.done(1, 3.0, det(80), 'emotion');
  assert.equal(b.due(1, 3.5, det(80)), undefined);
  assert.equal(b.due(1, 4.0, det(80)), 'all', 'emotion readings do not restart the demographics interval');
  b.done(1, 4.0, det(80), 'all');
  assert.equal(b.due(1, 4.5, det(80)), undefined);
  assert.equal(b.due(1, 7.9, det(80)), 'emotion');
});

test('a clearly larger face or a better-posed one is due in full early, measured from the last full reading', () => {
  const b = new ClassificationBudget({ intervalSec: 10, demographicsIntervalSec: 10, growth: 1.25 });
  b.done(1, 0, det(80, 0.4));
  assert.equal(b.due(1, 0.2, det(90, 0.4)), undefined, '12 % larger is not enough');
  assert.equal(b.due(1, 0.2, det(101, 0.4)), 'all', '26 % larger');
  assert.equal(b.due(1, 0.2, det(80, 0.1)), 'all', 'eyes 17° more level');
  assert.equal(b.due(1, 0.2, det(80, 0.35)), undefined, 'barely more level');
  b.done(1, 0.3, det(101, 0.4), 'emotion');
  assert.equal(b.due(1, 0.4, det(101, 0.4)), 'all', 'an emotion reading of the larger face does not count as the better view');
});

test('the demographics interval cannot be shorter than the emotion interval', () => {
  assert.throws(() => new ClassificationBudget({ intervalSec: 2, demographicsIntervalSec: 1 }), RangeError);
});

test('rename keeps a relinked track history; forget drops it', () => {
  const b = new ClassificationBudget({ intervalSec: 1 });
  b.done(7, 0, det(80));
  b.rename(7, 3);
  assert.equal(b.due(3, 0.5, det(80)), undefined);
  assert.equal(b.due(7, 0.5, det(80)), 'all');
  b.forget(3);
  assert.equal(b.size, 0);
});
