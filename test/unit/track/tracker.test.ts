import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaceTracker, type TrackEvents, type TrackSnapshot } from '../../../src/pipeline/track/index.ts';
import { evaluateMot } from '../../../src/pipeline/track/metrics.ts';
import { iou } from '../../../src/inference/nms.ts';
import { centred, det, descriptor, perturbed, rng, simulate, type SimFace } from './synth.ts';

const sim = { fps: 30, detectEvery: 3 };

/** Collects the events of every update. */
function recorder(tracker: FaceTracker): { events: TrackEvents[]; update: FaceTracker['update']; predict: FaceTracker['predict'] } {
  const events: TrackEvents[] = [];
  return {
    events,
    update: (d, ts, desc) => {
      const out = tracker.update(d, ts, desc);
      events.push(tracker.lastEvents());
      return out;
    },
    predict: (ts) => tracker.predict(ts),
  };
}

const all = (events: TrackEvents[], key: 'born' | 'confirmed' | 'lost' | 'removed'): number[] => events.flatMap((e) => e[key]);

test('two faces crossing paths keep their ids (the motion model carries them through)', () => {
  for (const hideRear of [false, true]) {
    const a = (t: number) => centred(100 + 250 * t, 200, 80);
    const b = (t: number) => centred(600 - 250 * t, 230, 80);
    const faces: SimFace[] = [
      { id: 1, box: a },
      // The face behind is not detected while the two overlap.
      { id: 2, box: b, detected: (t) => !hideRear || iou(a(t), b(t)) === 0 },
    ];
    const tracker = new FaceTracker();
    const { gt, hyp } = simulate(tracker, faces, { ...sim, seconds: 2, jitter: 0.02 });
    const m = evaluateMot(gt, hyp);
    assert.equal(m.idSwitches, 0, `no id switch (hideRear=${hideRear})`);
    const ids = new Set(hyp.flat().map((o) => o.id));
    assert.deepEqual([...ids].sort(), [1, 2], 'only two ids ever');
    assert.ok(m.idf1 > 0.9, `IDF1 ${m.idf1}`);
  }
});

test('a face occluded for 0.5 s keeps its id', () => {
  const tracker = new FaceTracker();
  const rec = recorder(tracker);
  const seen: TrackSnapshot[][] = [];
  const face: SimFace = { id: 1, box: (t) => centred(200 + 100 * t, 240, 100), detected: (t) => t < 1 || t >= 1.5 };
  simulate(rec, [face], { ...sim, seconds: 2.5 }, (_t, out) => seen.push(out as TrackSnapshot[]));
  assert.deepEqual(all(rec.events, 'born'), [1]);
  assert.deepEqual(all(rec.events, 'lost'), [1]);
  assert.deepEqual(all(rec.events, 'removed'), []);
  const last = seen[seen.length - 1];
  assert.equal(last.length, 1);
  assert.equal(last[0].id, 1);
  assert.equal(last[0].state, 'confirmed');
  // While occluded, it is shown (predicted, state 'lost') for coastSec, then hidden until it returns.
  const at = (t: number) => seen[Math.round(t * 30)];
  assert.equal(at(1.2)[0]?.state, 'lost');
  assert.equal(at(1.4).length, 0);
  // The coasting prediction followed the motion.
  assert.ok(Math.abs(at(1.2)[0].box.x - centred(200 + 100 * 1.2, 240, 100).x) < 10);
});

test('a face gone longer than maxLostSec gets its old id back with a matching descriptor, a new one otherwise', () => {
  const rand = rng(5);
  const me = descriptor(rand);
  const other = descriptor(rand);
  for (const [returning, expectId] of [[me, 1], [other, 2]] as const) {
    const tracker = new FaceTracker();
    const rec = recorder(tracker);
    let lastOut: TrackSnapshot[] = [];
    const face: SimFace = {
      id: 1,
      box: (t) => centred(300 + 20 * t, 200, 90),
      detected: (t) => t < 1 || t >= 2.5,
      descriptor: (t) => perturbed(t < 1 ? me : returning, rand, 0.3),
    };
    simulate(rec, [face], { ...sim, seconds: 3.5 }, (_t, out) => (lastOut = out as TrackSnapshot[]));
    assert.deepEqual(all(rec.events, 'removed').slice(0, 1), [1], 'the first track was removed while away');
    assert.equal(lastOut.length, 1);
    assert.equal(lastOut[0].id, expectId);
    const relinks = rec.events.flatMap((e) => e.relinked);
    assert.deepEqual(relinks, expectId === 1 ? [{ from: 1, to: 1 }] : []);
    if (expectId === 1) assert.ok(lastOut[0].age > 3, 'age counts from the original birth');
  }
});

test('a descriptor that arrives later re-links a returning face to its old id', () => {
  const rand = rng(6);
  const me = descriptor(rand);
  const tracker = new FaceTracker();
  const box = centred(300, 200, 90);
  let t = 0;
  for (; t < 1; t += 0.1) tracker.update([det(box)], t, [perturbed(me, rand, 0.3)]);
  for (t = 2.5; t < 2.75; t += 0.1) tracker.update([det(box)], t);
  assert.deepEqual(tracker.snapshots(t).map((s) => s.id), [2], 'returned without a descriptor: a new id');
  assert.equal(tracker.setDescriptor(2, perturbed(me, rand, 0.3)), 1);
  const out = tracker.update([det(box)], t);
  assert.deepEqual(out.map((s) => s.id), [1]);
  assert.deepEqual(tracker.lastEvents().relinked, [{ from: 2, to: 1 }]);
  tracker.update([det(box)], t + 0.1);
  assert.deepEqual(tracker.lastEvents().relinked, [], 'reported once');
});

test('low-score detections keep a track alive (ByteTrack stage 2) but never start one', () => {
  const tracker = new FaceTracker();
  const rec = recorder(tracker);
  let lastOut: TrackSnapshot[] = [];
  const face: SimFace = { id: 1, box: (t) => centred(200 + 50 * t, 200, 80), score: (t) => (t < 0.5 ? 0.9 : 0.4) };
  simulate(rec, [face], { ...sim, seconds: 3 }, (_t, out) => (lastOut = out as TrackSnapshot[]));
  assert.deepEqual(lastOut.map((s) => [s.id, s.state]), [[1, 'confirmed']]);
  assert.ok(lastOut[0].hits > 20, 'low-score matches count as hits');
  assert.deepEqual(all(rec.events, 'lost'), []);

  const fresh = new FaceTracker({ includeTentative: true });
  const rec2 = recorder(fresh);
  const weak: SimFace = { id: 1, box: () => centred(200, 200, 80), score: () => 0.4 };
  const { hyp } = simulate(rec2, [weak], { ...sim, seconds: 1 });
  assert.equal(hyp.flat().length, 0);
  assert.deepEqual(all(rec2.events, 'born'), []);
});

test('a single-frame false positive is never confirmed nor shown', () => {
  const tracker = new FaceTracker();
  const rec = recorder(tracker);
  const face: SimFace = { id: 1, box: (t) => centred(200 + 50 * t, 200, 80) };
  const { hyp } = simulate(rec, [face], { ...sim, seconds: 2, extra: (f) => (f === 30 ? [det(centred(500, 300, 70), 0.8)] : []) });
  assert.deepEqual([...new Set(hyp.flat().map((o) => o.id))], [1]);
  assert.deepEqual(all(rec.events, 'born'), [1, 2]);
  assert.deepEqual(all(rec.events, 'confirmed'), [1]);
  assert.deepEqual(all(rec.events, 'removed'), [2]);
});

test('a very high score confirms at once', () => {
  const tracker = new FaceTracker();
  assert.deepEqual(tracker.update([det(centred(100, 100, 60), 0.97), det(centred(300, 100, 60), 0.8)], 0).map((s) => s.id), [1]);
  assert.deepEqual(tracker.lastEvents().confirmed, [1]);
  const withTentative = new FaceTracker({ includeTentative: true }).update([det(centred(300, 100, 60), 0.8)], 0);
  assert.deepEqual(withTentative.map((s) => s.state), ['tentative']);
});

test('ids are stable, increasing and never reused', () => {
  const rand = rng(9);
  const faces: SimFace[] = Array.from({ length: 12 }, (_, k) => {
    const start = rand() * 6;
    const end = start + 0.3 + rand() * 2;
    const cx = 80 + (k % 6) * 150;
    const cy = k < 6 ? 150 : 450;
    return { id: k + 1, box: (t: number) => (t >= start && t < end ? centred(cx, cy + 10 * t, 70) : null) };
  });
  const tracker = new FaceTracker();
  const rec = recorder(tracker);
  const { gt, hyp } = simulate(rec, faces, { ...sim, seconds: 9 });
  const born = all(rec.events, 'born');
  assert.deepEqual(born, born.map((_, k) => k + 1), 'born ids are 1, 2, 3, ... in order');
  const removed = new Set<number>();
  for (let f = 0; f < hyp.length; f++) {
    for (const o of hyp[f]) assert.ok(!removed.has(o.id), `id ${o.id} reappeared after removal`);
    const ev = rec.events[Math.floor(f / 3)];
    if (f % 3 === 0) for (const id of ev.removed) removed.add(id);
  }
  assert.equal(evaluateMot(gt, hyp).idSwitches, 0);
});

test('keypoints follow the predicted motion; velocity is px/s', () => {
  const tracker = new FaceTracker();
  for (let k = 0; k < 20; k++) tracker.update([det(centred(100 + 30 * k, 200, 80))], k * 0.1);
  const [s] = tracker.predict(1.9 + 0.05);
  assert.ok(Math.abs(s.velocity.x - 300) < 1 && Math.abs(s.velocity.y) < 1, `velocity ${JSON.stringify(s.velocity)}`);
  const expected = det(centred(100 + 30 * 19.5, 200, 80)).keypoints;
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(s.keypoints[i].x - expected[i].x) < 0.5 && Math.abs(s.keypoints[i].y - expected[i].y) < 0.5, `keypoint ${i}`);
  }
});

test('a lost face that reappears outside the IoU gate is re-linked by appearance only where it could have got to', () => {
  const rand = rng(11);
  const me = descriptor(rand);
  for (const [jumpTo, expectId] of [[480, 1], [1200, 2]] as const) {
    const tracker = new FaceTracker();
    let t = 0;
    for (; t < 1; t += 0.1) tracker.update([det(centred(300, 200, 80))], t, [perturbed(me, rand, 0.3)]);
    // Back 0.5 s later (still within maxLostSec), 2.25 face heights away, or 11 face heights away (implausible).
    const out = tracker.update([det(centred(jumpTo, 200, 80))], t + 0.5, [perturbed(me, rand, 0.3)]);
    assert.deepEqual(tracker.lastEvents().relinked, expectId === 1 ? [{ from: 1, to: 1 }] : []);
    assert.deepEqual(out.map((s) => s.id), expectId === 1 ? [1] : [], 'a new track starts tentative');
    assert.deepEqual(tracker.lastEvents().born, expectId === 1 ? [] : [2]);
  }
});
