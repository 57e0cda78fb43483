// The scene composer: layouts are deterministic per (seed, file), the crop's size and position stay in the
// stated ranges, the composed frame shows the crop where the plan says, and the placed-face matcher takes only
// a detection that is that face.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Detection, RgbImage } from '../../../src/core/types.js';
import { DEFAULT_SCENE_OPTIONS, SceneBackgrounds, composeScene, matchPlacedFace, planScene, type SceneOptions } from '../../../src/eval/scene.js';

function solid(w: number, h: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, i * 3);
  return { data, width: w, height: h, stride: w * 3 };
}

const at = (img: RgbImage, x: number, y: number): number[] => Array.from(img.data.subarray(y * img.stride + x * 3, y * img.stride + x * 3 + 3));

test('planScene: the same seed and file give the same layout; another seed or file another one', () => {
  const a = planScene('images/a.jpg', 48, 48);
  assert.deepEqual(planScene('images/a.jpg', 48, 48), a);
  assert.notDeepEqual(planScene('images/a.jpg', 48, 48, { ...DEFAULT_SCENE_OPTIONS, seed: 2 }), a);
  assert.notDeepEqual(planScene('images/b.jpg', 48, 48), a);
});

test('planScene: crop 8-25 % of the frame width, aspect kept, inside the frame, positions and quality varied', () => {
  const xs = new Set<number>();
  const qs = new Set<number>();
  let minShare = 1;
  let maxShare = 0;
  for (let i = 0; i < 400; i++) {
    const p = planScene(`f${i}.png`, 200, 160);
    const share = p.placed.w / p.width;
    minShare = Math.min(minShare, share);
    maxShare = Math.max(maxShare, share);
    assert.ok(share >= 0.08 - 1 / p.width && share <= 0.25 + 1 / p.width, `share ${share}`);
    assert.ok(Math.abs(p.placed.h - p.placed.w * 0.8) <= 1, 'aspect of the crop kept');
    assert.ok(p.placed.x >= 0 && p.placed.y >= 0 && p.placed.x + p.placed.w <= p.width && p.placed.y + p.placed.h <= p.height);
    assert.ok(p.jpegQuality >= 60 && p.jpegQuality <= 80);
    xs.add(Math.floor((p.placed.x / p.width) * 4));
    qs.add(p.jpegQuality);
  }
  // the range is used, not only one corner of it
  assert.ok(minShare < 0.1 && maxShare > 0.23, `${minShare}..${maxShare}`);
  assert.equal(xs.size, 4);
  assert.ok(qs.size >= 15);
});

test('composeScene: the crop is where the plan puts it, the frame is the planned size, and it is reproducible', async () => {
  const opts: SceneOptions = { ...DEFAULT_SCENE_OPTIONS, width: 640, height: 360, background: 'texture' };
  const bgs = await SceneBackgrounds.load('texture');
  assert.equal(bgs.kind, 'texture');
  const crop = solid(60, 60, [250, 20, 200]);
  const plan = planScene('magenta.png', crop.width, crop.height, opts);
  const frame = await composeScene(crop, plan, bgs);
  assert.equal(frame.width, 640);
  assert.equal(frame.height, 360);
  const { x, y, w, h } = plan.placed;
  const centre = at(frame, x + (w >> 1), y + (h >> 1));
  // JPEG at quality >= 60 keeps a flat colour within a few levels
  for (const [c, v] of [250, 20, 200].entries()) assert.ok(Math.abs(centre[c] - v) < 16, `centre ${centre}`);
  // the texture background's values lie in 40..210 and are never this colour
  const outside = at(frame, x + w + 20 < 640 ? x + w + 20 : x - 20, y + (h >> 1));
  assert.ok(Math.abs(outside[1] - 20) > 15 || Math.abs(outside[0] - 250) > 30, `outside ${outside}`);
  const again = await composeScene(crop, plan, bgs);
  assert.deepEqual(again.data, frame.data);
});

test('composeScene: the photo background (face-api demo images, a dev dependency) is used when installed', async () => {
  const bgs = await SceneBackgrounds.load('photo');
  assert.equal(bgs.kind, 'photo');
  const plan = planScene('x.png', 50, 50);
  const frame = await composeScene(solid(50, 50, [128, 128, 128]), plan, bgs);
  assert.equal(frame.width, DEFAULT_SCENE_OPTIONS.width);
  assert.equal(frame.height, DEFAULT_SCENE_OPTIONS.height);
});

test('matchPlacedFace: only a confident detection of the placed face, the best-overlapping one', () => {
  const placed = { x: 100, y: 100, w: 100, h: 100 };
  const d = (x: number, y: number, w: number, score: number): Detection => ({ box: { x, y, w, h: w }, score, keypoints: [] });
  const good = d(115, 110, 70, 0.9);
  const better = d(105, 105, 90, 0.8);
  assert.equal(matchPlacedFace([good], placed, 0.6), good);
  assert.equal(matchPlacedFace([good, better], placed, 0.6), better);
  assert.equal(matchPlacedFace([d(115, 110, 70, 0.5)], placed, 0.6), undefined, 'below the live score');
  assert.equal(matchPlacedFace([d(140, 140, 15, 0.9)], placed, 0.6), undefined, 'a part of the face');
  assert.equal(matchPlacedFace([d(300, 100, 90, 0.99)], placed, 0.6), undefined, 'somewhere else');
});
