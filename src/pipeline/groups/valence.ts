/**
 * The 7 classifier emotions placed on Russell's circumplex of affect (valence = pleasure–displeasure,
 * arousal = activation–deactivation, both −1..1).
 *
 * Source: Russell, J. A. (1980). A circumplex model of affect. Journal of Personality and Social Psychology,
 * 39(6), 1161–1178 — the angular positions of the 28 affect words from the direct circular scaling
 * (0° = pleasure, 90° = arousal, 180° = displeasure, 270° = sleepiness). Each emotion is put on the unit circle at
 * the angle of its closest word: happy → "happy" 7.8°, surprise → "astonished" 69.8°, angry → "angry" 99.0°,
 * fear → "afraid" 116.0°, sad → "sad" 207.5°. Disgust is not among Russell's 28 words; we place it at 130°,
 * between "annoyed" (123.0°) and "distressed" (138.0°), i.e. in the unpleasant / activated quadrant where
 * dimensional studies generally put disgust. That placement is ours, not Russell's.
 * Neutral is the centre of the circle (0, 0), which Russell describes as the neutral point.
 * See also Posner, Russell & Peterson (2005), Development and Psychopathology 17, 715–734.
 *
 * Unit radius treats a one-hot prediction as a prototypical, full-intensity expression; a probability vector
 * maps to the probability-weighted mean position, so uncertain faces sit nearer the centre.
 * Note that the circular scaling puts "angry" close to the arousal axis (valence −0.16): valence mostly
 * separates happy from sad/fear/disgust, and anger shows up chiefly as arousal.
 */
import { EMOTIONS } from '../../core/types.js';
import type { Emotion } from '../../core/types.js';

export interface CircumplexPosition {
  /** Angle in degrees on Russell's circle; null for the centre (neutral). */
  angleDeg: number | null;
  valence: number;
  arousal: number;
  /** Where the angle comes from. */
  source: string;
}

function onCircle(angleDeg: number, source: string): CircumplexPosition {
  const r = (angleDeg * Math.PI) / 180;
  return { angleDeg, valence: Math.cos(r), arousal: Math.sin(r), source };
}

export const CIRCUMPLEX: Readonly<Record<Emotion, CircumplexPosition>> = Object.freeze({
  angry: onCircle(99.0, 'Russell 1980, "angry"'),
  disgust: onCircle(130.0, 'facecast placement between Russell 1980 "annoyed" (123.0°) and "distressed" (138.0°)'),
  fear: onCircle(116.0, 'Russell 1980, "afraid"'),
  happy: onCircle(7.8, 'Russell 1980, "happy"'),
  sad: onCircle(207.5, 'Russell 1980, "sad"'),
  surprise: onCircle(69.8, 'Russell 1980, "astonished"'),
  neutral: { angleDeg: null, valence: 0, arousal: 0, source: 'centre of the circumplex' },
});

/** Valence per emotion in EMOTIONS order, for tight loops. */
export const VALENCE: readonly number[] = Object.freeze(EMOTIONS.map((e) => CIRCUMPLEX[e].valence));
/** Arousal per emotion in EMOTIONS order. */
export const AROUSAL: readonly number[] = Object.freeze(EMOTIONS.map((e) => CIRCUMPLEX[e].arousal));

function weighted(probs: ArrayLike<number>, table: readonly number[]): number {
  if (probs.length !== table.length) throw new RangeError(`emotion probs must have ${table.length} entries (EMOTIONS order), got ${probs.length}`);
  let s = 0;
  for (let i = 0; i < table.length; i++) s += probs[i] * table[i];
  return s;
}

/** Probability-weighted valence of one face, −1..1. */
export function valenceOf(probs: ArrayLike<number>): number {
  return weighted(probs, VALENCE);
}

/** Probability-weighted arousal of one face, −1..1. */
export function arousalOf(probs: ArrayLike<number>): number {
  return weighted(probs, AROUSAL);
}

export function valenceArousal(probs: ArrayLike<number>): { valence: number; arousal: number } {
  return { valence: valenceOf(probs), arousal: arousalOf(probs) };
}
