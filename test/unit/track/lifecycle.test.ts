import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaceTracker, type TrackSnapshot } from '../../../src/pipeline/track/index.ts';
import { evaluateMot } from '../../../src/pipeline/track/metrics.ts';
import { centred, det, descriptor, perturbed, rng, simulate, type SimFace } from './synth.ts';

/**
 * The rate-dependent life cycle: confirmation, coasting and loss defined in seconds and in detections, so the
 * same tracker serves 5 detections per second and one.
 */

test('at one detection per second a confident face shows from its first detection and keeps its id while it moves', () => {
  // The analyzer tells the tracker its detection schedule, so the very first detection follows the 1-Hz rules.
  const tracker = new FaceTracker({ detectionIntervalSec: 1 });
  // 80-px face moving 110 px/s: consecutive detections do not overlap at all (IoU 0), only motion can link them.
  const face: SimFace = { id: 1, box: (t) => centred(100 + 110 * t, 200 + 10 * t, 80), score: () => 0.8 };
  const seen: TrackSnapshot[][] = [];
  const { gt, hyp } = simulate(tracker, [face], { fps: 1, seconds: 8, detectEvery: 1, jitter: 0.03, seed: 3 }, (_t, out) => seen.push(out as TrackSnapshot[]));
  assert.deepEqual(seen[0].map((s) => s.state), ['confirmed'], 'a row on the first analysed frame');
  assert.deepEqual([...new Set(hyp.flat().map((o) => o.id))], [1], 'one id for the whole walk');
  assert.equal(evaluateMot(gt, hyp).idSwitches, 0);
  assert.equal(tracker.detectionIntervalSec, 1);
});

test('at one detection per second a weak face needs a second detection; at 5 per second any face needs two', () => {
  const slow = new FaceTracker();
  assert.deepEqual(slow.update([det(centred(200, 200, 80), 0.65)], 0), []);
  slow.update([det(centred(200, 200, 80), 0.65)], 1);
  assert.deepEqual(slow.snapshots(1).map((s) => s.id), [1], 'confirmed by the second detection, same id');

  const fast = new FaceTracker({ detectionIntervalSec: 0.2 });
  assert.deepEqual(fast.update([det(centred(200, 200, 80), 0.9)], 0), [], 'one detection is not a person yet');
  assert.deepEqual(fast.update([det(centred(204, 200, 80), 0.9)], 0.2).map((s) => s.id), [1]);
  // A one-off false positive (a poster, a hand) never reaches the output and never takes an id that shows.
  const out = fast.update([det(centred(208, 200, 80), 0.9), det(centred(600, 300, 70), 0.9)], 0.4);
  assert.deepEqual(out.map((s) => s.id), [1]);
  assert.deepEqual(fast.update([det(centred(212, 200, 80), 0.9)], 0.6).map((s) => s.id), [1]);
  assert.deepEqual(fast.lastEvents().removed, [2], 'the tentative track died unseen');
});

test('the tracker learns the detection interval from timestamps when not told', () => {
  const t = new FaceTracker();
  for (let k = 0; k < 5; k++) t.update([], k * 2);
  assert.equal(t.detectionIntervalSec, 2);
  assert.equal(t.lostSec, 6, 'maxLostDetections 3 × 2 s');
  assert.ok(Math.abs(t.coastWindowSec - 2.02) < 1e-9, 'one missed detection at 2 s');
  assert.equal(t.relinkWindowSec, 12);
  const fast = new FaceTracker({ detectionIntervalSec: 0.2 });
  assert.equal(fast.lostSec, 1, 'seconds win at high rates (maxLostSec)');
  assert.equal(fast.coastWindowSec, 0.3);
});

test('coasting and loss count detections at a low rate: one miss still shows, three misses end the track', () => {
  const tracker = new FaceTracker();
  const box = centred(300, 200, 80);
  tracker.update([det(box)], 0);
  tracker.update([det(box)], 1);
  const miss1 = tracker.update([], 2);
  assert.deepEqual(miss1.map((s) => [s.id, s.state]), [[1, 'lost']], 'one missed detection: still a row (predicted)');
  assert.deepEqual(tracker.update([], 3), [], 'two missed: hidden');
  assert.deepEqual(tracker.lastEvents().removed, []);
  // Back after two misses at the same place: the same id (at 5 Hz this would be 2 s: beyond maxLostSec).
  assert.deepEqual(tracker.update([det(box)], 4).map((s) => s.id), [1]);
  for (const ts of [5, 6, 7]) tracker.update([], ts);
  tracker.update([], 8);
  assert.deepEqual(tracker.lastEvents().removed, [1], 'removed after more than three missed detections');
});

test('a face lost for a moment and found again by a new (young) track takes its old id by appearance', () => {
  const rand = rng(21);
  const me = descriptor(rand);
  const tracker = new FaceTracker({ detectionIntervalSec: 0.2 });
  let t = 0;
  for (; t < 1; t += 0.2) tracker.update([det(centred(300, 200, 80))], t, [perturbed(me, rand, 0.3)]);
  // Gone 1.6 s (longer than maxLostSec), back 3 face heights away: neither IoU nor motion can link it.
  const back = centred(540, 200, 80);
  tracker.update([det(back)], 2.6);
  const young = tracker.update([det(back)], 2.8);
  assert.deepEqual(young.map((s) => s.id), [2], 'confirmed as a new track without a descriptor');
  // The analyzer classifies a new track at once and hands the descriptor over before it writes any record.
  assert.equal(tracker.setDescriptor(2, perturbed(me, rand, 0.3)), 1);
  assert.deepEqual(tracker.snapshots(2.8).map((s) => s.id), [1], 'the snapshots taken after it carry the old id');
});

test('motion association does not join two different people (appearance veto) and keeps crossing faces apart', () => {
  const rand = rng(22);
  const a = descriptor(rand);
  const b = descriptor(rand);
  const tracker = new FaceTracker();
  tracker.update([det(centred(200, 200, 80))], 0, [a]);
  tracker.update([det(centred(200, 200, 80))], 1, [a]);
  // Someone else appears 1.2 face heights away a second later, the first person is gone.
  const out = tracker.update([det(centred(296, 200, 80))], 2, [b]);
  assert.deepEqual(out.map((s) => [s.id, s.state]), [[1, 'lost'], [2, 'confirmed']]);
});

test('a scene cut ends every track: no id, and no re-link, across it', () => {
  const rand = rng(23);
  const me = descriptor(rand);
  const tracker = new FaceTracker();
  const box = centred(300, 200, 80);
  for (let t = 0; t < 1; t += 0.2) tracker.update([det(box)], t, [perturbed(me, rand, 0.2)]);
  tracker.cut(1);
  const out = tracker.update([det(box), det(centred(600, 200, 80))], 1, [perturbed(me, rand, 0.2), undefined]);
  assert.deepEqual(tracker.lastEvents().removed, [1], 'reported by the next update');
  assert.deepEqual(tracker.lastEvents().relinked, []);
  assert.ok(out.every((s) => s.id > 1), `new ids only: ${JSON.stringify(out.map((s) => s.id))}`);
  tracker.update([det(box), det(centred(600, 200, 80))], 1.2);
  assert.deepEqual(tracker.snapshots(1.2).map((s) => s.id), [2, 3]);
});

test('five faces on the synthetic scene at one detection per second: no id switch, few ids', () => {
  const faces: SimFace[] = [
    { id: 1, box: (t) => centred(150 + 40 * t, 200, 90) },
    { id: 2, box: (t) => centred(640 + 100 * Math.sin(t * 0.6), 150, 80) },
    { id: 3, box: (t) => centred(900 + 60 * Math.cos(t * 0.5), 450 + 60 * Math.sin(t * 0.5), 100) },
    { id: 4, box: (t) => centred(300 + 10 * t, 520, 60 + 8 * t) },
  ];
  for (const seed of [1, 2, 3]) {
    const tracker = new FaceTracker();
    const { gt, hyp } = simulate(tracker, faces, { fps: 1, seconds: 20, detectEvery: 1, jitter: 0.03, missRate: 0.1, seed });
    const m = evaluateMot(gt, hyp);
    assert.equal(m.idSwitches, 0, `seed ${seed}: ${JSON.stringify(m)}`);
    assert.ok(m.idf1 >= 0.9, `seed ${seed}: IDF1 ${m.idf1.toFixed(3)}`);
    assert.equal(new Set(hyp.flat().map((o) => o.id)).size, 4, `seed ${seed}: four ids`);
  }
});

test('a stray high-score box next to a face that just lost its detection is not confirmed at once (no ghost id)', () => {
  const tracker = new FaceTracker({ detectionIntervalSec: 0.2, motionSpeed: 0 });
  const box = centred(300, 200, 80);
  tracker.update([det(box, 0.97)], 0);
  tracker.update([det(box, 0.97)], 0.2);
  // The detector's box for this face jumps (a second box half a face off): no IoU match, motion off here.
  const jumped = centred(300 + 60, 200 + 10, 80);
  const out = tracker.update([det(jumped, 0.97)], 0.4);
  assert.deepEqual(out.map((s) => [s.id, s.state]), [[1, 'lost']], 'the jumped box does not show as a new person');
  assert.deepEqual(tracker.update([det(box, 0.97)], 0.6).map((s) => [s.id, s.state]), [[1, 'confirmed']]);
  assert.deepEqual(tracker.lastEvents().removed, [2], 'the stray track died unseen');
  // Away from any lost face, a very high score still confirms at once.
  assert.deepEqual(tracker.update([det(box, 0.97), det(centred(700, 300, 80), 0.97)], 0.8).map((s) => s.id), [1, 3]);
});
