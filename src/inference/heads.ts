/**
 * Decoding of classifier outputs ("heads") into facecast's canonical results. Pure functions over plain
 * arrays, so the decoding of any manifest-described model is unit-testable without a model.
 */
import { EMOTIONS, RACES, type AgeResult, type EmotionResult, type GenderResult, type RaceResult } from '../core/types.js';
import type { HeadSpec } from '../models/manifest.js';

export function softmax(v: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) if (v[i] > max) max = v[i];
  const out = new Array<number>(v.length);
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    out[i] = Math.exp(v[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < v.length; i++) out[i] /= sum;
  return out;
}

function normalise(v: number[]): number[] {
  let s = 0;
  for (const x of v) s += Math.max(0, x);
  if (!(s > 0)) return v.map(() => 1 / v.length);
  return v.map((x) => Math.max(0, x) / s);
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

type Spec<H extends HeadSpec['head']> = Extract<HeadSpec, { head: H }>;

/** Model-order probabilities → the canonical label order (labels the model lacks get 0). */
function toCanonical<L extends string>(canonical: readonly L[], labels: readonly L[], p: readonly number[]): number[] {
  const out = new Array<number>(canonical.length).fill(0);
  labels.forEach((label, i) => {
    out[canonical.indexOf(label)] += p[i];
  });
  return out;
}

/** Model-order emotion output → probabilities in canonical EMOTIONS order. */
export function emotionProbs(spec: Spec<'emotion'>, raw: ArrayLike<number>): number[] {
  let p = spec.activation === 'softmax' ? softmax(raw) : normalise(Array.from(raw));
  if (spec.bias || spec.temperature) p = calibrate(p, spec.bias, spec.temperature ?? 1);
  return toCanonical(EMOTIONS, spec.labels, p);
}

/** softmax((log p + bias) / T): per-class bias and temperature calibration of a probability vector. */
export function calibrate(p: readonly number[], bias: readonly number[] | undefined, temperature: number): number[] {
  return softmax(p.map((x, i) => (Math.log(Math.max(x, 1e-9)) + (bias?.[i] ?? 0)) / temperature));
}

/**
 * The emotion head's `fuse`: softmax((1 − w)·log p_own + w·log p_other + bias) over canonical-order probabilities
 * (each already calibrated by its own head); `bias` is in `spec.labels` order, as the head's own bias is.
 */
export function fuseEmotionProbs(spec: Spec<'emotion'>, own: readonly number[], other: readonly number[]): number[] {
  const f = spec.fuse;
  if (!f) return [...own];
  const bias = EMOTIONS.map((e) => {
    const i = spec.labels.indexOf(e);
    return i >= 0 ? (f.bias?.[i] ?? 0) : 0;
  });
  const lg = (x: number): number => Math.log(Math.max(x, 1e-9));
  return softmax(own.map((x, i) => (1 - f.weight) * lg(x) + f.weight * lg(other[i]) + bias[i]));
}

export function emotionResult(probs: number[]): EmotionResult {
  return { label: EMOTIONS[argmax(probs)], probs };
}

/** Probability of "male" from a gender head's raw output. */
export function maleProbability(spec: Spec<'gender'>, raw: ArrayLike<number>): number {
  let male: number;
  if (spec.kind === 'sigmoid') male = spec.positive === 'male' ? raw[0] : 1 - raw[0];
  else male = normalise(Array.from(raw))[(spec.labels ?? ['male', 'female']).indexOf('male')];
  if (!spec.bias) return male;
  // calibration: shift the logit
  const m = Math.min(1 - 1e-9, Math.max(1e-9, male));
  return 1 / (1 + Math.exp(-(Math.log(m / (1 - m)) + spec.bias)));
}

export function genderResult(male: number): GenderResult {
  return male >= 0.5 ? { label: 'male', male, confidence: male } : { label: 'female', male, confidence: 1 - male };
}

/** Age distribution over class centres (years), for bins and centres kinds; regression returns [1] over [years]. */
export function ageDistribution(spec: Spec<'age'>, raw: ArrayLike<number>): { probs: number[]; centres: number[] } {
  if (spec.kind === 'regression') return { probs: [1], centres: [raw[0]] };
  const probs = normalise(Array.from(raw));
  const centres = spec.kind === 'bins' ? probs.map((_, i) => (spec.start ?? 0) + i * (spec.step ?? 1)) : (spec.centres ?? []);
  return { probs, centres };
}

/**
 * Expected age over the distribution, and a confidence from its spread: 1 - sd/20 clamped to 0..1
 * (sd 0 → 1, a spread of 20 years or more → 0). With `calibration` knots the expected age is then mapped
 * through them (calibrateAge).
 */
export function ageResult(probs: readonly number[], centres: readonly number[], calibration?: readonly (readonly [number, number])[]): AgeResult {
  let mean = 0;
  for (let i = 0; i < probs.length; i++) mean += probs[i] * centres[i];
  let v = 0;
  for (let i = 0; i < probs.length; i++) v += probs[i] * (centres[i] - mean) ** 2;
  const sd = Math.sqrt(v);
  return { years: calibration ? calibrateAge(mean, calibration) : mean, confidence: Math.max(0, Math.min(1, 1 - sd / 20)) };
}

/**
 * Monotone piecewise-linear map through `knots` ([decoded, calibrated], increasing), extended with the first
 * and last segments' slopes, clamped to 0..100 years.
 */
export function calibrateAge(years: number, knots: readonly (readonly [number, number])[]): number {
  if (knots.length < 2 || !Number.isFinite(years)) return years;
  let j = 1;
  while (j < knots.length - 1 && years > knots[j][0]) j++;
  const [x0, y0] = knots[j - 1];
  const [x1, y1] = knots[j];
  const y = y0 + ((years - x0) * (y1 - y0)) / (x1 - x0);
  return Math.max(0, Math.min(100, y));
}

export function raceProbs(spec: Spec<'race'>, raw: ArrayLike<number>): number[] {
  return toCanonical(RACES, spec.labels, normalise(Array.from(raw)));
}

export function raceResult(probs: number[]): RaceResult {
  return { label: RACES[argmax(probs)], probs };
}

/** L2-normalised copy. */
export function normaliseDescriptor(raw: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(raw);
  let n = 0;
  for (let i = 0; i < out.length; i++) n += out[i] * out[i];
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < out.length; i++) out[i] /= n;
  return out;
}
