/**
 * privacy.blurFaces fails closed (issue 14, item 7): RecordPredictor.blurPlan blurs the whole frame without a
 * record, with a record older than the bound, or with one from after the frame (a reconnect re-anchored the
 * timeline); otherwise every face of the latest record, new tracks from their first record, with a margin that
 * grows with the extrapolation. A property test over random record/frame timings checks that a frame is never
 * left with a face uncovered: the plan is "all", or covers every face of the latest record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FrameRecord } from '../../../src/core/records.ts';
import { BLUR_MAX_AGE_SEC, RecordPredictor } from '../../../src/broadcast/overlay/predict.ts';
import { rng } from '../../helpers/rng.ts';

function rec(time: number, boxes: Record<number, [number, number, number, number]>, width = 640, height = 360): FrameRecord {
  return {
    frame: Math.round(time * 25), time, width, height, detected: true, groups: [],
    faces: Object.entries(boxes).map(([id, [x, y, w, h]]) => ({ trackId: Number(id), box: { x, y, w, h }, score: 0.9, status: 'pending' as const })),
  };
}

test('blurPlan: the whole frame before any record, when the record is too old, or when it is from after the frame', () => {
  const p = new RecordPredictor();
  assert.deepEqual(p.blurPlan(0, 640, 360), { all: true, reason: 'no-record' });
  p.push(rec(10, { 1: [100, 100, 40, 40] }));
  assert.equal(p.blurPlan(10.2, 640, 360).all, false);
  assert.deepEqual(p.blurPlan(10 + BLUR_MAX_AGE_SEC + 0.01, 640, 360), { all: true, reason: 'stale' }, 'analysis lags or the camera was away');
  assert.deepEqual(p.blurPlan(3, 640, 360), { all: true, reason: 'timeline' }, 'a frame of a re-anchored timeline: the record predates the reconnect');
  assert.deepEqual(p.blurPlan(Number.NaN, 640, 360), { all: true, reason: 'timeline' });
});

test('blurPlan: a new track is blurred from the first record that has it; the margin grows with the lead', () => {
  const p = new RecordPredictor();
  p.push(rec(1, { 1: [100, 100, 40, 40] }));
  p.push(rec(1.1, { 1: [104, 100, 40, 40], 7: [300, 50, 50, 50] }));
  const now = p.blurPlan(1.1, 640, 360);
  assert.ok(!now.all);
  assert.deepEqual(now.record.faces.map((f) => f.trackId).sort(), [1, 7], 'the new track 7 at once');
  assert.deepEqual(now.record.faces.find((f) => f.trackId === 7)!.box, { x: 300, y: 50, w: 50, h: 50 }, 'no lead, no extra margin');
  const later = p.blurPlan(1.5, 640, 360);
  assert.ok(!later.all);
  const b = later.record.faces.find((f) => f.trackId === 7)!.box;
  assert.ok(b.w > 50 && b.x < 300 && b.x + b.w > 350, `padded for 0.4 s of unknown motion: ${JSON.stringify(b)}`);
  const scaled = p.blurPlan(1.1, 1280, 720);
  assert.ok(!scaled.all);
  assert.equal(scaled.record.faces.find((f) => f.trackId === 7)!.box.x, 600, 'in the frame’s pixels');
});

test('property: every frame is either blurred whole or has every face of a fresh latest record covered', () => {
  const r = rng(1407);
  for (let run = 0; run < 200; run++) {
    const p = new RecordPredictor();
    let t = 100 * r();
    let latest: FrameRecord | undefined;
    for (let i = 0; i < 60; i++) {
      const op = r();
      if (op < 0.3) {
        const faces: Record<number, [number, number, number, number]> = {};
        for (let k = 0; k < Math.floor(r() * 4); k++) faces[Math.floor(r() * 6)] = [r() * 600, r() * 320, 10 + r() * 60, 10 + r() * 60];
        latest = rec(t - r() * 1.5, faces); // analysis lags by up to 1.5 s
        p.push(latest);
      } else if (op < 0.35) t -= 5 * r(); // a reconnect re-anchors the timeline
      else t += r() * 0.6;
      const plan = p.blurPlan(t, 640, 360);
      if (!latest) {
        assert.equal(plan.all, true);
        continue;
      }
      const age = t - latest.time;
      if (age > BLUR_MAX_AGE_SEC || age < -0.25) assert.equal(plan.all, true, `age ${age.toFixed(2)} s`);
      if (plan.all) continue;
      for (const f of latest.faces) {
        const c = plan.record.faces.find((g) => g.trackId === f.trackId);
        assert.ok(c, `track ${f.trackId} covered`);
      }
    }
  }
});

test('blurPlan: faces detected but not yet confirmed as tracks (record.unconfirmed) are blurred at once, scaled to the frame', () => {
  const p = new RecordPredictor();
  const r = rec(2, { 1: [100, 100, 40, 40] });
  r.unconfirmed = [{ x: 400, y: 40, w: 30, h: 30 }];
  p.push(r);
  const plan = p.blurPlan(2, 1280, 720);
  assert.ok(!plan.all);
  assert.equal(plan.record.faces.length, 1, 'the confirmed face');
  assert.deepEqual(plan.record.unconfirmed, [{ x: 800, y: 80, w: 60, h: 60 }], 'the unconfirmed box in the frame’s pixels (record 640×360 → frame 1280×720)');
  const none = new RecordPredictor();
  none.push(rec(2, { 1: [100, 100, 40, 40] }));
  const plain = none.blurPlan(2, 640, 360);
  assert.ok(!plain.all);
  assert.equal(plain.record.faces.length, 1, 'without unconfirmed detections only the tracked face');
  assert.equal(plain.record.unconfirmed, undefined);
});
