/**
 * Tracker value types, options with their defaults (and why), and the internal per-track record.
 */
import type { Box, Point } from '../../core/types.js';
import type { BoxKalman, KalmanNoise } from './kalman.js';

export type TrackState = 'tentative' | 'confirmed' | 'lost';

export interface TrackSnapshot {
  /** Stable, increasing from 1, never reused. */
  id: number;
  /** Kalman box at the snapshot time (top-left, px). */
  box: Box;
  /** Score of the last matched detection. */
  score: number;
  state: TrackState;
  /** Seconds since the track was born (since the old track's birth after a relink). */
  age: number;
  /** Matched detections so far. */
  hits: number;
  lastDetectionTs: number;
  /** Centre velocity, px/s. */
  velocity: Point;
  /** Last detection's keypoints, moved (and scaled about the centre) with the predicted box. */
  keypoints: Point[];
}

export interface TrackEvents {
  /** Tracks created by this update (tentative, or confirmed at once by a very high score). */
  born: number[];
  /** Tentative → confirmed. */
  confirmed: number[];
  /** Confirmed → lost (missed by this detection frame). */
  lost: number[];
  /** Dropped: tentative tracks on their first miss, lost tracks after maxLostSec. */
  removed: number[];
  /**
   * A face re-identified by appearance (stage 4, or setDescriptor) carries its old id `to` again. `from` is the id retired by it: the young track's id when the link
   * came from setDescriptor(), or `to` itself when a detection revived the old id directly (no id was minted).
   */
  relinked: { from: number; to: number }[];
}

export interface TrackerOptions {
  /** Stage-1 detections (and the only ones that start tracks). Above BlazeFace's partial-face band (0.5–0.65). */
  highThreshold: number;
  /**
   * Stage-2 floor: weaker boxes only extend tracks (ByteTrack). Detections below the detector's own minScore
   * (0.5 by default) never reach the tracker, so lower that to use this band fully.
   */
  lowThreshold: number;
  /** IoU gate for stages 1 and 3 (ByteTrack's 0.8 cost ≈ 0.2 IoU; faces move less than bodies, so 0.3). */
  matchIou: number;
  /** IoU gate for low-score detections (ByteTrack's second stage uses 0.5): weak boxes must agree well. */
  lowMatchIou: number;
  /** Matched detections that confirm a tentative track; 2 means one false positive frame never shows. */
  minHits: number;
  /** A new track scoring at least this is confirmed at once (saves one detection interval for clear faces). */
  instantConfirmScore: number;
  /**
   * Confirmation in seconds: a tentative track needs `minHits` detections, but no more than fit in this window at
   * the detection rate. When detections come further apart than confirmSec (e.g. `--fps 1`), one detection
   * scoring at least `confidentScore` confirms: waiting for a second one would lose every moving face.
   */
  confirmSec: number;
  /** A lone detection at this score confirms a track when the detection interval is longer than confirmSec. */
  confidentScore: number;
  /** A lost track is removed once this long without a detection (at least `maxLostDetections` detection intervals). */
  maxLostSec: number;
  /** Detections a lost track may miss before it is removed, whatever the rate (with maxLostSec, the larger wins). */
  maxLostDetections: number;
  /** Lost tracks are still output (state 'lost', predicted box) this long, so one missed detection does not blink. */
  coastSec: number;
  /** Missed detections a lost track is still output for (with coastSec, the longer wins). */
  coastDetections: number;
  /**
   * Motion stage (after IoU): an unmatched detection may continue an unmatched track whose predicted centre is
   * within (0.5 + motionSpeed·gap) face heights and whose size is within ×1.5. IoU alone fails once detections
   * are far apart in time (a face moves more than its width between two detections at 1 per second).
   */
  motionSpeed: number;
  /**
   * Expected detection interval (s) for the rate-dependent rules until it has been measured from the update()
   * timestamps (a running average, which then takes over: a live stream may deliver fewer frames than
   * scheduled). The analyzer passes its schedule so the first detections already follow the right rules.
   */
  detectionIntervalSec?: number;
  /** Removed tracks stay re-linkable this long after their last detection (at least twice the lost time). */
  relinkWindowSec: number;
  /** Minimum descriptor cosine similarity to re-link. */
  relinkThreshold: number;
  /** How far (face heights per second, plus one face height) a face may move while unseen and still re-link. */
  relinkSpeed: number;
  /** Weight of the running descriptor when a new one arrives (EMA). */
  descriptorMomentum: number;
  /** Also output tentative tracks. */
  includeTentative: boolean;
  /** Kalman noise overrides. */
  kalman?: Partial<KalmanNoise>;
}

/**
 * Defaults. maxLostSec 1 s covers a head turned away or a hand over the face; beyond that the Kalman guess is
 * worthless and appearance (relink) takes over for relinkWindowSec 3 s. relinkThreshold 0.5 is a conservative
 * cosine for a 1024-d face embedding combined with the position test. instantConfirmScore 0.95 is rare for
 * clutter. coastSec 0.3 s spans one missed detection at detection rates down to about 7 Hz, and
 * coastDetections 1 keeps that true at any lower rate (at 1 Hz a lost face still shows on the next analysed
 * frame); longer coasting at high rates cost precision on the synthetic bench clip (0.974 → 0.967 at 0.5 s).
 * confirmSec 0.5 s: at 5 Hz a track needs two detections (a one-frame false positive never shows), at 1 Hz
 * one confident detection (≥ confidentScore 0.7).
 */
export const DEFAULT_TRACKER_OPTIONS: Readonly<TrackerOptions> = {
  highThreshold: 0.6,
  lowThreshold: 0.3,
  matchIou: 0.3,
  lowMatchIou: 0.5,
  minHits: 2,
  instantConfirmScore: 0.95,
  confirmSec: 0.5,
  confidentScore: 0.7,
  maxLostSec: 1.0,
  maxLostDetections: 3,
  coastSec: 0.3,
  coastDetections: 1,
  motionSpeed: 1.5,
  relinkWindowSec: 3,
  relinkThreshold: 0.5,
  relinkSpeed: 3,
  descriptorMomentum: 0.8,
  includeTentative: false,
};

/** Internal mutable record of one track. */
export interface Track {
  id: number;
  state: TrackState;
  kf: BoxKalman;
  /** Filter right after the last detection (restored for OC-SORT's re-update after a gap). */
  obsKf: BoxKalman;
  /** Time the filter state is at. */
  tsKf: number;
  birthTs: number;
  lastDetectionTs: number;
  hits: number;
  /** Detection frames missed in a row. */
  missed: number;
  /** Matched in the current update. */
  matched: boolean;
  score: number;
  lastBox: Box;
  firstBox: Box;
  /** Predicted box at tsKf (reused for IoU). */
  pred: Box;
  /** Filtered centre and height when the keypoints were taken. */
  refCx: number;
  refCy: number;
  refH: number;
  keypoints: Point[];
  descriptor: Float32Array | undefined;
}

export function emptyEvents(): TrackEvents {
  return { born: [], confirmed: [], lost: [], removed: [], relinked: [] };
}

/** Snapshot at tsSec of a track whose filter has been advanced to tsSec. */
export function snapshotOf(t: Track, tsSec: number): TrackSnapshot {
  const x = t.kf.x;
  const box = t.kf.writeBox({ x: 0, y: 0, w: 0, h: 0 });
  const k = t.refH > 0 ? box.h / t.refH : 1;
  const cx = x[0];
  const cy = x[1];
  return {
    id: t.id,
    box,
    score: t.score,
    state: t.state,
    age: Math.max(0, tsSec - t.birthTs),
    hits: t.hits,
    lastDetectionTs: t.lastDetectionTs,
    velocity: { x: x[4], y: x[5] },
    keypoints: t.keypoints.map((p) => ({ x: cx + (p.x - t.refCx) * k, y: cy + (p.y - t.refCy) * k })),
  };
}

/** Keeps (in place, order kept) the elements passing `keep`; no new array per frame. */
export function compact<T>(arr: T[], keep: (x: T) => boolean): void {
  let w = 0;
  for (let r = 0; r < arr.length; r++) if (keep(arr[r])) arr[w++] = arr[r];
  arr.length = w;
}

/** Removes from `arr` every value listed in `drop`. */
export function removeAll(arr: number[], drop: readonly number[]): void {
  if (drop.length) compact(arr, (v) => !drop.includes(v));
}

/** Copies points into `dst`, reusing its objects. */
export function copyPoints(dst: Point[], src: readonly Point[]): Point[] {
  dst.length = Math.min(dst.length, src.length);
  for (let k = 0; k < src.length; k++) {
    if (k < dst.length) {
      dst[k].x = src[k].x;
      dst[k].y = src[k].y;
    } else dst.push({ x: src[k].x, y: src[k].y });
  }
  return dst;
}
