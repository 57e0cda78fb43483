/**
 * A decoded frame as a yuv420p picture (YuvImage) for live video. The common case — a yuv420p, limited-range,
 * square-pixel frame of the delivered size — is a zero-copy view of the decoder's planes (valid while the frame
 * is, read-only: the decoder may still use it as a reference picture). Anything else is converted by swscale
 * into buffers reused from frame to frame:
 * - other pixel formats (yuv422p, nv12, …), and full-range frames (yuvj420p, or yuv420p flagged full range):
 *   converted to limited-range yuv420p, what x264 is given and what the overlay's colours assume;
 * - non-square pixels or a `maxWidth` cap: scaled to the delivered (display) size, so boxes from the analysis
 *   (made on the RGB frames of that size) land where they belong.
 */
import { AVCOL_RANGE_JPEG, AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P, SWS_BILINEAR } from 'node-av/constants';
import type { AVPixelFormat } from 'node-av/constants';
import { FFmpegError, SoftwareScaleContext, type Frame } from 'node-av/lib';
import type { YuvImage } from '../core/types.js';

/**
 * Whether `f` is already the delivered picture: yuv420p, limited range, `width`×`height`. Such a frame can be
 * copied natively (YuvCanvas.loadFrame) without ever wrapping its planes in JS Buffers.
 */
export function isDirectYuv(f: Frame, width: number, height: number): boolean {
  return f.format === AV_PIX_FMT_YUV420P && f.colorRange !== AVCOL_RANGE_JPEG && f.width === width && f.height === height;
}

export class YuvFrameView {
  /** Frames converted by swscale (not a plain view). */
  converted = 0;
  #sws: SoftwareScaleContext | null = null;
  #key = '';
  #planes: Buffer[] = [];
  #out: YuvImage | null = null;

  /**
   * `f` as a `width`×`height` yuv420p picture; valid until the next call or until `f` is unreferenced. Null for a
   * frame without pixel data (the caller reports it as a broken stream).
   */
  view(f: Frame, width: number, height: number): YuvImage | null {
    const planes = f.data;
    if (!planes) return null;
    const full = f.colorRange === AVCOL_RANGE_JPEG;
    if (isDirectYuv(f, width, height)) {
      const ls = f.linesize;
      return { y: planes[0], u: planes[1], v: planes[2], strideY: ls[0], strideU: ls[1], strideV: ls[2], width, height };
    }
    // A yuv420p frame flagged full range is described to swscale as yuvj420p (same layout, full range), so that
    // the conversion expands nothing and only compresses the range.
    const fmt = (f.format === AV_PIX_FMT_YUV420P && full ? AV_PIX_FMT_YUVJ420P : f.format) as AVPixelFormat;
    const key = `${f.width}x${f.height}/${fmt}/${width}x${height}`;
    if (key !== this.#key || !this.#sws || !this.#out) {
      this.#sws?.freeContext();
      this.#sws = new SoftwareScaleContext();
      this.#sws.getContext(f.width, f.height, fmt, width, height, AV_PIX_FMT_YUV420P, SWS_BILINEAR);
      FFmpegError.throwIfError(this.#sws.initContext(), 'YuvFrameView: swscale init');
      const cw = (width + 1) >> 1;
      const ch = (height + 1) >> 1;
      this.#planes = [Buffer.alloc(width * height), Buffer.alloc(cw * ch, 128), Buffer.alloc(cw * ch, 128)];
      this.#out = { y: this.#planes[0], u: this.#planes[1], v: this.#planes[2], strideY: width, strideU: cw, strideV: cw, width, height };
      this.#key = key;
    }
    const o = this.#out;
    FFmpegError.throwIfError(this.#sws.scaleSync(planes, f.linesize, 0, f.height, this.#planes, [o.strideY, o.strideU, o.strideV]), 'YuvFrameView: swscale');
    this.converted++;
    return o;
  }

  /** Idempotent. */
  free(): void {
    this.#sws?.freeContext();
    this.#sws = null;
    this.#key = '';
    this.#out = null;
  }
}
