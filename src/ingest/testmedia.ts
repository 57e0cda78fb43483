/**
 * Makes test media with node-av itself (libx264, or libx265 with `codec: 'h265'`), so tests never depend on an
 * ffmpeg CLI being installed.
 *
 *   await makeClip('/tmp/a.mp4', { width: 320, height: 240, fps: 25, seconds: 3, frame: (i, rgb) => { ... } });
 *
 * The container follows the file extension: `.mp4` (moov written at the end, like most cameras and phones),
 * `.ts` (MPEG-TS, in-band SPS/PPS, what a live stream looks like), or `.mkv`; `faststart` puts the MP4 index first.
 * Key frames come every `gop` frames exactly (scene-cut detection is off), so tests can rely on the GOP.
 */
import { Encoder, Muxer } from 'node-av/api';
import { AV_PIX_FMT_RGB24, AV_PIX_FMT_YUV420P, FF_ENCODER_LIBX264, FF_ENCODER_LIBX265, SWS_BILINEAR } from 'node-av/constants';
import { FFmpegError, Frame, Rational, SoftwareScaleContext } from 'node-av/lib';
import type { Packet } from 'node-av/lib';

export interface ClipOptions {
  width: number;
  height: number;
  /** Integer frames per second. */
  fps: number;
  seconds: number;
  /** Draws frame `i` into `rgb` (packed RGB24, width*height*3 bytes; it holds the previous frame's pixels). */
  frame: (i: number, rgb: Uint8Array) => void;
  /** Default h264. h265: libx265 (crf and profile are x264's and do not apply; key frames every `gop` as well). */
  codec?: 'h264' | 'h265';
  /** Frames between key frames; default: one key frame per second (fps). */
  gop?: number;
  /** Consecutive B-frames allowed; default 2 (real encoders use them, and they reorder pts against dts). */
  bframes?: number;
  /** x264 constant-quality factor; default 20 (low enough that colour blocks survive). */
  crf?: number;
  /** x264 profile; default x264's choice for yuv420p (High). */
  profile?: 'baseline' | 'main' | 'high';
  /** MP4 only: index (moov) at the front, as web-ready files have; then a truncated file still opens. */
  faststart?: boolean;
}

/** Encodes `seconds × fps` frames drawn by `opts.frame` into an H.264 file at `path`. */
export async function makeClip(path: string, opts: ClipOptions): Promise<void> {
  const { width, height, fps } = opts;
  if (!Number.isInteger(fps) || fps <= 0) throw new RangeError(`makeClip: fps must be a positive integer, got ${fps}`);
  if (width % 2 || height % 2) throw new RangeError(`makeClip: width and height must be even (yuv420p), got ${width}x${height}`);
  const gop = opts.gop ?? fps;
  const count = Math.round(opts.seconds * fps);
  const ts = path.toLowerCase().endsWith('.ts');

  // Give x264 the frame rate (time base 1/fps): without one it assumes an absurd rate and starves the bitrate.
  using encoder = opts.codec === 'h265' ? await Encoder.create(FF_ENCODER_LIBX265, {
    gopSize: gop,
    maxBFrames: opts.bframes ?? 2,
    threadCount: 1,
    context: { framerate: new Rational(fps, 1) },
    options: { preset: 'ultrafast', 'x265-params': `keyint=${gop}:min-keyint=${gop}:scenecut=0:bframes=${opts.bframes ?? 2}:log-level=none${ts ? ':repeat-headers=1' : ''}` },
  }) : await Encoder.create(FF_ENCODER_LIBX264, {
    gopSize: gop,
    maxBFrames: opts.bframes ?? 2,
    threadCount: 1, // deterministic output, and tests run several encoders side by side
    context: { framerate: new Rational(fps, 1) },
    options: {
      preset: 'veryfast',
      ...(opts.profile ? { profile: opts.profile } : {}),
      crf: opts.crf ?? 20,
      // Fixed GOP: no extra key frames at scene cuts (synthetic frames change abruptly).
      // log=-1: x264 prints its statistics to stderr otherwise, in every test.
      x264opts: `keyint=${gop}:min-keyint=${gop}:scenecut=0:log=-1${ts ? ':repeat-headers=1' : ''}`,
    },
  });
  await using muxer = await Muxer.open(path, opts.faststart ? { options: { movflags: '+faststart' } } : {});
  const stream = muxer.addStream(encoder);

  // RGB24 → yuv420p here rather than with the Encoder's autoFormat, which would pick yuv444p (High 4:4:4, which
  // browsers and many decoders refuse). swscale's default matrix is BT.601 limited range, what decoders assume for
  // untagged streams, so colours survive the round trip.
  using sws = new SoftwareScaleContext();
  sws.getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P, SWS_BILINEAR);
  FFmpegError.throwIfError(sws.initContext(), 'makeClip: swscale init');
  const rgb = Buffer.alloc(width * height * 3);
  const tb = { num: 1, den: fps };
  const write = async (): Promise<void> => {
    for (;;) {
      const pkt: Packet | null | undefined = await encoder.receive();
      if (!pkt) return; // null: needs more input; undefined (EOF): flushed
      try {
        await muxer.writePacket(pkt, stream);
      } finally {
        pkt.free();
      }
    }
  };
  for (let i = 0; i < count; i++) {
    opts.frame(i, rgb);
    // A fresh yuv frame each time: the encoder may still hold a reference to the previous one.
    using yuv = yuvFrame(width, height);
    const planes = yuv.data;
    if (!planes) throw new Error('makeClip: frame has no planes');
    FFmpegError.throwIfError(sws.scaleSync([rgb], [width * 3], 0, height, planes.slice(0, 3), yuv.linesize.slice(0, 3)), 'makeClip: swscale');
    yuv.pts = BigInt(i);
    yuv.timeBase = new Rational(tb.num, tb.den);
    await encoder.encode(yuv);
    await write();
  }
  await encoder.flush();
  await write();
}

/** A new yuv420p frame of this size with its buffers allocated (an encoder's input; the caller frees it). */
export function yuvFrame(width: number, height: number): Frame {
  const f = new Frame();
  f.alloc();
  f.width = width;
  f.height = height;
  f.format = AV_PIX_FMT_YUV420P;
  FFmpegError.throwIfError(f.getBuffer(), 'yuvFrame: frame buffer');
  return f;
}

/** Fills a rectangle of a packed RGB24 image (clipped to the image). */
export function fillRect(rgb: Uint8Array, width: number, x: number, y: number, w: number, h: number, [r, g, b]: readonly [number, number, number]): void {
  const height = rgb.length / (width * 3);
  const x0 = Math.max(0, Math.floor(x));
  const y0 = Math.max(0, Math.floor(y));
  const x1 = Math.min(width, Math.floor(x + w));
  const y1 = Math.min(height, Math.floor(y + h));
  for (let yy = y0; yy < y1; yy++) {
    let o = (yy * width + x0) * 3;
    for (let xx = x0; xx < x1; xx++, o += 3) {
      rgb[o] = r;
      rgb[o + 1] = g;
      rgb[o + 2] = b;
    }
  }
}
