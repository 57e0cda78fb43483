/**
 * LiveEncoder: ONE H.264 encode of a stream's annotated frames, shared by every WebRTC viewer of that stream.
 *
 * x264 (ultrafast, zerolatency, baseline profile → constrained baseline, yuv420p, no B-frames) emits Annex-B
 * access units with SPS/PPS repeated before every IDR (no global header), so a viewer can start at any IDR. The
 * level follows the output size and rate (h264Level: the lowest of H.264 Table A-1 that fits — 3.1 for 720p30,
 * 4 for 1080p30, 5.1 for 4K30), so larger outputs stay conformant.
 *
 * Input: live video gives yuv420p frames (encodeFrame: a YuvCanvas drawn in place, no colour conversion); RGB
 * frames (encode: the bench's camera, tests) are converted by swscale off the event loop first. `requestKeyframe()` marks the next frame `pict_type = I`; with libx264's `forced-idr=1` that frame is an
 * IDR (tested: the very packet of that frame is a keyframe). This uses node-av's low-level CodecContext, not
 * the high-level `Encoder`: `Encoder.encode()` resets every frame's pict_type to NONE (and rescales pts to
 * 1/fps), so a forced keyframe cannot get through it.
 *
 * RTP packetisation is ours (h264.ts) rather than node-av's Muxer('rtp'): the payloads are plain buffers that each
 * viewer wraps in its own RTP header (own sequence numbers, starting at its first IDR), and there is no second
 * muxer to keep in step with the encoder's timestamps.
 */
import { AVERROR_EAGAIN, AVERROR_EOF, AV_PICTURE_TYPE_I, AV_PICTURE_TYPE_NONE, AV_PIX_FMT_YUV420P, FF_ENCODER_LIBX264 } from 'node-av/constants';
import { Codec, CodecContext, Dictionary, FFmpegError, Packet, Rational, type Frame } from 'node-av/lib';
import { YuvConverter } from './yuv.js';
import type { RgbImage } from '../core/types.js';
import { packetizeH264, splitAnnexB } from './h264.js';

/** RTP video clock. */
export const RTP_CLOCK = 90000;
const TIME_BASE = new Rational(1, RTP_CLOCK);
export { RTP_MAX_PAYLOAD } from './h264.js';

export interface LiveEncoderOptions {
  /** Nominal frame rate (the analysis rate): x264 sizes its rate control by it. Default 25. */
  fps?: number;
  /** Seconds between periodic IDRs. Default 2. */
  gopSec?: number;
  /** Target bitrate, bit/s. Default: ~0.1 bit per pixel per frame, at least 300 kb/s. */
  bitrate?: number;
  /** Output width (height keeps the aspect; never upscales). Default: the input width. */
  width?: number;
}

/** Encoded size for `width`×`height` input under an output width cap: aspect kept, never upscaled, even sides. */
export function encodedSize(width: number, height: number, maxWidth?: number): { width: number; height: number } {
  const outW = Math.min(width, maxWidth ?? width);
  return { width: Math.max(2, outW & ~1), height: Math.max(2, Math.round((height * outW) / width)) & ~1 };
}

/** An H.264 level: `idc` as in the SPS and profile-level-id (level 3.1 → 31, 0x1f), `name` as x264 takes it. */
export interface H264Level {
  idc: number;
  name: string;
}

/**
 * H.264 Table A-1 (level limits): max macroblocks per second, max frame size in macroblocks, and max video bit
 * rate for the Baseline/Main profiles (kbit/s, cpbBrVclFactor 1000). Level 1b is left out (a Baseline quirk).
 */
const LEVELS: readonly { idc: number; maxMbps: number; maxFs: number; maxKbps: number }[] = [
  { idc: 10, maxMbps: 1485, maxFs: 99, maxKbps: 64 },
  { idc: 11, maxMbps: 3000, maxFs: 396, maxKbps: 192 },
  { idc: 12, maxMbps: 6000, maxFs: 396, maxKbps: 384 },
  { idc: 13, maxMbps: 11880, maxFs: 396, maxKbps: 768 },
  { idc: 20, maxMbps: 11880, maxFs: 396, maxKbps: 2000 },
  { idc: 21, maxMbps: 19800, maxFs: 792, maxKbps: 4000 },
  { idc: 22, maxMbps: 20250, maxFs: 1620, maxKbps: 4000 },
  { idc: 30, maxMbps: 40500, maxFs: 1620, maxKbps: 10000 },
  { idc: 31, maxMbps: 108000, maxFs: 3600, maxKbps: 14000 },
  { idc: 32, maxMbps: 216000, maxFs: 5120, maxKbps: 20000 },
  { idc: 40, maxMbps: 245760, maxFs: 8192, maxKbps: 20000 },
  { idc: 41, maxMbps: 245760, maxFs: 8192, maxKbps: 50000 },
  { idc: 42, maxMbps: 522240, maxFs: 8704, maxKbps: 50000 },
  { idc: 50, maxMbps: 589824, maxFs: 22080, maxKbps: 135000 },
  { idc: 51, maxMbps: 983040, maxFs: 36864, maxKbps: 240000 },
  { idc: 52, maxMbps: 2073600, maxFs: 36864, maxKbps: 240000 },
  { idc: 60, maxMbps: 4177920, maxFs: 139264, maxKbps: 240000 },
  { idc: 61, maxMbps: 8355840, maxFs: 139264, maxKbps: 480000 },
  { idc: 62, maxMbps: 16711680, maxFs: 139264, maxKbps: 800000 },
];

/**
 * The lowest H.264 level whose limits (Table A-1) a `width`×`height` video at `fps` frames per second (and, when
 * given, a peak rate of `maxBitrate` bit/s) fits: frame size in macroblocks (MaxFS, and each side at most
 * √(8·MaxFS) macroblocks, A.3.1), macroblocks per second (MaxMBPS) and MaxBR. E.g. 720p30 → 3.1, 1080p30 → 4,
 * 2160p30 → 5.1. Beyond level 6.2: 6.2 (the largest there is). The WHEP answer's profile-level-id can carry it
 * (`42e0` + idc in hex); with level-asymmetry-allowed=1 a sender may use a higher level than the receiver's.
 */
export function h264Level(width: number, height: number, fps: number, maxBitrate?: number): H264Level {
  const mbW = Math.ceil(width / 16);
  const mbH = Math.ceil(height / 16);
  const fs = mbW * mbH;
  const mbps = fs * fps;
  const kbps = (maxBitrate ?? 0) / 1000;
  const fits = (l: (typeof LEVELS)[number]): boolean =>
    fs <= l.maxFs && mbW * mbW <= 8 * l.maxFs && mbH * mbH <= 8 * l.maxFs && mbps <= l.maxMbps && kbps <= l.maxKbps;
  const l = LEVELS.find(fits) ?? LEVELS[LEVELS.length - 1];
  return { idc: l.idc, name: l.idc % 10 === 0 ? String(l.idc / 10) : (l.idc / 10).toFixed(1) };
}

/** One encoded frame, already split into RTP payloads (the marker bit goes on the last). */
export interface EncodedFrame {
  /** RTP timestamp (90 kHz, wraps at 2^32). */
  rtpTimestamp: number;
  keyframe: boolean;
  payloads: Buffer[];
  /** Wall time spent in x264 (and, for RGB input, the colour conversion), ms. */
  encodeMs: number;
}

export class LiveEncoder {
  /** Size of the frames given to encode(). */
  readonly inWidth: number;
  readonly inHeight: number;
  /** Size of the encoded video. */
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** The level written in the SPS (h264Level of the output size, rate and peak bitrate). */
  readonly level: H264Level;
  frames = 0;
  keyframes = 0;
  #ctx: CodecContext;
  #pkt: Packet;
  /** RGB input only (encode()): made at the first RGB frame. */
  #yuv: YuvConverter | undefined;
  #lastPts = -1n;
  #forceKey = true; // the first frame is an IDR anyway; say so explicitly
  #closed = false;

  private constructor(inWidth: number, inHeight: number, width: number, height: number, fps: number, level: H264Level, ctx: CodecContext) {
    this.inWidth = inWidth;
    this.inHeight = inHeight;
    this.width = width;
    this.height = height;
    this.fps = fps;
    this.level = level;
    this.#ctx = ctx;
    this.#pkt = new Packet();
    this.#pkt.alloc();
  }

  /**
   * RGB frames given to encode() must be `width`×`height` (odd sizes lose their last row/column: yuv420p); the
   * video is encodedSize(width, height, opts.width), the size encodeFrame() takes.
   */
  static async open(width: number, height: number, opts: LiveEncoderOptions = {}): Promise<LiveEncoder> {
    const { width: w, height: h } = encodedSize(width, height, opts.width);
    const fps = Math.max(1, Math.round(opts.fps ?? 25));
    const bitrate = opts.bitrate ?? Math.max(300_000, Math.round(w * h * fps * 0.1));
    const kbps = Math.round(bitrate / 1000);
    const level = h264Level(w, h, fps, kbps * 1500); // the VBV peak below
    const codec = Codec.findEncoderByName(FF_ENCODER_LIBX264);
    if (!codec) throw new Error('LiveEncoder: libx264 is not available in this FFmpeg build');
    const ctx = new CodecContext();
    ctx.allocContext3(codec);
    ctx.width = w;
    ctx.height = h;
    ctx.pixelFormat = AV_PIX_FMT_YUV420P;
    // 90 kHz: pts are RTP timestamps as they are; the frame rate is what x264's rate control divides the bitrate
    // by (without it x264 assumes an absurd rate and starves the bitrate, see FIELD-NOTES).
    ctx.timeBase = TIME_BASE;
    ctx.framerate = new Rational(fps, 1);
    ctx.gopSize = Math.max(1, Math.round(fps * (opts.gopSec ?? 2)));
    ctx.maxBFrames = 0;
    ctx.bitRate = BigInt(bitrate);
    using options = Dictionary.fromObject({
      preset: 'ultrafast',
      tune: 'zerolatency',
      profile: 'baseline',
      level: level.name,
      'forced-idr': '1',
      // One thread per encoder up to 1080p (x264 ultrafast: ~10 ms a 720p frame, within a 40 ms frame time):
      // several cameras then scale across cores without slice-thread hand-offs, and each frame is one slice.
      // Larger frames keep x264's own threading.
      ...(w * h <= 1920 * 1088 ? { threads: '1' } : {}),
      // A VBV cap keeps an IDR from bursting far above the average rate (a burst is what a jitter buffer drops).
      x264opts: `log=-1:vbv-maxrate=${Math.round(kbps * 1.5)}:vbv-bufsize=${kbps}`,
    });
    const ret = await ctx.open2(codec, options);
    if (ret < 0) ctx.freeContext();
    FFmpegError.throwIfError(ret, 'LiveEncoder: open libx264');
    return new LiveEncoder(width, height, w, h, fps, level, ctx);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next encoded frame will be an IDR (with SPS/PPS): a viewer joined or sent PLI/FIR. */
  requestKeyframe(): void {
    this.#forceKey = true;
  }

  /**
   * Encodes one (already annotated) RGB frame taken at `ptsSec`, converting it to yuv420p first (off the event
   * loop). Returns undefined when x264 produced no packet (it should not, with zerolatency) or after close().
   */
  async encode(image: RgbImage, ptsSec: number): Promise<EncodedFrame | undefined> {
    if (this.#closed) return undefined;
    const t0 = performance.now();
    this.#yuv ??= new YuvConverter(this.inWidth, this.inHeight, TIME_BASE, { width: this.width, height: this.height });
    using yuv = await this.#yuv.convertAsync(image, ptsSec);
    if (this.#closed) return undefined; // closed while converting: the codec context is gone
    return await this.#send(yuv, ptsSec, t0); // awaited: `yuv` is freed when this block ends
  }

  /**
   * Encodes one yuv420p frame of exactly `width`×`height` (live video: a YuvCanvas, drawn in place) taken at
   * `ptsSec`. The frame must not change until the promise settles; x264 has copied it by then, so the caller
   * may reuse it for the next frame. Its pts and picture type are set here. Returns as encode().
   */
  async encodeFrame(frame: Frame, ptsSec: number): Promise<EncodedFrame | undefined> {
    if (this.#closed) return undefined;
    if (frame.width !== this.width || frame.height !== this.height || frame.format !== AV_PIX_FMT_YUV420P) {
      throw new RangeError(`LiveEncoder: a ${this.width}×${this.height} yuv420p frame expected, got ${frame.width}×${frame.height} (format ${frame.format})`);
    }
    return this.#send(frame, ptsSec, performance.now());
  }

  /** Timestamps (strictly increasing), the forced IDR, x264 and the packetisation of its output. */
  async #send(frame: Frame, ptsSec: number, t0: number): Promise<EncodedFrame | undefined> {
    let pts = BigInt(Math.round(ptsSec * RTP_CLOCK));
    if (pts <= this.#lastPts) pts = this.#lastPts + 1n;
    this.#lastPts = pts;
    frame.pts = pts;
    frame.timeBase = TIME_BASE;
    const forced = this.#forceKey;
    this.#forceKey = false;
    frame.pictType = forced ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    FFmpegError.throwIfError(await this.#ctx.sendFrame(frame), 'LiveEncoder: send frame');
    const payloads: Buffer[] = [];
    let keyframe = false;
    let got = false;
    for (;;) {
      const ret = await this.#ctx.receivePacket(this.#pkt);
      if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) break;
      FFmpegError.throwIfError(ret, 'LiveEncoder: receive packet');
      try {
        const data = this.#pkt.data;
        if (!data) continue;
        got = true;
        keyframe ||= this.#pkt.isKeyframe;
        payloads.push(...packetizeH264(splitAnnexB(data)));
      } finally {
        this.#pkt.unref();
      }
    }
    // No B-frames and zerolatency: one packet per frame, out in input order, so the input pts is its timestamp.
    const rtpTimestamp = Number(pts & 0xffffffffn);
    if (!got) {
      if (forced) this.#forceKey = true; // the request was not served yet
      return undefined;
    }
    this.frames++;
    if (keyframe) this.keyframes++;
    return { rtpTimestamp, keyframe, payloads, encodeMs: performance.now() - t0 };
  }

  /**
   * Frees the encoder (no flush: a live stream's last buffered frame is worthless). Idempotent. Not while an
   * encode is pending (it runs off-thread): EncodedBroadcast closes it only between frames.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ctx.freeContext();
    this.#pkt.free();
    this.#yuv?.free();
  }
}
