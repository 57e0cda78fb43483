/**
 * FrameAnalyzer: the per-stream video engine. Per analysed frame: detect (every `detectEvery` frames) or predict
 * tracks, classify the tracks the budget allows, smooth per track, aggregate groups, and emit a FrameRecord.
 * The same class serves `facecast analyze` (which awaits each frame) and live streams.
 *
 * Stage costs are plain counters the analyzer owns (`stats`), read by the CLI and the bench; each stage's time
 * per frame also goes to the process-wide stage histograms (core/stage-stats) that metrics export.
 */
import type { Box, Detection, FaceAttributes, RgbImage } from '../core/types.js';
import type { FaceRecord, FrameRecord, GroupRecord } from '../core/records.js';
import type { ClassifyScope, Engine } from '../inference/api.js';
import { FaceTracker, SceneCutDetector, type SceneCutOptions, type TrackSnapshot, type TrackerOptions } from './track/index.js';
import { TrackSmoother, faceQuality, type SmoothedAttributes } from './smooth.js';
import { GroupAggregator, type GroupAggregatorOptions, type GroupStats, type ZoneConfig } from './groups/index.js';
import { ClassificationBudget, defaultDetectEvery, type BudgetOptions } from './budget.js';
import { stageTimings } from '../core/stage-stats.js';
import { iou } from '../inference/nms.js';

export interface AnalyzerOptions {
  /** Analysis rate of the frames fed in (frames per second), used for the default detection period. */
  fps: number;
  /** Detect every N analysed frames (default: about 5 detections per second). */
  detectEvery?: number;
  zones?: readonly ZoneConfig[];
  tracker?: Partial<TrackerOptions>;
  /** Scene-cut detection (ends every track at a cut); `false` turns it off. */
  sceneCut?: Partial<SceneCutOptions> | false;
  budget?: Partial<BudgetOptions>;
  groups?: Omit<GroupAggregatorOptions, 'zones'>;
}

export interface StageStats {
  frames: number;
  detections: number;
  classified: number;
  /** Of those, full classifications (age, gender, descriptor too); the rest read emotion only (budget.ts). */
  classifiedFull: number;
  /** Milliseconds spent per stage, summed. */
  ms: { detect: number; track: number; classify: number; group: number };
}

/** A frame prefetch() decided on: its detection, started then, when it is a detection frame. */
interface Planned {
  frame: number;
  ts: number;
  dets: Promise<Detection[]> | undefined;
  /** performance.now() at the start of the detection and once it settled (the stage's time, not the wait). */
  t0: number;
  t1: number;
}

interface TrackState {
  smoother: TrackSmoother;
  last: SmoothedAttributes | undefined;
  status: FaceRecord['status'];
  seen: number;
}

/** How long per-track state outlives its last sighting (covers the tracker's relink window). */
const FORGET_AFTER_SEC = 5;
const SCOPES = ['all', 'emotion'] as const satisfies readonly ClassifyScope[];

export class FrameAnalyzer {
  readonly detectEvery: number;
  /**
   * Detection is scheduled by time, `detectEvery` frame periods apart: at a steady rate that is every N frames,
   * and when a live stream drops frames (analysis slower than the camera) detection still runs ~5 times per
   * second of video instead of stretching out until the tracker loses fast faces.
   */
  readonly detectIntervalSec: number;
  #lastDetectTs = -Infinity;
  /** Frames prefetch() planned, oldest first; process() takes them in the same order. */
  readonly #planned: Planned[] = [];
  /** Detections of the latest detection frame that no emitted face covers (FrameRecord.unconfirmed). */
  #unconfirmed: Box[] = [];
  readonly #halfFrame: number;
  readonly tracker: FaceTracker;
  readonly #cuts: SceneCutDetector | undefined;
  /** Scene cuts seen (each ended every track). */
  sceneCuts = 0;
  readonly groups: GroupAggregator;
  readonly budget: ClassificationBudget;
  readonly stats: StageStats = { frames: 0, detections: 0, classified: 0, classifiedFull: 0, ms: { detect: 0, track: 0, classify: 0, group: 0 } };
  readonly #engine: Engine;
  readonly #tracks = new Map<number, TrackState>();

  constructor(engine: Engine, opts: AnalyzerOptions) {
    this.#engine = engine;
    this.detectEvery = opts.detectEvery ?? defaultDetectEvery(opts.fps);
    if (!Number.isInteger(this.detectEvery) || this.detectEvery < 1) throw new TypeError('detectEvery must be an integer >= 1');
    if (!(opts.fps > 0)) throw new TypeError('fps must be > 0');
    this.detectIntervalSec = this.detectEvery / opts.fps;
    this.#halfFrame = 0.5 / opts.fps;
    this.tracker = new FaceTracker({ detectionIntervalSec: this.detectIntervalSec, ...opts.tracker });
    this.#cuts = opts.sceneCut === false ? undefined : new SceneCutDetector(opts.sceneCut);
    this.budget = new ClassificationBudget(opts.budget);
    this.groups = new GroupAggregator({ ...opts.groups, zones: opts.zones ?? [] });
  }

  /**
   * Analyses one frame. `image` (and `letterbox`, the frame pre-scaled into the detector's input when ingest
   * provides it) are only read during the call.
   */
  async process(frame: number, ts: number, image: RgbImage, signal?: AbortSignal, letterbox?: RgbImage): Promise<FrameRecord> {
    const head = this.#planned[0];
    const planned = head && head.frame === frame && head.ts === ts ? this.#planned.shift() : undefined;
    // A scene cut ends every track (no id carried from one shot to the next) and detects at once.
    const cut = this.#cuts?.observe(image) === true;
    if (cut) {
      this.tracker.cut(ts);
      this.sceneCuts++;
    }
    // A planned frame was scheduled by prefetch(); a cut still detects at once, and the planned grid goes on
    // from where it was (the frames after the cut are already planned).
    const detect = planned ? cut || planned.dets !== undefined : this.#detectDue(ts, cut);
    this.stats.frames++;
    let tracks: TrackSnapshot[];
    if (detect) {
      const t0 = performance.now();
      const dets = await (planned?.dets ?? this.#engine.detect(image, signal, letterbox));
      const t1 = performance.now();
      // a prefetched detection's own time, not this frame's wait for it
      const detectMs = planned?.dets ? planned.t1 - planned.t0 : t1 - t0;
      tracks = this.tracker.update(dets, ts);
      const t2 = performance.now();
      this.stats.ms.detect += detectMs;
      this.stats.ms.track += t2 - t1;
      stageTimings.detect.observeMs(detectMs);
      stageTimings.track.observeMs(t2 - t1);
      this.stats.detections++;
      this.#applyEvents();
      // A new track's first descriptor may re-link it to a face lost moments ago; take the snapshots again so
      // the short-lived young id never reaches a record.
      if (await this.#classify(image, ts, tracks, signal)) tracks = this.tracker.snapshots(ts);
      this.#unconfirmed = dets.filter((d) => !tracks.some((t) => iou(t.box, d.box) > 0.3)).map((d) => d.box);
    } else {
      const t0 = performance.now();
      tracks = this.tracker.predict(ts);
      const ms = performance.now() - t0;
      this.stats.ms.track += ms;
      stageTimings.track.observeMs(ms);
    }
    const faces = tracks.map((t) => this.#faceRecord(t, ts));
    const t0 = performance.now();
    const stats = this.groups.update({
      ts,
      frameWidth: image.width,
      frameHeight: image.height,
      faces: faces.map((f) => ({ trackId: f.trackId, box: f.box, emotionProbs: f.smoothed?.emotion?.probs, age: f.smoothed?.age, gender: f.smoothed?.gender })),
    });
    const groupMs = performance.now() - t0;
    this.stats.ms.group += groupMs;
    stageTimings.group.observeMs(groupMs);
    this.#forgetStale(ts);
    const rec: FrameRecord = { frame, time: ts, width: image.width, height: image.height, detected: detect, faces, groups: stats.map(toGroupRecord) };
    if (this.#unconfirmed.length > 0) rec.unconfirmed = this.#unconfirmed;
    return rec;
  }

  /**
   * Offline pipelining (src/pipeline/pipelined.ts): decides now, in frame order and ahead of process(), whether
   * frame `frame` at `ts` is a detection frame, and if so starts its detection at once, so that with the
   * detector on a thread of its own (SplitEngine) it runs while earlier frames are still classified. Every
   * prefetched frame must then be passed to process() in the same order; `image` and `letterbox` must stay
   * unchanged until that process() settles. Returns the detection started, if any (to be awaited by a caller
   * that stops before processing it).
   */
  prefetch(frame: number, ts: number, image: RgbImage, signal?: AbortSignal, letterbox?: RgbImage): Promise<unknown> | undefined {
    const p: Planned = { frame, ts, dets: undefined, t0: performance.now(), t1: 0 };
    if (this.#detectDue(ts, false)) {
      p.dets = this.#engine.detect(image, signal, letterbox);
      p.dets.then(
        () => (p.t1 = performance.now()),
        () => undefined, // rejected: thrown by process() at this frame's turn
      );
    }
    this.#planned.push(p);
    return p.dets;
  }

  /** The detection schedule: ts < last is a new timeline (e.g. a source restarted), detected at once. */
  #detectDue(ts: number, force: boolean): boolean {
    const due = force || ts < this.#lastDetectTs || ts - this.#lastDetectTs >= this.detectIntervalSec - this.#halfFrame;
    if (due) this.#lastDetectTs = ts;
    return due;
  }

  /** Classifies the tracks matched to a detection on this frame that the budget allows. */
  async #classify(image: RgbImage, ts: number, tracks: readonly TrackSnapshot[], signal?: AbortSignal): Promise<boolean> {
    const due: Record<ClassifyScope, { id: number; det: Detection }[]> = { all: [], emotion: [] };
    for (const t of tracks) {
      if (t.state !== 'confirmed' || t.lastDetectionTs !== ts) continue;
      const det: Detection = { box: t.box, score: t.score, keypoints: t.keypoints };
      const scope = this.budget.due(t.id, ts, det);
      if (scope) due[scope].push({ id: t.id, det });
    }
    const n = due.all.length + due.emotion.length;
    if (n === 0) return false;
    const t0 = performance.now();
    // Both scopes at once: their emotion crops still share the emotion models' batches.
    const [all, emotion] = await Promise.all(SCOPES.map((s) => (due[s].length ? this.#engine.classify(image, due[s].map((d) => d.det), signal, s) : [])));
    const ms = performance.now() - t0;
    this.stats.ms.classify += ms;
    stageTimings.classify.observeMs(ms); // once per frame (the faces of a frame run as one batch), not per face
    this.stats.classified += n;
    this.stats.classifiedFull += due.all.length;
    let renamed = false;
    due.all.forEach(({ id, det }, i) => (renamed = this.#record(id, ts, det, all[i], 'all') || renamed));
    due.emotion.forEach(({ id, det }, i) => (renamed = this.#record(id, ts, det, emotion[i], 'emotion') || renamed));
    return renamed;
  }

  /** Returns whether the track was re-linked to an older id. */
  #record(id: number, ts: number, det: Detection, a: FaceAttributes, scope: ClassifyScope): boolean {
    this.budget.done(id, ts, det, scope);
    const st = this.#state(id, ts);
    if (a.status === 'too-small') {
      if (!st.last) st.status = 'too-small';
      return false;
    }
    st.status = 'ok';
    st.last = st.smoother.update(ts, a, faceQuality(Math.max(det.box.w, det.box.h)));
    // The descriptor lets the tracker give a returning face its old id.
    if (a.descriptor) {
      const kept = this.tracker.setDescriptor(id, a.descriptor);
      if (kept !== id) {
        this.#rename(id, kept);
        return true;
      }
    }
    return false;
  }

  #state(id: number, ts: number): TrackState {
    let st = this.#tracks.get(id);
    if (!st) {
      st = { smoother: new TrackSmoother(), last: undefined, status: 'pending', seen: ts };
      this.#tracks.set(id, st);
    }
    st.seen = ts;
    return st;
  }

  #applyEvents(): void {
    for (const r of this.tracker.lastEvents().relinked) this.#rename(r.from, r.to);
  }

  #rename(from: number, to: number): void {
    if (from === to) return;
    this.budget.rename(from, to);
    const st = this.#tracks.get(from);
    if (st) {
      this.#tracks.delete(from);
      if (!this.#tracks.has(to)) this.#tracks.set(to, st);
    }
  }

  #faceRecord(t: TrackSnapshot, ts: number): FaceRecord {
    const st = this.#state(t.id, ts);
    const s = st.last;
    const rec: FaceRecord = { trackId: t.id, box: t.box, score: t.score, status: st.status };
    if (s) {
      rec.raw = {
        emotion: s.emotion?.raw && { label: s.emotion.raw.label, probs: s.emotion.raw.probs },
        age: s.age?.raw?.years,
        gender: s.gender?.raw && { label: s.gender.raw.label, male: s.gender.raw.male },
      };
      if (s.race?.raw) rec.raw.race = { label: s.race.raw.label, probs: s.race.raw.probs };
      rec.smoothed = {
        emotion: s.emotion && { label: s.emotion.smoothed.label, probs: s.emotion.smoothed.probs },
        age: s.age?.smoothed.years,
        gender: s.gender && { label: s.gender.smoothed.label, male: s.gender.smoothed.male },
      };
      if (s.race) rec.smoothed.race = { label: s.race.smoothed.label, probs: s.race.smoothed.probs };
    }
    return rec;
  }

  #forgetStale(ts: number): void {
    for (const [id, st] of this.#tracks) {
      if (ts - st.seen > FORGET_AFTER_SEC) {
        this.#tracks.delete(id);
        this.budget.forget(id);
      }
    }
  }

  /** Tracks with per-track state (bounded: forgotten FORGET_AFTER_SEC after their last sighting). */
  get trackedCount(): number {
    return this.#tracks.size;
  }
}

export function toGroupRecord(g: GroupStats): GroupRecord {
  return {
    id: g.id,
    kind: g.kind,
    name: g.name,
    faceCount: g.faceCount,
    members: g.members,
    emotion: g.distribution ?? [0, 0, 0, 0, 0, 0, 0],
    dominant: g.dominant,
    valence: g.valence ?? 0,
    arousal: g.arousal ?? 0,
    cohesion: g.cohesion ?? 0,
    trend: g.trend.slopePerMinute,
    trendLabel: g.trend.label,
    maleRatio: g.demographics.maleRatio,
    ageBands: Object.values(g.demographics.ageBands),
  };
}
