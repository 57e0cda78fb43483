import { AV_PIX_FMT_RGB24 } from 'node-av/constants';
import { FFmpegError, Frame } from 'node-av/lib';
import type { RgbImage } from '../core/types.js';

/**
 * A packed RGB24 frame with its own buffer, and an RgbImage of its pixels. The pixels are read from JS once, here:
 * the frame is only ever written by swscale (scaleFrameSync), so its buffer, and that view, stay the same.
 */
export function persistentRgb(width: number, height: number): { frame: Frame; image: RgbImage } {
  const frame = new Frame();
  frame.alloc();
  frame.width = width;
  frame.height = height;
  frame.format = AV_PIX_FMT_RGB24;
  // Alignment 1: rows packed (stride = width × 3), as every RgbImage consumer (sharp, exports, tests) expects.
  FFmpegError.throwIfError(frame.getBuffer(1), 'RGB frame buffer');
  const data = frame.data?.[0];
  if (!data) throw new Error('RGB frame without a buffer');
  const stride = frame.linesize[0];
  return { frame, image: { data: new Uint8Array(data.buffer, data.byteOffset, stride * height), width, height, stride } };
}

/**
 * persistentRgb in SharedArrayBuffer memory: the frame is made over the buffer (Frame.fromVideoBuffer keeps a
 * reference, so swscale writes straight into it; test/integration/video-ingest.test.ts checks that), and the image
 * can go to a worker thread without a copy.
 */
export function sharedRgb(width: number, height: number): { frame: Frame; image: RgbImage } {
  const sab = new SharedArrayBuffer(width * height * 3);
  const frame = Frame.fromVideoBuffer(Buffer.from(sab), { width, height, format: AV_PIX_FMT_RGB24 });
  const stride = frame.linesize[0];
  if (stride !== width * 3) throw new Error(`shared RGB frame: unexpected stride ${stride} for width ${width}`);
  return { frame, image: { data: new Uint8Array(sab), width, height, stride } };
}

/**
 * The RGB frames a VideoSource converts into: one persistentRgb, or with `ring` > 1 that many sharedRgb frames
 * used in turn (VideoSource.useRing), set up again only when the output size changes.
 */
export class RgbOutputs {
  #list: { frame: Frame; image: RgbImage }[] = [];
  #next = 0;

  get ready(): boolean {
    return this.#list.length > 0;
  }

  setup(width: number, height: number, ring: number): void {
    this.free();
    this.#list = ring > 1 ? Array.from({ length: ring }, () => sharedRgb(width, height)) : [persistentRgb(width, height)];
  }

  /** The frame to convert the next picture into (and its pixels, valid until `ring` more calls). */
  next(): { frame: Frame; image: RgbImage } {
    const r = this.#list[this.#next];
    if (!r) throw new Error('RgbOutputs: used before setup()');
    this.#next = (this.#next + 1) % this.#list.length;
    return r;
  }

  /** Idempotent. */
  free(): void {
    for (const r of this.#list) r.frame.free();
    this.#list = [];
    this.#next = 0;
  }
}
