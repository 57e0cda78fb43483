import { test } from 'node:test';
import assert from 'node:assert/strict';
import { iou, nms } from '../../../src/inference/nms.ts';
import { ageResult, emotionProbs, maleProbability, raceProbs, softmax, genderResult, normaliseDescriptor } from '../../../src/inference/heads.ts';
import { makeAnchors } from '../../../src/inference/detect.ts';
import { faceRegion, rollAngle } from '../../../src/inference/align.ts';
import type { Detection } from '../../../src/core/types.ts';

const det = (x: number, y: number, w: number, h: number, score: number): Detection => ({ box: { x, y, w, h }, score, keypoints: [{ x: x + w * 0.3, y: y + h * 0.4 }, { x: x + w * 0.7, y: y + h * 0.4 }] });

test('iou of identical, disjoint and half-overlapping boxes', () => {
  assert.equal(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 0, y: 0, w: 10, h: 10 }), 1);
  assert.equal(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 20, y: 0, w: 10, h: 10 }), 0);
  assert.ok(Math.abs(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 5, y: 0, w: 10, h: 10 }) - 50 / 150) < 1e-9);
});

test('weighted NMS blends a cluster by score and keeps separate faces apart', () => {
  const out = nms([det(0, 0, 10, 10, 0.9), det(2, 0, 10, 10, 0.3), det(100, 100, 20, 20, 0.8)], { iouThreshold: 0.3, blend: true });
  assert.equal(out.length, 2);
  assert.equal(out[0].score, 0.9);
  assert.ok(Math.abs(out[0].box.x - (0 * 0.9 + 2 * 0.3) / 1.2) < 1e-9, 'blended x');
  assert.equal(out[1].box.x, 100);
  const plain = nms([det(0, 0, 10, 10, 0.9), det(2, 0, 10, 10, 0.3)], { iouThreshold: 0.3, blend: false });
  assert.equal(plain[0].box.x, 0);
});

test('NMS merges a small box contained in a larger one when containThreshold is set', () => {
  const out = nms([det(0, 0, 40, 40, 0.9), det(5, 5, 10, 10, 0.6)], { iouThreshold: 0.3, containThreshold: 0.6, blend: true });
  assert.equal(out.length, 1);
  assert.equal(out[0].box.w, 40, 'a contained partial box does not shape the blended box');
});

test('anchors: row-major cells, several per cell, at cell centres', () => {
  const a = makeAnchors(256, 16, 2);
  assert.equal(a.length, 512);
  assert.deepEqual(a[0], { x: 8, y: 8 });
  assert.deepEqual(a[1], { x: 8, y: 8 });
  assert.deepEqual(a[2], { x: 24, y: 8 });
  assert.deepEqual(a[32], { x: 8, y: 24 });
  assert.equal(makeAnchors(256, 32, 6).length, 384);
});

test('emotion head maps model label order to canonical order', () => {
  const spec = { head: 'emotion' as const, output: 'o', activation: 'none' as const, labels: ['happy', 'neutral', 'sad'] as ('happy' | 'neutral' | 'sad')[] };
  const p = emotionProbs(spec, [0.5, 0.3, 0.2]);
  assert.deepEqual(p, [0, 0, 0, 0.5, 0.2, 0, 0.3]);
  const s = emotionProbs({ ...spec, activation: 'softmax' }, [0, 0, 0]);
  assert.ok(Math.abs(s[3] - 1 / 3) < 1e-9);
});

test('gender heads: sigmoid with either polarity and softmax by labels', () => {
  assert.equal(maleProbability({ head: 'gender', output: 'o', kind: 'sigmoid', positive: 'male' }, [0.8]), 0.8);
  assert.ok(Math.abs(maleProbability({ head: 'gender', output: 'o', kind: 'sigmoid', positive: 'female' }, [0.8]) - 0.2) < 1e-9);
  assert.ok(Math.abs(maleProbability({ head: 'gender', output: 'o', kind: 'softmax', labels: ['female', 'male'] }, [0.1, 0.9]) - 0.9) < 1e-9);
  assert.deepEqual(genderResult(0.3), { label: 'female', male: 0.3, confidence: 0.7 });
});

test('age: expected value over bins and confidence from spread', () => {
  const sharp = ageResult([0, 1, 0], [10, 20, 30]);
  assert.equal(sharp.years, 20);
  assert.equal(sharp.confidence, 1);
  const wide = ageResult([0.5, 0, 0.5], [10, 20, 30]);
  assert.equal(wide.years, 20);
  assert.ok(wide.confidence < 0.6);
});

test('race head, softmax and descriptor normalisation', () => {
  const p = raceProbs({ head: 'race', output: 'o', labels: ['black', 'white'] }, [0.25, 0.75]);
  assert.deepEqual(p, [0.75, 0.25, 0, 0, 0]);
  const s = softmax([1000, 1000]);
  assert.deepEqual(s, [0.5, 0.5]);
  const d = normaliseDescriptor([3, 4]);
  assert.ok(Math.abs(d[0] - 0.6) < 1e-6 && Math.abs(d[1] - 0.8) < 1e-6);
});

test('crop geometry: roll from eyes, scale from the larger side, offset along the face axis', () => {
  const d: Detection = { box: { x: 0, y: 0, w: 100, h: 80 }, score: 1, keypoints: [{ x: 30, y: 30 }, { x: 70, y: 70 }] };
  assert.ok(Math.abs(rollAngle(d)) < 1e-9, '45° is beyond the sanity cap → treated as upright');
  d.keypoints = [{ x: 30, y: 40 }, { x: 70, y: 50 }];
  const a = rollAngle(d);
  assert.ok(Math.abs(a - Math.atan2(10, 40)) < 1e-9);
  const r = faceRegion(d, { scale: 1.5, offsetY: 0.1, align: true });
  assert.equal(r.width, 150);
  assert.ok(Math.abs(r.cx - (50 - Math.sin(a) * 15)) < 1e-9 && Math.abs(r.cy - (40 + Math.cos(a) * 15)) < 1e-9);
  assert.equal(faceRegion(d, { scale: 1, offsetY: 0, align: false }).angle, 0);
});
