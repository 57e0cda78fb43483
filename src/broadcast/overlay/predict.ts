/**
 * Live video never waits for inference: each outgoing frame is drawn with the latest analysed record, its boxes
 * moved to the frame's time along each track's recent motion (constant velocity between the last two records
 * that saw the track) and scaled to the frame's size (analysis may run on a lower-resolution substream).
 */
import type { FaceRecord, FrameRecord } from '../../core/records.js';

/** Extrapolate at most this far ahead, s: beyond it a stale track's guess is worse than its last position. */
const MAX_LEAD_SEC = 0.5;
/** Velocities from records further apart than this are not trusted, s. */
const MAX_SPAN_SEC = 1;
/** privacy.blurFaces: a record older than this (frame time − record time) no longer says where faces are, s. */
export const BLUR_MAX_AGE_SEC = 1;
/** A record this far AFTER the frame means the timeline moved back (a reconnect re-anchored it), s. */
const BLUR_FUTURE_SLACK_SEC = 0.25;
/** Blur margin added per second of extrapolation, as a fraction of the box (a face may move while unseen). */
const BLUR_PAD_PER_SEC = 0.5;

/**
 * What privacy blur does to a frame (issue 14: fail closed). `all`: the whole frame, because no record can be
 * trusted for it; otherwise the faces of `record`, predicted to the frame's time and padded for the motion
 * that the prediction cannot know.
 */
export type BlurPlan =
  | { readonly all: true; readonly reason: 'no-record' | 'stale' | 'timeline' }
  | { readonly all: false; readonly record: FrameRecord };

export class RecordPredictor {
  #prev: FrameRecord | undefined;
  #latest: FrameRecord | undefined;
  /** Track id → box velocity [vx, vy, vw, vh] per second, in the latest record's pixels. */
  readonly #velocity = new Map<number, [number, number, number, number]>();

  /** Feeds an analysed record (in time order). */
  push(rec: FrameRecord): void {
    this.#prev = this.#latest;
    this.#latest = rec;
    this.#velocity.clear();
    const prev = this.#prev;
    const dt = prev ? rec.time - prev.time : 0;
    if (!prev || !(dt > 0) || dt > MAX_SPAN_SEC || prev.width !== rec.width) return;
    const before = new Map(prev.faces.map((f) => [f.trackId, f.box]));
    for (const f of rec.faces) {
      const b = before.get(f.trackId);
      if (b) this.#velocity.set(f.trackId, [(f.box.x - b.x) / dt, (f.box.y - b.y) / dt, (f.box.w - b.w) / dt, (f.box.h - b.h) / dt]);
    }
  }

  get latest(): FrameRecord | undefined {
    return this.#latest;
  }

  /**
   * The latest record as seen on a `width`×`height` frame taken at `timeSec` (same clock as the records'
   * `time`). Returns the record itself when nothing moves or scales (no allocation on the common path).
   */
  at(timeSec: number, width: number, height: number): FrameRecord | undefined {
    const rec = this.#latest;
    if (!rec) return undefined;
    const lead = Math.min(MAX_LEAD_SEC, Math.max(0, timeSec - rec.time));
    const sx = width / rec.width;
    const sy = height / rec.height;
    const scaled = sx !== 1 || sy !== 1;
    if (!scaled && (lead === 0 || this.#velocity.size === 0)) return rec;
    const faces: FaceRecord[] = rec.faces.map((f) => {
      const v = this.#velocity.get(f.trackId);
      const x = f.box.x + (v ? v[0] * lead : 0);
      const y = f.box.y + (v ? v[1] * lead : 0);
      const w = Math.max(1, f.box.w + (v ? v[2] * lead : 0));
      const h = Math.max(1, f.box.h + (v ? v[3] * lead : 0));
      return { ...f, box: { x: x * sx, y: y * sy, w: w * sx, h: h * sy } };
    });
    return { ...rec, width, height, faces };
  }

  /**
   * The privacy decision for a `width`×`height` frame taken at `timeSec`, failing closed: the whole frame when
   * there is no record yet, when the latest is older than `maxAgeSec` (analysis lags, or the camera was away and
   * came back), or when it is from after the frame (the timeline was re-anchored by a reconnect: the record
   * predates it). Otherwise every face of the latest record — new tracks included, from the first record that
   * has them — with a margin that grows with the extrapolation.
   */
  blurPlan(timeSec: number, width: number, height: number, maxAgeSec = BLUR_MAX_AGE_SEC): BlurPlan {
    const rec = this.#latest;
    if (!rec) return { all: true, reason: 'no-record' };
    const age = timeSec - rec.time;
    if (!Number.isFinite(age) || age < -BLUR_FUTURE_SLACK_SEC) return { all: true, reason: 'timeline' };
    if (age > maxAgeSec) return { all: true, reason: 'stale' };
    const at = this.at(timeSec, width, height) ?? rec;
    const pad = BLUR_PAD_PER_SEC * Math.min(MAX_LEAD_SEC, Math.max(0, age));
    // Faces detected but not yet confirmed as tracks are not in `faces`: blurFaces blurs them at once too (fail
    // closed); `at()` leaves them in the record's pixels, so they are scaled to the frame here.
    const unconfirmed = rec.unconfirmed ?? [];
    if (pad === 0 && unconfirmed.length === 0) return { all: false, record: at };
    const sx = width / rec.width;
    const sy = height / rec.height;
    const padded = (b: FaceRecord['box']): FaceRecord['box'] => ({ x: b.x - b.w * pad, y: b.y - b.h * pad, w: b.w * (1 + 2 * pad), h: b.h * (1 + 2 * pad) });
    const faces: FaceRecord[] = at.faces.map((f) => ({ ...f, box: padded(f.box) }));
    const out: FrameRecord = { ...at, faces };
    if (unconfirmed.length > 0) out.unconfirmed = unconfirmed.map((b) => padded({ x: b.x * sx, y: b.y * sy, w: b.w * sx, h: b.h * sy }));
    return { all: false, record: out };
  }

  reset(): void {
    this.#prev = this.#latest = undefined;
    this.#velocity.clear();
  }
}
