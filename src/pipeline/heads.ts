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
  return toCanonical(EMOTIONS, spec.labels, spec.activation === 'softmax' ? softmax(raw) : normalise(Array.from(raw)));
}

export function emotionResult(probs: number[]): EmotionResult {
  return { label: EMOTIONS[argmax(probs)], probs };
}

/** Probability of "male" from a gender head's raw output. */
export function maleProbability(spec: Spec<'gender'>, raw: ArrayLike<number>): number {
  if (spec.kind === 'sigmoid') return spec.positive === 'male' ? raw[0] : 1 - raw[0];
  const p = normalise(Array.from(raw));
  const labels = spec.labels ?? ['male', 'female'];
  return p[labels.indexOf('male')];
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
 * (sd 0 → 1, a spread of 20 years or more → 0).
 */
export function ageResult(probs: readonly number[], centres: readonly number[]): AgeResult {
  let mean = 0;
  for (let i = 0; i < probs.length; i++) mean += probs[i] * centres[i];
  let v = 0;
  for (let i = 0; i < probs.length; i++) v += probs[i] * (centres[i] - mean) ** 2;
  const sd = Math.sqrt(v);
  return { years: mean, confidence: Math.max(0, Math.min(1, 1 - sd / 20)) };
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
