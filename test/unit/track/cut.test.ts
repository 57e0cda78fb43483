import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SceneCutDetector } from '../../../src/pipeline/track/index.ts';
import type { RgbImage } from '../../../src/core/types.ts';
import { rng } from './synth.ts';

/** A 480×270 "room": a wall gradient, a floor, and a few coloured blocks (people), shifted by dx px. */
function scene(kind: 'a' | 'b', dx = 0, noise = 0, seed = 1): RgbImage {
  const width = 480;
  const height = 270;
  const data = new Uint8Array(width * height * 3);
  const rand = rng(seed);
  const blocks = kind === 'a' ? [[60, 80, [200, 160, 140]], [220, 70, [40, 40, 120]], [360, 90, [90, 60, 40]]] : [[120, 110, [30, 90, 30]], [300, 60, [220, 220, 220]]];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      let c = kind === 'a' ? (y < 190 ? [170 + (x >> 4), 165, 160] : [90, 60, 40]) : y < 150 ? [60, 70, 110 + (x >> 3)] : [200, 190, 170];
      for (const [bx, by, col] of blocks as [number, number, number[]][]) if (x - dx >= bx && x - dx < bx + 50 && y >= by && y < by + 140) c = col;
      for (let k = 0; k < 3; k++) data[o + k] = Math.max(0, Math.min(255, c[k] + (noise ? Math.round((rand() - 0.5) * 2 * noise) : 0)));
    }
  }
  return { data, width, height, stride: width * 3 };
}

test('a different shot is a cut; the same shot with motion, noise or a slow fade is not', () => {
  const d = new SceneCutDetector();
  assert.equal(d.observe(scene('a')), false, 'the first frame is never a cut');
  for (let k = 1; k <= 12; k++) assert.equal(d.observe(scene('a', 3 * k, 6, k)), false, `camera/people motion, frame ${k}`);
  assert.equal(d.observe(scene('b')), true, 'new shot');
  assert.equal(d.observe(scene('b', 2, 6, 99)), false, 'the shot after the cut goes on');
  assert.equal(d.observe(scene('a')), true, 'and back');
});

test('a slow fade is not a cut; a resized picture is', () => {
  const d = new SceneCutDetector();
  const a = scene('a');
  for (let k = 0; k <= 20; k++) {
    const img = { ...a, data: a.data.map((v) => Math.round(v * (1 - k * 0.02))) };
    assert.equal(d.observe(img), false, `fade step ${k}`);
  }
  const small: RgbImage = { data: new Uint8Array(240 * 135 * 3), width: 240, height: 135, stride: 720 };
  assert.equal(d.observe(small), true);
  d.reset();
  assert.equal(d.observe(scene('b')), false, 'reset: no previous frame');
});
