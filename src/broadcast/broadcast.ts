/**
 * A stream's live video for its WebRTC viewers, made once and fanned out to each of them. Two kinds:
 *
 * - EncodedBroadcast: every ingested frame (the `frame` event, not the analysed ones: video never waits for
 *   inference) is drawn with the latest tracks predicted to the frame's time (server overlay; or left clean) and
 *   encoded once by a LiveEncoder. A frame arriving while the previous one is still being encoded is dropped
 *   (counted), never queued, so latency stays bounded when the CPU falls behind.
 * - PassthroughBroadcast: the camera's own H.264 packets, only re-packetised (no decode, no encode on this path;
 *   the browser draws the overlay from socket.io data). A viewer starts at the camera's next IDR, which cannot
 *   be forced: the join delay is up to one camera GOP.
 *
 * Both stamp RTP timestamps from the source's timeline (90 kHz × ptsSec), the clock of the records' `time`, so a
 * browser can match each displayed frame (requestVideoFrameCallback's rtpTimestamp) with its analysis.
 *
 * Fan-out never waits on a viewer: a viewer with too many packets in flight skips frames and restarts at an IDR.
 */
import type { FrameRecord } from '../core/records.js';
import type { RgbImage } from '../core/types.js';
import { Logger } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import { RateMeter, type LiveConnection, type LiveFrame, type LivePacket } from '../ingest/live.js';
import { LiveEncoder, RTP_CLOCK, type LiveEncoderOptions } from './encoder.js';
import { H264Framer, packetizeH264 } from './h264.js';
import { annotateFrame } from './overlay/annotate.js';
import { blurAll, blurFaces } from './overlay/blur.js';
import { atlasFor } from './overlay/font.js';
import { RecordPredictor } from './overlay/predict.js';
import { stageTimings } from '../core/stage-stats.js';

const log = new Logger('Broadcast');

/** What a broadcast needs from a stream; the server's RuntimeHandle fits (its events outlive runtime restarts). */
export interface VideoFeed {
  on(event: 'frame', listener: (frame: LiveFrame) => void): unknown;
  off(event: 'frame', listener: (frame: LiveFrame) => void): unknown;
  on(event: 'packet', listener: (packet: LivePacket) => void): unknown;
  off(event: 'packet', listener: (packet: LivePacket) => void): unknown;
  on(event: 'record', listener: (rec: FrameRecord) => void): unknown;
  off(event: 'record', listener: (rec: FrameRecord) => void): unknown;
  /** Asks the source for a key frame, where the source can be asked (a WebRTC publisher). */
  requestSourceKeyframe?(): void;
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
const MAX_IN_FLIGHT = 400;

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
  protected keyWanted = false;
  readonly #meter = new RateMeter();
  #closed = false;

  constructor(id: string) {
    this.id = id;
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

  attach(sink: BroadcastSink): void {
    if (this.#closed) return;
    this.sinks.add(sink);
    if (this.sinks.size === 1) this.start();
  }

  detach(sink: BroadcastSink): void {
    this.sinks.delete(sink);
  }

  /** A viewer joined or lost packets (PLI/FIR). Coalesced: any number of requests give one IDR. */
  requestKeyframe(): void {
    this.keyWanted = true;
  }

  /** Stops listening and frees what the broadcast holds. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.sinks.clear();
    this.stop();
  }

  protected abstract start(): void;
  protected abstract stop(): void;

  protected fanOut(f: RtpFrame): void {
    const last = f.payloads.length - 1;
    let sent = false;
    for (const s of this.sinks) {
      if (!s.connected) continue;
      if (s.inFlight > MAX_IN_FLIGHT) {
        // Behind (slow link or gone): skip, and restart cleanly at an IDR.
        s.started = false;
        s.framesSkipped++;
        this.keyWanted = true;
        continue;
      }
      if (!s.started) {
        if (!f.keyframe) {
          s.framesSkipped++;
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
  }
}

export interface EncodedBroadcastOptions extends LiveEncoderOptions {
  /** Draw the boxes and the group panel into the video (default true). */
  overlay?: boolean;
  /** Blur every face (privacy.blurFaces), with or without the overlay; the whole frame until a record came. */
  blurFaces?: boolean;
  /** Output frame-rate cap, frames per second (default: every ingested frame). */
  maxFps?: number;
}

/** One x264 encode of the stream's ingested frames, with or without the burnt-in overlay (module comment). */
export class EncodedBroadcast extends Broadcast {
  readonly overlay: OverlayKind;
  readonly video = 'encode' as const;
  /** Sum of encode times (RGB→YUV + x264), ms: divide by framesOut. */
  encodeMsTotal = 0;
  readonly #feed: VideoFeed;
  readonly #opts: EncodedBroadcastOptions;
  readonly #predictor = new RecordPredictor();
  #encoder: LiveEncoder | undefined;
  #canvas: RgbImage | undefined;
  #busy = false;
  #lastPts = -Infinity;
  readonly #onFrame = (f: LiveFrame): void => this.#handle(f);
  readonly #onRecord = (r: FrameRecord): void => this.#predictor.push(r);

  constructor(id: string, feed: VideoFeed, opts: EncodedBroadcastOptions = {}) {
    super(id);
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
    if (!this.#busy) this.#encoder?.close();
  }

  #handle(frame: LiveFrame): void {
    if (this.closed || this.sinks.size === 0) return;
    const maxFps = this.#opts.maxFps;
    if (maxFps && frame.ptsSec < this.#lastPts + 1 / maxFps - 0.25 / maxFps) return; // over the cap: not a drop
    if (this.#busy) {
      this.framesDropped++;
      return;
    }
    this.#busy = true;
    this.#lastPts = frame.ptsSec;
    // The frame is only valid now (its buffer goes back to the source's pool): copy into our own canvas.
    const img = frame.image;
    const bytes = img.stride * img.height;
    let canvas = this.#canvas;
    if (!canvas || canvas.data.length !== bytes) canvas = this.#canvas = { data: new Uint8Array(bytes), width: img.width, height: img.height, stride: img.stride };
    else Object.assign(canvas, { width: img.width, height: img.height, stride: img.stride });
    canvas.data.set(img.data.subarray(0, bytes));
    this.#encode(canvas, frame.ptsSec)
      .catch((e: unknown) => {
        this.framesDropped++;
        log.warn(`stream ${this.id}: live encode failed: ${errorMessage(e)}`);
      })
      .finally(() => {
        this.#busy = false;
        if (this.closed) this.#encoder?.close();
      });
  }

  async #encode(canvas: RgbImage, ptsSec: number): Promise<void> {
    if (this.overlay === 'server' || this.#opts.blurFaces) {
      const t0 = performance.now();
      const rec = this.#predictor.at(ptsSec, canvas.width, canvas.height);
      if (this.#opts.blurFaces) {
        if (rec) blurFaces(canvas, rec);
        else blurAll(canvas);
      }
      if (rec && this.overlay === 'server') annotateFrame(canvas, rec, await atlasFor(canvas.height));
      stageTimings.overlay.observeMs(performance.now() - t0);
    }
    let enc = this.#encoder;
    if (enc && (enc.inWidth !== canvas.width || enc.inHeight !== canvas.height)) {
      enc.close(); // the camera changed resolution: a new encoder (its first frame is an IDR)
      enc = undefined;
    }
    if (!enc) {
      enc = await LiveEncoder.open(canvas.width, canvas.height, this.#opts);
      this.#encoder = enc;
    }
    if (this.closed) return;
    if (this.keyWanted) {
      this.keyWanted = false;
      enc.requestKeyframe();
    }
    const out = await enc.encode(canvas, ptsSec);
    if (!out) return;
    this.encodeMsTotal += out.encodeMs;
    stageTimings.encode.observeMs(out.encodeMs);
    this.fanOut(out);
  }
}

/** The camera's H.264, re-packetised for each viewer (module comment). */
export class PassthroughBroadcast extends Broadcast {
  readonly overlay = 'client' as const;
  readonly video = 'passthrough' as const;
  /** Keyframe requests that could not be served (a camera's IDRs come when the camera sends them). */
  keyRequests = 0;
  readonly #feed: VideoFeed;
  #conn: LiveConnection | undefined;
  #framer: H264Framer | undefined;
  readonly #onPacket = (p: LivePacket): void => this.#handle(p);

  constructor(id: string, feed: VideoFeed) {
    super(id);
    this.#feed = feed;
  }

  protected start(): void {
    this.#feed.on('packet', this.#onPacket);
  }

  protected stop(): void {
    this.#feed.off('packet', this.#onPacket);
  }

  override requestKeyframe(): void {
    this.keyRequests++;
    this.#feed.requestSourceKeyframe?.();
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
    const payloads = packetizeH264(framer.nalus(p.data));
    if (payloads.length === 0) return;
    this.fanOut({ rtpTimestamp: rtpTime(p.ptsSec), keyframe: p.keyframe, payloads });
  }
}
