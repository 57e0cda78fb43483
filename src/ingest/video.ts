/**
 * Video ingest: a file, an http(s) URL or an RTSP URL → RGB frames with timestamps, through one code path
 * (libavformat opens all three). Low-rate sampling avoids work: frames that are not delivered are never
 * converted to RGB, and when key frames come at least as often as the samples, only the key frames that are
 * delivered are decoded at all. Measured costs of each mode: src/ingest/README.md and bench/decode.ts.
 *
 * Ownership: each delivered frame's `image.data` is ONE buffer per source, overwritten by the next frame. It is
 * valid until the consumer asks for the next frame; a consumer that keeps frames must `copyFrame()` them.
 *
 * Live video (`liveFrames()`): while `deliverAll()` says someone watches, every decoded frame also comes as a
 * yuv420p picture (`yuv`, a view of the decoder's frame: see yuv.ts), and only the frames on the `fps` grid are
 * converted to RGB — none with `rgb: false` (a view stream that only feeds video).
 *
 * Files are read and decoded with node-av's synchronous calls (no thread-pool hop per packet; the decoder's own
 * frame threads still run in parallel) with a pause for the event loop every 20 ms; network reads, which can
 * block for seconds, run off-thread and are cut short by close() or the AbortSignal.
 */
import '../core/polyfill.js'; // before node-av, which calls Promise.withResolvers (Node 22+)
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { AV_NOPTS_VALUE, AV_PIX_FMT_RGB24, AV_PKT_FLAG_CORRUPT, AVERROR_EAGAIN, AVERROR_EOF, AVERROR_INVALIDDATA, SWS_BILINEAR } from 'node-av/constants';
import type { AVPixelFormat } from 'node-av/constants';
import { Codec, CodecContext, FFmpegError, Frame, Packet, SoftwareScaleContext } from 'node-av/lib';
import { AbortError, InputError, InvalidStateError } from '../core/errors.js';
import type { RgbImage, YuvImage } from '../core/types.js';
import { LetterboxScaler } from './letterbox.js';
import { RgbOutputs } from './rgb-frame.js';
import { YuvFrameView, isDirectYuv } from './yuv.js';
import { stageTimings } from '../core/stage-stats.js';
import { openInput } from './video-open.js';
import type { PacketInput } from './packet-input.js';
import type { DecodedFrame, EncodedPacket, VideoFrame, VideoSourceOptions, VideoStats } from './video-types.js';

export type { DecodedFrame, EncodedPacket, VideoFrame, VideoSourceOptions, VideoStats } from './video-types.js';
export { copyFrame } from './video-types.js';

/** Consecutive undecodable packets a live stream may have (packet loss) before it counts as broken. */
const MAX_ERROR_RUN = 25;

/**
 * Sample times form a grid (first frame + k/fps). A candidate frame is taken when its time reaches the next
 * sample time minus a tolerance (half the spacing of candidates: a frame, or a GOP when only key frames are
 * decoded), so each sample gets the candidate nearest at-or-after it and late frames never make the grid drift.
 */
class Sampler {
  private next = -Infinity;
  constructor(readonly interval: number) {}
  take(t: number, tol: number): boolean {
    if (this.interval <= 0) return true;
    if (t < this.next - tol) return false;
    this.next = this.next === -Infinity ? t + this.interval : this.next + this.interval;
    while (this.next - tol <= t) this.next += this.interval;
    return true;
  }
}

export class VideoSource implements AsyncDisposable {
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  /** Size of delivered frames (maxWidth and non-square pixels applied); updated if the stream's size changes. */
  width: number;
  height: number;
  /** Source frame rate, if the container states one. */
  readonly fps: number | undefined;
  readonly durationSec: number | undefined;
  /** From the container: exact for MP4, duration × fps otherwise, undefined for live streams. */
  readonly frameCount: number | undefined;
  readonly codec: string;
  /** The codec's extradata (H.264: an avcC record for MP4, Annex-B SPS/PPS for RTSP), or null. */
  readonly extradata: Buffer | null;
  readonly stats: VideoStats = { packets: 0, decoded: 0, delivered: 0, keyframeOnly: false };
  /** Who reads the input: libavformat, or facecast's RTSP client (rtsp:// H.264/H.265 over TCP; video-open.ts). */
  readonly client: 'ffmpeg' | 'native';

  private readonly pkt = new Packet();
  private readonly frame = new Frame();
  private sws: SoftwareScaleContext | null = null;
  private swsKey = '';
  /** The RGB frame(s) rgbScaler() converts into, and their pixels (read once: each frame keeps its buffer). */
  private readonly rgb = new RgbOutputs();
  /** useRing()'s n. */
  private ringSize = 1;
  private lb: LetterboxScaler | null;
  private readonly yuv = new YuvFrameView();
  /** The frame last delivered: its planes back `yuv` views, so it is unreferenced only at the next step. */
  private held: { frame: Frame; owned: boolean } | null = null;
  /** liveFrames(): `deliverAll` and YUV apply. */
  private live = false;
  /** Coded size `width`/`height` were last computed for. */
  private codedW = 0;
  private codedH = 0;
  private readonly sampler: Sampler;
  private readonly tb: number;
  private readonly streamIndex: number;
  private readonly frameDur: number;
  private startPts: bigint;
  private readonly gops: number[] = []; // the last three key-frame intervals (s)
  private lastKeyT = NaN;
  private lastT = NaN;
  private pending = false; // the decoder may have frames to give
  private eof = false;
  private flushed = false;
  /** Why the stream broke: thrown after the frames decoded before the break have been delivered. */
  private failure: { what: string; ret: number } | null = null;
  private errorRun = 0;
  /** A packet was refused by opts.admit: drop until an admitted key frame (see VideoSourceOptions.admit). */
  private skipping = false;
  /**
   * When frames() next pauses for the event loop. Kept across frames: a consumer that handles each frame in
   * microtasks only (an async loop with no I/O of its own) would otherwise never let a timer or a worker's
   * reply in, as each frame alone takes less than the budget.
   */
  private pauseAt = 0;
  /** Time in the decoder since the last delivered frame, ms: with the RGB conversion, one 'decode' observation. */
  private decodeMs = 0;
  /** Frames chosen while draining the decoder at a mode switch (references, not pixel copies). */
  private readonly queued: { frame: Frame; t: number; sampled: boolean }[] = [];
  private iterating = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private inflight: Promise<number> | null = null;
  private readonly onAbort = (): void => this.input.interrupt();

  private constructor(
    private readonly label: string,
    private readonly input: PacketInput,
    private readonly cc: CodecContext,
    private readonly network: boolean,
    private readonly opts: VideoSourceOptions,
  ) {
    const info = input.info;
    this.client = input.client;
    this.streamIndex = input.streamIndex;
    this.sourceWidth = info.width;
    this.sourceHeight = info.height;
    [this.width, this.height] = this.outputSize(info.width, info.height, info.sar);
    this.fps = info.fps;
    this.frameDur = this.fps ? 1 / this.fps : 0.04;
    this.tb = info.timeBase.num / info.timeBase.den;
    this.durationSec = info.durationSec;
    this.frameCount = info.frameCount;
    this.codec = Codec.findDecoder(info.codecId)?.name ?? 'unknown';
    this.extradata = info.extradata;
    this.startPts = info.startPts;
    this.sampler = new Sampler(opts.fps ? 1 / opts.fps : 0);
    this.lb = opts.letterbox ? new LetterboxScaler(opts.letterbox) : null;
    this.pkt.alloc();
    this.frame.alloc();
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  static async open(url: string, opts: VideoSourceOptions = {}): Promise<VideoSource> {
    const { input, cc, network } = await openInput(url, opts);
    return new VideoSource(url, input, cc, network, opts);
  }

  /** Delivered frames in presentation order; iterable once. See the module comment for the image's lifetime. */
  async *frames(): AsyncGenerator<VideoFrame, void, undefined> {
    if (this.iterating) throw new InvalidStateError(`${this.label}: frames() can be iterated only once`);
    this.iterating = true;
    for (let f = await this.nextFrame(); f; f = await this.nextFrame()) {
      if (f.image) yield { index: f.index, ptsSec: f.ptsSec, image: f.image, ...(f.letterbox ? { letterbox: f.letterbox } : {}) };
    }
  }

  /**
   * frames() for live ingest: also every frame off the grid while `deliverAll()` is true, with `yuv` (see the
   * module comment); iterable once, instead of frames().
   */
  async *liveFrames(): AsyncGenerator<DecodedFrame, void, undefined> {
    if (this.iterating) throw new InvalidStateError(`${this.label}: liveFrames() can be iterated only once`);
    this.iterating = true;
    this.live = true;
    for (let f = await this.nextFrame(); f; f = await this.nextFrame()) yield f;
  }

  /**
   * The video stream's packets without decoding them (passthrough when nothing needs the pixels); iterable once,
   * instead of frames(). Pauses for the event loop like frames().
   */
  async *packets(): AsyncGenerator<EncodedPacket, void, undefined> {
    if (this.iterating) throw new InvalidStateError(`${this.label}: packets() can be iterated only once`);
    this.iterating = true;
    let budget = performance.now() + 20;
    for (;;) {
      if (this.opts.signal?.aborted) throw new AbortError(`${this.label}: aborted ${this.where()}`, { cause: this.opts.signal.reason });
      if (this.closed) return;
      if (performance.now() > budget) {
        await tick();
        budget = performance.now() + 20;
      }
      const ret = this.network ? await this.readAsync() : this.input.readSync(this.pkt);
      if (this.closed || this.opts.signal?.aborted) continue;
      if (ret === AVERROR_EAGAIN) await sleep(10);
      else if (ret === AVERROR_EOF) return;
      else if (ret < 0) throw this.broken('read failed', ret);
      else {
        try {
          if (this.pkt.streamIndex !== this.streamIndex) continue;
          this.stats.packets++;
          const p = this.encoded();
          if (p && Number.isFinite(p.ptsSec)) this.lastT = p.ptsSec; // for where() in errors
          if (p) yield p;
        } finally {
          this.pkt.unref();
        }
      }
    }
  }

  /** The current packet as an EncodedPacket (its data copied out of the AVPacket), or null without data. */
  private encoded(): EncodedPacket | null {
    const data = this.pkt.data;
    if (!data || data.length === 0) return null;
    if (this.startPts === AV_NOPTS_VALUE && this.pkt.pts !== AV_NOPTS_VALUE) this.startPts = this.pkt.pts; // live streams state no start time
    const ptsSec = this.pkt.pts === AV_NOPTS_VALUE ? NaN : this.rel(this.pkt.pts);
    return { data: Buffer.from(data), ptsSec, keyframe: this.pkt.isKeyframe };
  }

  private async nextFrame(): Promise<DecodedFrame | null> {
    this.release(); // the consumer is done with the previous frame
    if (this.pauseAt === 0) this.pauseAt = performance.now() + 20;
    for (;;) {
      if (this.opts.signal?.aborted) throw new AbortError(`${this.label}: aborted ${this.where()}`, { cause: this.opts.signal.reason });
      if (this.closed) return null;
      if (performance.now() > this.pauseAt) { // let timers, sockets and signals in between stretches of decoding
        await tick();
        this.pauseAt = performance.now() + 20;
        continue;
      }
      const q = this.queued.shift();
      if (q) {
        this.held = { frame: q.frame, owned: true };
        return this.deliver(q.frame, q.t, q.sampled);
      }
      if (this.pending) {
        const t0 = performance.now();
        const ret = this.network ? await this.track(this.cc.receiveFrame(this.frame)) : this.cc.receiveFrameSync(this.frame);
        if (this.closed) return null; // closed while the decoder worked: its frame and context are freed
        this.decodeMs += performance.now() - t0;
        if (ret === AVERROR_EOF) return this.end();
        if (ret < 0) {
          this.pending = false;
          if (ret !== AVERROR_EAGAIN) this.fail('decoding failed', ret);
          continue;
        }
        const sel = this.select(this.frame);
        if (!sel) {
          this.frame.unref();
          continue;
        }
        this.held = { frame: this.frame, owned: false };
        return this.deliver(this.frame, sel.t, sel.sampled);
      }
      if (this.eof) {
        if (this.flushed) return this.end();
        this.flushed = this.pending = true;
        this.cc.sendPacketSync(null); // drain the frames the decoder still holds
        continue;
      }
      const ret = this.network ? await this.readAsync() : this.input.readSync(this.pkt);
      if (this.closed || this.opts.signal?.aborted) continue; // an interrupted read: report the abort or close
      if (ret === AVERROR_EAGAIN) await sleep(10); // a live source without data yet
      else if (ret === AVERROR_EOF) this.eof = true;
      else if (ret < 0) this.fail('read failed', ret);
      else {
        try {
          if (this.pkt.streamIndex === this.streamIndex) await this.onPacket();
        } finally {
          if (!this.closed) this.pkt.unref(); // close() frees the packet itself
        }
      }
    }
  }

  private readAsync(): Promise<number> {
    return this.track(this.input.read(this.pkt));
  }

  /** Awaits a native call that runs off the main thread; close() waits for it before freeing anything. */
  private async track(p: Promise<number>): Promise<number> {
    this.inflight = p;
    try { return await p; } finally { if (this.inflight === p) this.inflight = null; }
  }

  /**
   * Network sources decode on libuv's thread pool (async calls): several cameras then decode in parallel and the
   * main thread stays free for RTP fan-out and analysis. Files decode synchronously (no hop per packet).
   */
  private async onPacket(): Promise<void> {
    this.stats.packets++;
    if (this.opts.onPacket && this.opts.wantsPackets?.() !== false) {
      const p = this.encoded();
      if (p) this.opts.onPacket(p);
    }
    const key = this.pkt.isKeyframe;
    // A live stream states no start time: its first packet fixes it, as for packets(). Left to the first decoded
    // frame, the packets before it had absolute times (an RTSP camera's: hours), and the first of them anchored
    // the live lag estimate there, so the first frame was delivered hours "late" (ingest/lag.ts, live.ts).
    if (this.startPts === AV_NOPTS_VALUE && this.pkt.pts !== AV_NOPTS_VALUE) this.startPts = this.pkt.pts;
    const t = this.pkt.pts === AV_NOPTS_VALUE ? NaN : this.rel(this.pkt.pts);
    if (key && Number.isFinite(t)) {
      // Key-frame-only decoding is right while every GOP fits in a sample interval (each sample then has a key
      // frame within a GOP of it). Modes change only at a key frame and after draining the decoder, so no frame
      // ever needs a reference that was skipped.
      if (t > this.lastKeyT) this.gops.push(t - this.lastKeyT);
      if (this.gops.length > 3) this.gops.shift();
      this.lastKeyT = t;
      const keyOnly = this.opts.sampling !== 'exact' && this.sampler.interval > 0 && this.fps !== undefined && !this.wantsAll()
        && this.gops.length >= 2 && Math.max(...this.gops) <= this.sampler.interval + this.frameDur / 2;
      if (keyOnly !== this.stats.keyframeOnly) {
        this.drain();
        this.stats.keyframeOnly = keyOnly;
      }
    }
    // A short read (a truncated file) is a break; a live stream's damaged packet is only skipped (below).
    if (this.pkt.hasFlags(AV_PKT_FLAG_CORRUPT) && !this.network) return this.fail('truncated or corrupt data', AVERROR_INVALIDDATA);
    if (this.opts.admit) {
      const ok = this.opts.admit(t, key);
      if (!ok || (this.skipping && !key)) {
        this.skipping = true;
        return;
      }
      if (this.skipping) {
        this.skipping = false;
        this.cc.flushBuffers(); // frames held from before the gap are stale; the key frame starts afresh
        this.pending = false;
      }
    }
    // Key-frame-only: the sampler decides here, so every frame decoded is delivered.
    if (this.stats.keyframeOnly && !(key && Number.isFinite(t) && this.sampler.take(t, Math.max(...this.gops) / 2))) return;
    const t0 = performance.now();
    const ret = this.network ? await this.track(this.cc.sendPacket(this.pkt)) : this.cc.sendPacketSync(this.pkt);
    if (this.closed) return;
    this.decodeMs += performance.now() - t0;
    this.pending = true;
    if (ret >= 0 || ret === AVERROR_EOF) this.errorRun = 0;
    else if (!this.network || ++this.errorRun > MAX_ERROR_RUN) this.fail('decoding failed', ret);
  }

  /** Stops reading; the frames already in the decoder are still delivered, then the iteration throws. */
  private fail(what: string, ret: number): void {
    this.failure ??= { what, ret };
    this.eof = true;
  }

  private end(): null {
    if (this.failure) throw this.broken(this.failure.what, this.failure.ret);
    return null;
  }

  /** Empties the decoder under the current mode, queueing the frames it chooses, and resets it. */
  private drain(): void {
    this.cc.sendPacketSync(null);
    while (this.cc.receiveFrameSync(this.frame) >= 0) {
      const sel = this.select(this.frame);
      const ref = sel ? this.frame.clone() : null;
      if (ref && sel) this.queued.push({ frame: ref, ...sel });
      this.frame.unref();
    }
    this.cc.flushBuffers();
    this.pending = false;
  }

  /** The frame's time if it is to be delivered (and whether it is on the sampling grid), else null. */
  private select(f: Frame): { t: number; sampled: boolean } | null {
    this.stats.decoded++;
    const pts = f.bestEffortTimestamp !== AV_NOPTS_VALUE ? f.bestEffortTimestamp : f.pts;
    if (this.startPts === AV_NOPTS_VALUE) this.startPts = pts; // live streams state no start time
    const t = pts === AV_NOPTS_VALUE ? (Number.isFinite(this.lastT) ? this.lastT + this.frameDur : 0) : this.rel(pts);
    this.lastT = t;
    const sampled = this.stats.keyframeOnly || this.sampler.take(t, this.frameDur / 2);
    return sampled || this.wantsAll() ? { t, sampled } : null;
  }

  /** Live video watches: every frame is delivered, with its YUV picture. */
  private wantsAll(): boolean {
    return this.live && this.opts.deliverAll?.() === true;
  }

  /** Unreferences the frame delivered last (see `held`). */
  private release(): void {
    const h = this.held;
    if (!h) return;
    this.held = null;
    if (h.owned) h.frame.free();
    else h.frame.unref();
  }

  /** The delivered frame; null when close() came during an off-thread conversion (its frames are being freed). */
  private async deliver(f: Frame, t: number, sampled: boolean): Promise<DecodedFrame | null> {
    this.stats.delivered++;
    const t0 = performance.now();
    const out: DecodedFrame = { index: this.fps ? Math.max(0, Math.round(t * this.fps)) : this.stats.decoded - 1, ptsSec: t, sampled };
    // The decoded frame's planes are never read from JS on the common path (each read wraps them in new Buffers:
    // V8 external memory, GC churn; see src/ingest/README.md § Pixels): RGB and the letterbox are converted frame to
    // frame by swscale, live video copies the frame natively. RGB only for the analysis grid.
    if (sampled && this.opts.rgb !== false) {
      // Live sources convert on libuv's pool: the event loop is for I/O (at 6 cameras with every frame analysed
      // swscale took 11.5 % of the main thread's samples, bench/results/profile-live-*). Files stay synchronous:
      // a hop per frame would only slow offline analysis.
      const sws = this.rgbScaler(f);
      const rgb = this.rgb.next();
      const ret = this.network ? await this.track(sws.scaleFrame(rgb.frame, f)) : sws.scaleFrameSync(rgb.frame, f);
      if (this.closed) return null;
      if (ret < 0) throw this.broken('frame not convertible to RGB', ret); // also a frame without pixel data
      out.image = rgb.image;
      if (this.lb) {
        out.letterbox = this.network ? await this.lb.scaleAsync(f, this.width, this.height, (p) => this.track(p)) : this.lb.scale(f, this.width, this.height);
        if (this.closed) return null;
      }
    }
    if (this.wantsAll()) {
      if (!out.image && (f.width !== this.codedW || f.height !== this.codedH)) this.syncSize(f); // as rgbScaler() does
      if (isDirectYuv(f, this.width, this.height)) {
        out.native = f;
        const view = this.yuv;
        const [w, h] = [this.width, this.height];
        let made: YuvImage | undefined;
        Object.defineProperty(out, 'yuv', { enumerable: true, get: (): YuvImage | undefined => (made ??= view.view(f, w, h) ?? undefined) });
      } else {
        const yuv = this.yuv.view(f, this.width, this.height);
        if (!yuv) throw this.broken('frame without pixel data', AVERROR_INVALIDDATA);
        out.yuv = yuv;
      }
    }
    stageTimings.decode.observeMs(this.decodeMs + performance.now() - t0);
    this.decodeMs = 0;
    return out;
  }

  /** Delivered size (`width`, `height`) for this frame's coded size and pixel aspect. */
  private syncSize(f: Frame): void {
    [this.width, this.height] = this.outputSize(f.width, f.height, f.sampleAspectRatio.toDouble());
    this.codedW = f.width;
    this.codedH = f.height;
  }

  /**
   * swscale from this frame's geometry to RGB (BT.601 matrix, bilinear) into the one output frame, set up again
   * only when the input geometry changes. Direct sws_scale into a frame of ours costs ~0.3 ms per 720p frame here
   * and allocates nothing, which is why it is used rather than node-av's Scaler (a new Buffer per frame).
   */
  private rgbScaler(f: Frame): SoftwareScaleContext {
    const key = `${f.width}x${f.height}/${f.format}`;
    if (key !== this.swsKey || !this.sws || !this.rgb.ready) {
      this.sws?.freeContext();
      this.syncSize(f);
      this.sws = new SoftwareScaleContext();
      this.sws.getContext(f.width, f.height, f.format as AVPixelFormat, this.width, this.height, AV_PIX_FMT_RGB24, SWS_BILINEAR);
      FFmpegError.throwIfError(this.sws.initContext(), 'swscale init');
      this.rgb.setup(this.width, this.height, this.ringLength);
      this.swsKey = key;
    }
    return this.sws;
  }

  /**
   * frames(): RGB and letterbox outputs rotate through `n` buffers in SharedArrayBuffer memory, so a frame's
   * pixels stay valid until `n` more frames have been delivered, and a WorkerEngine reads them in place (offline
   * pipelining holds that many frames without copying them: src/pipeline/pipelined.ts). Called after open(), once
   * the frame size is known (the ring's memory depends on it), and before frames() is iterated. A live (network)
   * source keeps one buffer: its frames are copied into pooled ones. Default 1: the next frame overwrites the last.
   */
  useRing(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`ring must be an integer >= 1, got ${n}`);
    if (this.iterating) throw new InvalidStateError(`${this.label}: useRing() after frames() started`);
    this.ringSize = n;
    if (this.lb) {
      this.lb.free();
      this.lb = new LetterboxScaler(this.lb.side, this.ringLength);
    }
  }

  /** Ring outputs actually used (1 for live sources). */
  get ringLength(): number {
    return this.network ? 1 : this.ringSize;
  }

  private outputSize(w: number, h: number, sar: number): [number, number] {
    const dispW = sar > 0 && Number.isFinite(sar) && Math.abs(sar - 1) > 1e-3 ? w * sar : w; // non-square pixels
    const outW = Math.max(2, Math.round(Math.min(dispW, this.opts.maxWidth ?? Infinity)));
    return [outW, Math.max(2, Math.round((h * outW) / dispW))];
  }

  /**
   * The stream's start time in seconds (frame times `ptsSec` are relative to it; a player shows them shifted by
   * it, so exports that a player lines up with the video, such as ASS, add it back). 0 when unknown.
   */
  get startSec(): number {
    return this.startPts === AV_NOPTS_VALUE ? 0 : Number(this.startPts) * this.tb;
  }

  private rel(pts: bigint): number {
    return Number(pts - (this.startPts === AV_NOPTS_VALUE ? 0n : this.startPts)) * this.tb;
  }

  private where(): string {
    if (!Number.isFinite(this.lastT)) return 'before the first frame';
    return `after frame ${this.fps ? Math.round(this.lastT * this.fps) : this.stats.decoded - 1} (t=${this.lastT.toFixed(2)} s)`;
  }

  private broken(what: string, ret: number): InputError {
    const why = this.input.detail ?? FFmpegError.strerror(ret); // the RTSP client's own words, when it has them
    return new InputError('E_INPUT_UNREADABLE', `${this.label}: ${what} ${this.where()}: ${why}`, { cause: new FFmpegError(ret) });
  }

  /** Ends any iteration (it returns cleanly) and frees the native resources. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      this.opts.signal?.removeEventListener('abort', this.onAbort);
      this.input.interrupt(); // a network read in flight returns now; wait for it before freeing what it uses
      while (this.inflight) await this.inflight.catch(() => undefined);
      this.release();
      this.sws?.freeContext();
      this.rgb.free();
      this.lb?.free();
      this.yuv.free();
      this.pkt.free();
      this.frame.free();
      for (const q of this.queued.splice(0)) q.frame.free();
      this.cc.freeContext();
      await this.input.close();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
