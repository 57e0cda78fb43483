import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeNormaliser, sampleRegion, tensorSize, type Normaliser, type Region } from '../../../src/inference/preprocess.ts';
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

/** The sampler as first written (one bounds-checked bilinear tap per sub-sample): what the fast paths must equal. */
function referenceSample(img: RgbImage, region: Region, norm: Normaliser, dst: Float32Array, offset: number, maxSupersample: number): void {
  const { width: W, height: H } = norm;
  const su = region.width / W;
  const sv = region.height / H;
  const k = Math.max(1, Math.min(maxSupersample, Math.ceil(Math.max(su, sv) - 0.01)));
  const cos = Math.cos(region.angle);
  const sin = Math.sin(region.angle);
  const fu = region.flip ? -su : su;
  const tap = (x: number, y: number, c: number): number => {
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    let acc = 0;
    for (let dy = 0; dy < 2; dy++) {
      for (let dx = 0; dx < 2; dx++) {
        const xx = x0 + dx;
        const yy = y0 + dy;
        if (xx < 0 || yy < 0 || xx >= img.width || yy >= img.height) continue;
        acc += img.data[yy * img.stride + xx * 3 + c] * (dx ? x - x0 : 1 - (x - x0)) * (dy ? y - y0 : 1 - (y - y0));
      }
    }
    return acc;
  };
  for (let v = 0; v < H; v++) {
    for (let u = 0; u < W; u++) {
      const rgb = [0, 0, 0];
      for (let j = 0; j < k; j++) {
        for (let i = 0; i < k; i++) {
          const uu = -W / 2 + 0.5 / k + u + i / k;
          const vv = -H / 2 + 0.5 / k + v + j / k;
          const x = region.cx + uu * fu * cos - vv * sv * sin - 0.5;
          const y = region.cy + uu * fu * sin + vv * sv * cos - 0.5;
          for (let c = 0; c < 3; c++) rgb[c] += tap(x, y, c) / (k * k);
        }
      }
      const idx = v * W + u;
      if (norm.channels === 1) {
        dst[offset + idx] = (0.2989 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) * norm.scale[0] + norm.bias[0];
        continue;
      }
      for (let c = 0; c < 3; c++) {
        const val = rgb[norm.order[c]] * norm.scale[c] + norm.bias[c];
        dst[offset + (norm.layout === 'NCHW' ? c * W * H + idx : idx * 3 + c)] = val;
      }
    }
  }
}

test('sampleRegion equals the plain reference sampler: aligned copies, crops inside the image, crops over its edge', () => {
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const w = 61;
  const h = 43;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  const img: RgbImage = { data, width: w, height: h, stride: w * 3 };
  const specs = [
    { name: 'x', width: 16, height: 16, layout: 'NHWC', colour: 'grey', range: [-1, 1] },
    { name: 'x', width: 12, height: 10, layout: 'NHWC', colour: 'rgb', range: [0, 255] },
    { name: 'x', width: 9, height: 9, layout: 'NCHW', colour: 'bgr', range: [0, 1], mean: [0.4, 0.5, 0.6], std: [0.2] },
  ] as const;
  const regions: Region[] = [
    // pixel for pixel: inside, and hanging over each edge (the letterbox copy)
    { cx: 20, cy: 15, width: 16, height: 16, angle: 0, flip: false },
    { cx: 4, cy: 3, width: 16, height: 16, angle: 0, flip: false },
    { cx: 58, cy: 41, width: 12, height: 10, angle: 0, flip: false },
    { cx: 30.5, cy: 20.5, width: 9, height: 9, angle: 0, flip: false },
  ];
  for (let i = 0; i < 40; i++) {
    const size = 3 + rand() * 40;
    regions.push({ cx: rand() * w, cy: rand() * h, width: size, height: size * (0.8 + rand() * 0.4), angle: (rand() - 0.5) * 1.2, flip: rand() < 0.3 });
  }
  regions.push({ cx: 30, cy: 21, width: 20, height: 20, angle: 0.2, flip: false }); // wholly inside, k = 2
  let checked = 0;
  for (const spec of specs) {
    const n = makeNormaliser(spec as never);
    for (const r of regions) {
      for (const ss of [1, 4]) {
        const got = new Float32Array(tensorSize(n) + 2).fill(NaN);
        const want = new Float32Array(tensorSize(n) + 2).fill(NaN);
        sampleRegion(img, r, n, got, 1, { maxSupersample: ss });
        referenceSample(img, r, n, want, 1, ss);
        assert.ok(Number.isNaN(got[0]) && Number.isNaN(got[got.length - 1]), 'writes only its own image');
        for (let i = 1; i < got.length - 1; i++) {
          assert.ok(Math.abs(got[i] - want[i]) < 1e-3, `${JSON.stringify(r)} ${spec.colour}/${spec.layout} k≤${ss} at ${i}: ${got[i]} vs ${want[i]}`);
        }
        checked++;
      }
    }
  }
  assert.equal(checked, specs.length * regions.length * 2);
});
