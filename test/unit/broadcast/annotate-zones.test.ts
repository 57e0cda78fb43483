/**
 * The burnt-in overlay's zones and layout (issue 16): zone polygons are outlined in ZONE_RGB with their names,
 * and a face label that would sit under the scene panel (a face near the top left) goes below its box.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RgbImage } from '../../../src/core/types.ts';
import type { FrameRecord, GroupRecord } from '../../../src/core/records.ts';
import { ZONE_RGB, annotateFrame } from '../../../src/broadcast/overlay/annotate.ts';
import { atlasFor } from '../../../src/broadcast/overlay/font.ts';

function black(width: number, height: number): RgbImage {
  return { data: new Uint8Array(width * height * 3), width, height, stride: width * 3 };
}

function px(img: RgbImage, x: number, y: number): [number, number, number] {
  const i = y * img.stride + x * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

const scene: GroupRecord = { id: 'scene', kind: 'scene', name: 'scene', faceCount: 1, members: [1], emotion: [0, 0, 0, 1, 0, 0, 0], dominant: 'happy', valence: 0.8, arousal: 0.3, cohesion: 1, trend: 0, trendLabel: 'steady', maleRatio: null, ageBands: [0, 0, 0, 0, 0] };

function record(box: { x: number; y: number; w: number; h: number }): FrameRecord {
  return { frame: 0, time: 0, width: 640, height: 360, detected: true, groups: [scene], faces: [{ trackId: 1, box, score: 0.9, status: 'ok', smoothed: { emotion: { label: 'happy', probs: [0, 0, 0, 1, 0, 0, 0] } } }] };
}

test('annotateFrame outlines each zone in ZONE_RGB along its edges and writes its name', async () => {
  const img = black(640, 360);
  const atlas = await atlasFor(360);
  annotateFrame(img, { ...record({ x: 500, y: 250, w: 60, h: 60 }), groups: [] }, atlas, [{ name: 'Door', polygon: [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9], [0.5, 0.9]] }]);
  // Middle of the top edge (y = 180) and of the right edge (x = 576): on the outline.
  assert.deepEqual(px(img, 400, 180), [...ZONE_RGB]);
  assert.deepEqual(px(img, 576, 300), [...ZONE_RGB]);
  // Well inside the zone and outside it: untouched.
  assert.deepEqual(px(img, 420, 300), [0, 0, 0]);
  assert.deepEqual(px(img, 100, 100), [0, 0, 0]);
  // The name's background just inside the first vertex.
  const [r, g, b] = px(img, 323, 186); // in the 3-px margin before the text
  assert.ok(g > 150 && b > 150 && r < 60, `zone label background at its first vertex (${r},${g},${b})`);
});

test('annotateFrame puts a face label that would fall under the scene panel below the box', async () => {
  const atlas = await atlasFor(360);
  const box = { x: 30, y: 40, w: 60, h: 60 };
  const img = black(640, 360);
  annotateFrame(img, record(box), atlas);
  // Just below the box: the label's (happy yellow) background.
  const below = px(img, box.x + 2, box.y + box.h + 4);
  assert.ok(below[0] > 150 && below[1] > 120, `label below the box (${below.join(',')})`);
  // A face away from the panel keeps its label above the box.
  const img2 = black(640, 360);
  const far = { x: 400, y: 100, w: 60, h: 60 };
  annotateFrame(img2, record(far), atlas);
  const above = px(img2, far.x + 2, far.y - 4);
  assert.ok(above[0] > 150 && above[1] > 120, `label above the box (${above.join(',')})`);
  assert.deepEqual(px(img2, far.x + 2, far.y + far.h + 4), [0, 0, 0]);
});
