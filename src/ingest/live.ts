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
 * Lateness (live sources): every packet's time is mapped to our clock (ingest/lag.ts) so that each frame knows when
 * the camera made it (`capturedAt`) and how far behind the camera ingest is (`lagMs`). Behind by more than
 * `maxLagMs`, packets are dropped undecoded up to a key frame that is live again (skip-ahead, counted in
 * `framesSkipped`), so a backlog in the socket or the demuxer never makes video or analysis seconds late. Files
 * are paced, not skipped: a file cannot run ahead of its reader.
 *
 * Stalls: a connection with no frame (nor packet being skipped) for `stallTimeoutMs` is `stalled`, checked by a
 * watchdog timer and also whenever `state` or stats() is read, so that status is right on time even when a busy
 * event loop makes the timer fire late. A stall then aborts the connection (backoff, reconnect); a frame that
 * comes first makes it `streaming` again.
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
import { VideoSource, type DecodedFrame, type EncodedPacket, type VideoSourceOptions, type VideoStats } from './video.js';
import { redactUrl, redactUrls } from '../core/redact.js';
import { LagEstimator, SkipAhead, isStalled } from './lag.js';
import { RateMeter } from '../core/rate-meter.js';
import type { YuvImage } from '../core/types.js';
import { backoffDelay, type LiveConnection, type LiveFrame, type LiveSourceEvents, type LiveSourceOptions, type LiveState, type LiveStats, type LiveVideoFrame } from './live-types.js';

export { RateMeter } from '../core/rate-meter.js';
export { backoffDelay } from './live-types.js';
export type { BackoffOptions, LiveConnection, LiveFrame, LivePacket, LiveSourceEvents, LiveSourceOptions, LiveState, LiveStats, LiveVideoFrame } from './live-types.js';

const log = new Logger('LiveSource');

/** Live inputs: never paced, their end is a fault. An .sdp file describes live RTP (WebRTC ingest). */
const NETWORK = /^(rtsps?|https?):\/\/|\.sdp$/i;
const HLS = /^https?:\/\/[^?#]*\.m3u8([?#]|$)/i;

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
  /** Camera timeline → our clock, per connection (live sources; see the module comment). */
  readonly #lag = new LagEstimator();
  readonly #skip: SkipAhead;
  /** Skip-ahead bound, ms; 0 for files and when turned off. */
  readonly #maxLagMs: number;
  /** Decoded frames that became late in the decoder (the event loop was busy between read and output): dropped. */
  #lateFrames = 0;
  readonly #stallMs: number;
  /** performance.now() of the latest frame, skipped packet or the open: the stall clock. NaN while not open. */
  #aliveAt = NaN;
  #lagMs = 0;
  /** The open connection's VideoSource (decodeStats). */
  #video: VideoSource | undefined;

  constructor(url: string, opts: LiveSourceOptions = {}) {
    super();
    if (typeof url !== 'string' || url.length === 0) throw new TypeError('LiveSource: url must be a non-empty string');
    // Checked here, not left to VideoSource.open: a bad option would otherwise be retried forever as a fault.
    if (opts.fps !== undefined && !(opts.fps > 0 && Number.isFinite(opts.fps))) throw new UsageError(`fps must be a positive number, got ${opts.fps}`);
    if (opts.maxWidth !== undefined && !(Number.isInteger(opts.maxWidth) && opts.maxWidth >= 2)) throw new UsageError(`maxWidth must be an integer >= 2, got ${opts.maxWidth}`);
    if (opts.stallTimeoutMs !== undefined && !(opts.stallTimeoutMs > 0)) throw new UsageError(`stallTimeoutMs must be > 0, got ${opts.stallTimeoutMs}`);
    if (opts.maxLagMs !== undefined && !(opts.maxLagMs >= 0 && Number.isFinite(opts.maxLagMs))) throw new UsageError(`maxLagMs must be >= 0, got ${opts.maxLagMs}`);
    this.#url = url;
    this.#opts = opts;
    this.#network = NETWORK.test(url);
    this.label = redactUrl(url);
    this.#stallMs = opts.stallTimeoutMs ?? 5000;
    // HLS arrives a segment at a time by design (seconds "late" at every segment start): lag is reported, never
    // skipped, as files are not.
    this.#maxLagMs = this.#network && !HLS.test(url) ? (opts.maxLagMs ?? 500) : 0;
    this.#skip = new SkipAhead({ maxLagMs: this.#maxLagMs });
    this.mailbox = new LatestMailbox<LiveFrame>({
      onDrop: (f) => {
        this.#recycle(f.image.data);
        if (f.letterbox) this.#recycle(f.letterbox.data);
      },
    });
  }

  /** The state now: reading it also notices a stall (see the module comment). */
  get state(): LiveState {
    this.#checkStall(performance.now());
    return this.#state;
  }

  /** The current connection's decode counters (e.g. `keyframeOnly`); undefined while not connected. */
  get decodeStats(): Readonly<VideoStats> | undefined {
    return this.#video?.stats;
  }

  /** Frames dropped undecoded to catch up with the camera (skip-ahead). */
  get framesSkipped(): number {
    return this.#skip.dropped + this.#lateFrames;
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
    const now = performance.now();
    this.#checkStall(now);
    return {
      state: this.#state,
      framesReceived: this.framesReceived,
      framesDropped: this.mailbox.dropped,
      reconnects: this.reconnects,
      inputFps: this.#meter.rate(now),
      lagMs: this.#lagMs,
      framesSkipped: this.framesSkipped,
      sinceFrameMs: this.framesReceived > 0 ? now - this.#lastWall : 0,
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

  /** streaming → stalled once no frame came for the stall timeout (the watchdog then ends the connection). */
  #checkStall(now: number): void {
    if (this.#state === 'streaming' && isStalled(this.#aliveAt, now, this.#stallMs)) this.#transition('stalled');
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
    const stallMs = this.#stallMs;
    // The stall clock starts once open (the open has its own timeout): NaN never counts as stalled.
    this.#aliveAt = NaN;
    let stalled = false;
    const period = Math.max(50, stallMs / 4);
    const watchdog = setInterval(() => {
      const now = performance.now();
      if (!isStalled(this.#aliveAt, now, stallMs)) return;
      this.#checkStall(now); // streaming → stalled (a connection that never delivered stays 'connecting')
      // The connection ends one watchdog period after the stall, not at the first tick past it: `stalled` then
      // lasts at least a period (else anywhere from 0 to a period) before `backoff`, so whoever polls the status
      // sees why the stream stopped, and a frame that was only late can still bring it back.
      if (!isStalled(this.#aliveAt, now, stallMs + period)) return;
      stalled = true;
      ctl.abort(new Error(`no frame for ${stallMs} ms`));
    }, period);
    // A new connection has a new timeline: re-anchor; it starts decoding at its first key frame anyway.
    this.#lag.reset();
    this.#skip.reset();
    /** Skip-ahead decision for one packet of a live source (see ingest/lag.ts): true to decode it. */
    const admit = (t: number, key: boolean): boolean => {
      const now = performance.now();
      const d = this.#skip.decide(this.#lag.observe(t, now), key, now);
      if (d === 'reanchor') {
        log.info(`connect() [source:${this.label}] ${this.#lag.lagMs.toFixed(0)} ms behind without a backlog to drain: re-anchoring the camera timeline`);
        this.#lag.reset();
        this.#lag.observe(t, now);
      } else if (d === 'drop') {
        this.#aliveAt = now; // skipping is our doing: the camera is alive, the stall clock restarts
      }
      if (d === 'drop' && this.#skip.dropped % 250 === 1) {
        log.info(`connect() [source:${this.label}] ${this.#lag.lagMs.toFixed(0)} ms behind the camera: skipping to a live key frame (${this.#skip.dropped} frames skipped so far)`);
      }
      return d !== 'drop';
    };
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
        rtspClient: this.#opts.rtspClient,
        followRedirects: this.#opts.followRedirects,
        onPacket,
        ...(this.#network ? { admit } : {}),
        wantsPackets: () => this.listenerCount('packet') > 0,
        // Live video (a `frame` listener) takes every frame, as YUV; analysis (the mailbox) the fps grid, as RGB.
        deliverAll: () => this.listenerCount('frame') > 0,
        rgb: this.#opts.delivery !== 'events',
      };
      src = await VideoSource.open(this.#url, vopts);
      this.#video = src;
      this.openMs = performance.now() - t0;
      log.debug(`connect() [source:${this.label}] opened in ${this.openMs.toFixed(0)} ms, read by ${src.client === 'native' ? "facecast's RTSP client" : 'FFmpeg'}`);
      this.sourceFps = src.fps;
      this.codec = src.codec;
      conn = { codec: src.codec, extradata: src.extradata, width: src.sourceWidth, height: src.sourceHeight };
      this.#aliveAt = performance.now(); // the stall clock starts once open
      frameDur = 1 / (src.fps ?? 25);
      if (this.#opts.decode === false) {
        // Demux only: packets are the "frames" for pacing, the stall watchdog and the timeline.
        for await (const p of src.packets()) {
          if (gen !== this.#generation) return false;
          if (this.#network && !admit(p.ptsSec, p.keyframe)) continue; // behind: skip to a live key frame
          const pts = toTimeline(p.ptsSec);
          if (!this.#network && this.#opts.realtime !== false) await this.#pace(pts, ctl.signal);
          const lastFrame = performance.now();
          this.#aliveAt = lastFrame;
          this.#lagMs = this.#network ? Math.max(0, lastFrame - this.#lag.wallOf(p.ptsSec)) || 0 : 0;
          this.#lastOut = Math.max(this.#lastOut, pts);
          this.#lastWall = lastFrame;
          this.#transition('streaming');
          this.framesReceived++;
          this.#meter.add(lastFrame);
          if (this.listenerCount('packet') > 0) this.safeEmit('packet', { ...p, ptsSec: pts, connection: conn });
        }
        return true;
      }
      for await (const f of src.liveFrames()) {
        if (gen !== this.#generation) return false;
        const pts = toTimeline(f.ptsSec);
        const paced = !this.#network && this.#opts.realtime !== false;
        if (paced) await this.#pace(pts, ctl.signal);
        const now = performance.now();
        this.#aliveAt = now;
        // When the camera made it: from the camera timeline (live), the pacer's schedule (files), else now.
        const made = this.#network ? this.#lag.wallOf(f.ptsSec) : paced ? (this.#anchor + pts) * 1000 : now;
        // Admitted on time but late out of the decoder (a busy event loop between the hops): not delivered.
        // The packets behind it are late too, so the packet-level skip takes over from here.
        if (this.#maxLagMs > 0 && now - made > this.#maxLagMs) {
          this.#lateFrames++;
          continue;
        }
        this.#deliver(f, pts, now, Number.isFinite(made) ? Math.min(now, made) : now);
      }
      return true;
    } catch (e) {
      if (stalled && !outer.aborted) throw new Error(`${this.label}: stalled: no frame for ${stallMs} ms`, { cause: e });
      throw e;
    } finally {
      clearInterval(watchdog);
      this.#aliveAt = NaN;
      outer.removeEventListener('abort', onOuter);
      if (this.#video === src) this.#video = undefined;
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

  #deliver(f: DecodedFrame, pts: number, now: number, capturedAt: number): void {
    const index = this.framesReceived++;
    this.#lagMs = now - capturedAt;
    this.#lastOut = pts;
    this.#lastWall = now;
    this.#meter.add(now);
    this.#transition('streaming');
    // Analysis gets copies of the grid frames' RGB (the mailbox); live video the decoder's YUV picture as it is,
    // valid during the call (a view stream has no RGB at all: `rgb: false`).
    let frame: LiveFrame | undefined;
    if (f.image) {
      frame = { index, ptsSec: pts, image: { ...f.image, data: this.#copy(f.image.data) }, receivedAt: now, capturedAt };
      if (f.letterbox) frame.letterbox = { ...f.letterbox, data: this.#copy(f.letterbox.data) };
    }
    // `native` first: reading `yuv` of a native frame makes it (wrapping the decoder's planes, see video.ts), so
    // the event passes it on unread; `f.yuv` makes it at most once.
    const picture = f.native ?? f.yuv;
    if (picture) {
      const ev: LiveVideoFrame = {
        index, ptsSec: pts, receivedAt: now, capturedAt, width: picture.width, height: picture.height,
        ...(f.native ? { native: f.native } : {}),
        get yuv() {
          return f.yuv as YuvImage;
        },
      };
      if (frame) {
        ev.image = frame.image;
        if (frame.letterbox) ev.letterbox = frame.letterbox;
      }
      this.safeEmit('frame', ev);
    }
    if (frame) this.mailbox.put(frame);
  }


  /**
   * Gives a delivered frame's buffers back for reuse, once its consumer is done with it (e.g. it was replaced as
   * the stream's latest frame). Without this every analysed frame would leave ~1 MB per 720p frame to the GC.
   */
  recycle(frame: LiveFrame): void {
    this.#recycle(frame.image.data);
    if (frame.letterbox) this.#recycle(frame.letterbox.data);
  }

  /** A copy of `src` in a pooled buffer: the VideoSource's own buffers are reused at its next step. The buffer is
   *  a SharedArrayBuffer so that the worker engine (src/inference/worker) reads the frame in place, with no
   *  second copy on the way to inference. */
  #copy(src: Uint8Array): Uint8Array {
    const buf = this.#pool.get(src.length)?.pop() ?? new Uint8Array(new SharedArrayBuffer(src.length));
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
    // redactUrls, not redactUrl: the message is free text (a URL then FFmpeg's words, which must survive).
    const msg = redactUrls(errorMessage(e).split(this.#url).join(this.label));
    this.lastError = msg;
    let cause: unknown = e;
    while (cause instanceof Error && !(cause instanceof FFmpegError)) cause = cause.cause;
    const code = isFacecastError(e) && e.code.startsWith('E_INPUT') ? e.code : 'E_INPUT_UNREADABLE';
    this.lastErrorCode = code;
    this.safeEmit('error', new InputError(code, msg, cause instanceof FFmpegError ? { cause } : undefined));
  }
}
