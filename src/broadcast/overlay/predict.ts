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

  reset(): void {
    this.#prev = this.#latest = undefined;
    this.#velocity.clear();
  }
}
