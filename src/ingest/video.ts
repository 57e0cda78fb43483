/**
 * Video ingest: a file, an http(s) URL or an RTSP URL → RGB frames with timestamps, through one code path
 * (libavformat opens all three). Low-rate sampling avoids work: frames that are not delivered are never
 * converted to RGB, and when key frames come at least as often as the samples, only the key frames that are
 * delivered are decoded at all. Measured costs of each mode: src/ingest/README.md and bench/decode.ts.
 *
 * Ownership: each delivered frame's `image.data` is ONE buffer per source, overwritten by the next frame. It is
 * valid until the consumer asks for the next frame; a consumer that keeps frames must `copyFrame()` them.
 *
 * Files are read and decoded with node-av's synchronous calls (no thread-pool hop per packet; the decoder's own
 * frame threads still run in parallel) with a pause for the event loop every 20 ms; network reads, which can
 * block for seconds, run off-thread and are cut short by close() or the AbortSignal.
 */
import '../core/polyfill.js'; // before node-av, which calls Promise.withResolvers (Node 22+)
import { stat } from 'node:fs/promises';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FF_THREAD_SLICE, AV_NOPTS_VALUE, AV_PIX_FMT_RGB24, AV_PKT_FLAG_CORRUPT, AVDISCARD_ALL, AVERROR_EAGAIN, AVERROR_EOF, AVERROR_INVALIDDATA, AVMEDIA_TYPE_VIDEO, SWS_BILINEAR } from 'node-av/constants';
import type { AVPixelFormat } from 'node-av/constants';
import { Codec, CodecContext, Dictionary, FFmpegError, FormatContext, Frame, Packet, SoftwareScaleContext } from 'node-av/lib';
import { AbortError, InputError, InvalidStateError, UsageError, errorMessage } from '../core/errors.js';
import type { RgbImage } from '../core/types.js';
import { LetterboxScaler } from './letterbox.js';
import { stageTimings } from '../core/stage-stats.js';

export interface VideoSourceOptions {
  /** Analysis rate in frames per second; undefined = every source frame. */
  fps?: number;
  /** Downscale delivered frames to at most this width, aspect kept (never upscales). */
  maxWidth?: number;
  signal?: AbortSignal;
  /** Decoder threads; default 0 = FFmpeg's choice (frame threads, one per core). */
  threads?: number;
  /** 'auto' (default): decode only the key frames delivered when every GOP is no longer than 1/fps.
   *  'exact': decode every frame and deliver the one at or just after each sample time. */
  sampling?: 'auto' | 'exact';
  /** Network inputs: fail when no data arrives for this long (default 10 000 ms). */
  timeoutMs?: number;
  /** RTSP transport: 'tcp' (default; no losses through NAT and firewalls) or 'udp' (lower latency on a LAN). */
  rtspTransport?: 'tcp' | 'udp';
  /** Also deliver each frame letterboxed into a square of this side (the detector's input), made by swscale. */
  letterbox?: number;
  /**
   * Called synchronously with every packet of the video stream as read, before decoding (passthrough of the
   * camera's H.264). The packet's data is the caller's to keep; its time is on the same clock as the frames'.
   */
  onPacket?: (packet: EncodedPacket) => void;
  /** Asked per packet before copying it out for onPacket: false skips it (nobody listens right now). */
  wantsPackets?: () => boolean;
  /**
   * Asked per decoded frame: true delivers every frame, not only those on the `fps` grid (those off it come with
   * `sampled: false` and no letterbox). Live video needs every frame while analysis runs at `fps`.
   */
  deliverAll?: () => boolean;
}

/** A compressed packet of the video stream (see VideoSourceOptions.onPacket and VideoSource.packets()). */
export interface EncodedPacket {
  /** As demuxed: Annex-B (RTSP, MPEG-TS) or length-prefixed (MP4); VideoSource.extradata says which. */
  data: Buffer;
  /** Presentation time, seconds, same origin as VideoFrame.ptsSec; NaN when the packet has none. */
  ptsSec: number;
  keyframe: boolean;
}

export interface VideoFrame {
  /** Source frame number: ptsSec × source fps (exact for constant-rate sources), else the decoded-frame count. */
  index: number;
  /** Presentation time in seconds from the stream's start (the first frame is ~0). */
  ptsSec: number;
  /** Valid until the next iteration step (see the module comment). */
  image: RgbImage;
  /** With the `letterbox` option: the whole frame scaled into a centred square on black; same lifetime. */
  letterbox?: RgbImage;
  /** false: not on the `fps` sampling grid, delivered only because `deliverAll` asked (live video). */
  sampled?: false;
}

/** Counters for tests, benchmarks and logs. */
export interface VideoStats { packets: number; decoded: number; delivered: number; keyframeOnly: boolean }

/** A detached copy of a frame (its own pixel buffer), for consumers that keep frames past the next step. */
export function copyFrame(f: VideoFrame): VideoFrame {
  const copy: VideoFrame = { index: f.index, ptsSec: f.ptsSec, image: { ...f.image, data: f.image.data.slice() } };
  if (f.letterbox) copy.letterbox = { ...f.letterbox, data: f.letterbox.data.slice() };
  return copy;
}

/**
 * An .sdp input describes RTP arriving on a loopback UDP port (WebRTC ingest forwards there). Reordering waits at
 * most 100 ms for a missing packet (the publisher retransmits on NACK well within that); a 4 MB socket buffer
 * holds a key frame burst.
 */
const SDP_OPTIONS = { protocol_whitelist: 'file,udp,rtp', reorder_queue_size: '128', max_delay: '100000', buffer_size: '4194304', fflags: 'nobuffer' };

/**
 * Largest frames accepted: 8K UHD (7680×4320) fits. A bigger (or forged) header would make every frame buffer
 * hundreds of MB; refusing at open keeps one bad source from exhausting memory for every stream.
 */
const MAX_SIDE = 16384;
const MAX_PIXELS = 40e6;

/** Consecutive undecodable packets a live stream may have (packet loss) before it counts as broken. */
const MAX_ERROR_RUN = 25;
const NETWORK_SCHEMES = new Set(['http', 'https', 'rtsp', 'rtsps']);
/** Demuxers of still images: a JPEG handed over as a video would otherwise "play" as one frame. */
const STILL_FORMATS = /^(image2|.*_pipe|tty)$/;

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

  private readonly pkt = new Packet();
  private readonly frame = new Frame();
  private sws: SoftwareScaleContext | null = null;
  private swsKey = '';
  private out = new Uint8Array(0);
  private readonly lb: LetterboxScaler | null;
  private readonly sampler: Sampler;
  private readonly tb: number;
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
  /** Time in the decoder since the last delivered frame, ms: with the RGB conversion, one 'decode' observation. */
  private decodeMs = 0;
  /** Frames chosen while draining the decoder at a mode switch (references, not pixel copies). */
  private readonly queued: { frame: Frame; t: number; sampled: boolean }[] = [];
  private iterating = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private inflight: Promise<number> | null = null;
  private readonly onAbort = (): void => this.fc.interrupt();

  private constructor(
    private readonly label: string,
    private readonly fc: FormatContext,
    private readonly streamIndex: number,
    private readonly cc: CodecContext,
    private readonly network: boolean,
    private readonly opts: VideoSourceOptions,
  ) {
    const st = fc.streams[streamIndex];
    const par = st.codecpar;
    this.sourceWidth = par.width;
    this.sourceHeight = par.height;
    [this.width, this.height] = this.outputSize(par.width, par.height, par.sampleAspectRatio.toDouble());
    const rate = [st.avgFrameRate, st.rFrameRate].find((r) => r.num > 0 && r.den > 0)?.toDouble();
    this.fps = rate && rate < 1000 ? rate : undefined;
    this.frameDur = this.fps ? 1 / this.fps : 0.04;
    this.tb = st.timeBase.toDouble();
    this.durationSec = st.duration > 0n ? Number(st.duration) * this.tb : fc.duration > 0n ? Number(fc.duration) / 1e6 : undefined;
    this.frameCount = st.nbFrames > 0n ? Number(st.nbFrames) : this.durationSec && this.fps ? Math.round(this.durationSec * this.fps) : undefined;
    this.codec = Codec.findDecoder(par.codecId)?.name ?? 'unknown';
    const extra = par.extradata;
    this.extradata = extra && extra.length > 0 ? Buffer.from(extra) : null;
    this.startPts = st.startTime;
    this.sampler = new Sampler(opts.fps ? 1 / opts.fps : 0);
    this.lb = opts.letterbox ? new LetterboxScaler(opts.letterbox) : null;
    this.pkt.alloc();
    this.frame.alloc();
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  static async open(url: string, opts: VideoSourceOptions = {}): Promise<VideoSource> {
    if (opts.fps !== undefined && !(opts.fps > 0 && Number.isFinite(opts.fps))) throw new UsageError(`fps must be a positive number, got ${opts.fps}`);
    if (opts.maxWidth !== undefined && !(Number.isInteger(opts.maxWidth) && opts.maxWidth >= 2)) throw new UsageError(`maxWidth must be an integer >= 2, got ${opts.maxWidth}`);
    const { target, network, sdp } = await resolveInput(url);
    const aborted = (): AbortError => new AbortError(`${url}: aborted while opening`, { cause: opts.signal?.reason });
    if (opts.signal?.aborted) throw aborted();
    const fc = new FormatContext();
    fc.allocContext(); // allocated before opening so that interrupt() reaches a blocking open (abort)
    const onAbort = (): void => fc.interrupt();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const us = String((opts.timeoutMs ?? 10_000) * 1000);
    // TCP for RTSP: analysis wants every packet more than it wants UDP's lower latency.
    const dict = sdp ? Dictionary.fromObject(SDP_OPTIONS) : network ? Dictionary.fromObject({ rw_timeout: us, timeout: us, rtsp_transport: opts.rtspTransport ?? 'tcp' }) : null;
    let opened = false;
    let cc: CodecContext | null = null;
    const check = (ret: number, what: string): void => {
      if (ret >= 0) return;
      if (opts.signal?.aborted) throw aborted();
      throw new InputError('E_INPUT_UNREADABLE', `${url}: ${what}: ${FFmpegError.strerror(ret)}`, { cause: new FFmpegError(ret) });
    };
    try {
      check(await fc.openInput(target, null, dict), 'cannot open as video');
      opened = true;
      check(await fc.findStreamInfo(null), 'cannot read stream information');
      const fmt = fc.iformat?.name ?? 'unknown format';
      const st = fc.streams.find((s) => s.codecpar.codecType === AVMEDIA_TYPE_VIDEO && !s.attachedPic);
      if (!st || STILL_FORMATS.test(fmt)) throw new InputError('E_INPUT_UNREADABLE', `${url}: not a video (${st ? 'a still image' : 'no video stream'}, format ${fmt})`);
      const { width: w, height: h } = st.codecpar;
      if (w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS) {
        throw new InputError('E_INPUT_INVALID', `${url}: ${w}×${h} is too large (at most ${MAX_SIDE} px a side and ${MAX_PIXELS / 1e6} Mpx, i.e. 8K)`);
      }
      const codec = Codec.findDecoder(st.codecpar.codecId);
      if (!codec) throw new InputError('E_INPUT_UNREADABLE', `${url}: no decoder for codec id ${st.codecpar.codecId}`);
      for (const s of fc.streams) if (s.index !== st.index) s.discard = AVDISCARD_ALL; // demuxer drops audio etc.
      cc = new CodecContext();
      cc.allocContext3(codec);
      check(cc.parametersToContext(st.codecpar), 'bad codec parameters');
      cc.pktTimebase = st.timeBase;
      cc.threadCount = opts.threads ?? 0;
      if (network && opts.threads === undefined) {
        // Live inputs: no frame threads — they hold one frame per extra thread before output (2 frames = 80 ms at
        // 25 fps measured here), latency a viewer sees. Up to 1080p one decoding thread per camera (~3 ms a 720p
        // frame; idle slice threads only add wake-ups, and cameras decode in parallel on the thread pool);
        // larger frames get slice threads. Files keep frame threads for throughput.
        cc.threadType = FF_THREAD_SLICE;
        if (w * h <= 1920 * 1088) cc.threadCount = 1;
      }
      check(await cc.open2(codec, null), `cannot open the ${codec.name ?? ''} decoder`);
      return new VideoSource(url, fc, st.index, cc, network, opts);
    } catch (e) {
      cc?.freeContext();
      if (opened) await fc.closeInput();
      else fc.freeContext();
      throw e;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      dict?.free();
    }
  }

  /** Delivered frames in presentation order; iterable once. See the module comment for the image's lifetime. */
  async *frames(): AsyncGenerator<VideoFrame, void, undefined> {
    if (this.iterating) throw new InvalidStateError(`${this.label}: frames() can be iterated only once`);
    this.iterating = true;
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
      const ret = this.network ? await this.readAsync() : this.fc.readFrameSync(this.pkt);
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

  private async nextFrame(): Promise<VideoFrame | null> {
    let budget = performance.now() + 20;
    for (;;) {
      if (this.opts.signal?.aborted) throw new AbortError(`${this.label}: aborted ${this.where()}`, { cause: this.opts.signal.reason });
      if (this.closed) return null;
      if (performance.now() > budget) { // let timers, sockets and signals in between stretches of decoding
        await tick();
        budget = performance.now() + 20;
        continue;
      }
      const q = this.queued.shift();
      if (q) {
        try { return this.deliver(q.frame, q.t, q.sampled); } finally { q.frame.free(); }
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
        try {
          const sel = this.select(this.frame);
          if (sel) return this.deliver(this.frame, sel.t, sel.sampled);
        } finally {
          this.frame.unref();
        }
        continue;
      }
      if (this.eof) {
        if (this.flushed) return this.end();
        this.flushed = this.pending = true;
        this.cc.sendPacketSync(null); // drain the frames the decoder still holds
        continue;
      }
      const ret = this.network ? await this.readAsync() : this.fc.readFrameSync(this.pkt);
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
    return this.track(this.fc.readFrame(this.pkt));
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
    const t = this.pkt.pts === AV_NOPTS_VALUE ? NaN : this.rel(this.pkt.pts);
    if (key && Number.isFinite(t)) {
      // Key-frame-only decoding is right while every GOP fits in a sample interval (each sample then has a key
      // frame within a GOP of it). Modes change only at a key frame and after draining the decoder, so no frame
      // ever needs a reference that was skipped.
      if (t > this.lastKeyT) this.gops.push(t - this.lastKeyT);
      if (this.gops.length > 3) this.gops.shift();
      this.lastKeyT = t;
      const keyOnly = this.opts.sampling !== 'exact' && this.sampler.interval > 0 && this.fps !== undefined && this.opts.deliverAll?.() !== true
        && this.gops.length >= 2 && Math.max(...this.gops) <= this.sampler.interval + this.frameDur / 2;
      if (keyOnly !== this.stats.keyframeOnly) {
        this.drain();
        this.stats.keyframeOnly = keyOnly;
      }
    }
    // A short read (a truncated file) is a break; a live stream's damaged packet is only skipped (below).
    if (this.pkt.hasFlags(AV_PKT_FLAG_CORRUPT) && !this.network) return this.fail('truncated or corrupt data', AVERROR_INVALIDDATA);
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
    return sampled || this.opts.deliverAll?.() === true ? { t, sampled } : null;
  }

  private deliver(f: Frame, t: number, sampled = true): VideoFrame {
    this.stats.delivered++;
    const t0 = performance.now();
    const image = this.toRgb(f);
    // Frames off the sampling grid only feed live video: the detector never sees them.
    const letterbox = sampled ? this.lb?.scale(f, this.width, this.height) : undefined;
    stageTimings.decode.observeMs(this.decodeMs + performance.now() - t0);
    this.decodeMs = 0;
    return { index: this.fps ? Math.max(0, Math.round(t * this.fps)) : this.stats.decoded - 1, ptsSec: t, image, letterbox, ...(sampled ? {} : { sampled: false }) };
  }

  /**
   * Converts (and scales) into the one output buffer with swscale (BT.601 matrix, bilinear), set up again only
   * when the input geometry changes. Direct sws_scale into a caller buffer costs ~0.3 ms per 720p frame here and
   * allocates nothing, which is why it is used rather than node-av's Scaler (a new Buffer per frame).
   */
  private toRgb(f: Frame): RgbImage {
    const key = `${f.width}x${f.height}/${f.format}`;
    if (key !== this.swsKey) {
      this.sws?.freeContext();
      [this.width, this.height] = this.outputSize(f.width, f.height, f.sampleAspectRatio.toDouble());
      this.sws = new SoftwareScaleContext();
      this.sws.getContext(f.width, f.height, f.format as AVPixelFormat, this.width, this.height, AV_PIX_FMT_RGB24, SWS_BILINEAR);
      FFmpegError.throwIfError(this.sws.initContext(), 'swscale init');
      this.out = new Uint8Array(this.width * this.height * 3);
      this.swsKey = key;
    }
    const planes = f.data;
    if (!planes || !this.sws) throw this.broken('frame without pixel data', AVERROR_INVALIDDATA);
    this.sws.scaleSync(planes, f.linesize, 0, f.height, [Buffer.from(this.out.buffer, this.out.byteOffset, this.out.byteLength)], [this.width * 3]);
    return { data: this.out, width: this.width, height: this.height, stride: this.width * 3 };
  }

  private outputSize(w: number, h: number, sar: number): [number, number] {
    const dispW = sar > 0 && Number.isFinite(sar) && Math.abs(sar - 1) > 1e-3 ? w * sar : w; // non-square pixels
    const outW = Math.max(2, Math.round(Math.min(dispW, this.opts.maxWidth ?? Infinity)));
    return [outW, Math.max(2, Math.round((h * outW) / dispW))];
  }

  private rel(pts: bigint): number {
    return Number(pts - (this.startPts === AV_NOPTS_VALUE ? 0n : this.startPts)) * this.tb;
  }

  private where(): string {
    if (!Number.isFinite(this.lastT)) return 'before the first frame';
    return `after frame ${this.fps ? Math.round(this.lastT * this.fps) : this.stats.decoded - 1} (t=${this.lastT.toFixed(2)} s)`;
  }

  private broken(what: string, ret: number): InputError {
    return new InputError('E_INPUT_UNREADABLE', `${this.label}: ${what} ${this.where()}: ${FFmpegError.strerror(ret)}`, { cause: new FFmpegError(ret) });
  }

  /** Ends any iteration (it returns cleanly) and frees the native resources. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      this.opts.signal?.removeEventListener('abort', this.onAbort);
      this.fc.interrupt(); // a network read in flight returns now; wait for it before freeing what it uses
      while (this.inflight) await this.inflight.catch(() => undefined);
      this.sws?.freeContext();
      this.lb?.free();
      this.pkt.free();
      this.frame.free();
      for (const q of this.queued.splice(0)) q.frame.free();
      this.cc.freeContext();
      await this.fc.closeInput();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Maps a path, file: URL or network URL to what libavformat opens, with the input errors callers switch on. */
async function resolveInput(url: string): Promise<{ target: string; network: boolean; sdp?: boolean }> {
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(url)?.[1]?.toLowerCase(); // a single letter is a Windows drive
  if (scheme && NETWORK_SCHEMES.has(scheme)) return { target: url, network: true };
  if (scheme && scheme !== 'file') throw new InputError('E_INPUT_INVALID', `${url}: unsupported scheme '${scheme}:' (use a file path, http(s):// or rtsp://)`);
  let path = url;
  try {
    if (scheme === 'file') path = fileURLToPath(url);
    const st = await stat(path);
    if (!st.isFile()) throw new InputError('E_INPUT_INVALID', `${url} is not a file`);
    if (st.size === 0) throw new InputError('E_INPUT_UNREADABLE', `${url} is empty (0 bytes)`);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const kind = code === 'ENOENT' || code === 'ENOTDIR' ? 'E_INPUT_NOT_FOUND' : code ? 'E_INPUT_UNREADABLE' : 'E_INPUT_INVALID';
    throw new InputError(kind, `${url}: ${errorMessage(e)}`, { cause: e });
  }
  // An SDP file is a live network input (RTP over UDP): async reads, damaged packets skipped, never paced.
  if (/\.sdp$/i.test(path)) return { target: `file:${path}`, network: true, sdp: true };
  return { target: `file:${path}`, network: false }; // "file:" so that a colon in a path is not read as a protocol
}
