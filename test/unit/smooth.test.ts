import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrackSmoother, faceQuality } from '../../src/pipeline/smooth.ts';
import { EMOTIONS } from '../../src/core/types.ts';
import type { Emotion, FaceAttributes } from '../../src/core/types.ts';

const oneHot = (e: Emotion): number[] => EMOTIONS.map((x) => (x === e ? 1 : 0));
const emo = (probs: number[]): FaceAttributes => ({ status: 'ok', emotion: { label: EMOTIONS[probs.indexOf(Math.max(...probs))], probs } });
const age = (years: number, confidence = 0.8): FaceAttributes => ({ status: 'ok', age: { years, confidence } });
const close = (a: number, b: number, eps = 1e-9, msg?: string): void => assert.ok(Math.abs(a - b) <= eps, msg ?? `${a} ≈ ${b}`);

test('emotion EMA converges to a constant input and follows alpha = 1 - exp(-dt/tau)', () => {
  const s = new TrackSmoother({ emotionTau: 1.5 });
  s.update(0, emo(oneHot('neutral')));
  const r1 = s.update(0.5, emo(oneHot('happy')));
  close(r1.emotion!.smoothed.probs[EMOTIONS.indexOf('happy')], 1 - Math.exp(-0.5 / 1.5));
  assert.deepEqual(r1.emotion!.raw!.probs, oneHot('happy'), 'raw is reported alongside');
  let last = r1;
  for (let t = 1; t <= 15; t += 0.5) last = s.update(t, emo(oneHot('happy')));
  assert.equal(last.emotion!.smoothed.label, 'happy');
  close(last.emotion!.smoothed.probs[EMOTIONS.indexOf('happy')], 1, 1e-3);
  close(last.emotion!.smoothed.probs.reduce((a, b) => a + b, 0), 1);
});

test('irregular sampling: one 0.8 s step equals steps of 0.3 s + 0.5 s', () => {
  const a = new TrackSmoother();
  const b = new TrackSmoother();
  a.update(0, emo(oneHot('sad')));
  b.update(0, emo(oneHot('sad')));
  const ra = a.update(0.8, emo(oneHot('happy')));
  b.update(0.3, emo(oneHot('happy')));
  const rb = b.update(0.8, emo(oneHot('happy')));
  ra.emotion!.smoothed.probs.forEach((p, i) => close(p, rb.emotion!.smoothed.probs[i], 1e-12));
});

test('quality scales the evidence: a low-quality sample moves the average less', () => {
  const hi = new TrackSmoother();
  const lo = new TrackSmoother();
  for (const s of [hi, lo]) s.update(0, emo(oneHot('neutral')));
  const h = hi.update(1, emo(oneHot('happy')), 1).emotion!.smoothed.probs[3];
  const l = lo.update(1, emo(oneHot('happy')), faceQuality(32)).emotion!.smoothed.probs[3];
  assert.ok(l < h && l > 0, `${l} < ${h}`);
  assert.equal(faceQuality(200), 1);
  assert.equal(faceQuality(1), 0.1);
});

test('age median resists a single outlier', () => {
  const s = new TrackSmoother();
  let t = 0;
  for (const y of [30, 31, 29, 30, 32, 28, 30]) s.update((t += 0.5), age(y));
  const before = s.value.age!.smoothed.years;
  const after = s.update((t += 0.5), age(85, 0.9)).age!.smoothed.years;
  assert.ok(Math.abs(after - before) <= 1, `median moved from ${before} to ${after}`);
  assert.equal(s.value.age!.raw, undefined);
  assert.ok(after >= 28 && after <= 32);
});

test('age window keeps the last K estimates: the median follows a real change', () => {
  const s = new TrackSmoother({ ageWindow: 5 });
  for (let i = 0; i < 5; i++) s.update(i, age(20));
  for (let i = 5; i < 10; i++) s.update(i, age(50));
  assert.equal(s.value.age!.smoothed.years, 50);
});

test('gender is a confidence-weighted, decaying mean of P(male)', () => {
  const s = new TrackSmoother({ genderTau: 30 });
  const g = (male: number): FaceAttributes => ({ status: 'ok', gender: { label: male >= 0.5 ? 'male' : 'female', male, confidence: Math.max(male, 1 - male) } });
  s.update(0, g(0.9));
  s.update(1, g(0.95));
  const r = s.update(2, g(0.45)); // an uncertain contrary sample barely counts
  assert.equal(r.gender!.smoothed.label, 'male');
  assert.ok(r.gender!.smoothed.male > 0.85);
  close(r.gender!.smoothed.confidence, r.gender!.smoothed.male);
});

test("too-small faces and out-of-order samples don't update", () => {
  const s = new TrackSmoother();
  s.update(0, emo(oneHot('sad')));
  const a = s.update(1, { status: 'too-small' });
  assert.equal(a.samples, 1);
  assert.equal(a.ts, 0);
  assert.equal(a.emotion!.smoothed.label, 'sad');
  assert.equal(a.emotion!.raw, undefined);
  s.update(1, undefined);
  s.update(2, { status: 'ok' });
  // The gap is spanned by the next real sample: dt = 3 s, not 1 s.
  const b = s.update(3, emo(oneHot('happy')));
  close(b.emotion!.smoothed.probs[3], 1 - Math.exp(-3 / 1.5));
  const c = s.update(2.5, emo(oneHot('angry')));
  assert.equal(c.samples, 2);
  assert.equal(c.emotion!.smoothed.probs[0], 0);
});

test('rejects malformed input', () => {
  const s = new TrackSmoother();
  assert.throws(() => s.update(0, emo([0.5, 0.5])), RangeError);
  assert.throws(() => s.update(Number.NaN, emo(oneHot('sad'))), RangeError);
  assert.throws(() => new TrackSmoother({ emotionTau: 0 }), RangeError);
});
