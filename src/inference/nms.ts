/**
 * Non-maximum suppression for face detections.
 *
 * Weighted (blended) NMS: instead of keeping only the best box of a cluster of overlapping candidates, the kept
 * box and keypoints are the score-weighted mean of the cluster. Boxes from neighbouring anchors and from
 * overlapping tiles then average out rather than flicker between candidates, which is what a tracker and a
 * viewer want (MediaPipe's face detector does the same).
 */
import type { Box, Detection, Point } from '../core/types.js';

function intersection(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

export function iou(a: Box, b: Box): number {
  const inter = intersection(a, b);
  return inter > 0 ? inter / (a.w * a.h + b.w * b.h - inter) : 0;
}

/** Intersection over the smaller box: catches a small partial box lying inside a big one. */
export function overlapOfSmaller(a: Box, b: Box): number {
  const inter = intersection(a, b);
  return inter > 0 ? inter / Math.min(a.w * a.h, b.w * b.h) : 0;
}

export interface NmsOptions {
  /** Candidates overlapping the cluster leader by more than this IoU join its cluster. */
  iouThreshold: number;
  /** Also merge a candidate whose overlap with the smaller box exceeds this (0 disables). */
  containThreshold?: number;
  /** Blend clusters (weighted NMS) rather than keep the leader only. */
  blend: boolean;
  maxDetections?: number;
}

/** Returns the kept detections, best first. Does not modify its input. */
export function nms(candidates: readonly Detection[], opts: NmsOptions): Detection[] {
  const order = candidates.slice().sort((a, b) => b.score - a.score);
  const used = new Uint8Array(order.length);
  const out: Detection[] = [];
  const max = opts.maxDetections ?? Infinity;
  for (let i = 0; i < order.length && out.length < max; i++) {
    if (used[i]) continue;
    const lead = order[i];
    used[i] = 1;
    const cluster: Detection[] = [lead];
    for (let j = i + 1; j < order.length; j++) {
      if (used[j]) continue;
      const o = order[j];
      if (iou(lead.box, o.box) > opts.iouThreshold || (opts.containThreshold && overlapOfSmaller(lead.box, o.box) > opts.containThreshold)) {
        used[j] = 1;
        cluster.push(o);
      }
    }
    out.push(opts.blend && cluster.length > 1 ? blendCluster(cluster) : lead);
  }
  return out;
}

/**
 * Score-weighted mean of a cluster. Only members that overlap the leader well (IoU > 0.5) shape the box:
 * a partial box merged through containment must not drag the blended box off the face.
 */
function blendCluster(cluster: Detection[]): Detection {
  const lead = cluster[0];
  const members = cluster.filter((d, k) => k === 0 || iou(lead.box, d.box) > 0.5);
  let sw = 0;
  let x = 0;
  let y = 0;
  let w = 0;
  let h = 0;
  const nk = lead.keypoints.length;
  const kp: Point[] = Array.from({ length: nk }, () => ({ x: 0, y: 0 }));
  for (const d of members) {
    const s = d.score;
    sw += s;
    x += d.box.x * s;
    y += d.box.y * s;
    w += d.box.w * s;
    h += d.box.h * s;
    for (let k = 0; k < nk && k < d.keypoints.length; k++) {
      kp[k].x += d.keypoints[k].x * s;
      kp[k].y += d.keypoints[k].y * s;
    }
  }
  for (const p of kp) {
    p.x /= sw;
    p.y /= sw;
  }
  return { box: { x: x / sw, y: y / sw, w: w / sw, h: h / sw }, score: lead.score, keypoints: kp };
}
