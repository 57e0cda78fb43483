/**
 * Annotated MP4 export: analysed frames with the overlay burnt in, encoded as H.264 (libx264, yuv420p, main
 * profile features that every player decodes) into an MP4 with the index at the front (+faststart).
 * Frames are timed by their source timestamps, so `--fps 1` gives a 1 fps video of the same duration.
 */
import { Encoder, Muxer } from 'node-av/api';
import { FF_ENCODER_LIBX264 } from 'node-av/constants';
import { Rational } from 'node-av/lib';
import { YuvConverter } from '../yuv.js';
import type { Packet } from 'node-av/lib';
import type { RgbImage } from '../../core/types.js';
import type { FrameRecord } from '../../core/records.js';
import type { GlyphAtlas } from '../overlay/font.js';
import { annotateFrame, type ZoneOutline } from '../overlay/annotate.js';

/** Milliseconds: fine enough for any frame rate, and pts stay exact for sampled analysis. */
const TIME_BASE = new Rational(1, 1000);

export class Mp4Writer implements AsyncDisposable {
  readonly path: string;
  readonly width: number;
  readonly height: number;
  #encoder: Encoder;
  #muxer: Muxer;
  #stream: ReturnType<Muxer['addStream']>;
  readonly #yuv: YuvConverter;
  #closed = false;
  frames = 0;

  private constructor(path: string, width: number, height: number, encoder: Encoder, muxer: Muxer, yuv: YuvConverter) {
    this.path = path;
    this.width = width;
    this.height = height;
    this.#encoder = encoder;
    this.#muxer = muxer;
    this.#stream = muxer.addStream(encoder);
    this.#yuv = yuv;
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
    return new Mp4Writer(path, w, h, encoder, muxer, new YuvConverter(w, h, TIME_BASE));
  }

  /** Draws the overlay of `rec` into `image` (modifying it) and encodes it at `rec.time`. */
  /** Draws the overlay (zone outlines when given, panel, faces) into `image`, then encodes it. */
  async writeAnnotated(image: RgbImage, rec: FrameRecord, atlas: GlyphAtlas, zones: readonly ZoneOutline[] = []): Promise<void> {
    annotateFrame(image, rec, atlas, zones);
    await this.write(image, rec.time);
  }

  async write(image: RgbImage, ptsSec: number): Promise<void> {
    if (this.#closed) throw new Error(`${this.path} is closed`);
    using yuv = this.#yuv.convert(image, ptsSec);
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
      this.#yuv.free();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
