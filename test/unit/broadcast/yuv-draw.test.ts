/**
 * The live overlay drawn on yuv420p planes: boxes, labels, the group panel and the blur change exactly the Y/U/V
 * samples they should, in the palette's colour as the encoder's BT.601 matrix (swscale RGB → yuv420p) gives it,
 * and the YUV drawing matches drawing on RGB then converting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RgbImage, YuvImage } from '../../../src/core/types.ts';
import type { FaceRecord, FrameRecord, GroupRecord } from '../../../src/core/records.ts';
import { EMOTION_RGB } from '../../../src/broadcast/palette.ts';
import { fillRect, strokeRect, drawText } from '../../../src/broadcast/overlay/draw.ts';
import { rgbToYuv601 } from '../../../src/broadcast/overlay/yuv-draw.ts';
import { annotateFrame } from '../../../src/broadcast/overlay/annotate.ts';
import { blurFaces } from '../../../src/broadcast/overlay/blur.ts';
import { atlasFor } from '../../../src/broadcast/overlay/font.ts';
import { YuvConverter } from '../../../src/broadcast/yuv.ts';
import { Rational } from 'node-av/lib';
import { rng } from '../../helpers/rng.ts';

/** A flat picture with padded strides (as decoders give). */
function flat(width: number, height: number, y = 100, u = 128, v = 128): YuvImage {
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const strideY = width + 16;
  const strideC = cw + 8;
  return { y: new Uint8Array(strideY * height).fill(y), u: new Uint8Array(strideC * ch).fill(u), v: new Uint8Array(strideC * ch).fill(v), strideY, strideU: strideC, strideV: strideC, width, height };
}

function clone(p: YuvImage): YuvImage {
  return { ...p, y: p.y.slice(), u: p.u.slice(), v: p.v.slice() };
}

/** The encoder's own RGB → yuv420p conversion (swscale, as LiveEncoder.encode() and the MP4 export use) of a flat colour. */
function swscaleYuv(rgb: readonly [number, number, number]): [number, number, number] {
  const W = 16;
  const img: RgbImage = { data: new Uint8Array(W * W * 3), width: W, height: W, stride: W * 3 };
  for (let i = 0; i < W * W; i++) img.data.set(rgb, i * 3);
  const conv = new YuvConverter(W, W, new Rational(1, 90000));
  try {
    using f = conv.convert(img, 0);
    const d = f.data!;
    return [d[0][5 * f.linesize[0] + 5], d[1][3 * f.linesize[1] + 3], d[2][3 * f.linesize[2] + 3]];
  } finally {
    conv.free();
  }
}

/** Samples of one plane that differ between two pictures, as "x,y" strings. */
function changed(a: Uint8Array, b: Uint8Array, stride: number, w: number, h: number): Set<string> {
  const out = new Set<string>();
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (a[y * stride + x] !== b[y * stride + x]) out.add(`${x},${y}`);
  return out;
}

/** The samples of an outline of thickness t inside [x0, x1)×[y0, y1). */
function outline(x0: number, y0: number, x1: number, y1: number, t: number): Set<string> {
  const out = new Set<string>();
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (x < x0 + t || x >= x1 - t || y < y0 + t || y >= y1 - t) out.add(`${x},${y}`);
  return out;
}

test('palette colours in YUV: the BT.601 limited-range matrix, as swscale converts them for the encoder', () => {
  for (const c of [...Object.values(EMOTION_RGB), [0, 0, 0] as const, [255, 255, 255] as const]) {
    const mine = rgbToYuv601(c[0], c[1], c[2]);
    const sws = swscaleYuv(c);
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(mine[k] - sws[k]) <= 1, `${c} → ${mine} vs swscale ${sws}`);
  }
  assert.deepEqual(rgbToYuv601(0, 0, 0), [16, 128, 128]);
  assert.deepEqual(rgbToYuv601(255, 255, 255), [235, 128, 128]);
});

test('strokeRect on YUV: the box edges at the right rows/columns in Y and at half resolution in U/V, in the palette colour', () => {
  const W = 64;
  const H = 48;
  const before = flat(W, H);
  const img = clone(before);
  const c = EMOTION_RGB.happy;
  const [cy, cu, cv] = rgbToYuv601(c[0], c[1], c[2]);
  strokeRect(img, 10, 8, 20, 14, 2, c); // even position, even thickness: chroma edges exactly one sample thick
  assert.deepEqual(changed(img.y, before.y, img.strideY, W, H), outline(10, 8, 30, 22, 2));
  for (const k of outline(10, 8, 30, 22, 2)) {
    const [x, y] = k.split(',').map(Number);
    assert.equal(img.y[y * img.strideY + x], cy);
  }
  const chroma = outline(5, 4, 15, 11, 1);
  assert.deepEqual(changed(img.u, before.u, img.strideU, W / 2, H / 2), chroma);
  assert.deepEqual(changed(img.v, before.v, img.strideV, W / 2, H / 2), chroma);
  for (const k of chroma) {
    const [x, y] = k.split(',').map(Number);
    assert.equal(img.u[y * img.strideU + x], cu, `U at ${k}`);
    assert.equal(img.v[y * img.strideV + x], cv, `V at ${k}`);
  }
});

test('fillRect on YUV at odd edges: a chroma sample half covered blends half-way (the mean of its 2×2 block)', () => {
  const img = flat(32, 32, 100, 128, 128);
  const c = EMOTION_RGB.sad;
  const [, cu] = rgbToYuv601(c[0], c[1], c[2]);
  fillRect(img, 3, 4, 4, 4, c); // luma columns 3..6: chroma 1 (3 only), 2 (4, 5), 3 (6 only); rows 4..7: chroma 2, 3
  assert.equal(img.u[2 * img.strideU + 2], cu, 'fully covered');
  const half = img.u[2 * img.strideU + 1];
  assert.ok(Math.abs(half - (128 + cu) / 2) <= 1, `half covered: ${half} ≈ mean of 128 and ${cu}`);
  assert.equal(img.u[2 * img.strideU + 0], 128, 'not covered');
  assert.equal(img.u[4 * img.strideU + 2], 128, 'row below not covered');
  // Translucent fill: Y blends by alpha, nothing outside changes.
  const t = flat(32, 32, 200);
  fillRect(t, 0, 0, 8, 8, [0, 0, 0], 0.5);
  assert.ok(Math.abs(t.y[0] - (200 + 16) / 2) <= 1, `alpha 0.5 over 200 toward 16: ${t.y[0]}`);
  assert.equal(t.y[8], 200);
});

test('drawText on YUV: only the samples under the glyph cells change; luma darkens toward black', async () => {
  const atlas = await atlasFor(480); // 12-px text
  const before = flat(200, 60, 180);
  const img = clone(before);
  drawText(img, atlas, 'happy 97%', 11, 9, [0, 0, 0]);
  const w = atlas.measure('happy 97%');
  const ys = changed(img.y, before.y, img.strideY, 200, 60);
  assert.ok(ys.size > 50, `glyph pixels drawn (${ys.size})`);
  for (const k of ys) {
    const [x, y] = k.split(',').map(Number);
    assert.ok(x >= 11 && x < 11 + w && y >= 9 && y < 9 + atlas.lineHeight, `Y changed outside the text at ${k}`);
    assert.ok(img.y[y * img.strideY + x] < 180);
  }
  // Black has neutral chroma: U/V stay at 128 (a neutral background stays neutral).
  assert.equal(changed(img.u, before.u, img.strideU, 100, 30).size, 0);
});

const face = (trackId: number, x: number, y: number, w: number, h: number): FaceRecord => ({
  trackId, box: { x, y, w, h }, score: 0.9, status: 'ok', smoothed: { emotion: { label: 'happy', probs: [0, 0, 0, 0.9, 0.05, 0, 0.05] } },
});

const scene: GroupRecord = {
  id: 'scene', kind: 'scene', name: 'scene', faceCount: 2, members: [1, 2], emotion: [0.1, 0, 0, 0.6, 0.1, 0.1, 0.1], dominant: 'happy',
  valence: 0.4, arousal: 0.2, cohesion: 0.7, trend: 0, trendLabel: 'steady', maleRatio: null, ageBands: [0, 0, 0, 0, 0],
};

function record(faces: FaceRecord[], groups: GroupRecord[] = [], width = 640, height = 360): FrameRecord {
  return { frame: 0, time: 0, width, height, detected: true, faces, groups };
}

test('annotateFrame on YUV ≈ annotateFrame on RGB converted by the encoder (boxes, labels, panel)', async () => {
  const W = 640;
  const H = 360;
  const rec = record([face(1, 300, 150, 80, 90), face(2, 480, 60, 60, 70)], [scene]);
  const atlas = await atlasFor(H);
  // RGB path (the former live path, still the MP4 export's): grey frame, annotate, swscale to yuv420p.
  const rgb: RgbImage = { data: new Uint8Array(W * H * 3).fill(120), width: W, height: H, stride: W * 3 };
  annotateFrame(rgb, rec, atlas);
  const conv = new YuvConverter(W, H, new Rational(1, 90000));
  using ref = conv.convert(rgb, 0);
  conv.free();
  const [gy, gu, gv] = rgbToYuv601(120, 120, 120);
  const yuv = flat(W, H, gy, gu, gv);
  const blank = clone(yuv);
  annotateFrame(yuv, rec, atlas);
  const d = ref.data!;
  const ls = ref.linesize;
  let diff = 0;
  let drawn = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const a = yuv.y[y * yuv.strideY + x];
      if (a === blank.y[y * yuv.strideY + x]) continue;
      diff += Math.abs(a - d[0][y * ls[0] + x]);
      drawn++;
    }
  }
  let cdiff = 0;
  for (let y = 0; y < H / 2; y++) for (let x = 0; x < W / 2; x++) cdiff += Math.abs(yuv.u[y * yuv.strideU + x] - d[1][y * ls[1] + x]) + Math.abs(yuv.v[y * yuv.strideV + x] - d[2][y * ls[2] + x]);
  assert.ok(drawn > 5000, `the overlay drew (${drawn} luma samples)`);
  assert.ok(diff / drawn < 1, `mean |ΔY| over the drawn samples ${(diff / drawn).toFixed(3)}`);
  assert.ok(cdiff / (W * H / 2) < 1, `mean |ΔUV| ${(cdiff / (W * H / 2)).toFixed(3)}`);
  // The box of face 1 has the palette colour on its edge (thickness max(2, H/300) = 2 px) in Y and U/V.
  const [hy, hu, hv] = rgbToYuv601(...EMOTION_RGB.happy);
  assert.equal(yuv.y[200 * yuv.strideY + 300], hy, 'left edge, luma');
  assert.equal(yuv.u[100 * yuv.strideU + 150], hu, 'left edge, chroma (half resolution)');
  assert.equal(yuv.v[100 * yuv.strideV + 150], hv);
  assert.equal(yuv.y[200 * yuv.strideY + 303], gy, 'inside the box: untouched');
  // The panel (top left, from 8,8) darkens the background; below and right of it nothing is drawn.
  assert.ok(yuv.y[9 * yuv.strideY + 9] < gy, 'panel');
  assert.equal(yuv.y[300 * yuv.strideY + 100], gy, 'away from the overlay');
});

test('blurFaces on YUV: the face box (with its margin) is smoothed in Y, U and V; nothing outside changes', () => {
  const W = 160;
  const H = 120;
  const rnd = rng(3);
  const img = flat(W, H);
  for (const p of [img.y, img.u, img.v]) for (let i = 0; i < p.length; i++) p[i] = Math.floor(rnd() * 256);
  const before = clone(img);
  blurFaces(img, record([face(1, 50, 40, 40, 30)], [], W, H));
  // margin 0.2: x 42..98, y 34..76 (floor/ceil)
  const inY = (x: number, y: number): boolean => x >= 42 && x < 98 && y >= 34 && y < 76;
  for (const k of changed(img.y, before.y, img.strideY, W, H)) {
    const [x, y] = k.split(',').map(Number);
    assert.ok(inY(x, y), `Y changed outside the face at ${k}`);
  }
  for (const [p, q, s] of [[img.u, before.u, img.strideU], [img.v, before.v, img.strideV]] as const) {
    for (const k of changed(p, q, s, W / 2, H / 2)) {
      const [x, y] = k.split(',').map(Number);
      assert.ok(x >= 21 && x < 49 && y >= 17 && y < 38, `chroma changed outside the face at ${k}`);
    }
  }
  const energy = (p: Uint8Array, s: number, x0: number, y0: number, x1: number, y1: number): number => {
    let e = 0;
    for (let y = y0; y < y1 - 1; y++) for (let x = x0; x < x1 - 1; x++) e += (p[y * s + x] - p[y * s + x + 1]) ** 2 + (p[y * s + x] - p[(y + 1) * s + x]) ** 2;
    return e;
  };
  assert.ok(energy(img.y, img.strideY, 43, 35, 97, 75) < energy(before.y, img.strideY, 43, 35, 97, 75) * 0.05, 'luma smoothed');
  assert.ok(energy(img.u, img.strideU, 22, 18, 48, 37) < energy(before.u, img.strideU, 22, 18, 48, 37) * 0.2, 'chroma smoothed');
});

test('blurFaces on YUV: a detection not yet confirmed as a track (record.unconfirmed) is smoothed too, nothing else', () => {
  const W = 160;
  const H = 120;
  const rnd = rng(5);
  const img = flat(W, H);
  for (const p of [img.y, img.u, img.v]) for (let i = 0; i < p.length; i++) p[i] = Math.floor(rnd() * 256);
  const before = clone(img);
  const rec = record([], [], W, H);
  rec.unconfirmed = [{ x: 50, y: 40, w: 40, h: 30 }];
  blurFaces(img, rec);
  const diff = changed(img.y, before.y, img.strideY, W, H);
  assert.ok(diff.size > 1000, `the unconfirmed face is blurred (${diff.size} luma samples changed)`);
  for (const k of diff) {
    const [x, y] = k.split(',').map(Number);
    assert.ok(x >= 42 && x < 98 && y >= 34 && y < 76, `Y changed outside the detection at ${k}`);
  }
});
