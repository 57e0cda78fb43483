/**
 * The MP4 overlay's label placement: a face label that would cover one already drawn moves below its box.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RgbImage } from '../../../src/core/types.ts';
import type { FaceRecord, FrameRecord } from '../../../src/core/records.ts';
import { annotateFrame } from '../../../src/broadcast/overlay/annotate.ts';
import { atlasFor } from '../../../src/broadcast/overlay/font.ts';

const black = (): RgbImage => ({ data: new Uint8Array(640 * 360 * 3), width: 640, height: 360, stride: 640 * 3 });
const lit = (img: RgbImage, x: number, y: number): boolean => {
  const i = y * img.stride + x * 3;
  return img.data[i] + img.data[i + 1] + img.data[i + 2] > 60;
};

function face(id: number, x: number, y: number): FaceRecord {
  const probs = [0, 0, 0, 1, 0, 0, 0];
  return { trackId: id, box: { x, y, w: 60, h: 60 }, score: 0.9, status: 'ok', smoothed: { emotion: { label: 'happy', probs }, age: 30 } };
}

const frame = (faces: FaceRecord[]): FrameRecord => ({ frame: 0, time: 0, width: 640, height: 360, detected: true, faces, groups: [] });

test('overlapping face labels do not cover each other: the second goes below its box', async () => {
  const atlas = await atlasFor(360);
  const lh = atlas.lineHeight;
  const probeY = 200 + 60 + 2 + Math.floor(lh / 2); // inside a label placed below the second box
  const alone = black();
  annotateFrame(alone, frame([face(2, 330, 200)]), atlas);
  assert.equal(lit(alone, 340, probeY), false, 'alone: label above the box, nothing below it');
  const crowd = black();
  annotateFrame(crowd, frame([face(1, 320, 205), face(2, 330, 200)]), atlas);
  assert.equal(lit(crowd, 340, probeY), true, 'the second label moved below its box');
});
