// The knobs the accuracy levers turn: per-crop contrast normalisation, crop aspect, probability calibration
// (emotion bias/temperature, gender logit bias). Pure functions over small arrays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyContrast, makeNormaliser } from '../../../src/inference/preprocess.js';
import { faceRegion } from '../../../src/inference/align.js';
import { calibrate, emotionProbs, maleProbability } from '../../../src/inference/heads.js';
import { EMOTIONS } from '../../../src/core/types.js';

const grey = makeNormaliser({ name: 'x', width: 4, height: 4, layout: 'NHWC', colour: 'grey', range: [-1, 1] });
// a dim crop: values 100..130 of 255 (normalised), 16 pixels
const dim = (): Float32Array => Float32Array.from({ length: 16 }, (_, i) => ((100 + 2 * i) / 255) * 2 - 1);

test('contrast stretch maps a dim crop onto the full range, keeping the order', () => {
  const t = dim();
  applyContrast(t, 0, grey, 'stretch');
  assert.ok(Math.min(...t) <= -0.99 && Math.max(...t) >= 0.99, `${Math.min(...t)}..${Math.max(...t)}`);
  for (let i = 1; i < t.length; i++) assert.ok(t[i] >= t[i - 1]);
});

test('contrast equalise spreads values uniformly; a flat crop is left alone by stretch', () => {
  const t = dim();
  applyContrast(t, 0, grey, 'equalise');
  // 16 distinct values → ranks 1/16..16/16 of the range
  assert.ok(Math.abs(t[15] - 1) < 1e-6);
  assert.ok(Math.abs(t[7] - (-1 + (8 / 16) * 2)) < 1e-6);
  const flat = new Float32Array(16).fill(0.1);
  applyContrast(flat, 0, grey, 'stretch');
  assert.ok(flat.every((v) => Math.abs(v - 0.1) < 1e-6));
});

test('contrast works on one image of a batch without touching its neighbours', () => {
  const t = new Float32Array(48).fill(0.5);
  t.set(dim(), 16);
  applyContrast(t, 16, grey, 'stretch');
  assert.ok(t.subarray(0, 16).every((v) => v === 0.5) && t.subarray(32).every((v) => v === 0.5));
});

test('crop aspect: the larger side stays scale × box, the other shrinks', () => {
  const d = { box: { x: 0, y: 0, w: 100, h: 100 }, score: 1, keypoints: [] };
  const sq = faceRegion(d, { scale: 1.3, offsetY: 0, align: false });
  assert.equal(sq.width, 130);
  assert.equal(sq.height, 130);
  const tall = faceRegion(d, { scale: 1.3, offsetY: 0, align: false, aspect: 0.8 });
  assert.equal(tall.height, 130);
  assert.ok(Math.abs(tall.width - 104) < 1e-9);
});

test('calibration: zero bias and unit temperature change nothing; a bias moves the argmax', () => {
  const p = [0.1, 0.05, 0.05, 0.4, 0.1, 0.1, 0.2];
  const same = calibrate(p, undefined, 1);
  for (let i = 0; i < p.length; i++) assert.ok(Math.abs(same[i] - p[i]) < 1e-9);
  const spec = { head: 'emotion' as const, output: 'o', activation: 'none' as const, labels: [...EMOTIONS], bias: [0, 0, 0, -1, 0, 0, 0] };
  const q = emotionProbs(spec, p);
  assert.ok(Math.abs(q.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  assert.equal(EMOTIONS[q.indexOf(Math.max(...q))], 'neutral');
  // temperature > 1 flattens
  const flat = calibrate(p, undefined, 2);
  assert.ok(Math.max(...flat) < 0.4);
});

test('gender logit bias shifts P(male) and leaves 0 bias exact', () => {
  const g = { head: 'gender' as const, output: 'g', kind: 'sigmoid' as const, positive: 'male' as const };
  assert.equal(maleProbability(g, [0.7]), 0.7);
  const down = maleProbability({ ...g, bias: -1 }, [0.7]);
  assert.ok(Math.abs(down - 1 / (1 + Math.exp(-(Math.log(0.7 / 0.3) - 1)))) < 1e-9);
  assert.ok(down < 0.5);
});

test('views: main crop, extra scales, mirrors; a whole-image crop gets no extra scales', async () => {
  const { viewsFor } = await import('../../../src/inference/classify.js');
  const img = { data: new Uint8Array(3), width: 640, height: 480, stride: 1920 };
  const detection = { box: { x: 200, y: 150, w: 100, h: 100 }, score: 1, keypoints: [] };
  const crop = { scale: 1.3, offsetY: 0, align: true };
  assert.equal(viewsFor(img, { detection }, crop, false).length, 1);
  const multi = viewsFor(img, { detection }, { ...crop, extraScales: [1.45] }, false);
  assert.deepEqual(multi.map((r) => r.width), [130, 145]);
  const mirrored = viewsFor(img, { detection }, { ...crop, extraScales: [1.45], mirror: true }, false);
  assert.deepEqual(mirrored.map((r) => [r.width, r.flip]), [[130, false], [145, false], [130, true], [145, true]]);
  assert.equal(viewsFor(img, { detection }, crop, true).length, 2, 'TTA mirrors too');
  // a box filling a small image: classified whole, extra scales would only add black borders
  const small = { ...img, width: 100, height: 100 };
  const whole = viewsFor(small, { detection: { ...detection, box: { x: 5, y: 5, w: 90, h: 90 } } }, { ...crop, extraScales: [1.45] }, false);
  assert.equal(whole.length, 1);
  assert.equal(whole[0].width, 100);
});

test('gender fusion: weight 0 keeps the first reading, the race model adds its gender head only when it fuses', async () => {
  const { FaceClassifier, fuseMale } = await import('../../../src/inference/classify.js');
  assert.ok(Math.abs(fuseMale(0.7, 0.1, 0, 0) - 0.7) < 1e-9);
  assert.ok(Math.abs(fuseMale(0.7, 0.1, 1, 0) - 0.1) < 1e-9);
  // equal weights of logit(0.8) and logit(0.2) cancel out
  assert.ok(Math.abs(fuseMale(0.8, 0.2, 0.5, 0) - 0.5) < 1e-9);
  assert.ok(fuseMale(0.6, 0.6, 0.15, -0.75) < 0.5, 'the bias can flip a weak reading');
  const { loadManifest } = await import('../../../src/models/manifest.js');
  const m = loadManifest();
  const get = (id: string) => m.models.get(id) as Parameters<typeof FaceClassifier.headsFor>[0]['race'];
  const roles = { ageGender: get('faceres'), race: get('gear') };
  const withRace = FaceClassifier.headsFor(roles, { race: true, descriptor: false });
  assert.deepEqual(withRace.get('gear')?.map((h) => h.head), ['race'], 'no fuse in the default manifest');
  const gear = roles.race!;
  const fusing = { ...gear, heads: gear.heads.map((h) => (h.head === 'gender' ? { ...h, fuse: { weight: 0.2 } } : h)) };
  assert.deepEqual(FaceClassifier.headsFor({ ...roles, race: fusing }, { race: true, descriptor: false }).get('gear')?.map((h) => h.head), ['race', 'gender']);
  assert.equal(FaceClassifier.headsFor(roles, { race: false, descriptor: false }).has('gear'), false);
});
