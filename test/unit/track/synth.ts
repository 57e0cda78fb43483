/** Synthetic detections and scenes for the tracker tests (seeded, deterministic). */
import type { Box, Detection } from '../../../src/core/types.ts';
export { rng } from '../../helpers/rng.ts';
import { rng } from '../../helpers/rng.ts';


/** Standard normal from a uniform source (Box–Muller). */
export function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** A detection with eye/nose/mouth keypoints placed inside the box. */
export function det(box: Box, score = 0.9): Detection {
  const { x, y, w, h } = box;
  return {
    box: { ...box },
    score,
    keypoints: [
      { x: x + 0.3 * w, y: y + 0.4 * h },
      { x: x + 0.7 * w, y: y + 0.4 * h },
      { x: x + 0.5 * w, y: y + 0.6 * h },
      { x: x + 0.5 * w, y: y + 0.8 * h },
    ],
  };
}

/** A box of size s centred at (cx, cy). */
export function centred(cx: number, cy: number, s: number): Box {
  return { x: cx - s / 2, y: cy - s / 2, w: s, h: s };
}

/** A random L2-normalised descriptor, and one near it (cosine ≈ 1 - noise²/2). */
export function descriptor(rand: () => number, dim = 1024): Float32Array {
  const d = new Float32Array(dim);
  for (let i = 0; i < dim; i++) d[i] = gauss(rand);
  return normalise(d);
}

export function perturbed(base: Float32Array, rand: () => number, noise: number): Float32Array {
  const d = new Float32Array(base.length);
  const k = noise / Math.sqrt(base.length);
  for (let i = 0; i < d.length; i++) d[i] = base[i] + k * gauss(rand);
  return normalise(d);
}

function normalise(d: Float32Array): Float32Array {
  let n = 0;
  for (const v of d) n += v * v;
  n = Math.sqrt(n);
  for (let i = 0; i < d.length; i++) d[i] /= n;
  return d;
}

export interface SimFace {
  id: number;
  /** Ground-truth box at time t, or null while the face is not in the scene. */
  box(t: number): Box | null;
  /** Whether the detector sees it on this detection frame (default: whenever it is in the scene). */
  detected?(t: number): boolean;
  score?(t: number): number;
  descriptor?(t: number): Float32Array | undefined;
}

export interface SimOptions {
  fps: number;
  seconds: number;
  /** Detection runs every n-th frame (the first frame included). */
  detectEvery: number;
  /** Box jitter: std of position and size noise as a fraction of the face size. */
  jitter?: number;
  /** Probability that a visible face is missed on a detection frame. */
  missRate?: number;
  /** Extra detections (false positives) per detection frame index. */
  extra?(frame: number, t: number): Detection[];
  seed?: number;
}

interface Frame {
  id: number;
  box: Box;
}

export interface SimTracker {
  update(d: Detection[], ts: number, desc?: (Float32Array | undefined)[]): Frame[];
  predict(ts: number): Frame[];
}

/** Runs a tracker over a synthetic scene; returns per-frame ground truth and tracker output (every frame). */
export function simulate(tracker: SimTracker, faces: SimFace[], o: SimOptions, onFrame?: (t: number, out: Frame[], detFrame: boolean) => void): { gt: Frame[][]; hyp: Frame[][] } {
  const rand = rng(o.seed ?? 42);
  const gt: Frame[][] = [];
  const hyp: Frame[][] = [];
  const frames = Math.round(o.seconds * o.fps);
  for (let f = 0; f < frames; f++) {
    const t = f / o.fps;
    const g: Frame[] = [];
    for (const face of faces) {
      const b = face.box(t);
      if (b) g.push({ id: face.id, box: b });
    }
    gt.push(g);
    const detFrame = f % o.detectEvery === 0;
    let out: Frame[];
    if (detFrame) {
      const dets: Detection[] = [];
      const descs: (Float32Array | undefined)[] = [];
      for (const face of faces) {
        const b = face.box(t);
        if (!b || (face.detected && !face.detected(t)) || rand() < (o.missRate ?? 0)) continue;
        const j = o.jitter ?? 0;
        const s = b.h;
        dets.push(det({ x: b.x + j * s * gauss(rand), y: b.y + j * s * gauss(rand), w: b.w * (1 + j * gauss(rand)), h: b.h * (1 + j * gauss(rand)) }, face.score ? face.score(t) : 0.9));
        descs.push(face.descriptor?.(t));
      }
      for (const e of o.extra?.(f, t) ?? []) {
        dets.push(e);
        descs.push(undefined);
      }
      out = tracker.update(dets, t, descs);
    } else out = tracker.predict(t);
    hyp.push(out.map((s) => ({ id: s.id, box: s.box })));
    onFrame?.(t, out, detFrame);
  }
  return { gt, hyp };
}
