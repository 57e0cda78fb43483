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

test('a new track is due; then only after the interval', () => {
  const b = new ClassificationBudget({ intervalSec: 1 });
  assert.equal(b.due(1, 0, det(80)), true);
  b.done(1, 0, det(80));
  assert.equal(b.due(1, 0.5, det(80)), false);
  assert.equal(b.due(1, 1.0, det(80)), true);
});

test('a clearly larger face or a better-posed one is due early', () => {
  const b = new ClassificationBudget({ intervalSec: 10, growth: 1.25 });
  b.done(1, 0, det(80, 0.4));
  assert.equal(b.due(1, 0.2, det(90, 0.4)), false, '12 % larger is not enough');
  assert.equal(b.due(1, 0.2, det(101, 0.4)), true, '26 % larger');
  assert.equal(b.due(1, 0.2, det(80, 0.1)), true, 'eyes 17° more level');
  assert.equal(b.due(1, 0.2, det(80, 0.35)), false, 'barely more level');
});

test('rename keeps a relinked track history; forget drops it', () => {
  const b = new ClassificationBudget({ intervalSec: 1 });
  b.done(7, 0, det(80));
  b.rename(7, 3);
  assert.equal(b.due(3, 0.5, det(80)), false);
  assert.equal(b.due(7, 0.5, det(80)), true);
  b.forget(3);
  assert.equal(b.size, 0);
});
