import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaceTracker } from '../../../src/pipeline/track/index.ts';
import { evaluateMot } from '../../../src/pipeline/track/metrics.ts';
import { centred, simulate, type SimFace } from './synth.ts';

/**
 * Five faces on known paths in a 1280×720 frame: steady drift, a back-and-forth sway, a circle, one walking
 * towards the camera (growing) and one crossing the others' paths. Detection runs every 3rd frame at 30 fps,
 * boxes jitter by 3 % of the face size and 10 % of the detections are missed.
 */
const faces: SimFace[] = [
  { id: 1, box: (t) => centred(150 + 40 * t, 200, 90) },
  { id: 2, box: (t) => centred(640 + 200 * Math.sin(t * 1.2), 150, 80) },
  { id: 3, box: (t) => centred(900 + 120 * Math.cos(t), 450 + 120 * Math.sin(t), 100) },
  { id: 4, box: (t) => centred(300 + 10 * t, 520, 60 + 8 * t) },
  { id: 5, box: (t) => centred(1200 - 90 * t, 330 + 20 * Math.sin(t * 2), 85) },
];

test('synthetic 5-face scene: IDF1 >= 0.9 and no identity switch', () => {
  for (const seed of [1, 2, 3]) {
    const tracker = new FaceTracker();
    const { gt, hyp } = simulate(tracker, faces, { fps: 30, seconds: 10, detectEvery: 3, jitter: 0.03, missRate: 0.1, seed });
    const m = evaluateMot(gt, hyp);
    assert.equal(m.idSwitches, 0, `seed ${seed}: ${JSON.stringify(m)}`);
    assert.ok(m.idf1 >= 0.9, `seed ${seed}: IDF1 ${m.idf1.toFixed(3)}`);
    assert.ok(m.mota >= 0.85, `seed ${seed}: MOTA ${m.mota.toFixed(3)}`);
    assert.equal(new Set(hyp.flat().map((o) => o.id)).size, 5, `seed ${seed}: five ids`);
  }
});
