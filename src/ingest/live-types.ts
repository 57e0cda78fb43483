/**
 * LiveSource's vocabulary (live.ts): its states, the frames, packets and connections it gives, its options and
 * events, its counters, and the reconnect delay rule. Types apart from the class so that consumers (broadcast,
 * pipeline, server) depend on the shapes, not on the supervisor.
 */
import type { EncodedPacket, VideoFrame } from './video-types.js';
import type { RgbImage, YuvImage } from '../core/types.js';
import type { Frame } from 'node-av/lib';

/** `stalled`: connected, but no frame for stallTimeoutMs (a reconnect follows). */
export type LiveState = 'idle' | 'connecting' | 'streaming' | 'stalled' | 'backoff' | 'closed';

export interface LiveFrame extends VideoFrame {
  /** performance.now() (ms) when ingest delivered the frame: the start of end-to-end latency. */
  receivedAt: number;
  /**
   * performance.now() (ms) when the camera made the frame, from its timeline (see ingest/lag.ts); for files the
   * time the pacer scheduled it. `receivedAt − capturedAt` is the ingest lag; record ready − capturedAt is the
   * end-to-end latency.
   */
  capturedAt: number;
}

/**
 * A `frame` event: every ingested frame as its decoded yuv420p picture — live video draws on it and encodes it
 * without any RGB step — and, for frames on the analysis grid of an analysed source, the RGB copies that go to the
 * mailbox. `yuv` is a read-only view of the decoder's frame, valid during the call only: copy what you keep.
 */
export interface LiveVideoFrame {
  index: number;
  ptsSec: number;
  /** As LiveFrame.receivedAt. */
  receivedAt: number;
  /** As LiveFrame.capturedAt. */
  capturedAt: number;
  /** The picture's size (the delivered size). */
  width: number;
  height: number;
  /**
   * The decoder's frame, when it already is the picture (yuv420p, limited range, `width`×`height`): copy it
   * natively (YuvCanvas.loadFrame) rather than through `yuv`, whose first read wraps its planes in new Buffers.
   */
  native?: Frame;
  yuv: YuvImage;
  /** Present for frames on the analysis grid (never on a `delivery: 'events'` view stream): the mailbox's copy. */
  image?: RgbImage;
  letterbox?: RgbImage;
}

/** What a connection carries, for consumers of its packets (one object per connection: compare by identity). */
export interface LiveConnection {
  /** Decoder name, e.g. 'h264'. */
  codec: string;
  /** The codec's extradata (see VideoSource.extradata). */
  extradata: Buffer | null;
  width: number;
  height: number;
}

/** A compressed packet of the camera, on the source's monotonic timeline. */
export interface LivePacket extends EncodedPacket {
  connection: LiveConnection;
}

export interface BackoffOptions {
  /** First delay, ms (default 500). */
  initialMs?: number;
  /**
   * Cap, ms (default 2000). Kept low on purpose: a returning camera must be live again within 5 s, and the worst
   * case is one full backoff wait plus an RTSP open (~2 s). A retry every 2 s is one TCP connect: cheap.
   */
  maxMs?: number;
  /** ± fraction of the delay drawn at random (default 0.2), so many cameras do not reconnect in lockstep. */
  jitter?: number;
}

export interface LiveSourceOptions {
  /** Analysis rate (frames per second) passed to VideoSource; default: every source frame. */
  fps?: number;
  maxWidth?: number;
  /** RTSP transport (default 'tcp'). */
  rtspTransport?: 'tcp' | 'udp';
  /** http(s): false refuses HTTP redirects (see VideoSourceOptions.followRedirects). Default true. */
  followRedirects?: boolean;
  /** Also deliver the frame letterboxed into a square of this side (the detector's input; see VideoSource). */
  letterbox?: number;
  /** Network open/read timeout, ms (default 5000). */
  openTimeoutMs?: number;
  /** Reconnect when no frame arrived for this long after opening, ms (default 5000). */
  stallTimeoutMs?: number;
  /** rtsp:// client: 'native' (default, see VideoSourceOptions.rtspClient) or 'ffmpeg'. */
  rtspClient?: 'native' | 'ffmpeg';
  /** Live sources: skip ahead (drop packets up to a live key frame) when behind the camera by more than this, ms
   *  (default 500; 0: never skip). Files and HLS (.m3u8, delivered a segment at a time) are never skipped. */
  maxLagMs?: number;
  backoff?: BackoffOptions;
  /** Files: play again from the start at the end (default true); false ends in 'closed'. */
  loop?: boolean;
  /** Files: pace frames by their timestamps like a camera (default true); false delivers as fast as decoded. */
  realtime?: boolean;
  /** Uniform [0,1) source for the jitter (tests). */
  random?: () => number;
  /**
   * false: demux only, never decode (a view stream forwarded as is while analysis runs on a substream): no
   * frames are delivered, only `packet` events. Default true.
   */
  decode?: boolean;
  /**
   * 'events': frames go out only as `frame` events (the decoder's YUV picture, valid during the call; never
   * converted to RGB) and nothing is put in the mailbox — for a view stream that only feeds live video. Default
   * 'mailbox'.
   */
  delivery?: 'mailbox' | 'events';
}

export interface LiveSourceEvents {
  state: [state: LiveState, previous: LiveState];
  /** A connection failed or broke (message redacted); a reconnect follows unless closed. */
  error: [error: Error];
  /**
   * Every delivered frame, synchronously, before it goes to the mailbox: for consumers that must see every frame
   * (live video) rather than the latest one. The frame is only valid during the call: copy what you keep. While
   * nobody listens, frames are neither delivered off the analysis grid nor given a YUV view (and key-frame-only
   * decoding can apply).
   */
  frame: [frame: LiveVideoFrame];
  /** Every compressed packet of the video stream, while someone listens (passthrough). Data is the listener's. */
  packet: [packet: LivePacket];
  /** A reconnect is scheduled after `delayMs` (attempt 1, 2, … since the last frame). */
  reconnect: [attempt: number, delayMs: number];
  close: [];
}

export interface LiveStats {
  state: LiveState;
  framesReceived: number;
  /** Frames replaced in the mailbox before the consumer took them. */
  framesDropped: number;
  /** Reconnects scheduled (backoffs entered) since start. */
  reconnects: number;
  /** Frames received over the last second. */
  inputFps: number;
  /** How far behind the camera the latest delivered frame was (delivery − capturedAt), ms; 0 before the first. */
  lagMs: number;
  /** Frames (video packets) dropped undecoded to catch up with the camera (skip-ahead). */
  framesSkipped: number;
  /** Time since the latest delivered frame, ms; 0 before the first. */
  sinceFrameMs: number;
  /** Time of the last successful open, ms. */
  openMs?: number;
  lastError?: string;
}

/** Delay before reconnect attempt `attempt` (1-based): initial × 2^(attempt−1), capped, ± jitter. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = opts.initialMs ?? 500;
  const max = opts.maxMs ?? 2000;
  const jitter = opts.jitter ?? 0.2;
  const base = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  return Math.round(Math.min(max, base * (1 + jitter * (2 * random() - 1))));
}
