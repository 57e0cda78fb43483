/**
 * Per-track smoothing of classifier outputs.
 *
 * Faces are classified at a budget (not every frame) and single classifications flicker: a blink reads as
 * "sad", a turned head adds ten years. One `TrackSmoother` per track turns the raw stream into stable values:
 *
 * - emotion: exponential moving average of the probability vector in continuous time,
 *   `alpha = 1 - exp(-q·dt/tau)`. Using the elapsed time rather than a per-sample alpha keeps the response
 *   the same whether a track is classified at 2 Hz or 15 Hz or irregularly. `q` (0..1) is the face quality:
 *   a sample of quality q counts as q·dt seconds of evidence, so small faces move the average less.
 *   Smoothed label = argmax.
 * - age: weighted median of the last K estimates, weights = age confidence × quality. A median moves by at
 *   most one rank per sample, so a single wild estimate cannot drag it (a mean would move by outlier/K).
 * - gender: decaying weighted mean of P(male), weights = certainty (2·confidence − 1, floored) × quality,
 *   decay `exp(-dt/genderTau)`. Gender does not change, so the decay is slow; it exists only so that a track
 *   that swapped identity (tracker ID switch) recovers instead of being pinned by its history forever.
 * - race (when the race model runs): the same decaying weighted mean, over the probability vector (weights =
 *   top probability × quality); label = argmax. The model is unstable per crop, so the mean matters.
 *
 * 'too-small' faces carry no attributes and do not update anything (not even the clock, so the next real
 * sample's dt spans the gap, which is what continuous-time EMA wants).
 */
import { EMOTIONS, RACES } from '../core/types.js';
import type { AgeResult, EmotionResult, FaceAttributes, GenderResult, RaceResult } from '../core/types.js';

export interface TrackSmootherOptions {
  /** Emotion EMA time constant in seconds. Default 1.5. */
  emotionTau?: number;
  /** Number of recent age estimates the median is taken over. Default 15. */
  ageWindow?: number;
  /** Gender evidence decay time constant in seconds. Default 30. */
  genderTau?: number;
}

export interface Smoothed<T> {
  /** The classification given to this update, undefined when it carried none. */
  raw: T | undefined;
  smoothed: T;
}

export interface SmoothedAttributes {
  /** Timestamp (s) of the last accepted sample, NaN before the first. */
  ts: number;
  /** Accepted samples so far (ones that carried at least one attribute). */
  samples: number;
  emotion?: Smoothed<EmotionResult>;
  age?: Smoothed<AgeResult>;
  gender?: Smoothed<GenderResult>;
  race?: Smoothed<RaceResult>;
}

export const DEFAULT_SMOOTHER_OPTIONS: Required<TrackSmootherOptions> = { emotionTau: 1.5, ageWindow: 15, genderTau: 30 };

/** Face width (px) at which a classification counts fully; the emotion model sees 64 px, so larger adds little. */
export const FULL_QUALITY_FACE_SIZE = 96;

/**
 * Quality weight of a face from its size in pixels (max of box width/height): linear up to
 * FULL_QUALITY_FACE_SIZE, floored at 0.1 so tiny faces still count a little rather than not at all.
 */
export function faceQuality(sizePx: number, fullSize = FULL_QUALITY_FACE_SIZE): number {
  if (!Number.isFinite(sizePx) || sizePx <= 0) return 0.1;
  return Math.min(1, Math.max(0.1, sizePx / fullSize));
}

const K = EMOTIONS.length;
/** Floor on per-sample weights so zero-confidence samples still count when they are all we have. */
const MIN_WEIGHT = 0.05;

export class TrackSmoother {
  private readonly opts: Required<TrackSmootherOptions>;
  private lastTs = Number.NaN;
  private sampleCount = 0;

  // Emotion: EMA state; emoTs is separate from lastTs because age/gender-only samples must not advance it.
  private readonly emo = new Float64Array(K);
  private hasEmo = false;
  private emoTs = Number.NaN;

  // Age: ring buffer of (years, weight, confidence) plus a scratch index for sorting without allocation.
  private readonly ageYears: Float64Array;
  private readonly ageWeight: Float64Array;
  private readonly ageConf: Float64Array;
  private readonly ageOrder: Int32Array;
  private ageCount = 0;
  private ageNext = 0;

  // Gender: decayed sums of weight·P(male) and weight.
  private genderNum = 0;
  private genderDen = 0;
  private genderTs = Number.NaN;

  // Race: decayed weighted sums of the probability vector (RACES order).
  private readonly raceNum = new Float64Array(RACES.length);
  private raceDen = 0;
  private raceTs = Number.NaN;

  private current: SmoothedAttributes = { ts: Number.NaN, samples: 0 };

  constructor(options: TrackSmootherOptions = {}) {
    this.opts = { ...DEFAULT_SMOOTHER_OPTIONS, ...options };
    const { emotionTau, ageWindow, genderTau } = this.opts;
    if (!(emotionTau > 0) || !(genderTau > 0)) throw new RangeError('TrackSmoother: emotionTau and genderTau must be > 0 seconds');
    if (!Number.isInteger(ageWindow) || ageWindow < 1) throw new RangeError('TrackSmoother: ageWindow must be an integer >= 1');
    this.ageYears = new Float64Array(ageWindow);
    this.ageWeight = new Float64Array(ageWindow);
    this.ageConf = new Float64Array(ageWindow);
    this.ageOrder = new Int32Array(ageWindow);
  }

  /**
   * Feeds one classification taken at `ts` seconds. `quality` (0..1, default 1; see faceQuality) scales how
   * much it counts. Samples older than the last accepted one are ignored (out of order); equal timestamps are
   * accepted (dt = 0 moves the emotion EMA not at all, but age/gender evidence still counts).
   */
  update(ts: number, attributes: FaceAttributes | undefined, quality = 1): SmoothedAttributes {
    if (!Number.isFinite(ts)) throw new RangeError(`TrackSmoother.update: ts must be finite, got ${ts}`);
    if (!attributes || attributes.status !== 'ok' || ts < this.lastTs) return this.withoutRaw();
    const { emotion, age, gender, race } = attributes;
    if (!emotion && !age && !gender && !race) return this.withoutRaw();
    const q = Number.isFinite(quality) ? Math.min(1, Math.max(0, quality)) : 1;
    if (emotion) this.addEmotion(ts, emotion.probs, q);
    if (age) this.addAge(age, q);
    if (gender) this.addGender(ts, gender, q);
    if (race) this.addRace(ts, race, q);
    this.lastTs = ts;
    this.sampleCount++;
    this.current = this.snapshot(emotion, age, gender, race);
    return this.current;
  }

  /** The latest smoothed values, with raw = undefined (nothing new was given). */
  get value(): SmoothedAttributes {
    return this.withoutRaw();
  }

  private withoutRaw(): SmoothedAttributes {
    const c = this.current;
    if (c.emotion?.raw === undefined && c.age?.raw === undefined && c.gender?.raw === undefined && c.race?.raw === undefined) return c;
    const out: SmoothedAttributes = { ts: c.ts, samples: c.samples };
    if (c.emotion) out.emotion = { raw: undefined, smoothed: c.emotion.smoothed };
    if (c.age) out.age = { raw: undefined, smoothed: c.age.smoothed };
    if (c.gender) out.gender = { raw: undefined, smoothed: c.gender.smoothed };
    if (c.race) out.race = { raw: undefined, smoothed: c.race.smoothed };
    return out;
  }

  private addEmotion(ts: number, probs: readonly number[], q: number): void {
    if (probs.length !== K) throw new RangeError(`TrackSmoother: emotion probs must have ${K} entries (EMOTIONS order), got ${probs.length}`);
    if (!this.hasEmo) {
      // The first sample is all we know; weighting it against an empty prior would just scale it.
      for (let i = 0; i < K; i++) this.emo[i] = probs[i];
      this.hasEmo = true;
    } else {
      const alpha = 1 - Math.exp((-q * Math.max(0, ts - this.emoTs)) / this.opts.emotionTau);
      for (let i = 0; i < K; i++) this.emo[i] += alpha * (probs[i] - this.emo[i]);
    }
    this.emoTs = ts;
  }

  private addAge(age: AgeResult, q: number): void {
    if (!Number.isFinite(age.years)) return;
    const n = this.ageYears.length;
    const conf = Number.isFinite(age.confidence) ? Math.min(1, Math.max(0, age.confidence)) : 0;
    this.ageYears[this.ageNext] = age.years;
    this.ageConf[this.ageNext] = conf;
    this.ageWeight[this.ageNext] = Math.max(conf, MIN_WEIGHT) * Math.max(q, MIN_WEIGHT);
    this.ageNext = (this.ageNext + 1) % n;
    if (this.ageCount < n) this.ageCount++;
  }

  private addGender(ts: number, gender: GenderResult, q: number): void {
    if (!Number.isFinite(gender.male)) return;
    const male = Math.min(1, Math.max(0, gender.male));
    if (Number.isFinite(this.genderTs)) {
      const decay = Math.exp(-Math.max(0, ts - this.genderTs) / this.opts.genderTau);
      this.genderNum *= decay;
      this.genderDen *= decay;
    }
    // Certainty rather than raw confidence: confidence is 0.5..1, so 2c-1 maps "coin flip" to ~0 weight.
    const certainty = Math.max(2 * Math.max(male, 1 - male) - 1, MIN_WEIGHT);
    const w = certainty * Math.max(q, MIN_WEIGHT);
    this.genderNum += w * male;
    this.genderDen += w;
    this.genderTs = ts;
  }

  private addRace(ts: number, race: RaceResult, q: number): void {
    if (race.probs.length !== RACES.length) return;
    if (Number.isFinite(this.raceTs)) {
      const decay = Math.exp(-Math.max(0, ts - this.raceTs) / this.opts.genderTau);
      for (let i = 0; i < RACES.length; i++) this.raceNum[i] *= decay;
      this.raceDen *= decay;
    }
    let top = 0;
    for (const p of race.probs) if (p > top) top = p;
    const w = Math.max(top, MIN_WEIGHT) * Math.max(q, MIN_WEIGHT);
    for (let i = 0; i < RACES.length; i++) this.raceNum[i] += w * (Number.isFinite(race.probs[i]) ? race.probs[i] : 0);
    this.raceDen += w;
    this.raceTs = ts;
  }

  /** Weighted median of the age ring (lower median; midpoint when the cumulative weight hits exactly half). */
  private ageMedian(): { years: number; confidence: number } {
    const n = this.ageCount;
    const order = this.ageOrder;
    const ys = this.ageYears;
    let total = 0;
    let confSum = 0;
    for (let i = 0; i < n; i++) {
      // Insertion sort on indices: K is small (~15) and this avoids allocating per update.
      let j = i;
      while (j > 0 && ys[order[j - 1]] > ys[i]) {
        order[j] = order[j - 1];
        j--;
      }
      order[j] = i;
      total += this.ageWeight[i];
      confSum += this.ageConf[i];
    }
    const half = total / 2;
    let cum = 0;
    let years = ys[order[n - 1]];
    for (let k = 0; k < n; k++) {
      cum += this.ageWeight[order[k]];
      if (Math.abs(cum - half) <= 1e-12 * total && k + 1 < n) {
        years = (ys[order[k]] + ys[order[k + 1]]) / 2;
        break;
      }
      if (cum > half) {
        years = ys[order[k]];
        break;
      }
    }
    return { years, confidence: confSum / n };
  }

  private snapshot(rawEmotion?: EmotionResult, rawAge?: AgeResult, rawGender?: GenderResult, rawRace?: RaceResult): SmoothedAttributes {
    const out: SmoothedAttributes = { ts: this.lastTs, samples: this.sampleCount };
    if (this.hasEmo) {
      let sum = 0;
      for (let i = 0; i < K; i++) sum += this.emo[i];
      const probs = new Array<number>(K);
      let best = 0;
      for (let i = 0; i < K; i++) {
        // Renormalise: inputs may not sum to exactly 1 and the EMA preserves whatever they summed to.
        probs[i] = sum > 0 ? this.emo[i] / sum : 1 / K;
        if (probs[i] > probs[best]) best = i;
      }
      out.emotion = { raw: rawEmotion, smoothed: { label: EMOTIONS[best], probs } };
    }
    if (this.ageCount > 0) out.age = { raw: rawAge, smoothed: this.ageMedian() };
    if (this.genderDen > 0) {
      const male = this.genderNum / this.genderDen;
      out.gender = { raw: rawGender, smoothed: { label: male >= 0.5 ? 'male' : 'female', male, confidence: Math.max(male, 1 - male) } };
    }
    if (this.raceDen > 0) {
      const probs = Array.from(this.raceNum, (v) => v / this.raceDen);
      let best = 0;
      for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
      out.race = { raw: rawRace, smoothed: { label: RACES[best], probs } };
    }
    return out;
  }
}
