/**
 * Detection schedule and per-track classification budget: pure decisions, unit-tested without video.
 *
 * Detection runs every `detectEvery` analysed frames; tracking carries faces in between. Classifying every face
 * on every frame would cost more than detection itself, so a track is classified when it is new, then its emotion
 * every `intervalSec` and its age, gender and descriptor every `demographicsIntervalSec`, and fully earlier when its
 * face is clearly larger (`growth`) or better posed (eyes more level) than at its last full classification — a
 * better view is worth a fresh estimate.
 */
import { rollAngle } from '../inference/align.js';
import type { Detection } from '../core/types.js';
import type { ClassifyScope } from '../inference/api.js';

/** About five detections per second, whatever the analysis rate. */
export function defaultDetectEvery(analysisFps: number): number {
  return Math.max(1, Math.round(analysisFps / 5));
}

export interface BudgetOptions {
  /** Re-classify a track's emotion at least this often (seconds). */
  intervalSec: number;
  /**
   * Re-read a track's age, gender and descriptor at least this often (seconds). They belong to the person and
   * do not change over a track, and the age/gender model costs ~4× the emotion models (src/inference/api.ts
   * ClassifyScope); the early triggers below re-read them whenever the view gets clearly better.
   */
  demographicsIntervalSec: number;
  /** Re-classify early (everything) when the face side grew by this factor since the last full classification. */
  growth: number;
  /** Re-classify early (everything) when the head roll improved by this much (radians) since the last full one. */
  rollGain: number;
}

export const DEFAULT_BUDGET: BudgetOptions = { intervalSec: 1, demographicsIntervalSec: 4, growth: 1.25, rollGain: (10 * Math.PI) / 180 };

interface Last {
  /** Last classification of any scope. */
  ts: number;
  /** Last full classification, and the view it had. */
  fullTs: number;
  size: number;
  roll: number;
}

export class ClassificationBudget {
  readonly options: BudgetOptions;
  readonly #last = new Map<number, Last>();

  constructor(options: Partial<BudgetOptions> = {}) {
    this.options = { ...DEFAULT_BUDGET, ...options };
    const o = this.options;
    if (!(o.intervalSec >= 0) || !(o.demographicsIntervalSec >= o.intervalSec)) throw new RangeError('ClassificationBudget: need 0 <= intervalSec <= demographicsIntervalSec');
  }

  /**
   * What track `id`, seen at `ts` with detection `d`, should be classified for now: 'all' (new track, the
   * demographics interval passed, or a clearly better view), 'emotion' (the emotion interval passed), or
   * undefined (nothing due).
   */
  due(id: number, ts: number, d: Detection): ClassifyScope | undefined {
    const last = this.#last.get(id);
    if (!last) return 'all';
    const o = this.options;
    if (ts - last.fullTs >= o.demographicsIntervalSec) return 'all';
    if (Math.max(d.box.w, d.box.h) >= last.size * o.growth) return 'all';
    if (Math.abs(rollAngle(d)) + o.rollGain <= Math.abs(last.roll)) return 'all';
    return ts - last.ts >= o.intervalSec ? 'emotion' : undefined;
  }

  /** Records that track `id` was classified at `ts` from detection `d`, for `scope`. */
  done(id: number, ts: number, d: Detection, scope: ClassifyScope = 'all'): void {
    const last = this.#last.get(id);
    if (scope === 'emotion' && last) last.ts = ts;
    else this.#last.set(id, { ts, fullTs: ts, size: Math.max(d.box.w, d.box.h), roll: rollAngle(d) });
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
