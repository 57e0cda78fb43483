import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoxKalman } from '../../../src/pipeline/track/kalman.ts';
import { rng } from './synth.ts';

const near = (a: number, b: number, tol: number, msg: string): void => assert.ok(Math.abs(a - b) <= tol, `${msg}: ${a} vs ${b} (tol ${tol})`);

test('constant motion is predicted exactly after convergence, with irregular dt', () => {
  const rand = rng(7);
  const kf = new BoxKalman();
  const at = (t: number) => ({ x: 100 + 120 * t, y: 50 - 40 * t, w: 80 + 4 * t, h: 96 + 4.8 * t });
  let t = 0;
  let b = at(t);
  kf.init(b.x, b.y, b.w, b.h);
  for (let k = 0; k < 80; k++) {
    const dt = 0.01 + rand() * 0.2; // 5..100 Hz, irregular
    t += dt;
    kf.predict(dt);
    b = at(t);
    kf.update(b.x, b.y, b.w, b.h);
  }
  near(kf.x[4], 120 + 2, 1e-3, 'vx of the centre (x + w/2 moves 120 + 4/2 px/s)');
  near(kf.x[5], -40 + 2.4, 1e-3, 'vy of the centre');
  near(kf.x[6], 4, 1e-3, 'vw');
  near(kf.x[7], 4.8, 1e-3, 'vh');
  kf.predict(0.5);
  const truth = at(t + 0.5);
  const box = kf.writeBox({ x: 0, y: 0, w: 0, h: 0 });
  near(box.x, truth.x, 1e-3, 'x');
  near(box.y, truth.y, 1e-3, 'y');
  near(box.w, truth.w, 1e-3, 'w');
  near(box.h, truth.h, 1e-3, 'h');
});

test('predicting in several steps equals predicting once (continuous-time process noise)', () => {
  const a = new BoxKalman();
  a.init(10, 20, 50, 60);
  a.update(12, 21, 50, 61);
  const b = new BoxKalman();
  b.copyFrom(a);
  a.predict(0.033);
  a.predict(0.1);
  a.predict(0.267);
  b.predict(0.4);
  for (let i = 0; i < 8; i++) near(a.x[i], b.x[i], 1e-9, `x[${i}]`);
  for (let i = 0; i < 12; i++) near(a.P[i], b.P[i], 1e-9 * Math.max(1, Math.abs(b.P[i])), `P[${i}]`);
});

test('uncertainty grows with elapsed time, dt <= 0 is a no-op, and noise scales with the face size', () => {
  const kf = new BoxKalman();
  kf.init(0, 0, 40, 40);
  const before = Float64Array.from(kf.P);
  kf.predict(0);
  kf.predict(-1);
  assert.deepEqual(Array.from(kf.P), Array.from(before));
  kf.predict(0.1);
  const short = kf.P[0];
  kf.predict(0.5);
  assert.ok(kf.P[0] > short && short > before[0]);
  // Same motion at 10x the scale: covariances are 100x, so gains (and the relative response) are identical.
  const small = new BoxKalman();
  const big = new BoxKalman();
  small.init(0, 0, 20, 20);
  big.init(0, 0, 200, 200);
  for (let k = 1; k <= 5; k++) {
    small.predict(0.1);
    big.predict(0.1);
    small.update(3 * k, 0, 20, 20);
    big.update(30 * k, 0, 200, 200);
  }
  near(big.x[0] / small.x[0], 10, 1e-9, 'scale-free response');
  near(big.P[0] / small.P[0], 100, 1e-6, 'covariance scales with size²');
});

test('a coasting box never shrinks below 1 px', () => {
  const kf = new BoxKalman();
  kf.init(0, 0, 20, 20);
  kf.predict(0.1);
  kf.update(0, 0, 10, 10);
  kf.predict(0.1);
  kf.update(0, 0, 2, 2);
  kf.predict(10);
  const b = kf.writeBox({ x: 0, y: 0, w: 0, h: 0 });
  assert.ok(b.w >= 1 && b.h >= 1);
});
