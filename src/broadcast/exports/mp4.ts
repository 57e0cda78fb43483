/**
 * Annotated MP4 export: analysed frames with the overlay burnt in, encoded as H.264 (libx264, yuv420p, main
 * profile features that every player decodes) into an MP4 with the index at the front (+faststart).
 * Frames are timed by their source timestamps, so `--fps 1` gives a 1 fps video of the same duration.
 */
import { Encoder, Muxer } from 'node-av/api';
import { AV_PIX_FMT_RGB24, AV_PIX_FMT_YUV420P, FF_ENCODER_LIBX264, SWS_BILINEAR } from 'node-av/constants';
import { FFmpegError, Frame, Rational, SoftwareScaleContext } from 'node-av/lib';
import type { Packet } from 'node-av/lib';
import type { RgbImage } from '../../core/types.js';
import type { FrameRecord } from '../../core/records.js';
import type { GlyphAtlas } from '../overlay/font.js';
import { annotateFrame } from '../overlay/annotate.js';

/** Milliseconds: fine enough for any frame rate, and pts stay exact for sampled analysis. */
const TIME_BASE = new Rational(1, 1000);

export class Mp4Writer implements AsyncDisposable {
  readonly path: string;
  readonly width: number;
  readonly height: number;
  #encoder: Encoder;
  #muxer: Muxer;
  #stream: ReturnType<Muxer['addStream']>;
  #sws: SoftwareScaleContext;
  #lastPts = -1n;
  #closed = false;
  frames = 0;

  private constructor(path: string, width: number, height: number, encoder: Encoder, muxer: Muxer, sws: SoftwareScaleContext) {
    this.path = path;
    this.width = width;
    this.height = height;
    this.#encoder = encoder;
    this.#muxer = muxer;
    this.#stream = muxer.addStream(encoder);
    this.#sws = sws;
  }

  /** `fps` is the rate frames will arrive at (the analysis rate): x264 needs it to spend its bitrate sensibly. */
  static async open(path: string, width: number, height: number, fps: number): Promise<Mp4Writer> {
    // yuv420p needs even dimensions: the last odd row/column is dropped.
    const w = width & ~1;
    const h = height & ~1;
    const rate = Math.max(1, Math.round(fps));
    const encoder = await Encoder.create(FF_ENCODER_LIBX264, {
      gopSize: rate * 2,
      maxBFrames: 0,
      context: { framerate: new Rational(rate, 1) },
      options: { preset: 'veryfast', crf: 23, x264opts: 'log=-1' },
    });
    const muxer = await Muxer.open(path, { options: { movflags: '+faststart' } });
    const sws = new SoftwareScaleContext();
    sws.getContext(w, h, AV_PIX_FMT_RGB24, w, h, AV_PIX_FMT_YUV420P, SWS_BILINEAR);
    FFmpegError.throwIfError(sws.initContext(), 'Mp4Writer: swscale init');
    return new Mp4Writer(path, w, h, encoder, muxer, sws);
  }

  /** Draws the overlay of `rec` into `image` (modifying it) and encodes it at `rec.time`. */
  async writeAnnotated(image: RgbImage, rec: FrameRecord, atlas: GlyphAtlas): Promise<void> {
    annotateFrame(image, rec, atlas);
    await this.write(image, rec.time);
  }

  async write(image: RgbImage, ptsSec: number): Promise<void> {
    if (this.#closed) throw new Error(`${this.path} is closed`);
    let pts = BigInt(Math.round(ptsSec * 1000));
    if (pts <= this.#lastPts) pts = this.#lastPts + 1n; // the muxer requires strictly increasing timestamps
    this.#lastPts = pts;
    // A fresh frame each time: the encoder may keep a reference to the previous one.
    using yuv = new Frame();
    yuv.alloc();
    yuv.width = this.width;
    yuv.height = this.height;
    yuv.format = AV_PIX_FMT_YUV420P;
    FFmpegError.throwIfError(yuv.getBuffer(), 'Mp4Writer: frame buffer');
    const planes = yuv.data;
    if (!planes) throw new Error('Mp4Writer: frame has no planes');
    const src = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
    FFmpegError.throwIfError(this.#sws.scaleSync([src], [image.stride], 0, this.height, planes.slice(0, 3), yuv.linesize.slice(0, 3)), 'Mp4Writer: swscale');
    yuv.pts = pts;
    yuv.timeBase = TIME_BASE;
    await this.#encoder.encode(yuv);
    await this.#drain();
    this.frames++;
  }

  async #drain(): Promise<void> {
    for (;;) {
      const pkt: Packet | null | undefined = await this.#encoder.receive();
      if (!pkt) return;
      try {
        await this.#muxer.writePacket(pkt, this.#stream);
      } finally {
        pkt.free();
      }
    }
  }

  /** Flushes the encoder and finishes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#encoder.flush();
      await this.#drain();
    } finally {
      await this.#muxer.close();
      this.#encoder.close();
      this.#sws.freeContext();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
