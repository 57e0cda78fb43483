/**
 * RGB → yuv420p frames for the H.264 encoders (the annotated MP4 export and the live WebRTC encode): one
 * swscale context per output size, a fresh frame per call (an encoder may still hold the previous one), and
 * timestamps forced strictly increasing in the encoder's time base (muxers and RTP require it).
 */
import { AV_PIX_FMT_RGB24, AV_PIX_FMT_YUV420P, SWS_BILINEAR } from 'node-av/constants';
import { FFmpegError, Frame, SoftwareScaleContext, type Rational } from 'node-av/lib';
import type { RgbImage } from '../core/types.js';

export class YuvConverter {
  /** Output size: `out`, else the input's, rounded down to even (4:2:0 chroma needs it). */
  readonly width: number;
  readonly height: number;
  readonly timeBase: Rational;
  readonly #inHeight: number;
  readonly #sws = new SoftwareScaleContext();
  #lastPts = -1n;
  #freed = false;

  /** Input frames are `width`×`height`; `out` scales them in the same swscale pass (live output width). */
  constructor(width: number, height: number, timeBase: Rational, out?: { width: number; height: number }) {
    const inW = width & ~1;
    this.#inHeight = height & ~1;
    this.width = (out?.width ?? width) & ~1;
    this.height = (out?.height ?? height) & ~1;
    this.timeBase = timeBase;
    this.#sws.getContext(inW, this.#inHeight, AV_PIX_FMT_RGB24, this.width, this.height, AV_PIX_FMT_YUV420P, SWS_BILINEAR);
    FFmpegError.throwIfError(this.#sws.initContext(), 'YuvConverter: swscale init');
  }

  /** A new yuv420p frame holding `image` at `ptsSec`; the caller owns it (`using frame = conv.convert(…)`). */
  convert(image: RgbImage, ptsSec: number): Frame {
    const { yuv, src, planes } = this.#prepare(image, ptsSec);
    try {
      FFmpegError.throwIfError(this.#sws.scaleSync([src], [image.stride], 0, this.#inHeight, planes, yuv.linesize.slice(0, 3)), 'YuvConverter: swscale');
    } catch (e) {
      yuv.free();
      throw e;
    }
    return yuv;
  }

  /**
   * convert() with the colour conversion on libuv's thread pool: the live encoder uses it so that a 720p frame's
   * ~2 ms of swscale does not hold up the event loop (ingest, analysis and RTP fan-out of every stream).
   * `image` must not change until the promise settles.
   */
  async convertAsync(image: RgbImage, ptsSec: number): Promise<Frame> {
    const { yuv, src, planes } = this.#prepare(image, ptsSec);
    try {
      FFmpegError.throwIfError(await this.#sws.scale([src], [image.stride], 0, this.#inHeight, planes, yuv.linesize.slice(0, 3)), 'YuvConverter: swscale');
    } catch (e) {
      yuv.free();
      throw e;
    }
    return yuv;
  }

  /** The output frame (timestamped, buffers allocated) and the source as a Buffer view. */
  #prepare(image: RgbImage, ptsSec: number): { yuv: Frame; src: Buffer; planes: Buffer[] } {
    let pts = BigInt(Math.round((ptsSec * this.timeBase.den) / this.timeBase.num));
    if (pts <= this.#lastPts) pts = this.#lastPts + 1n;
    this.#lastPts = pts;
    const yuv = new Frame();
    yuv.alloc();
    yuv.width = this.width;
    yuv.height = this.height;
    yuv.format = AV_PIX_FMT_YUV420P;
    yuv.pts = pts;
    yuv.timeBase = this.timeBase;
    FFmpegError.throwIfError(yuv.getBuffer(), 'YuvConverter: frame buffer');
    const planes = yuv.data;
    if (!planes) {
      yuv.free();
      throw new Error('YuvConverter: frame has no planes');
    }
    return { yuv, src: Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), planes: planes.slice(0, 3) };
  }

  /** Idempotent. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#sws.freeContext();
  }
}
