/**
 * Groups over several cameras: each camera's scene is summarised in a few numbers (its face count, its window
 * emotion distribution, and the cohesion inputs of its current members), and summaries combine into the group's
 * aggregate — weighted by face counts — without the faces themselves. Pure and synchronous.
 *
 * Cohesion combines exactly: cohesion = 1 − JSD / log2(min(n, 7)) with JSD = H(mean P) − mean H(Pᵢ) (see
 * aggregate.ts), and both means add across cameras when each camera reports its member count, the mean of its
 * members' (normalised) distributions and the mean of their entropies. So the combined cohesion equals
 * cohesion() over all the members of all the cameras.
 */
import { EMOTIONS } from '../../core/types.js';
import type { Emotion } from '../../core/types.js';
import type { FrameRecord } from '../../core/records.js';
import { AROUSAL, VALENCE } from './valence.js';

const K = EMOTIONS.length;

/** One camera's scene, as published by the instance that analyses it. */
export interface SceneSummary {
  /** Faces in the scene on the latest analysed frame. */
  faceCount: number;
  /** The scene's emotion distribution over its window (EMOTIONS order); all zeros before any classification. */
  emotion: number[];
  /** Current members with an emotion, the mean of their normalised distributions, the mean of their entropies (bits). */
  members: number;
  meanProbs: number[];
  meanEntropy: number;
}

/** The aggregate of a group of cameras. */
export interface CombinedScene {
  faceCount: number;
  /** Face-count-weighted mean of the cameras' window distributions (EMOTIONS order); zeros with no data. */
  emotion: number[];
  dominant: Emotion | null;
  /** Circumplex position of `emotion`, −1..1. */
  valence: number;
  arousal: number;
  /** 0..1 over every current member of every camera (1 for one member, 0 for none). */
  cohesion: number;
}

function entropyBits(p: ArrayLike<number>, scale: number): number {
  let h = 0;
  for (let i = 0; i < K; i++) {
    const q = p[i] * scale;
    if (q > 0) h -= q * Math.log2(q);
  }
  return h;
}

const dot = (p: ArrayLike<number>, t: readonly number[]): number => {
  let s = 0;
  for (let i = 0; i < K; i++) s += p[i] * t[i];
  return s;
};

/** A stream's latest record → its scene summary (undefined without a scene group). */
export function sceneSummary(record: FrameRecord): SceneSummary | undefined {
  const scene = record.groups.find((g) => g.kind === 'scene');
  if (!scene) return undefined;
  const meanProbs = new Array<number>(K).fill(0);
  let members = 0;
  let meanEntropy = 0;
  for (const f of record.faces) {
    const p = f.smoothed?.emotion?.probs;
    if (!p || p.length !== K) continue;
    let s = 0;
    for (let i = 0; i < K; i++) s += p[i];
    if (!(s > 0)) continue;
    for (let i = 0; i < K; i++) meanProbs[i] += p[i] / s;
    meanEntropy += entropyBits(p, 1 / s);
    members++;
  }
  if (members > 0) {
    for (let i = 0; i < K; i++) meanProbs[i] /= members;
    meanEntropy /= members;
  }
  return { faceCount: scene.faceCount, emotion: scene.emotion.slice(), members, meanProbs, meanEntropy };
}

/** Combines camera summaries (see the module comment). An empty list gives an empty group. */
export function combineScenes(parts: readonly SceneSummary[]): CombinedScene {
  const emotion = new Array<number>(K).fill(0);
  let faces = 0;
  let weightSum = 0;
  for (const p of parts) {
    faces += p.faceCount;
    const hasDist = p.emotion.length === K && p.emotion.some((v) => v > 0);
    if (!hasDist || p.faceCount <= 0) continue;
    for (let i = 0; i < K; i++) emotion[i] += p.faceCount * p.emotion[i];
    weightSum += p.faceCount;
  }
  if (weightSum > 0) for (let i = 0; i < K; i++) emotion[i] /= weightSum;

  const meanP = new Array<number>(K).fill(0);
  let n = 0;
  let meanH = 0;
  for (const p of parts) {
    if (p.members <= 0) continue;
    for (let i = 0; i < K; i++) meanP[i] += p.members * p.meanProbs[i];
    meanH += p.members * p.meanEntropy;
    n += p.members;
  }
  let cohesion = 0;
  if (n === 1) cohesion = 1;
  else if (n > 1) {
    for (let i = 0; i < K; i++) meanP[i] /= n;
    const jsd = entropyBits(meanP, 1) - meanH / n;
    cohesion = Math.min(1, Math.max(0, 1 - jsd / Math.log2(Math.min(n, K))));
  }
  let best = -1;
  for (let i = 0; i < K; i++) if (emotion[i] > 0 && (best < 0 || emotion[i] > emotion[best])) best = i;
  return { faceCount: faces, emotion, dominant: best < 0 ? null : EMOTIONS[best], valence: dot(emotion, VALENCE), arousal: dot(emotion, AROUSAL), cohesion };
}
