/**
 * LiveEncoder: ONE H.264 encode of a stream's annotated frames, shared by every WebRTC viewer of that stream.
 *
 * x264 (ultrafast, zerolatency, baseline profile → constrained baseline, level 3.1, yuv420p, no B-frames) emits
 * Annex-B access units with SPS/PPS repeated before every IDR (no global header), so a viewer can start at any
 * IDR. `requestKeyframe()` marks the next frame `pict_type = I`; with libx264's `forced-idr=1` that frame is an
 * IDR (tested: the very packet of that frame is a keyframe). This uses node-av's low-level CodecContext, not
 * the high-level `Encoder`: `Encoder.encode()` resets every frame's pict_type to NONE (and rescales pts to
 * 1/fps), so a forced keyframe cannot get through it.
 *
 * RTP packetisation is ours (h264.ts) rather than node-av's Muxer('rtp'): the payloads are plain buffers that each
 * viewer wraps in its own RTP header (own sequence numbers, starting at its first IDR), and there is no second
 * muxer to keep in step with the encoder's timestamps.
 */
import { AVERROR_EAGAIN, AVERROR_EOF, AV_PICTURE_TYPE_I, AV_PICTURE_TYPE_NONE, AV_PIX_FMT_YUV420P, FF_ENCODER_LIBX264 } from 'node-av/constants';
import { Codec, CodecContext, Dictionary, FFmpegError, Packet, Rational } from 'node-av/lib';
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

/** One encoded frame, already split into RTP payloads (the marker bit goes on the last). */
export interface EncodedFrame {
  /** RTP timestamp (90 kHz, wraps at 2^32). */
  rtpTimestamp: number;
  keyframe: boolean;
  payloads: Buffer[];
  /** Wall time spent in colour conversion + x264, ms. */
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
  frames = 0;
  keyframes = 0;
  #ctx: CodecContext;
  #pkt: Packet;
  readonly #yuv: YuvConverter;
  #forceKey = true; // the first frame is an IDR anyway; say so explicitly
  #closed = false;

  private constructor(inWidth: number, inHeight: number, fps: number, ctx: CodecContext, yuv: YuvConverter) {
    this.inWidth = inWidth;
    this.inHeight = inHeight;
    this.width = yuv.width;
    this.height = yuv.height;
    this.fps = fps;
    this.#ctx = ctx;
    this.#pkt = new Packet();
    this.#pkt.alloc();
    this.#yuv = yuv;
  }

  /** Frames given to encode() must be `width`×`height` (odd sizes lose their last row/column: yuv420p). */
  static async open(width: number, height: number, opts: LiveEncoderOptions = {}): Promise<LiveEncoder> {
    const outW = Math.min(width, opts.width ?? width);
    const w = outW & ~1;
    const h = Math.max(2, Math.round((height * outW) / width)) & ~1;
    const fps = Math.max(1, Math.round(opts.fps ?? 25));
    const bitrate = opts.bitrate ?? Math.max(300_000, Math.round(w * h * fps * 0.1));
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
    const kbps = Math.round(bitrate / 1000);
    using options = Dictionary.fromObject({
      preset: 'ultrafast',
      tune: 'zerolatency',
      profile: 'baseline',
      level: '3.1',
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
    return new LiveEncoder(width, height, fps, ctx, new YuvConverter(width, height, TIME_BASE, { width: w, height: h }));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next encoded frame will be an IDR (with SPS/PPS): a viewer joined or sent PLI/FIR. */
  requestKeyframe(): void {
    this.#forceKey = true;
  }

  /**
   * Encodes one (already annotated) RGB frame taken at `ptsSec`. Returns undefined when x264 produced no
   * packet (it should not, with zerolatency) or after close(). Timestamps are forced strictly increasing.
   */
  async encode(image: RgbImage, ptsSec: number): Promise<EncodedFrame | undefined> {
    if (this.#closed) return undefined;
    const t0 = performance.now();
    using yuv = await this.#yuv.convertAsync(image, ptsSec);
    if (this.#closed) return undefined; // closed while converting: the codec context is gone
    const forced = this.#forceKey;
    this.#forceKey = false;
    yuv.pictType = forced ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    FFmpegError.throwIfError(await this.#ctx.sendFrame(yuv), 'LiveEncoder: send frame');
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
    const rtpTimestamp = Number(yuv.pts & 0xffffffffn);
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
   * encode() is pending (its colour conversion runs off-thread): EncodedBroadcast closes it only between frames.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ctx.freeContext();
    this.#pkt.free();
    this.#yuv.free();
  }
}
