/**
 * Detection schedule and per-track classification budget: pure decisions, unit-tested without video.
 *
 * Detection runs every `detectEvery` analysed frames; tracking carries faces in between. Classifying every face
 * on every frame would cost more than detection itself, so a track is classified when it is new, then every
 * `intervalSec`, and earlier when its face is clearly larger (`growth`) or better posed (eyes more level) than at
 * its last classification — a better view is worth a fresh estimate.
 */
import { rollAngle } from '../inference/align.js';
import type { Detection } from '../core/types.js';

/** About five detections per second, whatever the analysis rate. */
export function defaultDetectEvery(analysisFps: number): number {
  return Math.max(1, Math.round(analysisFps / 5));
}

export interface BudgetOptions {
  /** Re-classify a track at least this often (seconds). */
  intervalSec: number;
  /** Re-classify early when the face side grew by this factor since the last classification. */
  growth: number;
  /** Re-classify early when the head roll improved by this much (radians) since the last classification. */
  rollGain: number;
}

export const DEFAULT_BUDGET: BudgetOptions = { intervalSec: 1, growth: 1.25, rollGain: (10 * Math.PI) / 180 };

interface Last {
  ts: number;
  size: number;
  roll: number;
}

export class ClassificationBudget {
  readonly options: BudgetOptions;
  readonly #last = new Map<number, Last>();

  constructor(options: Partial<BudgetOptions> = {}) {
    this.options = { ...DEFAULT_BUDGET, ...options };
  }

  /** Whether track `id`, seen at `ts` with detection `d`, should be classified now. */
  due(id: number, ts: number, d: Detection): boolean {
    const last = this.#last.get(id);
    if (!last) return true;
    const o = this.options;
    if (ts - last.ts >= o.intervalSec) return true;
    if (Math.max(d.box.w, d.box.h) >= last.size * o.growth) return true;
    return Math.abs(rollAngle(d)) + o.rollGain <= Math.abs(last.roll);
  }

  /** Records that track `id` was classified at `ts` from detection `d`. */
  done(id: number, ts: number, d: Detection): void {
    this.#last.set(id, { ts, size: Math.max(d.box.w, d.box.h), roll: rollAngle(d) });
  }

  /** A relinked track keeps its history under its surviving id. */
  rename(from: number, to: number): void {
    const v = this.#last.get(from);
    if (v && from !== to) {
      this.#last.delete(from);
      this.#last.set(to, v);
    }
  }

  forget(id: number): void {
    this.#last.delete(id);
  }

  get size(): number {
    return this.#last.size;
  }
}
