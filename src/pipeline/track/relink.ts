/**
 * Appearance helpers for re-linking a returning face to its old track: descriptor similarity, the running
 * descriptor kept per track, and the "could it have got there" position test.
 */
import type { Box } from '../../core/types.js';
import type { Track, TrackerOptions } from './track.js';

/** Cosine similarity; 0 for descriptors of different lengths or zero norm (cannot be compared). */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length || a.length === 0) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/**
 * Folds a new descriptor into a track's running one (exponential moving average, re-normalised, as BoT-SORT
 * keeps its appearance feature): one blurred or side-on crop should not replace what the track looks like.
 * Returns the stored array, which is `prev` reused when the lengths agree (no allocation per call).
 */
export function mergeDescriptor(prev: Float32Array | undefined, next: Float32Array, momentum: number): Float32Array {
  if (!prev || prev.length !== next.length) return normalised(Float32Array.from(next));
  let n = 0;
  for (let i = 0; i < prev.length; i++) {
    const v = momentum * prev[i] + (1 - momentum) * next[i];
    prev[i] = v;
    n += v * v;
  }
  return scale(prev, n);
}

function normalised(d: Float32Array): Float32Array {
  let n = 0;
  for (let i = 0; i < d.length; i++) n += d[i] * d[i];
  return scale(d, n);
}

function scale(d: Float32Array, sumSq: number): Float32Array {
  if (sumSq > 0) {
    const k = 1 / Math.sqrt(sumSq);
    for (let i = 0; i < d.length; i++) d[i] *= k;
  }
  return d;
}

/**
 * Whether a face last seen at `from` could plausibly show up at `to` after `elapsedSec`: the centres are at
 * most (1 + speed·elapsed) face heights apart and the size changed by less than `maxScale` either way.
 * Why a position test at all: descriptors of different people are sometimes close, and a wrong merge (two
 * people sharing an id) is worse for the analytics than a duplicate id.
 */
export function plausibleReturn(from: Box, to: Box, elapsedSec: number, speed: number, maxScale = 2): boolean {
  const ratio = to.h / from.h;
  if (!(ratio <= maxScale && ratio >= 1 / maxScale)) return false;
  const dx = to.x + to.w / 2 - (from.x + from.w / 2);
  const dy = to.y + to.h / 2 - (from.y + from.h / 2);
  const reach = (1 + speed * Math.max(0, elapsedSec)) * Math.max(from.h, to.h);
  return dx * dx + dy * dy <= reach * reach;
}

/**
 * Late re-link (a descriptor arrived after the young track `t` was born): the best earlier track, among `a`
 * then `b`, that was last seen before `t` was born (never seen together, so possibly the same face), within
 * the relink window, at a plausible place, and similar enough.
 */
export function findEarlierSelf(t: Track, a: readonly Track[], b: readonly Track[], o: Readonly<TrackerOptions>): Track | undefined {
  if (!t.descriptor) return undefined;
  let best: Track | undefined;
  let bestSim = o.relinkThreshold;
  for (const list of [a, b]) {
    for (const c of list) {
      if (c === t || !c.descriptor || c.state === 'tentative' || c.lastDetectionTs >= t.birthTs) continue;
      const elapsed = t.birthTs - c.lastDetectionTs;
      if (elapsed > o.relinkWindowSec || !plausibleReturn(c.lastBox, t.firstBox, elapsed, o.relinkSpeed)) continue;
      const sim = cosine(c.descriptor, t.descriptor);
      if (sim >= bestSim) {
        bestSim = sim;
        best = c;
      }
    }
  }
  return best;
}
