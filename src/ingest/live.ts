/**
 * LiveSource: one camera kept running. It opens a URL with VideoSource (RTSP over TCP, http(s) streams, or a
 * local file played in real time and looped, so a file behaves like a camera) and supervises it: any end or error
 * of a live source, or a stall (no frame for `stallTimeoutMs`), leads to a backoff (capped exponential delay with
 * jitter) and a reconnect. It never throws out of its loop; errors become `error` events and `lastError`.
 *
 * Delivery: through `mailbox`, a one-slot LatestMailbox of COPIED frames (each has its own pixel buffer, owned
 * by whoever takes it). The ingest loop never waits for the consumer: a frame not yet taken when the next one
 * arrives is dropped (counted in `mailbox.dropped`) and its buffer recycled. A mailbox rather than a callback,
 * because a callback that awaits would block ingest and one that does not would need its own dropping anyway.
 *
 * Timestamps: `ptsSec` is monotonic over the source's life. A file loop continues one frame after the previous
 * loop's last frame; a reconnected live stream continues after the wall-clock gap, so trackers downstream never
 * see time run backwards. `index` counts delivered frames (0, 1, 2 …).
 *
 * Credentials in URLs never reach logs, events or `lastError` (see redactUrl).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { FFmpegError } from 'node-av/lib';
import { AbortError, InputError, InvalidStateError, UsageError, errorMessage, isFacecastError } from '../core/errors.js';
import { TypedEmitter } from '../core/emitter.js';
import { LatestMailbox } from '../core/mailbox.js';
import { Logger } from '../core/log.js';
import { VideoSource, type EncodedPacket, type VideoFrame, type VideoSourceOptions } from './video.js';
import { redactUrl } from '../core/redact.js';

const log = new Logger('LiveSource');

export type LiveState = 'idle' | 'connecting' | 'streaming' | 'backoff' | 'closed';

export interface LiveFrame extends VideoFrame {
  /** performance.now() (ms) when ingest delivered the frame: the start of end-to-end latency. */
  receivedAt: number;
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
  /** Also deliver the frame letterboxed into a square of this side (the detector's input; see VideoSource). */
  letterbox?: number;
  /** Network open/read timeout, ms (default 5000). */
  openTimeoutMs?: number;
  /** Reconnect when no frame arrived for this long after opening, ms (default 5000). */
  stallTimeoutMs?: number;
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
   * 'events': frames go out only as `frame` events, without a copy (the decoder's buffer, valid during the call)
   * and nothing is put in the mailbox — for a view stream that only feeds live video. Default 'mailbox'.
   */
  delivery?: 'mailbox' | 'events';
}

export interface LiveSourceEvents {
  state: [state: LiveState, previous: LiveState];
  /** A connection failed or broke (message redacted); a reconnect follows unless closed. */
  error: [error: Error];
  /**
   * Every delivered frame, synchronously, before it goes to the mailbox: for consumers that must see every frame
   * (live video) rather than the latest one. The frame is only valid during the call: copy what you keep.
   */
  frame: [frame: LiveFrame];
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
  /** Time of the last successful open, ms. */
  openMs?: number;
  lastError?: string;
}

/** Hides URL credentials: `rtsp://user:pass@host/x` → `rtsp:/
/** Delay before reconnect attempt `attempt` (1-based): initial × 2^(attempt−1), capped, ± jitter. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = opts.initialMs ?? 500;
  const max = opts.maxMs ?? 2000;
  const jitter = opts.jitter ?? 0.2;
  const base = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  return Math.round(Math.min(max, base * (1 + jitter * (2 * random() - 1))));
}

/** Events per second over a sliding window (default one second). */
export class RateMeter {
  readonly #times: number[] = [];
  constructor(readonly windowMs = 1000) {}
  add(now = performance.now()): void {
    this.#times.push(now);
    this.#trim(now);
  }
  rate(now = performance.now()): number {
    this.#trim(now);
    return (this.#times.length * 1000) / this.windowMs;
  }
  #trim(now: number): void {
    let i = 0;
    while (i < this.#times.length && this.#times[i] <= now - this.windowMs) i++;
    if (i) this.#times.splice(0, i);
  }
}

/** Live inputs: never paced, their end is a fault. An .sdp file describes live RTP (WebRTC ingest). */
const NETWORK = /^(rtsps?|https?):\/\/|\.sdp$/i;

export class LiveSource extends TypedEmitter<LiveSourceEvents> implements AsyncDisposable {
  /** Copied frames for the (one) consumer; see the module comment. */
  readonly mailbox: LatestMailbox<LiveFrame>;
  readonly label: string;
  /** Source frame rate of the current connection, when the container states one. */
  sourceFps: number | undefined;
  /** Codec of the current connection (decoder name, e.g. 'h264'), once connected. */
  codec: string | undefined;
  framesReceived = 0;
  reconnects = 0;
  lastError: string | undefined;
  /** Code of `lastError` (E_INPUT_NOT_FOUND, E_INPUT_UNREADABLE, E_INPUT_INVALID …). */
  lastErrorCode: string | undefined;
  openMs: number | undefined;

  readonly #url: string;
  readonly #opts: LiveSourceOptions;
  readonly #network: boolean;
  readonly #ctl = new AbortController();
  readonly #meter = new RateMeter();
  /** Buffers of dropped frames, reused for the next copies (at most two kept). */
  /** Spare pixel buffers by byte size (frames and letterboxes), at most two of each. */
  readonly #pool = new Map<number, Uint8Array[]>();
  #state: LiveState = 'idle';
  /** Bumped when a run starts or the source closes; a loop from an older generation exits at its next step. */
  #generation = 0;
  #run: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #lastOut = -Infinity; // last delivered ptsSec
  #lastWall = 0; // performance.now() of the last delivered frame
  #anchor = NaN; // wall seconds minus output pts, for real-time pacing of files

  constructor(url: string, opts: LiveSourceOptions = {}) {
    super();
    if (typeof url !== 'string' || url.length === 0) throw new TypeError('LiveSource: url must be a non-empty string');
    // Checked here, not left to VideoSource.open: a bad option would otherwise be retried forever as a fault.
    if (opts.fps !== undefined && !(opts.fps > 0 && Number.isFinite(opts.fps))) throw new UsageError(`fps must be a positive number, got ${opts.fps}`);
    if (opts.maxWidth !== undefined && !(Number.isInteger(opts.maxWidth) && opts.maxWidth >= 2)) throw new UsageError(`maxWidth must be an integer >= 2, got ${opts.maxWidth}`);
    if (opts.stallTimeoutMs !== undefined && !(opts.stallTimeoutMs > 0)) throw new UsageError(`stallTimeoutMs must be > 0, got ${opts.stallTimeoutMs}`);
    this.#url = url;
    this.#opts = opts;
    this.#network = NETWORK.test(url);
    this.label = redactUrl(url);
    this.mailbox = new LatestMailbox<LiveFrame>({
      onDrop: (f) => {
        this.#recycle(f.image.data);
        if (f.letterbox) this.#recycle(f.letterbox.data);
      },
    });
  }

  get state(): LiveState {
    return this.#state;
  }

  /** Starts connecting (idempotent while running). Throws InvalidStateError after close(). */
  start(): this {
    if (this.#state === 'closed') throw new InvalidStateError(`LiveSource ${this.label}: start() after close()`);
    if (this.#run) return this;
    const gen = ++this.#generation;
    this.#run = this.#supervise(gen);
    return this;
  }

  /** The next frame (waits); rejects once the source is closed. */
  next(signal?: AbortSignal): Promise<LiveFrame> {
    return this.mailbox.take(signal);
  }

  stats(): LiveStats {
    return {
      state: this.#state,
      framesReceived: this.framesReceived,
      framesDropped: this.mailbox.dropped,
      reconnects: this.reconnects,
      inputFps: this.#meter.rate(),
      openMs: this.openMs,
      lastError: this.lastError,
    };
  }

  /** Stops ingest (also a blocking open or read, or a backoff wait), closes the mailbox. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#generation++;
      this.#ctl.abort(new AbortError(`LiveSource ${this.label} closed`));
      await this.#run;
      this.mailbox.close(new InvalidStateError(`LiveSource ${this.label} closed`));
      this.#transition('closed');
      this.safeEmit('close');
      log.debug(`close() [source:${this.label}]`);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The only place the state changes. */
  #transition(next: LiveState): void {
    const prev = this.#state;
    if (prev === next || prev === 'closed') return;
    this.#state = next;
    log.debug(`transition() [source:${this.label}] ${prev} → ${next}`);
    this.safeEmit('state', next, prev);
  }

  async #supervise(gen: number): Promise<void> {
    const signal = this.#ctl.signal;
    let attempt = 0; // failures since the last delivered frame
    while (gen === this.#generation && !signal.aborted) {
      if (this.#state !== 'streaming') this.#transition('connecting'); // a file loop stays 'streaming'
      const before = this.framesReceived;
      let ended = false;
      try {
        ended = await this.#connect(gen, signal);
      } catch (e) {
        if (signal.aborted || gen !== this.#generation) break;
        this.#fail(e);
      }
      if (signal.aborted || gen !== this.#generation) break;
      if (this.framesReceived > before) attempt = 0;
      if (ended && !this.#network) {
        if (this.#opts.loop === false) break;
        if (this.framesReceived > before) continue; // loop the file: reopen at once, time continues
        this.#fail(new Error(`${this.label}: the file has no frames`));
      } else if (ended) {
        this.#fail(new Error(`${this.label}: the stream ended`)); // node-av ends silently on network errors
      }
      attempt++;
      const delay = backoffDelay(attempt, this.#opts.backoff, this.#opts.random);
      this.reconnects++;
      this.#transition('backoff');
      this.safeEmit('reconnect', attempt, delay);
      log.info(`supervise() [source:${this.label}] reconnect #${attempt} in ${delay} ms: ${this.lastError ?? ''}`);
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        break; // aborted by close()
      }
    }
    if (gen === this.#generation && !signal.aborted) void this.close(); // a file with loop:false ended
  }

  /** One connection: open, deliver until the end (true) or throw. A stall aborts the connection. */
  async #connect(gen: number, outer: AbortSignal): Promise<boolean> {
    const ctl = new AbortController();
    const onOuter = (): void => ctl.abort(outer.reason);
    outer.addEventListener('abort', onOuter, { once: true });
    const stallMs = this.#opts.stallTimeoutMs ?? 5000;
    let lastFrame = performance.now();
    let stalled = false;
    const watchdog = setInterval(() => {
      if (performance.now() - lastFrame <= stallMs) return;
      stalled = true;
      ctl.abort(new Error(`no frame for ${stallMs} ms`));
    }, Math.max(50, stallMs / 4));
    let src: VideoSource | undefined;
    let conn: LiveConnection | undefined;
    // Source time → the source's monotonic timeline, fixed by the first packet or frame of this connection.
    let offset = NaN;
    let frameDur = 0.04;
    const toTimeline = (t: number): number => {
      if (Number.isNaN(offset)) {
        // First item of this connection: continue the timeline (see the module comment).
        const gap = this.#network ? Math.max(frameDur, (performance.now() - this.#lastWall) / 1000) : frameDur;
        offset = (Number.isFinite(this.#lastOut) ? this.#lastOut + gap : 0) - (Number.isFinite(t) ? t : 0);
      }
      if (Number.isFinite(t)) return t + offset;
      return Number.isFinite(this.#lastOut) ? this.#lastOut + frameDur : offset; // a packet without a time
    };
    const onPacket = (p: EncodedPacket): void => {
      if (gen !== this.#generation || !conn) return;
      this.safeEmit('packet', { ...p, ptsSec: toTimeline(p.ptsSec), connection: conn });
    };
    try {
      const t0 = performance.now();
      const vopts: VideoSourceOptions = {
        fps: this.#opts.fps,
        letterbox: this.#opts.letterbox,
        maxWidth: this.#opts.maxWidth,
        signal: ctl.signal,
        timeoutMs: this.#opts.openTimeoutMs ?? 5000,
        rtspTransport: this.#opts.rtspTransport,
        onPacket,
        wantsPackets: () => this.listenerCount('packet') > 0,
        // Live video (a `frame` listener) takes every frame; analysis (the mailbox) only those on the fps grid.
        deliverAll: () => this.listenerCount('frame') > 0,
      };
      src = await VideoSource.open(this.#url, vopts);
      this.openMs = performance.now() - t0;
      this.sourceFps = src.fps;
      this.codec = src.codec;
      conn = { codec: src.codec, extradata: src.extradata, width: src.sourceWidth, height: src.sourceHeight };
      lastFrame = performance.now(); // the stall clock starts once open
      frameDur = 1 / (src.fps ?? 25);
      if (this.#opts.decode === false) {
        // Demux only: packets are the "frames" for pacing, the stall watchdog and the timeline.
        for await (const p of src.packets()) {
          if (gen !== this.#generation) return false;
          const pts = toTimeline(p.ptsSec);
          if (!this.#network && this.#opts.realtime !== false) await this.#pace(pts, ctl.signal);
          lastFrame = performance.now();
          this.#lastOut = Math.max(this.#lastOut, pts);
          this.#lastWall = lastFrame;
          this.#transition('streaming');
          this.framesReceived++;
          this.#meter.add(lastFrame);
          if (this.listenerCount('packet') > 0) this.safeEmit('packet', { ...p, ptsSec: pts, connection: conn });
        }
        return true;
      }
      for await (const f of src.frames()) {
        if (gen !== this.#generation) return false;
        const pts = toTimeline(f.ptsSec);
        if (!this.#network && this.#opts.realtime !== false) await this.#pace(pts, ctl.signal);
        lastFrame = performance.now();
        this.#deliver(f, pts, lastFrame);
      }
      return true;
    } catch (e) {
      if (stalled && !outer.aborted) throw new Error(`${this.label}: stalled: no frame for ${stallMs} ms`, { cause: e });
      throw e;
    } finally {
      clearInterval(watchdog);
      outer.removeEventListener('abort', onOuter);
      await src?.close();
    }
  }

  /** Waits until a file frame's time comes (real-time playback); re-anchors when more than a second late. */
  async #pace(pts: number, signal: AbortSignal): Promise<void> {
    const now = performance.now() / 1000;
    if (Number.isNaN(this.#anchor) || now - (this.#anchor + pts) > 1) this.#anchor = now - pts;
    const wait = (this.#anchor + pts - now) * 1000;
    if (wait > 1) await sleep(wait, undefined, { signal });
  }

  #deliver(f: VideoFrame, pts: number, now: number): void {
    const index = this.framesReceived++;
    this.#lastOut = pts;
    this.#lastWall = now;
    this.#meter.add(now);
    this.#transition('streaming');
    // Events only (no copy: the decoder's buffer, valid during the call) for a view stream, and for frames off
    // the analysis grid that only live video wants.
    if (this.#opts.delivery === 'events' || f.sampled === false) {
      this.safeEmit('frame', { index, ptsSec: pts, image: f.image, receivedAt: now });
      return;
    }
    const frame: LiveFrame = { index, ptsSec: pts, image: { ...f.image, data: this.#copy(f.image.data) }, receivedAt: now };
    if (f.letterbox) frame.letterbox = { ...f.letterbox, data: this.#copy(f.letterbox.data) };
    this.safeEmit('frame', frame);
    this.mailbox.put(frame);
  }


  /**
   * Gives a delivered frame's buffers back for reuse, once its consumer is done with it (e.g. it was replaced as
   * the stream's latest frame). Without this every analysed frame would leave ~1 MB per 720p frame to the GC.
   */
  recycle(frame: LiveFrame): void {
    this.#recycle(frame.image.data);
    if (frame.letterbox) this.#recycle(frame.letterbox.data);
  }

  /** A copy of `src` in a pooled buffer: the VideoSource's own buffers are reused at its next step. */
  #copy(src: Uint8Array): Uint8Array {
    const buf = this.#pool.get(src.length)?.pop() ?? new Uint8Array(src.length);
    buf.set(src);
    return buf;
  }

  #recycle(data: Uint8Array): void {
    let list = this.#pool.get(data.length);
    if (!list) this.#pool.set(data.length, (list = []));
    if (list.length < 2) list.push(data);
  }

  /** Records a connection failure. The event's error is rebuilt from the redacted message: the original (and its
   *  message chain) may hold the URL with credentials. Only an FFmpegError cause (code + strerror) is kept. */
  #fail(e: unknown): void {
    const msg = redactUrl(errorMessage(e).split(this.#url).join(this.label));
    this.lastError = msg;
    let cause: unknown = e;
    while (cause instanceof Error && !(cause instanceof FFmpegError)) cause = cause.cause;
    const code = isFacecastError(e) && e.code.startsWith('E_INPUT') ? e.code : 'E_INPUT_UNREADABLE';
    this.lastErrorCode = code;
    this.safeEmit('error', new InputError(code, msg, cause instanceof FFmpegError ? { cause } : undefined));
  }
}
