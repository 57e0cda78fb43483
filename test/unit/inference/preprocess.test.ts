import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeNormaliser, sampleRegion, tensorSize } from '../../../src/inference/preprocess.ts';
import type { RgbImage } from '../../../src/core/types.ts';

/** Image whose pixel (x,y) = (x, y, 100) so sampled values reveal where they came from. */
function ramp(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x, y, 100], (y * w + x) * 3);
  return { data, width: w, height: h, stride: w * 3 };
}

const rgb01 = (w: number, h: number, layout: 'NHWC' | 'NCHW' = 'NHWC') => makeNormaliser({ name: 'x', width: w, height: h, layout, colour: 'rgb', range: [0, 255] });

test('sampleRegion with an identity region reproduces the image exactly', () => {
  const img = ramp(8, 6);
  const n = rgb01(8, 6);
  const out = new Float32Array(tensorSize(n));
  sampleRegion(img, { cx: 4, cy: 3, width: 8, height: 6, angle: 0, flip: false }, n, out, 0);
  for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - img.data[i]) < 1e-3, `at ${i}: ${out[i]} vs ${img.data[i]}`);
});

test('sampleRegion writes NCHW planes and honours the batch offset', () => {
  const img = ramp(4, 4);
  const n = rgb01(4, 4, 'NCHW');
  const per = tensorSize(n);
  const out = new Float32Array(per * 2).fill(-1);
  sampleRegion(img, { cx: 2, cy: 2, width: 4, height: 4, angle: 0, flip: false }, n, out, per);
  assert.equal(out[0], -1, 'first image untouched');
  // second image: R plane = x, G plane = y, B plane = 100
  assert.ok(Math.abs(out[per + 1 * 4 + 3] - 3) < 1e-3);
  assert.ok(Math.abs(out[per + 16 + 2 * 4 + 1] - 2) < 1e-3);
  assert.ok(Math.abs(out[per + 32 + 5] - 100) < 1e-3);
});

test('sampleRegion flip mirrors horizontally', () => {
  const img = ramp(6, 2);
  const n = rgb01(6, 2);
  const out = new Float32Array(tensorSize(n));
  sampleRegion(img, { cx: 3, cy: 1, width: 6, height: 2, angle: 0, flip: true }, n, out, 0);
  assert.ok(Math.abs(out[0] - 5) < 1e-3, 'first output pixel comes from the last column');
  assert.ok(Math.abs(out[5 * 3] - 0) < 1e-3);
});

test('sampleRegion rotation by 90° maps the region x axis onto the image y axis', () => {
  const img = ramp(9, 9);
  const n = rgb01(3, 3);
  const out = new Float32Array(tensorSize(n));
  // 3x3 region of 3x3 source pixels centred at (4.5,4.5) rotated 90°: output u runs down the image
  sampleRegion(img, { cx: 4.5, cy: 4.5, width: 3, height: 3, angle: Math.PI / 2, flip: false }, n, out, 0);
  // output (u=0,v=1) → source x ~ 4.5, y ~ 3.5 → pixel (4,3)
  const o = (1 * 3 + 0) * 3;
  assert.ok(Math.abs(out[o] - 4) < 1e-3 && Math.abs(out[o + 1] - 3) < 1e-3, `got ${out[o]},${out[o + 1]}`);
});

test('sampleRegion reads black outside the image (letterbox) and normalises to the range', () => {
  const img: RgbImage = { data: new Uint8Array(4 * 2 * 3).fill(255), width: 4, height: 2, stride: 12 };
  const n = makeNormaliser({ name: 'x', width: 4, height: 4, layout: 'NHWC', colour: 'rgb', range: [-1, 1] });
  const out = new Float32Array(tensorSize(n));
  sampleRegion(img, { cx: 2, cy: 1, width: 4, height: 4, angle: 0, flip: false }, n, out, 0);
  assert.ok(Math.abs(out[0] - -1) < 1e-5, 'top row is padding → black → -1');
  assert.ok(Math.abs(out[(1 * 4 + 1) * 3] - 1) < 1e-5, 'image rows → white → +1');
});

test('sampleRegion supersampling averages when shrinking (no aliasing of a checkerboard)', () => {
  const w = 64;
  const data = new Uint8Array(w * w * 3);
  for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) data.fill((x + y) % 2 ? 255 : 0, (y * w + x) * 3, (y * w + x) * 3 + 3);
  const img: RgbImage = { data, width: w, height: w, stride: w * 3 };
  const n = makeNormaliser({ name: 'x', width: 8, height: 8, layout: 'NHWC', colour: 'grey', range: [0, 255] });
  const out = new Float32Array(tensorSize(n));
  sampleRegion(img, { cx: 32, cy: 32, width: 64, height: 64, angle: 0, flip: false }, n, out, 0);
  for (const v of out) assert.ok(Math.abs(v - 127.5) < 20, `expected mid grey, got ${v}`);
});

test('grey uses BT.601 weights and bgr swaps channels', () => {
  const img: RgbImage = { data: new Uint8Array([200, 100, 50]), width: 1, height: 1, stride: 3 };
  const g = makeNormaliser({ name: 'x', width: 1, height: 1, layout: 'NHWC', colour: 'grey', range: [0, 1] });
  const og = new Float32Array(1);
  sampleRegion(img, { cx: 0.5, cy: 0.5, width: 1, height: 1, angle: 0, flip: false }, g, og, 0);
  assert.ok(Math.abs(og[0] - (0.2989 * 200 + 0.587 * 100 + 0.114 * 50) / 255) < 1e-4);
  const b = makeNormaliser({ name: 'x', width: 1, height: 1, layout: 'NHWC', colour: 'bgr', range: [0, 255], mean: [10, 20, 30], std: [2] });
  const ob = new Float32Array(3);
  sampleRegion(img, { cx: 0.5, cy: 0.5, width: 1, height: 1, angle: 0, flip: false }, b, ob, 0);
  assert.deepEqual(Array.from(ob).map((v) => Math.round(v * 100) / 100), [(50 - 10) / 2, (100 - 20) / 2, (200 - 30) / 2]);
});
