/**
 * Constant-velocity Kalman filter on a face box, in pixels and seconds.
 *
 * State: (cx, cy, w, h) and their rates (px/s). Why centre + width/height rather than SORT's (cx, cy, area,
 * aspect): faces have a nearly fixed aspect, so an aspect rate only adds noise, and area is quadratic in the
 * size, which makes size-proportional noise awkward. OC-SORT and BoT-SORT track w and h directly for the same
 * reasons. The measurement is the detector's box converted to the same four numbers.
 *
 * Time is continuous: predict(dt) takes the elapsed seconds from frame timestamps, which are irregular on live
 * streams. Process noise is the continuous white-noise-acceleration model, Q = q·[[dt³/3, dt²/2], [dt²/2, dt]]
 * per coordinate, so predict(a) then predict(b) is exactly predict(a + b): coasting in several short steps
 * (frames without detection) and in one long step give the same filter.
 *
 * Noise is proportional to the face height (as BoT-SORT scales by w/h): a 300 px face jitters and moves in
 * pixels ten times as much as a 30 px one. With F, Q, H and R all block-diagonal per coordinate and P starting
 * block-diagonal, P stays block-diagonal, so the 8-state filter is exactly four independent 2-state filters;
 * that is how it is computed (no matrices, no allocation per step).
 */

import type { Box } from '../../core/types.js';

export interface KalmanNoise {
  /** Measurement std of the box centre and size, as a fraction of the face height (detector jitter). */
  measure: number;
  /** Std of the centre's acceleration, face heights per s² (how abruptly heads change course). */
  accelPos: number;
  /** Std of the size's acceleration, face heights per s² (approach/recede changes slowly). */
  accelSize: number;
  /** Initial std of the centre's velocity, face heights per s (unknown at birth; large so two hits set it). */
  initVelPos: number;
  /** Initial std of the size's velocity, face heights per s. */
  initVelSize: number;
}

/**
 * measure 0.05 (1/20) is BoT-SORT's std_weight_position; initVelPos 2 h/s is its 10·(1/160)·h per frame at
 * 30 fps. accelPos 2 h/s² lets a head reverse a 1 h/s motion in about half a second without losing the gate.
 */
export const DEFAULT_KALMAN_NOISE: Readonly<KalmanNoise> = { measure: 0.05, accelPos: 2, accelSize: 0.5, initVelPos: 2, initVelSize: 0.5 };

/** Smallest width/height the filter lets a box shrink to while coasting (px). */
const MIN_SIZE = 1;

export class BoxKalman {
  /** [cx, cy, w, h, vcx, vcy, vw, vh]. */
  readonly x = new Float64Array(8);
  /** Per coordinate i: P[3i] = var(pos), P[3i+1] = cov(pos, vel), P[3i+2] = var(vel). */
  readonly P = new Float64Array(12);

  constructor(readonly noise: Readonly<KalmanNoise> = DEFAULT_KALMAN_NOISE) {}

  /** Restarts the filter at a measured box (top-left x, y, w, h), velocity zero with a wide prior. */
  init(bx: number, by: number, bw: number, bh: number): void {
    const x = this.x;
    x[0] = bx + bw / 2;
    x[1] = by + bh / 2;
    x[2] = bw;
    x[3] = bh;
    x[4] = x[5] = x[6] = x[7] = 0;
    const n = this.noise;
    const h = Math.max(bh, MIN_SIZE);
    const p0 = (2 * n.measure * h) ** 2;
    for (let i = 0; i < 4; i++) {
      const vStd = (i < 2 ? n.initVelPos : n.initVelSize) * h;
      this.P[3 * i] = p0;
      this.P[3 * i + 1] = 0;
      this.P[3 * i + 2] = vStd * vStd;
    }
  }

  /** Advances the state by dt seconds (dt <= 0 is a no-op: timestamps never run the filter backwards). */
  predict(dt: number): void {
    if (!(dt > 0)) return;
    const x = this.x;
    const P = this.P;
    const n = this.noise;
    const h = Math.max(x[3], MIN_SIZE);
    const dt2 = dt * dt;
    for (let i = 0; i < 4; i++) {
      const a = (i < 2 ? n.accelPos : n.accelSize) * h;
      const q = a * a;
      x[i] += x[i + 4] * dt;
      const p00 = P[3 * i];
      const p01 = P[3 * i + 1];
      const p11 = P[3 * i + 2];
      P[3 * i] = p00 + 2 * dt * p01 + dt2 * p11 + (q * dt2 * dt) / 3;
      P[3 * i + 1] = p01 + dt * p11 + (q * dt2) / 2;
      P[3 * i + 2] = p11 + q * dt;
    }
    // A coasting box must not shrink through zero (SORT zeroes the scale rate for the same reason).
    for (let i = 2; i < 4; i++) {
      if (x[i] < MIN_SIZE) {
        x[i] = MIN_SIZE;
        if (x[i + 4] < 0) x[i + 4] = 0;
      }
    }
  }

  /** Corrects the state with a measured box (top-left x, y, w, h). */
  update(bx: number, by: number, bw: number, bh: number): void {
    const x = this.x;
    const P = this.P;
    const s = this.noise.measure * Math.max(bh, MIN_SIZE);
    const r = s * s;
    const z0 = bx + bw / 2;
    const z1 = by + bh / 2;
    for (let i = 0; i < 4; i++) {
      const z = i === 0 ? z0 : i === 1 ? z1 : i === 2 ? bw : bh;
      const p00 = P[3 * i];
      const p01 = P[3 * i + 1];
      const p11 = P[3 * i + 2];
      const S = p00 + r;
      const k0 = p00 / S;
      const k1 = p01 / S;
      const y = z - x[i];
      x[i] += k0 * y;
      x[i + 4] += k1 * y;
      // Joseph form is unnecessary here: with a scalar innovation per block the simple form stays symmetric.
      P[3 * i] = (1 - k0) * p00;
      P[3 * i + 1] = (1 - k0) * p01;
      P[3 * i + 2] = p11 - k1 * p01;
    }
  }

  /** Copies state and covariance from another filter (snapshots for observation-centric re-update). */
  copyFrom(o: BoxKalman): void {
    this.x.set(o.x);
    this.P.set(o.P);
  }

  /** Writes the current state as a top-left box into `out` (sizes clamped to at least 1 px) and returns it. */
  writeBox(out: Box): Box {
    const w = Math.max(this.x[2], MIN_SIZE);
    const h = Math.max(this.x[3], MIN_SIZE);
    out.x = this.x[0] - w / 2;
    out.y = this.x[1] - h / 2;
    out.w = w;
    out.h = h;
    return out;
  }
}
