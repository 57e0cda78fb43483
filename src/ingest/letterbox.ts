/**
 * The detector's whole-frame input made by swscale straight from the decoded frame: the frame scaled (area
 * filter, so a 5× shrink does not alias) to fit a side×side square, centred, on black. This replaces sampling
 * the full-size RGB frame in JavaScript (~3.6 ms per 720p frame) with one native call (~0.3 ms), and it allocates
 * nothing per frame: swscale scales into a frame of the centre rectangle, whose rows are copied into the reused
 * square, so the square's padding stays black.
 */
import { AV_PIX_FMT_RGB24, SWS_AREA } from 'node-av/constants';
import type { AVPixelFormat } from 'node-av/constants';
import { FFmpegError, SoftwareScaleContext, type Frame } from 'node-av/lib';
import type { RgbImage } from '../core/types.js';
import { persistentRgb } from './rgb-frame.js';

export class LetterboxScaler {
  readonly side: number;
  /** The squares, used in turn (one unless `ring`: see VideoSource.useRing). */
  readonly #outs: Uint8Array[];
  #next = 0;
  #sws: SoftwareScaleContext | null = null;
  #key = '';
  /** swscale's destination: the centre rectangle, its own frame (read from JS once, when made). */
  #rect: { frame: Frame; image: RgbImage } | null = null;
  #top = 0;
  #left = 0;

  /** `ring` > 1: that many squares in SharedArrayBuffer memory, used in turn (each result stays valid that long). */
  constructor(side: number, ring = 1) {
    if (!Number.isInteger(side) || side < 16 || side > 2048) throw new RangeError(`letterbox side must be an integer in 16..2048, got ${side}`);
    this.side = side;
    const n = side * side * 3;
    this.#outs = Array.from({ length: Math.max(1, ring) }, () => (ring > 1 ? new Uint8Array(new SharedArrayBuffer(n)) : new Uint8Array(n)));
  }

  /**
   * Scales `f` (display size displayW×displayH, which differs from the coded size for non-square pixels) into the
   * square. The returned image is valid until the next call (the next `ring` calls). `f`'s planes are not read from JS (frame to frame
   * swscale, see src/ingest/video.ts on why), only the small centre rectangle is copied into the square.
   */
  scale(f: Frame, displayW: number, displayH: number): RgbImage {
    const sws = this.prepare(f, displayW, displayH);
    FFmpegError.throwIfError(sws.scaleFrameSync(this.#dst(), f), 'letterbox swscale');
    return this.finish();
  }

  /**
   * scale() with swscale on libuv's thread pool (live sources: pixel work stays off the event loop). `run` wraps
   * the native call (VideoSource tracks it, so close() waits for it before freeing the frames).
   */
  async scaleAsync(f: Frame, displayW: number, displayH: number, run: (p: Promise<number>) => Promise<number> = (p) => p): Promise<RgbImage> {
    const sws = this.prepare(f, displayW, displayH);
    FFmpegError.throwIfError(await run(sws.scaleFrame(this.#dst(), f)), 'letterbox swscale');
    return this.finish();
  }

  #dst(): Frame {
    if (!this.#rect) throw new Error('letterbox: not prepared');
    return this.#rect.frame;
  }

  /** Sets swscale up for this frame geometry (again only when it changes). */
  private prepare(f: Frame, displayW: number, displayH: number): SoftwareScaleContext {
    const S = this.side;
    const key = `${f.width}x${f.height}/${f.format}/${displayW}x${displayH}`;
    if (key !== this.#key || !this.#sws || !this.#rect) {
      this.free();
      const k = S / Math.max(displayW, displayH);
      const w = Math.max(1, Math.min(S, Math.round(displayW * k)));
      const h = Math.max(1, Math.min(S, Math.round(displayH * k)));
      this.#sws = new SoftwareScaleContext();
      this.#sws.getContext(f.width, f.height, f.format as AVPixelFormat, w, h, AV_PIX_FMT_RGB24, SWS_AREA);
      FFmpegError.throwIfError(this.#sws.initContext(), 'letterbox swscale init');
      this.#rect = persistentRgb(w, h);
      for (const o of this.#outs) o.fill(0);
      this.#top = Math.floor((S - h) / 2);
      this.#left = Math.floor((S - w) / 2);
      this.#key = key;
    }
    return this.#sws;
  }

  /** Row by row into the square; the padding around it stays black. */
  private finish(): RgbImage {
    const S = this.side;
    if (!this.#rect) throw new Error('letterbox: not prepared');
    const r = this.#rect.image;
    const row = r.width * 3;
    const out = this.#outs[this.#next];
    this.#next = (this.#next + 1) % this.#outs.length;
    for (let y = 0; y < r.height; y++) out.set(r.data.subarray(y * r.stride, y * r.stride + row), ((this.#top + y) * S + this.#left) * 3);
    return { data: out, width: S, height: S, stride: S * 3 };
  }

  free(): void {
    this.#sws?.freeContext();
    this.#sws = null;
    this.#rect?.frame.free();
    this.#rect = null;
    this.#key = '';
  }
}
