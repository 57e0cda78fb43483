/**
 * How late a live source is, measured on the camera's own timeline, and the skip-ahead decision that keeps it
 * from falling seconds behind. Pure: no timers, no I/O; the caller passes the wall clock (performance.now() ms).
 *
 * Why the camera's timeline: "arrival → record ready" cannot see a backlog in the socket or the demuxer — a
 * frame read 5 s late still goes through analysis in 5 ms. The camera stamps every frame (pts); mapping pts to
 * our clock with an anchor makes lateness visible: lag = arrival − (anchor + pts).
 *
 * The anchor is the smallest `arrival − pts` seen (the fastest transit: the frame that came straight through),
 * a minimum that may rise slowly (`driftMsPerSec`) so that a camera clock running slow against ours is followed
 * instead of reading as a growing backlog. A pure sliding-window minimum would forget a backlog that lasts longer
 * than its window and call it on time; the leaky minimum forgets at a bounded rate (1 ms per s by default: 10×
 * the ±100 ppm of a camera's crystal; a 500 ms backlog would take over 8 minutes to hide, and any skip, which
 * catches up with the camera, refreshes the anchor). The cost: a lag can read low by at most the allowance
 * accrued since the last refresh. A timeline jump (the camera
 * restarted its clock: pts backwards by over a second, or forward far beyond the wall time that passed)
 * re-anchors; so does every new connection (the owner calls reset()).
 */

export interface LagEstimatorOptions {
  /** How fast the anchor may rise, ms per wall-clock second (clock drift allowed; default 1, i.e. 1000 ppm). */
  driftMsPerSec?: number;
  /** pts running ahead of the wall clock by more than this between two items is a timeline jump, ms (default 10 000). */
  jumpMs?: number;
}

export class LagEstimator {
  /** Re-anchors after a timeline jump or reset() (the first anchor of a connection is not counted). */
  reanchors = 0;
  /** Lag of the latest observation, ms (0 before the first). */
  lagMs = 0;
  readonly #drift: number;
  readonly #jumpMs: number;
  /** wall − pts (ms) of the fastest transit, leaking upwards; NaN before the first observation. */
  #anchor = NaN;
  #lastWall = NaN;
  #lastPts = NaN;
  #observed = false;

  constructor(opts: LagEstimatorOptions = {}) {
    this.#drift = opts.driftMsPerSec ?? 1;
    this.#jumpMs = opts.jumpMs ?? 10_000;
  }

  get anchored(): boolean {
    return !Number.isNaN(this.#anchor);
  }

  /** An item of the source with time `ptsSec` (s) arrived at `wallMs`; returns its lag, ms (≥ 0). NaN pts: no news. */
  observe(ptsSec: number, wallMs: number): number {
    if (!Number.isFinite(ptsSec)) return this.lagMs;
    const a = wallMs - ptsSec * 1000;
    if (Number.isNaN(this.#anchor)) {
      if (this.#observed) this.reanchors++;
      this.#observed = true;
      this.#anchor = a;
    } else {
      const dWall = Math.max(0, wallMs - this.#lastWall);
      const dPts = (ptsSec - this.#lastPts) * 1000;
      if (dPts < -1000 || dPts > dWall + this.#jumpMs) {
        this.reanchors++;
        this.#anchor = a;
      } else {
        this.#anchor = Math.min(this.#anchor + (this.#drift * dWall) / 1000, a);
      }
    }
    this.#lastWall = wallMs;
    this.#lastPts = ptsSec;
    this.lagMs = a - this.#anchor;
    return this.lagMs;
  }

  /** When the camera made the item at `ptsSec`, on the caller's clock (ms); NaN before the first observation. */
  wallOf(ptsSec: number): number {
    return this.#anchor + ptsSec * 1000;
  }

  /** Forgets the anchor (a new connection, or a lag that skipping showed is not a backlog): the next item anchors. */
  reset(): void {
    this.#anchor = NaN;
    this.lagMs = 0;
  }
}

/**
 * Whether a connected source is stalled: no frame since `aliveAt` (the latest frame, or the connection's open)
 * for longer than `stallMs`. Computed from timestamps when asked, so a late watchdog timer cannot hide a stall.
 */
export function isStalled(aliveAt: number, now: number, stallMs: number): boolean {
  return now - aliveAt > stallMs;
}

export interface SkipAheadOptions {
  /** Above this lag (ms), packets are dropped until a key frame that is live again; 0 turns skipping off. */
  maxLagMs: number;
  /** Decoding resumes at the first key frame whose lag is at most this, ms (default maxLagMs / 2: hysteresis). */
  resumeLagMs?: number;
  /**
   * Skipping for this long (ms, default 2000) without the lag falling by at least 10 % of the time spent means
   * the lag is not a backlog (reading is no faster than the camera: an anchor error such as clock drift beyond
   * the allowance): decoding resumes and the caller re-anchors, instead of dropping forever.
   */
  noDrainMs?: number;
}

/** keep: decode the packet; drop: not decoded (counted); reanchor: keep it, and reset the LagEstimator first. */
export type SkipDecision = 'keep' | 'drop' | 'reanchor';

/**
 * Drops compressed packets while ingest is behind the camera by more than a bound, until a key frame that is
 * nearly live: stale frames are never decoded (the cheapest catch-up: a read costs a fraction of a decode, and a
 * backlog is drained at read speed), and decoding restarts at a key frame, so nothing decoded references a
 * dropped packet. Video freezes for the catch-up plus up to one GOP instead of staying seconds late.
 */
export class SkipAhead {
  /** Packets dropped (one video packet is one frame). */
  dropped = 0;
  /** Skip episodes started. */
  skips = 0;
  /** Episodes ended by 'reanchor' (the lag was not a backlog). */
  reanchors = 0;
  readonly #max: number;
  readonly #resume: number;
  readonly #noDrain: number;
  #since: { wallMs: number; lagMs: number } | undefined;

  constructor(opts: SkipAheadOptions) {
    if (!(opts.maxLagMs >= 0 && Number.isFinite(opts.maxLagMs))) throw new TypeError(`SkipAhead: maxLagMs must be >= 0, got ${opts.maxLagMs}`);
    this.#max = opts.maxLagMs;
    this.#resume = opts.resumeLagMs ?? opts.maxLagMs / 2;
    this.#noDrain = opts.noDrainMs ?? 2000;
  }

  /** Whether packets are being dropped now. */
  get skipping(): boolean {
    return this.#since !== undefined;
  }

  /** One packet with lag `lagMs` (LagEstimator.observe) that is or is not a key frame, read at `wallMs`. */
  decide(lagMs: number, keyframe: boolean, wallMs: number): SkipDecision {
    if (this.#max === 0) return 'keep';
    if (!this.#since) {
      if (!(lagMs > this.#max)) return 'keep';
      this.#since = { wallMs, lagMs };
      this.skips++;
    } else if (keyframe) {
      if (lagMs <= this.#resume) {
        this.#since = undefined;
        return 'keep';
      }
      const spent = wallMs - this.#since.wallMs;
      if (spent >= this.#noDrain && this.#since.lagMs - lagMs < 0.1 * spent) {
        this.#since = undefined;
        this.reanchors++;
        return 'reanchor';
      }
    }
    this.dropped++;
    return 'drop';
  }

  /** Ends an episode without a decision (a new connection starts decoding at its first key frame anyway). */
  reset(): void {
    this.#since = undefined;
  }
}
