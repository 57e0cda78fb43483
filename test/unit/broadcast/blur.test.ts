import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blurAll, blurRegion } from '../../../src/broadcast/overlay/blur.ts';
import type { RgbImage } from '../../../src/core/types.ts';
import { rng } from '../../helpers/rng.ts';

/** Sum of squared horizontal and vertical differences of the green channel over a rectangle. */
function energy(img: RgbImage, x0: number, y0: number, x1: number, y1: number): number {
  let e = 0;
  for (let y = y0; y < y1 - 1; y++) {
    for (let x = x0; x < x1 - 1; x++) {
      const i = y * img.stride + x * 3 + 1;
      e += (img.data[i] - img.data[i + 3]) ** 2 + (img.data[i] - img.data[i + img.stride]) ** 2;
    }
  }
  return e;
}

function noise(width: number, height: number, stride = width * 3): RgbImage {
  const rnd = rng(7);
  const data = new Uint8Array(stride * height);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rnd() * 256);
  return { data, width, height, stride };
}

test('blurRegion removes the high frequencies inside the box and leaves the rest untouched', () => {
  const img = noise(160, 120, 160 * 3 + 8); // a padded stride, as decoders give
  const before = Uint8Array.from(img.data);
  const inside = energy(img, 40, 30, 120, 90);
  blurRegion(img, 40, 30, 80, 60);
  assert.ok(energy(img, 41, 31, 119, 89) < inside * 0.02, `energy ${energy(img, 41, 31, 119, 89)} vs ${inside}`);
  for (let y = 0; y < 120; y++) {
    for (let x = 0; x < 160; x++) {
      if (x >= 40 && x < 120 && y >= 30 && y < 90) continue;
      const i = y * img.stride + x * 3;
      assert.equal(img.data[i], before[i], `pixel ${x},${y} changed`);
    }
  }
  blurRegion(img, -50, -50, 10, 10); // outside: nothing, no throw
  blurRegion(img, 150, 110, 100, 100); // clipped
  blurAll(img);
  assert.ok(energy(img, 0, 0, 160, 120) < energy(noise(160, 120, 160 * 3 + 8), 0, 0, 160, 120) * 0.02);
});
