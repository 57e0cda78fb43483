/**
 * FaceTracker: keeps stable ids for faces between (sparse) detections. Pure and synchronous: no timers, no
 * I/O; time comes only from the timestamps passed in (seconds). The rules are listed in README.md.
 *
 * Association (ByteTrack, with SORT's Kalman motion and OC-SORT's re-update after a gap):
 *   1. high-score detections ↔ confirmed and lost tracks, IoU with the Kalman-predicted box;
 *   2. low-score detections ↔ the still unmatched confirmed tracks (not lost ones: a weak box near a stale
 *      prediction is more often clutter), with a stricter IoU;
 *   3. remaining high-score detections ↔ tentative tracks (separately, so an unproven track cannot take a
 *      detection from an established one);
 *   4. remaining high-score detections ↔ unmatched tracks by predicted position (a motion gate that widens
 *      with the time since the track's last detection: IoU fails when detections are a second apart);
 *   5. remaining high-score detections with a descriptor ↔ lost and recently removed tracks by appearance;
 *   6. what is left starts tentative tracks. Low-score detections never start a track.
 *
 * Rules that depend on time are defined both in seconds and in detections (the larger wins), using the
 * detection interval, so the same tracker works at 5 detections per second and at one: confirmation, coasting,
 * loss and the re-link window. A scene cut (cut()) ends every track and the re-link memory.
 */
import type { Detection } from '../../core/types.js';
import { iou } from '../../inference/nms.js';
import { Assigner } from './assign.js';
import { BoxKalman, DEFAULT_KALMAN_NOISE, type KalmanNoise } from './kalman.js';
import { cosine, findEarlierSelf, mergeDescriptor, plausibleReturn } from './relink.js';
import { type Track, type TrackSnapshot, type TrackEvents, type TrackerOptions, DEFAULT_TRACKER_OPTIONS, snapshotOf, emptyEvents, compact, removeAll, copyPoints } from './track.js';

export type { TrackSnapshot, TrackEvents, TrackerOptions, TrackState } from './track.js';
export { DEFAULT_TRACKER_OPTIONS } from './track.js';

/** OC-SORT re-update: virtual observations at most this far apart (s) when a track returns after a gap. */
const ORU_STEP_SEC = 0.1;
const ORU_MAX_STEPS = 20;

export class FaceTracker {
  readonly options: Readonly<TrackerOptions>;
  #noise: Readonly<KalmanNoise>;
  #active: Track[] = [];
  /** Removed confirmed tracks kept for re-linking until relinkWindowSec after their last detection. */
  #graveyard: Track[] = [];
  #nextId = 1;
  #events: TrackEvents = emptyEvents();
  /** Relinks made by setDescriptor, reported with the next update(). */
  #pendingRelinks: { from: number; to: number }[] = [];
  /** Tracks ended by cut(), reported with the next update(). */
  #pendingRemoved: number[] = [];
  /** Detection interval in seconds (0 = not known yet): options.detectionIntervalSec, then measured. */
  #interval = 0;
  #lastUpdateTs = NaN;
  readonly #assigner = new Assigner();
  #cost = new Float64Array(64);
  #r2c = new Int32Array(16);
  #trackIdx: number[] = [];
  #detIdx: number[] = [];
  #high: number[] = [];
  #low: number[] = [];
  #candidates: Track[] = [];

  constructor(options: Partial<TrackerOptions> = {}) {
    this.options = { ...DEFAULT_TRACKER_OPTIONS, ...options };
    this.#noise = { ...DEFAULT_KALMAN_NOISE, ...options.kalman };
    this.#interval = this.options.detectionIntervalSec ?? 0;
  }

  /** Detection interval the rate-dependent rules use (s; 0 until known). */
  get detectionIntervalSec(): number {
    return this.#interval;
  }

  /** A lost track is removed after this long without a detection. */
  get lostSec(): number {
    return Math.max(this.options.maxLostSec, this.options.maxLostDetections * this.#interval);
  }

  /** A lost track is still output this long after its last detection (1 % slack for timestamp rounding). */
  get coastWindowSec(): number {
    return Math.max(this.options.coastSec, this.options.coastDetections * this.#interval * 1.01);
  }

  /** Removed tracks stay re-linkable this long after their last detection. */
  get relinkWindowSec(): number {
    return Math.max(this.options.relinkWindowSec, 2 * this.lostSec);
  }

  /**
   * Detections a tentative track needs: minHits, but no more than fit in confirmSec at the detection interval;
   * a single detection confirms only when it scores at least confidentScore.
   */
  #confirms(hits: number, score: number): boolean {
    const o = this.options;
    if (hits >= o.minHits) return true;
    const fit = this.#interval > 0 ? 1 + Math.floor(o.confirmSec / this.#interval + 1e-9) : o.minHits;
    return hits >= Math.max(1, Math.min(o.minHits, fit)) && (hits > 1 || score >= o.confidentScore);
  }

  /**
   * A scene cut at tsSec: every track ends (reported as `removed` by the next update) and nothing is kept for
   * re-linking: the people after a cut are not where the tracks were, and the same face after a cut is better
   * given a new id than a different face an old one. Ids keep increasing.
   */
  cut(tsSec: number): void {
    for (const t of this.#active) this.#pendingRemoved.push(t.id);
    this.#active = [];
    this.#graveyard = [];
    this.#pendingRelinks.length = 0;
    this.#lastUpdateTs = tsSec;
  }

  /**
   * A frame where detection ran. `descriptors[i]` (optional) belongs to `detections[i]`. Returns the snapshots
   * at tsSec (see snapshots()); what changed is in lastEvents().
   */
  update(detections: readonly Detection[], tsSec: number, descriptors?: readonly (Float32Array | undefined)[]): TrackSnapshot[] {
    const o = this.options;
    this.#events = emptyEvents();
    this.#events.relinked.push(...this.#pendingRelinks);
    this.#pendingRelinks.length = 0;
    this.#events.removed.push(...this.#pendingRemoved);
    this.#pendingRemoved.length = 0;
    const dt = tsSec - this.#lastUpdateTs;
    if (dt > 0 && dt <= 10) this.#interval = this.#interval > 0 ? 0.8 * this.#interval + 0.2 * dt : dt;
    this.#lastUpdateTs = tsSec;
    for (const t of this.#active) {
      this.#advance(t, tsSec);
      t.matched = false;
    }
    const window = this.relinkWindowSec;
    compact(this.#graveyard, (t) => tsSec - t.lastDetectionTs <= window);
    this.#retire(tsSec, true);
    const high = this.#high;
    const low = this.#low;
    high.length = low.length = 0;
    for (let i = 0; i < detections.length; i++) {
      const s = detections[i].score;
      if (s >= o.highThreshold) high.push(i);
      else if (s >= o.lowThreshold) low.push(i);
    }
    this.#associate(detections, descriptors, high, tsSec, 1 - o.matchIou, (t) => t.state !== 'tentative');
    this.#associate(detections, descriptors, low, tsSec, 1 - o.lowMatchIou, (t) => t.state === 'confirmed');
    this.#associate(detections, descriptors, high, tsSec, 1 - o.matchIou, (t) => t.state === 'tentative');
    if (o.motionSpeed > 0) {
      this.#associateByMotion(detections, descriptors, high, tsSec, (t) => t.state !== 'tentative');
      this.#associateByMotion(detections, descriptors, high, tsSec, (t) => t.state === 'tentative');
    }
    if (descriptors) this.#relink(detections, descriptors, high, tsSec);
    for (const i of high) {
      const t = this.#newTrack(detections[i], tsSec, descriptors?.[i]);
      this.#events.born.push(t.id);
      const s = detections[i].score;
      // Next to a track that has just lost its detection, a new box is more often that face's odd detection (a
      // jump, a second box) than a new person: it waits for its second detection (or its descriptor's re-link).
      if ((s >= o.instantConfirmScore || this.#confirms(1, s)) && !this.#nearLost(detections[i].box)) this.#confirm(t);
    }
    this.#retire(tsSec, false);
    return this.snapshots(tsSec);
  }

  /**
   * A frame without detection: the tracks' Kalman-predicted state at tsSec. Association state is untouched;
   * the filters are advanced to tsSec, which is exact (predicting in steps equals predicting at once) and saves
   * re-predicting from the last detection each frame. A tsSec earlier than a filter's time leaves it as it is.
   */
  predict(tsSec: number): TrackSnapshot[] {
    for (const t of this.#active) this.#advance(t, tsSec);
    return this.snapshots(tsSec);
  }

  /**
   * Confirmed tracks, plus lost ones for coastSec after their last detection (so one missed detection does not
   * blink the overlay), plus tentative ones if options.includeTentative; sorted by id. Fresh objects: the caller
   * may keep them.
   */
  snapshots(tsSec: number): TrackSnapshot[] {
    const o = this.options;
    const coast = this.coastWindowSec;
    const out: TrackSnapshot[] = [];
    for (const t of this.#active) {
      if (t.state === 'tentative' ? !o.includeTentative : t.state === 'lost' && tsSec - t.lastDetectionTs > coast) continue;
      out.push(snapshotOf(t, tsSec));
    }
    return out.sort((a, b) => a.id - b.id);
  }

  /** What the last update() did, plus relinks made by setDescriptor() before it. A fresh object per update. */
  lastEvents(): TrackEvents {
    return this.#events;
  }

  /**
   * Attaches an appearance descriptor to a track (the classifier computes them at its own pace). If this is a
   * young track's first descriptor and it matches a face lost before that track was born, the track takes the
   * old id (the young id is retired, never reused) and the relink is reported by the next update(). Returns the
   * id the face carries now (trackId when nothing was relinked or the id is unknown).
   */
  setDescriptor(trackId: number, descriptor: Float32Array): number {
    const o = this.options;
    const t = this.#active.find((x) => x.id === trackId) ?? this.#graveyard.find((x) => x.id === trackId);
    if (!t) return trackId;
    const first = t.descriptor === undefined;
    t.descriptor = mergeDescriptor(t.descriptor, descriptor, o.descriptorMomentum);
    const window = this.relinkWindowSec;
    if (!first || !this.#active.includes(t) || t.lastDetectionTs - t.birthTs > window) return trackId;
    const best = findEarlierSelf(t, this.#graveyard, this.#active, { ...o, relinkWindowSec: window });
    if (!best) return trackId;
    this.#pendingRelinks.push({ from: t.id, to: best.id });
    t.id = best.id;
    t.birthTs = best.birthTs;
    t.hits += best.hits;
    if (t.state === 'tentative') t.state = 'confirmed';
    t.descriptor = mergeDescriptor(best.descriptor, t.descriptor, 0.5);
    compact(this.#graveyard, (x) => x !== best);
    compact(this.#active, (x) => x !== best);
    return t.id;
  }

  /** Forgets every track (ids keep increasing: they are never reused). */
  reset(): void {
    this.#active = [];
    this.#graveyard = [];
    this.#pendingRelinks.length = 0;
    this.#pendingRemoved.length = 0;
    this.#events = emptyEvents();
  }

  #advance(t: Track, tsSec: number): void {
    if (tsSec > t.tsKf) {
      t.kf.predict(tsSec - t.tsKf);
      t.tsKf = tsSec;
    }
    t.kf.writeBox(t.pred);
  }

  /** One association stage: detections `dets` (consumed when matched) ↔ unmatched tracks passing `eligible`. */
  #associate(detections: readonly Detection[], descriptors: readonly (Float32Array | undefined)[] | undefined, dets: number[], ts: number, maxCost: number, eligible: (t: Track) => boolean): void {
    const tracks = this.#trackIdx;
    tracks.length = 0;
    for (let k = 0; k < this.#active.length; k++) if (!this.#active[k].matched && eligible(this.#active[k])) tracks.push(k);
    if (tracks.length === 0 || dets.length === 0) return;
    const cost = this.#costMatrix(tracks.length, dets.length);
    for (let a = 0; a < tracks.length; a++) {
      const pred = this.#active[tracks[a]].pred;
      for (let b = 0; b < dets.length; b++) cost[a * dets.length + b] = 1 - iou(pred, detections[dets[b]].box);
    }
    const r2c = this.#rowToCol(tracks.length);
    this.#assigner.solve(cost, tracks.length, dets.length, maxCost, r2c);
    const taken = this.#detIdx;
    taken.length = 0;
    for (let a = 0; a < tracks.length; a++) {
      if (r2c[a] < 0) continue;
      const i = dets[r2c[a]];
      this.#match(this.#active[tracks[a]], detections[i], ts, descriptors?.[i], false);
      taken.push(i);
    }
    removeAll(dets, taken);
  }

  /**
   * Motion stage: detections `dets` ↔ unmatched tracks passing `eligible`, by the distance of the detected
   * centre from the predicted one in face heights, gated at 0.5 + motionSpeed·(time since the track's last
   * detection) and a size change within ×1.5. Where both sides have a descriptor, a dissimilar pair (cosine
   * below half the relink threshold) is not matched: the motion gate alone cannot tell two nearby people apart.
   */
  #associateByMotion(detections: readonly Detection[], descriptors: readonly (Float32Array | undefined)[] | undefined, dets: number[], ts: number, eligible: (t: Track) => boolean): void {
    const o = this.options;
    const tracks = this.#trackIdx;
    tracks.length = 0;
    for (let k = 0; k < this.#active.length; k++) if (!this.#active[k].matched && eligible(this.#active[k])) tracks.push(k);
    if (tracks.length === 0 || dets.length === 0) return;
    const cost = this.#costMatrix(tracks.length, dets.length);
    for (let a = 0; a < tracks.length; a++) {
      const t = this.#active[tracks[a]];
      const p = t.pred;
      const reach = 0.5 + o.motionSpeed * Math.max(0, ts - t.lastDetectionTs);
      for (let b = 0; b < dets.length; b++) {
        const d = detections[dets[b]].box;
        const h = Math.max(p.h, d.h);
        const ratio = d.h / p.h;
        const dx = d.x + d.w / 2 - (p.x + p.w / 2);
        const dy = d.y + d.h / 2 - (p.y + p.h / 2);
        let c = Math.sqrt(dx * dx + dy * dy) / (reach * h);
        if (!(ratio <= 1.5 && ratio >= 1 / 1.5)) c = Infinity;
        const desc = descriptors?.[dets[b]];
        if (desc && t.descriptor && cosine(desc, t.descriptor) < o.relinkThreshold / 2) c = Infinity;
        cost[a * dets.length + b] = c;
      }
    }
    const r2c = this.#rowToCol(tracks.length);
    this.#assigner.solve(cost, tracks.length, dets.length, 1, r2c);
    const taken = this.#detIdx;
    taken.length = 0;
    for (let a = 0; a < tracks.length; a++) {
      if (r2c[a] < 0) continue;
      const i = dets[r2c[a]];
      this.#match(this.#active[tracks[a]], detections[i], ts, descriptors?.[i], false);
      taken.push(i);
    }
    removeAll(dets, taken);
  }

  /** Stage 5: unmatched high-score detections ↔ lost / recently removed tracks, by descriptor and position. */
  #relink(detections: readonly Detection[], descriptors: readonly (Float32Array | undefined)[], dets: number[], ts: number): void {
    const o = this.options;
    const cands = this.#candidates;
    cands.length = 0;
    for (const t of this.#active) if (!t.matched && t.state !== 'tentative' && t.descriptor) cands.push(t);
    for (const t of this.#graveyard) if (t.descriptor) cands.push(t);
    if (cands.length === 0 || dets.length === 0) return;
    const cost = this.#costMatrix(cands.length, dets.length);
    for (let a = 0; a < cands.length; a++) {
      const c = cands[a];
      for (let b = 0; b < dets.length; b++) {
        const d = descriptors[dets[b]];
        const ok = d && plausibleReturn(c.lastBox, detections[dets[b]].box, ts - c.lastDetectionTs, o.relinkSpeed);
        cost[a * dets.length + b] = ok && c.descriptor ? 1 - cosine(c.descriptor, d) : Infinity;
      }
    }
    const r2c = this.#rowToCol(cands.length);
    this.#assigner.solve(cost, cands.length, dets.length, 1 - o.relinkThreshold, r2c);
    const taken = this.#detIdx;
    taken.length = 0;
    for (let a = 0; a < cands.length; a++) {
      if (r2c[a] < 0) continue;
      const t = cands[a];
      const i = dets[r2c[a]];
      if (!this.#active.includes(t)) {
        compact(this.#graveyard, (x) => x !== t);
        this.#active.push(t);
      }
      this.#match(t, detections[i], ts, descriptors[i], true);
      this.#events.relinked.push({ from: t.id, to: t.id });
      taken.push(i);
    }
    removeAll(dets, taken);
  }

  #match(t: Track, d: Detection, ts: number, descriptor: Float32Array | undefined, jump: boolean): void {
    const b = d.box;
    const gap = ts - t.lastDetectionTs;
    if (jump) {
      // A re-linked face may reappear anywhere plausible: its old velocity says nothing about the new path.
      t.kf.init(b.x, b.y, b.w, b.h);
    } else if (t.missed > 0 && gap > 0) {
      // OC-SORT observation-centric re-update: coasting inflated the covariance and drifted the state along a
      // stale velocity; replay the gap from the last observation along the straight path to this one instead.
      t.kf.copyFrom(t.obsKf);
      const steps = Math.min(ORU_MAX_STEPS, Math.max(1, Math.ceil(gap / ORU_STEP_SEC)));
      const lb = t.lastBox;
      for (let k = 1; k <= steps; k++) {
        const f = k / steps;
        t.kf.predict(gap / steps);
        t.kf.update(lb.x + (b.x - lb.x) * f, lb.y + (b.y - lb.y) * f, lb.w + (b.w - lb.w) * f, lb.h + (b.h - lb.h) * f);
      }
    } else t.kf.update(b.x, b.y, b.w, b.h);
    t.tsKf = ts;
    t.obsKf.copyFrom(t.kf);
    t.kf.writeBox(t.pred);
    t.matched = true;
    t.missed = 0;
    t.hits++;
    t.score = d.score;
    t.lastDetectionTs = ts;
    Object.assign(t.lastBox, b);
    t.refCx = t.kf.x[0];
    t.refCy = t.kf.x[1];
    t.refH = t.pred.h;
    copyPoints(t.keypoints, d.keypoints);
    if (descriptor) t.descriptor = mergeDescriptor(t.descriptor, descriptor, this.options.descriptorMomentum);
    if (t.state === 'lost' || (t.state === 'tentative' && this.#confirms(t.hits, d.score))) this.#confirm(t);
  }

  /** Whether an established track missed by this update was last within one face height of `box` (similar size). */
  #nearLost(box: Detection['box']): boolean {
    // At birth time the tracks missed by this update are still 'confirmed' (retire() marks them lost after).
    for (const t of this.#active) if (t.state !== 'tentative' && !t.matched && plausibleReturn(t.lastBox, box, 0, 0)) return true;
    return false;
  }

  #confirm(t: Track): void {
    if (t.state === 'tentative') this.#events.confirmed.push(t.id);
    t.state = 'confirmed';
  }

  #newTrack(d: Detection, ts: number, descriptor: Float32Array | undefined): Track {
    const kf = new BoxKalman(this.#noise);
    const b = d.box;
    kf.init(b.x, b.y, b.w, b.h);
    const obsKf = new BoxKalman(this.#noise);
    obsKf.copyFrom(kf);
    const t: Track = {
      id: this.#nextId++, state: 'tentative', kf, obsKf, tsKf: ts, birthTs: ts, lastDetectionTs: ts, hits: 1, missed: 0, matched: true, score: d.score,
      lastBox: { ...b }, firstBox: { ...b }, pred: kf.writeBox({ x: 0, y: 0, w: 0, h: 0 }), refCx: kf.x[0], refCy: kf.x[1], refH: b.h,
      keypoints: copyPoints([], d.keypoints), descriptor: descriptor ? mergeDescriptor(undefined, descriptor, 0) : undefined,
    };
    this.#active.push(t);
    return t;
  }

  /**
   * Unmatched tracks: tentative ones die, confirmed ones become lost, lost ones expire after maxLostSec.
   * With `before` (start of an update) only the expired ones go, so a face back after a long gap (no update in
   * between) is not matched by IoU to a track that should be gone: it goes through relink instead.
   */
  #retire(ts: number, before: boolean): void {
    const ev = this.#events;
    const lostSec = this.lostSec;
    compact(this.#active, (t) => {
      const expired = ts - t.lastDetectionTs > lostSec;
      if (!t.matched && (!before || expired)) {
        t.missed++;
        if (t.state === 'confirmed') {
          t.state = 'lost';
          ev.lost.push(t.id);
        }
        if (t.state === 'tentative' || expired) {
          ev.removed.push(t.id);
          if (t.state === 'lost') this.#graveyard.push(t);
          return false;
        }
      }
      return true;
    });
  }

  #costMatrix(rows: number, cols: number): Float64Array {
    if (this.#cost.length < rows * cols) this.#cost = new Float64Array(rows * cols * 2);
    return this.#cost;
  }

  #rowToCol(rows: number): Int32Array {
    if (this.#r2c.length < rows) this.#r2c = new Int32Array(rows * 2);
    return this.#r2c;
  }
}
