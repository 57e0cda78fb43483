/**
 * Multi-object tracking metrics (CLEAR MOT and identity metrics) for tests and the bench.
 *
 * Per frame, ground-truth and tracker boxes are matched at IoU >= threshold (0.5 is the MOTChallenge
 * convention). CLEAR MOT keeps last frame's correspondences while they still overlap, then matches the rest
 * with the minimum-cost assignment (cost 1 - IoU), as the MOTChallenge devkit does; an identity switch is a
 * ground-truth object matched to a tracker id different from the one it was last matched to.
 * IDF1 (Ristani et al. 2016) matches whole trajectories once: the ground-truth↔tracker id pairing that maximises
 * the number of frames in which the two overlap (IDTP); IDF1 = 2·IDTP / (#gt boxes + #tracker boxes).
 */
import type { Box } from '../../core/types.js';
import { iou } from '../../inference/nms.js';
import { Assigner } from './assign.js';

export interface MotObject {
  id: number;
  box: Box;
}
/** The objects of one frame. Ground truth and tracker output must have the same number of frames. */
export type MotFrame = readonly MotObject[];

export interface MotMetrics {
  frames: number;
  gtCount: number;
  hypCount: number;
  /** Frame-level matches (CLEAR MOT). */
  tp: number;
  fp: number;
  fn: number;
  idSwitches: number;
  mota: number;
  recall: number;
  precision: number;
  /** Identity metrics. */
  idtp: number;
  idf1: number;
  idp: number;
  idr: number;
}

export function evaluateMot(gt: readonly MotFrame[], hyp: readonly MotFrame[], iouThreshold = 0.5): MotMetrics {
  if (gt.length !== hyp.length) throw new RangeError(`evaluateMot: ${gt.length} ground-truth frames but ${hyp.length} tracker frames`);
  const assigner = new Assigner();
  const maxCost = 1 - iouThreshold;
  const last = new Map<number, number>(); // gt id -> tracker id it was last matched to
  const pairCounts = new Map<number, Map<number, number>>(); // gt id -> tracker id -> frames overlapping
  let gtCount = 0;
  let hypCount = 0;
  let tp = 0;
  let idSwitches = 0;
  for (let f = 0; f < gt.length; f++) {
    const g = gt[f];
    const h = hyp[f];
    gtCount += g.length;
    hypCount += h.length;
    // Identity counts: every overlapping pair in the frame counts towards its trajectory pair.
    for (const go of g) {
      for (const ho of h) {
        if (iou(go.box, ho.box) < iouThreshold) continue;
        let m = pairCounts.get(go.id);
        if (!m) pairCounts.set(go.id, (m = new Map()));
        m.set(ho.id, (m.get(ho.id) ?? 0) + 1);
      }
    }
    // CLEAR MOT: keep still-valid correspondences first.
    const gMatched = new Int32Array(g.length).fill(-1);
    const hUsed = new Uint8Array(h.length);
    for (let i = 0; i < g.length; i++) {
      const prev = last.get(g[i].id);
      if (prev === undefined) continue;
      const j = h.findIndex((o, k) => !hUsed[k] && o.id === prev);
      if (j >= 0 && iou(g[i].box, h[j].box) >= iouThreshold) {
        gMatched[i] = j;
        hUsed[j] = 1;
      }
    }
    const gi: number[] = [];
    const hj: number[] = [];
    for (let i = 0; i < g.length; i++) if (gMatched[i] < 0) gi.push(i);
    for (let j = 0; j < h.length; j++) if (!hUsed[j]) hj.push(j);
    const cost = new Float64Array(gi.length * hj.length);
    for (let a = 0; a < gi.length; a++) for (let b = 0; b < hj.length; b++) cost[a * hj.length + b] = 1 - iou(g[gi[a]].box, h[hj[b]].box);
    const r2c = new Int32Array(gi.length);
    assigner.solve(cost, gi.length, hj.length, maxCost, r2c);
    for (let a = 0; a < gi.length; a++) if (r2c[a] >= 0) gMatched[gi[a]] = hj[r2c[a]];
    for (let i = 0; i < g.length; i++) {
      const j = gMatched[i];
      if (j < 0) continue;
      tp++;
      const prev = last.get(g[i].id);
      if (prev !== undefined && prev !== h[j].id) idSwitches++;
      last.set(g[i].id, h[j].id);
    }
  }
  const idtp = bestIdentityMatch(pairCounts, assigner);
  const fp = hypCount - tp;
  const fn = gtCount - tp;
  const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);
  return {
    frames: gt.length,
    gtCount,
    hypCount,
    tp,
    fp,
    fn,
    idSwitches,
    mota: gtCount > 0 ? 1 - (fn + fp + idSwitches) / gtCount : 0,
    recall: ratio(tp, gtCount),
    precision: ratio(tp, hypCount),
    idtp,
    idf1: ratio(2 * idtp, gtCount + hypCount),
    idp: ratio(idtp, hypCount),
    idr: ratio(idtp, gtCount),
  };
}

/** Maximum total overlap over one-to-one gt-id ↔ tracker-id pairings (IDTP). */
function bestIdentityMatch(pairCounts: Map<number, Map<number, number>>, assigner: Assigner): number {
  const gIds = [...pairCounts.keys()];
  const hIdSet = new Set<number>();
  for (const m of pairCounts.values()) for (const k of m.keys()) hIdSet.add(k);
  const hIds = [...hIdSet];
  if (gIds.length === 0 || hIds.length === 0) return 0;
  const cost = new Float64Array(gIds.length * hIds.length);
  for (let a = 0; a < gIds.length; a++) {
    const m = pairCounts.get(gIds[a]);
    for (let b = 0; b < hIds.length; b++) cost[a * hIds.length + b] = -(m?.get(hIds[b]) ?? 0);
  }
  const r2c = new Int32Array(gIds.length);
  assigner.solve(cost, gIds.length, hIds.length, Infinity, r2c);
  let idtp = 0;
  for (let a = 0; a < gIds.length; a++) if (r2c[a] >= 0) idtp -= cost[a * hIds.length + r2c[a]];
  return idtp;
}
