/**
 * The detector's whole-frame input made by swscale straight from the decoded frame: the frame scaled (area
 * filter, so a 5× shrink does not alias) to fit a side×side square, centred, on black. This replaces sampling
 * the full-size RGB frame in JavaScript (~3.6 ms per 720p frame) with one native call (~0.3 ms), and it allocates
 * nothing per frame: the square buffer is reused and its padding stays black because swscale only writes the
 * centre rectangle.
 */
import { AV_PIX_FMT_RGB24, SWS_AREA } from 'node-av/constants';
import type { AVPixelFormat } from 'node-av/constants';
import { FFmpegError, SoftwareScaleContext, type Frame } from 'node-av/lib';
import type { RgbImage } from '../core/types.js';

export class LetterboxScaler {
  readonly side: number;
  readonly #out: Uint8Array;
  #sws: SoftwareScaleContext | null = null;
  #key = '';
  #dst: Buffer = Buffer.alloc(0);

  constructor(side: number) {
    if (!Number.isInteger(side) || side < 16 || side > 2048) throw new RangeError(`letterbox side must be an integer in 16..2048, got ${side}`);
    this.side = side;
    this.#out = new Uint8Array(side * side * 3);
  }

  /**
   * Scales `f` (display size displayW×displayH, which differs from the coded size for non-square pixels) into the
   * square. The returned image is valid until the next call. `planes`: `f.data`, when the caller has read it
   * already (each read makes new Buffers).
   */
  scale(f: Frame, displayW: number, displayH: number, planes: Buffer[] | null = f.data): RgbImage {
    const S = this.side;
    const key = `${f.width}x${f.height}/${f.format}/${displayW}x${displayH}`;
    if (key !== this.#key) {
      this.#sws?.freeContext();
      const k = S / Math.max(displayW, displayH);
      const w = Math.max(1, Math.min(S, Math.round(displayW * k)));
      const h = Math.max(1, Math.min(S, Math.round(displayH * k)));
      this.#sws = new SoftwareScaleContext();
      this.#sws.getContext(f.width, f.height, f.format as AVPixelFormat, w, h, AV_PIX_FMT_RGB24, SWS_AREA);
      FFmpegError.throwIfError(this.#sws.initContext(), 'letterbox swscale init');
      this.#out.fill(0);
      const top = Math.floor((S - h) / 2);
      const left = Math.floor((S - w) / 2);
      // a view starting at the centre rectangle's first pixel; the row stride stays the square's
      this.#dst = Buffer.from(this.#out.buffer, this.#out.byteOffset + (top * S + left) * 3, this.#out.byteLength - (top * S + left) * 3);
      this.#key = key;
    }
    if (!planes || !this.#sws) throw new Error('letterbox: frame without pixel data');
    FFmpegError.throwIfError(this.#sws.scaleSync(planes, f.linesize, 0, f.height, [this.#dst], [S * 3]), 'letterbox swscale');
    return { data: this.#out, width: S, height: S, stride: S * 3 };
  }

  free(): void {
    this.#sws?.freeContext();
    this.#sws = null;
    this.#key = '';
  }
}
