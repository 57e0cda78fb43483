/**
 * A stream's live video for its WebRTC viewers, made once and fanned out to each of them. Two kinds:
 *
 * - EncodedBroadcast: every ingested frame (the `frame` event, not the analysed ones: video never waits for
 *   inference) is loaded as YUV into the encoder's canvas (one copy, or a scale to the output width), drawn on
 *   there with the latest tracks predicted to the frame's time (server overlay; or left clean) and encoded once
 *   by a LiveEncoder — no RGB on this path. A frame arriving while the previous one is still being encoded waits
 *   in a one-frame slot (a newer one replaces it, counted as dropped): a burst of two frames is absorbed, and
 *   latency stays bounded at one frame when the CPU falls behind.
 * - PassthroughBroadcast: the camera's own H.264 packets, only re-packetised (no decode, no encode on this path;
 *   the browser draws the overlay from socket.io data). A viewer starts at the camera's next IDR, which cannot
 *   be forced: the join delay is up to one camera GOP.
 *
 * Both stamp RTP timestamps from the source's timeline (90 kHz × ptsSec), the clock of the records' `time`, so a
 * browser can match each displayed frame (requestVideoFrameCallback's rtpTimestamp) with its analysis.
 *
 * Fan-out never waits on a viewer: a viewer with too many packets in flight skips frames and restarts at a key frame.
 *
 * Key frames (issue 12: one stuck viewer had turned every shared frame into an IDR, ~3× the bytes each): an IDR
 * costs every viewer of the stream, so requests (a join, a PLI/FIR, a viewer back from behind) only mark one as
 * wanted, and at most one is forced per `keyframeIntervalMs` (1 s) per broadcast; a natural key frame (the GOP)
 * serves every pending request. A viewer that falls behind skips frames without asking for anything; once it
 * has drained it waits for the next key frame, natural or forced under the throttle.
 *
 * Lifecycle: the first attached sink starts the broadcast (it listens to the feed), detaching the last one stops it
 * (no listening, no encode); a later attach starts it again.
 */
import type { FrameRecord } from '../core/records.js';
import { Logger } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import { RateMeter, type LiveConnection, type LivePacket, type LiveVideoFrame } from '../ingest/live.js';
import { LiveEncoder, RTP_CLOCK, encodedSize, type LiveEncoderOptions } from './encoder.js';
import { YuvCanvas } from './yuv.js';
import { H264Framer, packetizeH264 } from './h264.js';
import { annotateFrame, type ZoneOutline } from './overlay/annotate.js';
import { blurAll, blurFaces } from './overlay/blur.js';
import { atlasFor } from './overlay/font.js';
import { RecordPredictor } from './overlay/predict.js';
import { stageTimings } from '../core/stage-stats.js';

const log = new Logger('Broadcast');

/** What a broadcast needs from a stream; the server's RuntimeHandle fits (its events outlive runtime restarts). */
export interface VideoFeed {
  on(event: 'frame', listener: (frame: LiveVideoFrame) => void): unknown;
  off(event: 'frame', listener: (frame: LiveVideoFrame) => void): unknown;
  on(event: 'packet', listener: (packet: LivePacket) => void): unknown;
  off(event: 'packet', listener: (packet: LivePacket) => void): unknown;
  on(event: 'record', listener: (rec: FrameRecord) => void): unknown;
  off(event: 'record', listener: (rec: FrameRecord) => void): unknown;
  /** Asks the source for a key frame, where the source can be asked (a WebRTC publisher). */
  requestSourceKeyframe?(): void;
  /** The stream's zones now (config), outlined by the server overlay; read per frame, so a PATCH shows at once. */
  zones?(): readonly ZoneOutline[];
}

/** A receiver of a broadcast (one WebRTC viewer). send() must not block. */
export interface BroadcastSink {
  readonly connected: boolean;
  started: boolean;
  readonly inFlight: number;
  framesSent: number;
  framesSkipped: number;
  firstFrameAt: number | undefined;
  send(payload: Buffer, rtpTimestamp: number, marker: boolean): void;
}

/** One access unit, split into RTP payloads (the marker bit goes on the last). */
export interface RtpFrame {
  rtpTimestamp: number;
  keyframe: boolean;
  payloads: Buffer[];
}

/** A sink with more packets than this still unsent is behind: it skips frames until the next IDR. */
export const MAX_IN_FLIGHT = 400;

export interface BroadcastOptions {
  /** At most one forced key frame per this many ms (default 1000). */
  keyframeIntervalMs?: number;
  /** Clock for the key-frame throttle, ms (default performance.now; tests inject a fake). */
  now?: () => number;
}

export type OverlayKind = 'server' | 'client';

/** 90 kHz RTP timestamp of a time on the source's timeline (wraps at 2^32). */
export function rtpTime(ptsSec: number): number {
  return Math.round(ptsSec * RTP_CLOCK) % 0x100000000;
}

export abstract class Broadcast {
  readonly id: string;
  readonly sinks = new Set<BroadcastSink>();
  /** Frames handed to the sinks. */
  framesOut = 0;
  /** Frames not sent: the encoder was busy, encoding failed, or (passthrough) no IDR seen yet. */
  framesDropped = 0;
  /** Key-frame requests (joins, PLI/FIR, viewers back from behind). */
  keyframeRequests = 0;
  /** Key frames forced (encoder) or asked of the source (passthrough): at most one per keyframeIntervalMs. */
  keyframesForced = 0;
  /** Requests that arrived while one was pending or within the throttle window: served later, or by the GOP. */
  keyframeRequestsThrottled = 0;
  readonly #meter = new RateMeter();
  readonly #now: () => number;
  readonly #keyIntervalMs: number;
  #keyWanted = false;
  #lastForcedAt = -Infinity;
  #running = false;
  #closed = false;

  constructor(id: string, opts: BroadcastOptions = {}) {
    this.id = id;
    this.#now = opts.now ?? (() => performance.now());
    this.#keyIntervalMs = opts.keyframeIntervalMs ?? 1000;
  }

  /** 'server': boxes are in the pixels; 'client': clean video, the browser draws the overlay. */
  abstract readonly overlay: OverlayKind;
  /** 'encode' (one x264 encode per stream) or 'passthrough' (the camera's packets). */
  abstract readonly video: 'encode' | 'passthrough';

  get closed(): boolean {
    return this.#closed;
  }

  /** Frames sent per second over the last second. */
  fps(): number {
    return this.#meter.rate();
  }

  /** Whether it listens to its feed: from the first attached sink to the last detached one. */
  get running(): boolean {
    return this.#running;
  }

  attach(sink: BroadcastSink): void {
    if (this.#closed) return;
    this.sinks.add(sink);
    if (!this.#running) {
      this.#running = true;
      this.start();
    }
  }

  /** The last sink gone: the broadcast stops (no listening, no encode) until a sink attaches again. */
  detach(sink: BroadcastSink): void {
    if (!this.sinks.delete(sink)) return;
    if (this.sinks.size === 0 && this.#running) {
      this.#running = false;
      this.stop();
    }
  }

  /**
   * A viewer joined, lost packets (PLI/FIR) or is waiting for a key frame. Coalesced and throttled: the key frame
   * is forced by the next takeKeyframe() once keyframeIntervalMs passed since the last forced one, unless a
   * natural key frame comes first.
   */
  requestKeyframe(): void {
    this.keyframeRequests++;
    if (this.#keyWanted || this.#now() - this.#lastForcedAt < this.#keyIntervalMs) this.keyframeRequestsThrottled++;
    this.#keyWanted = true;
  }

  /** Stops listening and frees what the broadcast holds. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.sinks.clear();
    this.#running = false;
    this.stop();
  }

  protected abstract start(): void;
  /** Stops listening and frees the encoder; start() may follow (a sink attached again) or not (close). */
  protected abstract stop(): void;

  /**
   * For the producer, once per frame before it is made: whether to force a key frame now (a request is pending
   * and the throttle allows it). Counts what it grants.
   */
  protected takeKeyframe(): boolean {
    if (!this.#keyWanted) return false;
    const now = this.#now();
    if (now - this.#lastForcedAt < this.#keyIntervalMs) return false;
    this.#keyWanted = false;
    this.#lastForcedAt = now;
    this.keyframesForced++;
    return true;
  }

  protected fanOut(f: RtpFrame): void {
    const last = f.payloads.length - 1;
    let sent = false;
    let waiting = false;
    // Every viewer waiting for one starts here: pending requests are served.
    if (f.keyframe) this.#keyWanted = false;
    for (const s of this.sinks) {
      if (!s.connected) continue;
      if (s.inFlight > MAX_IN_FLIGHT) {
        // Behind (slow link, or a peer that is gone): skip without asking for anything (a key frame now would
        // only add to its backlog, and cost every other viewer); it restarts at a key frame once drained.
        s.started = false;
        s.framesSkipped++;
        continue;
      }
      if (!s.started) {
        if (!f.keyframe) {
          s.framesSkipped++;
          waiting = true;
          continue;
        }
        s.started = true;
        s.firstFrameAt ??= performance.now();
      }
      for (let i = 0; i <= last; i++) s.send(f.payloads[i], f.rtpTimestamp, i === last);
      s.framesSent++;
      sent = true;
    }
    if (sent) {
      this.framesOut++;
      this.#meter.add();
    }
    // A viewer able to take frames waits for a key frame: one request per pending cycle (under the throttle).
    if (waiting && !this.#keyWanted) this.requestKeyframe();
  }
}

export interface EncodedBroadcastOptions extends LiveEncoderOptions, BroadcastOptions {
  /** Draw the boxes and the group panel into the video (default true). */
  overlay?: boolean;
  /** Blur every face (privacy.blurFaces), with or without the overlay; the whole frame until a record came. */
  blurFaces?: boolean;
  /** Output frame-rate cap, frames per second (default: every ingested frame). */
  maxFps?: number;
}

/** `c` if it has this size, else a new canvas of it (`c` freed). */
function sized(c: YuvCanvas | undefined, width: number, height: number): YuvCanvas {
  if (c && c.width === width && c.height === height) return c;
  c?.free();
  return new YuvCanvas(width, height);
}

/** One x264 encode of the stream's ingested frames, with or without the burnt-in overlay (module comment). */
export class EncodedBroadcast extends Broadcast {
  readonly overlay: OverlayKind;
  readonly video = 'encode' as const;
  /** Sum of encode times (loading the canvas + x264), ms: divide by framesOut. */
  encodeMsTotal = 0;
  readonly #feed: VideoFeed;
  readonly #opts: EncodedBroadcastOptions;
  readonly #predictor = new RecordPredictor();
  #encoder: LiveEncoder | undefined;
  /** The encoder's input picture (encoded size), reused frame to frame; see YuvCanvas. */
  #canvas: YuvCanvas | undefined;
  /**
   * One frame waiting while the encoder is busy, in a second canvas (latest wins: a newer one replaces it, counted
   * as dropped). Frames come in bursts (packets read and decoded in batches on the thread pool): with a one-deep
   * gate the second frame of every burst was dropped although the encoder keeps up on average.
   */
  #spare: YuvCanvas | undefined;
  #pending: { ptsSec: number; loadMs: number } | undefined;
  #busy = false;
  #lastPts = -Infinity;
  readonly #onFrame = (f: LiveVideoFrame): void => this.#handle(f);
  readonly #onRecord = (r: FrameRecord): void => this.#predictor.push(r);

  constructor(id: string, feed: VideoFeed, opts: EncodedBroadcastOptions = {}) {
    super(id, opts);
    this.#feed = feed;
    this.#opts = opts;
    this.overlay = opts.overlay === false ? 'client' : 'server';
  }

  protected start(): void {
    this.#feed.on('frame', this.#onFrame);
    if (this.overlay === 'server' || this.#opts.blurFaces) this.#feed.on('record', this.#onRecord);
  }

  protected stop(): void {
    this.#feed.off('frame', this.#onFrame);
    this.#feed.off('record', this.#onRecord);
    // Busy: the encode in flight closes it when it ends (below). Dropped either way: a restart opens a new one.
    if (!this.#busy) this.#dropEncoder();
  }

  #dropEncoder(): void {
    this.#encoder?.close();
    this.#encoder = undefined;
    this.#canvas?.free();
    this.#canvas = undefined;
    this.#spare?.free();
    this.#spare = undefined;
    this.#pending = undefined;
  }

  #handle(frame: LiveVideoFrame): void {
    if (this.closed || this.sinks.size === 0) return;
    const maxFps = this.#opts.maxFps;
    if (maxFps && frame.ptsSec < this.#lastPts + 1 / maxFps - 0.25 / maxFps) return; // over the cap: not a drop
    // The picture is the decoder's, valid only now: load it (copied, or scaled to the output width) into a canvas
    // of ours, which is drawn on and encoded while ingest goes on — the encoder's, or while it is busy the spare.
    const t0 = performance.now();
    const busy = this.#busy;
    try {
      const { width, height } = encodedSize(frame.width, frame.height, this.#opts.width);
      // A canvas of another size (the camera changed resolution) is replaced; neither is being read here.
      // An encode never reads the spare; when not busy, none reads the canvas.
      const target = busy ? (this.#spare = sized(this.#spare, width, height)) : (this.#canvas = sized(this.#canvas, width, height));
      // The decoder's frame copied natively when there is one (no JS view of its planes: see YuvCanvas.loadFrame).
      if (frame.native) target.loadFrame(frame.native);
      else target.load(frame.yuv);
    } catch (e) {
      this.framesDropped++;
      log.warn(`stream ${this.id}: live video frame not loaded: ${errorMessage(e)}`);
      return;
    }
    const loadMs = performance.now() - t0;
    this.#lastPts = frame.ptsSec;
    if (busy) {
      if (this.#pending) this.framesDropped++; // replaced by this newer frame
      this.#pending = { ptsSec: frame.ptsSec, loadMs };
      return;
    }
    this.#run(frame.ptsSec, loadMs);
  }

  /** Encodes the canvas; when done, the pending frame (swapped in from the spare) if one came meanwhile. */
  #run(ptsSec: number, loadMs: number): void {
    const canvas = this.#canvas;
    if (!canvas) return;
    this.#busy = true;
    this.#encode(canvas, ptsSec, loadMs)
      .catch((e: unknown) => {
        this.framesDropped++;
        log.warn(`stream ${this.id}: live encode failed: ${errorMessage(e)}`);
      })
      .finally(() => {
        this.#busy = false;
        if (!this.running) return this.#dropEncoder(); // stopped (last viewer gone) or closed meanwhile
        const next = this.#pending;
        if (!next) return;
        this.#pending = undefined;
        [this.#canvas, this.#spare] = [this.#spare, this.#canvas];
        this.#run(next.ptsSec, next.loadMs);
      });
  }

  async #encode(canvas: YuvCanvas, ptsSec: number, loadMs: number): Promise<void> {
    const pic = canvas.picture;
    if (this.overlay === 'server' || this.#opts.blurFaces) {
      const t0 = performance.now();
      // Boxes scaled to the output size: drawn after the scaling, text stays sharp at any output.width.
      const rec = this.#predictor.at(ptsSec, pic.width, pic.height);
      if (this.#opts.blurFaces) {
        // Fails closed (predict.ts blurPlan): the whole frame unless a recent record says where the faces are.
        const plan = this.#predictor.blurPlan(ptsSec, pic.width, pic.height);
        if (plan.all) blurAll(pic);
        else blurFaces(pic, plan.record);
      }
      if (rec && this.overlay === 'server') annotateFrame(pic, rec, await atlasFor(pic.height), this.#feed.zones?.());
      stageTimings.overlay.observeMs(performance.now() - t0);
    }
    let enc = this.#encoder;
    if (enc && (enc.width !== canvas.width || enc.height !== canvas.height)) {
      enc.close(); // the camera changed resolution: a new encoder (its first frame is an IDR)
      enc = undefined;
    }
    if (!enc) {
      // The canvas is already the encoded size: no scaling in the encoder.
      enc = await LiveEncoder.open(canvas.width, canvas.height, { ...this.#opts, width: canvas.width });
      this.#encoder = enc;
    }
    if (this.closed) return;
    if (this.takeKeyframe()) enc.requestKeyframe();
    const out = await enc.encodeFrame(canvas.frame, ptsSec);
    if (!out) return;
    const ms = loadMs + out.encodeMs;
    this.encodeMsTotal += ms;
    stageTimings.encode.observeMs(ms);
    this.fanOut(out);
  }
}

/** The camera's H.264, re-packetised for each viewer (module comment). */
export class PassthroughBroadcast extends Broadcast {
  readonly overlay = 'client' as const;
  readonly video = 'passthrough' as const;
  readonly #feed: VideoFeed;
  #conn: LiveConnection | undefined;
  #framer: H264Framer | undefined;
  readonly #onPacket = (p: LivePacket): void => this.#handle(p);

  constructor(id: string, feed: VideoFeed, opts: BroadcastOptions = {}) {
    super(id, opts);
    this.#feed = feed;
  }

  /** profile-level-id of the camera's current SPS (RFC 6184), once a packet (or the extradata) showed it. */
  get profileLevelId(): string | undefined {
    return this.#framer?.profileLevelId;
  }

  protected start(): void {
    this.#feed.on('packet', this.#onPacket);
  }

  protected stop(): void {
    this.#feed.off('packet', this.#onPacket);
  }

  #handle(p: LivePacket): void {
    if (this.closed || this.sinks.size === 0) return;
    if (p.connection.codec !== 'h264') return; // the handle only offers passthrough for H.264 sources
    if (p.connection !== this.#conn) {
      // A new connection (reconnect): its parameter sets and packet format may differ.
      this.#conn = p.connection;
      this.#framer = new H264Framer(p.connection.extradata);
    }
    const framer = this.#framer;
    if (!framer) return;
    // A camera's IDRs come when its GOP says; a WHIP publisher can be asked (a PLI), under the same throttle.
    if (this.takeKeyframe()) this.#feed.requestSourceKeyframe?.();
    const payloads = packetizeH264(framer.nalus(p.data));
    if (payloads.length === 0) return;
    this.fanOut({ rtpTimestamp: rtpTime(p.ptsSec), keyframe: p.keyframe, payloads });
  }
}
