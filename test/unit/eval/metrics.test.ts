import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ageBand,
  apFromRanked,
  averagePrecision,
  biasGap,
  classificationSummary,
  confusionMatrix,
  countsAt,
  groupBy,
  iou,
  matchDetections,
  meanAbsoluteError,
  thresholdSweep,
} from '../../../src/eval/metrics.js';

const close = (a: number | null, b: number, eps = 1e-9): void => {
  assert.ok(a !== null && Math.abs(a - b) < eps, `${a} ≉ ${b}`);
};

test('confusion matrix, accuracy, per-class recall/precision/F1 and macro-F1 (hand-computed)', () => {
  const pairs = [
    { truth: 'a', pred: 'a' },
    { truth: 'a', pred: 'a' },
    { truth: 'a', pred: 'b' },
    { truth: 'b', pred: 'b' },
    { truth: 'b', pred: 'a' },
    { truth: 'c', pred: 'a' },
  ];
  const s = classificationSummary(['a', 'b', 'c', 'd'], pairs);
  assert.deepEqual(s.confusion, [
    [2, 1, 0, 0],
    [1, 1, 0, 0],
    [1, 0, 0, 0],
    [0, 0, 0, 0],
  ]);
  assert.equal(s.n, 6);
  close(s.accuracy, 0.5);
  close(s.perClass.a.recall, 2 / 3);
  close(s.perClass.a.precision, 0.5);
  close(s.perClass.a.f1, 4 / 7);
  close(s.perClass.b.f1, 0.5);
  assert.equal(s.perClass.c.recall, 0);
  assert.equal(s.perClass.c.precision, null); // never predicted
  assert.equal(s.perClass.c.f1, 0);
  assert.equal(s.perClass.d.f1, null); // absent class: left out of macro-F1
  close(s.macroF1, 5 / 14);
});

test('empty input gives nulls, not NaN; unknown labels throw', () => {
  const s = classificationSummary(['a', 'b'], []);
  assert.equal(s.accuracy, null);
  assert.equal(s.macroF1, null);
  assert.throws(() => confusionMatrix(['a'], [{ truth: 'a', pred: 'z' }]), RangeError);
});

test('MAE, groups, bias gap and age bands', () => {
  close(
    meanAbsoluteError([
      { truth: 20, pred: 25 },
      { truth: 40, pred: 37 },
    ]),
    4,
  );
  assert.equal(meanAbsoluteError([]), null);
  const g = groupBy([{ k: 'x' }, { k: 'y' }, { k: 'x' }, { k: undefined }], (i) => i.k, ['z', 'x']);
  assert.deepEqual([...g.keys()], ['z', 'x', 'y']);
  assert.equal(g.get('x')?.length, 2);
  assert.equal(g.get('z')?.length, 0);
  const gap = biasGap({ male: 0.9, female: 0.75, other: null });
  close(gap.gap, 0.15);
  assert.deepEqual(gap.max, { group: 'male', value: 0.9 });
  assert.deepEqual(gap.min, { group: 'female', value: 0.75 });
  assert.equal(biasGap({ a: null }).gap, null);
  assert.deepEqual([0, 17.9, 18, 29, 30, 44.5, 45, 59, 60, 95].map(ageBand), ['0-17', '0-17', '18-29', '18-29', '30-44', '30-44', '45-59', '45-59', '60+', '60+']);
});

test('IoU', () => {
  close(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 5, y: 0, w: 10, h: 10 }), 1 / 3);
  assert.equal(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 10, y: 0, w: 10, h: 10 }), 0);
  assert.equal(iou({ x: 3, y: 4, w: 5, h: 6 }, { x: 3, y: 4, w: 5, h: 6 }), 1);
});

test('matching: greedy by score, duplicates are FP, ignored boxes count neither way', () => {
  const gts = [
    { x: 0, y: 0, w: 10, h: 10 },
    { x: 20, y: 0, w: 10, h: 10 },
    { x: 40, y: 0, w: 10, h: 10, ignore: true },
  ];
  const dets = [
    { x: 100, y: 100, w: 5, h: 5, score: 0.6 }, // nothing there
    { x: 1, y: 0, w: 10, h: 10, score: 0.8 }, // duplicate of the first face
    { x: 0, y: 0, w: 10, h: 10, score: 0.9 },
    { x: 40, y: 0, w: 10, h: 10, score: 0.7 }, // the ignored face
  ];
  const m = matchDetections(gts, dets, 0.5);
  assert.deepEqual(
    m.detections.map((d) => [d.score, d.outcome, d.gt]),
    [
      [0.9, 'tp', 0],
      [0.8, 'fp', -1],
      [0.7, 'ignored', 2],
      [0.6, 'fp', -1],
    ],
  );
  assert.equal(m.positives, 2);
  assert.deepEqual(countsAt(m), { tp: 1, fp: 2, fn: 1, ignored: 1 });
  assert.deepEqual(countsAt(m, 0.75), { tp: 1, fp: 1, fn: 1, ignored: 0 });
  // a missed ignored face is no FN
  assert.deepEqual(countsAt(matchDetections(gts, [], 0.5)), { tp: 0, fp: 0, fn: 2, ignored: 0 });
});

test('matching: the higher score wins a face even with lower IoU; real faces beat ignore boxes', () => {
  const gts = [{ x: 0, y: 0, w: 10, h: 10 }];
  const m = matchDetections(gts, [{ x: 0, y: 0, w: 10, h: 10, score: 0.5 }, { x: 2, y: 0, w: 10, h: 10, score: 0.9 }], 0.5);
  assert.deepEqual(m.detections.map((d) => d.outcome), ['tp', 'fp']);
  close(m.detections[0].iou, 80 / 120);
  const m2 = matchDetections([{ x: 0, y: 0, w: 10, h: 10 }, { x: 0, y: 0, w: 10, h: 12, ignore: true }], [{ x: 0, y: 0, w: 10, h: 12, score: 0.9 }], 0.5);
  assert.equal(m2.detections[0].outcome, 'tp');
  assert.equal(m2.detections[0].gt, 0);
  // the IoU threshold decides: 1/3 overlap is a hit at 0.3, a miss at 0.5
  assert.equal(matchDetections(gts, [{ x: 5, y: 0, w: 10, h: 10, score: 1 }], 0.3).detections[0].outcome, 'tp');
  assert.equal(matchDetections(gts, [{ x: 5, y: 0, w: 10, h: 10, score: 1 }], 0.5).detections[0].outcome, 'fp');
});

test('VOC all-point AP on a known precision/recall sequence', () => {
  // ranks: T F T F F T with 4 positives →
  // recall .25 .25 .5 .5 .5 .75, precision 1 .5 .667 .5 .4 .5; interpolated: 1 up to .25, 2/3 up to .5, .5 up to .75
  close(apFromRanked([true, false, true, false, false, true], 4), 0.25 * 1 + 0.25 * (2 / 3) + 0.25 * 0.5);
  close(apFromRanked([true, true], 2), 1);
  close(apFromRanked([true, true], 4), 0.5);
  close(apFromRanked([false, true], 1), 0.5);
  assert.equal(apFromRanked([], 3), 0);
});

test('AP and sweep across images; ignored detections are left out of the ranking', () => {
  const img1 = matchDetections(
    [{ x: 0, y: 0, w: 10, h: 10 }, { x: 50, y: 0, w: 10, h: 10, ignore: true }],
    [
      { x: 0, y: 0, w: 10, h: 10, score: 0.9 },
      { x: 50, y: 0, w: 10, h: 10, score: 0.95 }, // ignored: would otherwise be rank 1
      { x: 200, y: 0, w: 10, h: 10, score: 0.4 },
    ],
    0.5,
  );
  const img2 = matchDetections(
    [{ x: 0, y: 0, w: 10, h: 10 }, { x: 30, y: 0, w: 10, h: 10 }],
    [
      { x: 100, y: 0, w: 10, h: 10, score: 0.8 },
      { x: 30, y: 0, w: 10, h: 10, score: 0.3 },
    ],
    0.5,
  );
  // ranking: .9 T, .8 F, .4 F, .3 T with 3 positives → same shape as the sequence above
  close(averagePrecision([img1, img2]), (1 / 3) * 1 + (1 / 3) * 0.5);
  const sweep = thresholdSweep([img1, img2], [0.25, 0.5, 0.95]);
  assert.deepEqual(
    sweep.map((s) => [s.threshold, s.tp, s.fp, s.fn]),
    [
      [0.25, 2, 2, 1],
      [0.5, 1, 1, 2],
      [0.95, 0, 0, 3],
    ],
  );
  close(sweep[0].precision, 0.5);
  close(sweep[0].recall, 2 / 3);
  assert.equal(sweep[2].precision, null);
  assert.equal(averagePrecision([matchDetections([], [{ x: 0, y: 0, w: 1, h: 1, score: 1 }], 0.5)]), null);
});
