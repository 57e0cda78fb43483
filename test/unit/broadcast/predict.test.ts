import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FrameRecord } from '../../../src/core/records.ts';
import { RecordPredictor } from '../../../src/broadcast/overlay/predict.ts';

function rec(time: number, boxes: Record<number, [number, number, number, number]>, width = 640, height = 360): FrameRecord {
  return {
    frame: Math.round(time * 25), time, width, height, detected: true, groups: [],
    faces: Object.entries(boxes).map(([id, [x, y, w, h]]) => ({ trackId: Number(id), box: { x, y, w, h }, score: 0.9, status: 'ok' as const })),
  };
}

test('RecordPredictor: boxes move along each track\'s velocity to the frame time, capped at 0.5 s ahead', () => {
  const p = new RecordPredictor();
  assert.equal(p.at(1, 640, 360), undefined);
  p.push(rec(1.0, { 1: [100, 50, 40, 40], 2: [300, 50, 40, 40] }));
  const same = p.at(1.04, 640, 360);
  assert.equal(same, p.latest, 'one record: no velocity, returned as is (no allocation)');
  p.push(rec(1.1, { 1: [110, 50, 42, 40], 3: [500, 60, 30, 30] }));
  const at = p.at(1.2, 640, 360);
  assert.ok(at);
  const f1 = at.faces.find((f) => f.trackId === 1)!;
  assert.ok(Math.abs(f1.box.x - 120) < 1e-9 && Math.abs(f1.box.w - 44) < 1e-9, `track 1 moved on: ${JSON.stringify(f1.box)}`);
  const f3 = at.faces.find((f) => f.trackId === 3)!;
  assert.deepEqual(f3.box, { x: 500, y: 60, w: 30, h: 30 }, 'a new track stays where it was seen');
  const far = p.at(5, 640, 360)!.faces.find((f) => f.trackId === 1)!;
  assert.ok(Math.abs(far.box.x - 160) < 1e-9, `lead capped at 0.5 s: ${far.box.x}`);
  const before = p.at(1.0, 640, 360);
  assert.equal(before, p.latest, 'a frame older than the record: no backwards extrapolation');
});

test('RecordPredictor: records from a substream are scaled to the view frame', () => {
  const p = new RecordPredictor();
  p.push(rec(2, { 7: [32, 18, 64, 36] }, 320, 180));
  const big = p.at(2, 1280, 720)!;
  assert.equal(big.width, 1280);
  assert.deepEqual(big.faces[0].box, { x: 128, y: 72, w: 256, h: 144 });
});
