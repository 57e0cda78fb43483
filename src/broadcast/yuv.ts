/**
 * yuv420p frames for the H.264 encoders:
 * - YuvConverter: RGB → yuv420p (the annotated MP4 export, RGB input to the live encoder): one swscale context
 *   per output size, a fresh frame per call (an encoder may still hold the previous one), and timestamps forced
 *   strictly increasing in the encoder's time base (muxers and RTP require it).
 * - YuvCanvas: live video's encoder input, which stays YUV from the decoder to x264 (no RGB round trip).
 */
import { AV_PIX_FMT_RGB24, AV_PIX_FMT_YUV420P, SWS_BILINEAR } from 'node-av/constants';
import { FFmpegError, Frame, SoftwareScaleContext, type Rational } from 'node-av/lib';
import { InvalidStateError } from '../core/errors.js';
import type { RgbImage, YuvImage } from '../core/types.js';

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

/** A Buffer over the same memory (swscale takes Buffers); no copy, and none made for what already is one. */
function asBuffer(a: Uint8Array): Buffer {
  return Buffer.isBuffer(a) ? a : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * The live encoder's input picture: one yuv420p AVFrame of the encoded size, owned here and reused frame to
 * frame (no allocation per frame). Each ingested picture is loaded into it — copied when the sizes match,
 * scaled by swscale (bilinear) to the output width otherwise: the one copy on the live video path, which
 * leaves the decoder's own frame untouched — then drawn on in place (overlay, blur) and given to
 * LiveEncoder.encodeFrame(). x264 copies its input while encoding, so once an encode has settled the canvas is
 * free again; if a reference were still held, load() would get a fresh buffer (makeWritable) rather than write
 * under the encoder.
 */
export class YuvCanvas {
  readonly width: number;
  readonly height: number;
  /** The AVFrame to encode (valid until free()). */
  readonly frame = new Frame();
  #picture: YuvImage;
  #sws: SoftwareScaleContext | null = null;
  #swsKey = '';
  #freed = false;

  /** Sides are rounded down to even (4:2:0). */
  constructor(width: number, height: number) {
    this.width = Math.max(2, width & ~1);
    this.height = Math.max(2, height & ~1);
    this.frame.alloc();
    this.frame.width = this.width;
    this.frame.height = this.height;
    this.frame.format = AV_PIX_FMT_YUV420P;
    FFmpegError.throwIfError(this.frame.getBuffer(), 'YuvCanvas: frame buffer');
    this.#picture = this.#view();
  }

  /** The canvas's planes, to draw on (valid until the next load()). */
  get picture(): YuvImage {
    return this.#picture;
  }

  /**
   * Copies or scales a decoded yuv420p, limited-range frame into the canvas in native code (av_frame_copy, or
   * swscale frame to frame), synchronously. Unlike load(), nothing reads `src.data`: each such read wraps a decoded
   * frame's planes in new Buffers, which V8 counts as external memory until a GC (see src/ingest/video.ts).
   */
  loadFrame(src: Frame): YuvImage {
    const p = this.#writable();
    if (src.format !== AV_PIX_FMT_YUV420P) throw new RangeError(`YuvCanvas.loadFrame: a yuv420p frame expected, got format ${src.format}`);
    if (src.width === this.width && src.height === this.height) {
      FFmpegError.throwIfError(this.frame.copy(src), 'YuvCanvas: frame copy');
      return p;
    }
    FFmpegError.throwIfError(this.#scaler(src.width, src.height).scaleFrameSync(this.frame, src), 'YuvCanvas: swscale');
    return p;
  }

  /** Copies or scales `src` into the canvas (synchronously: `src` is valid only now); returns picture. */
  load(src: YuvImage): YuvImage {
    const p = this.#writable();
    const ch = this.height >> 1;
    if (src.width === this.width && src.height === this.height && src.strideY === p.strideY && src.strideU === p.strideU && src.strideV === p.strideV) {
      // Same geometry: three plain copies (one per plane, strides included).
      p.y.set(src.y.subarray(0, p.strideY * this.height));
      p.u.set(src.u.subarray(0, p.strideU * ch));
      p.v.set(src.v.subarray(0, p.strideV * ch));
      return p;
    }
    const ret = this.#scaler(src.width, src.height).scaleSync([asBuffer(src.y), asBuffer(src.u), asBuffer(src.v)], [src.strideY, src.strideU, src.strideV], 0, src.height, [asBuffer(p.y), asBuffer(p.u), asBuffer(p.v)], [p.strideY, p.strideU, p.strideV]);
    FFmpegError.throwIfError(ret, 'YuvCanvas: swscale');
    return p;
  }

  /** The canvas's picture, made writable first (an encode may still hold a reference to the frame). */
  #writable(): YuvImage {
    if (this.#freed) throw new InvalidStateError('YuvCanvas: load() after free()');
    if (!this.frame.isWritable) {
      FFmpegError.throwIfError(this.frame.makeWritable(), 'YuvCanvas: make writable');
      this.#picture = this.#view();
    }
    return this.#picture;
  }

  /** swscale from a `w`×`h` yuv420p picture to the canvas, set up again only when that size changes. */
  #scaler(w: number, h: number): SoftwareScaleContext {
    const key = `${w}x${h}`;
    if (key !== this.#swsKey || !this.#sws) {
      this.#sws?.freeContext();
      this.#sws = new SoftwareScaleContext();
      this.#sws.getContext(w, h, AV_PIX_FMT_YUV420P, this.width, this.height, AV_PIX_FMT_YUV420P, SWS_BILINEAR);
      FFmpegError.throwIfError(this.#sws.initContext(), 'YuvCanvas: swscale init');
      this.#swsKey = key;
    }
    return this.#sws;
  }

  #view(): YuvImage {
    const d = this.frame.data;
    if (!d) throw new InvalidStateError('YuvCanvas: frame has no planes');
    const ls = this.frame.linesize;
    return { y: d[0], u: d[1], v: d[2], strideY: ls[0], strideU: ls[1], strideV: ls[2], width: this.width, height: this.height };
  }

  /** Idempotent. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#sws?.freeContext();
    this.#sws = null;
    this.frame.free();
  }
}
