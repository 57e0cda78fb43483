/**
 * The shapes VideoSource (video.ts) takes and gives: its options, the frames and packets it yields, its counters.
 * Kept apart from the class so that consumers of frames (live ingest, broadcast, analysis) import types only.
 */
import type { Frame } from 'node-av/lib';
import type { RgbImage, YuvImage } from '../core/types.js';

export interface VideoSourceOptions {
  /** Analysis rate in frames per second; undefined = every source frame. */
  fps?: number;
  /** Downscale delivered frames to at most this width, aspect kept (never upscales). */
  maxWidth?: number;
  signal?: AbortSignal;
  /** Decoder threads; default 0 = FFmpeg's choice (frame threads, one per core). */
  threads?: number;
  /** 'auto' (default): decode only the key frames delivered when every GOP is no longer than 1/fps.
   *  'exact': decode every frame and deliver the one at or just after each sample time. */
  sampling?: 'auto' | 'exact';
  /** Network inputs: fail when no data arrives for this long (default 10 000 ms). */
  timeoutMs?: number;
  /** RTSP transport: 'tcp' (default; no losses through NAT and firewalls) or 'udp' (lower latency on a LAN). */
  rtspTransport?: 'tcp' | 'udp';
  /**
   * rtsp:// over TCP in H.264/H.265: 'native' (default) reads it with facecast's own client (ingest/rtsp), which
   * hands each frame over on its last RTP packet, one frame period before FFmpeg's demuxer; 'ffmpeg' uses
   * libavformat's. Whatever the native client does not support (UDP, other codecs, redirects) goes to FFmpeg.
   */
  rtspClient?: 'native' | 'ffmpeg';
  /** http(s) inputs: false refuses HTTP redirects (FFmpeg max_redirects=0; the server's default). Default true. */
  followRedirects?: boolean;
  /** Also deliver each frame letterboxed into a square of this side (the detector's input), made by swscale. */
  letterbox?: number;
  /**
   * Called synchronously with every packet of the video stream as read, before decoding (passthrough of the
   * camera's H.264). The packet's data is the caller's to keep; its time is on the same clock as the frames'.
   */
  onPacket?: (packet: EncodedPacket) => void;
  /** Asked per packet before copying it out for onPacket: false skips it (nobody listens right now). */
  wantsPackets?: () => boolean;
  /**
   * liveFrames() only. Asked per decoded frame: true delivers every frame, each with its `yuv` picture, not only
   * those on the `fps` grid (those off it come with `sampled: false`, no RGB and no letterbox). Live video needs
   * every frame while analysis runs at `fps`. Also disables key-frame-only decoding while true.
   */
  deliverAll?: () => boolean;
  /** false: never convert to RGB (frames carry only `yuv`, while deliverAll() is true). Default true. */
  rgb?: boolean;
  /**
   * Asked per packet before decoding (live skip-ahead, see ingest/lag.ts), with the packet's time and whether it
   * is a key frame: false drops it undecoded. After a refusal, every packet up to the next admitted key frame is
   * dropped too and the decoder is flushed before that key frame, so no decoded frame references a dropped one.
   */
  admit?: (ptsSec: number, keyframe: boolean) => boolean;
}

/** A compressed packet of the video stream (see VideoSourceOptions.onPacket and VideoSource.packets()). */
export interface EncodedPacket {
  /** As demuxed: Annex-B (RTSP, MPEG-TS) or length-prefixed (MP4); VideoSource.extradata says which. */
  data: Buffer;
  /** Presentation time, seconds, same origin as VideoFrame.ptsSec; NaN when the packet has none. */
  ptsSec: number;
  keyframe: boolean;
}

export interface VideoFrame {
  /** Source frame number: ptsSec × source fps (exact for constant-rate sources), else the decoded-frame count. */
  index: number;
  /** Presentation time in seconds from the stream's start (the first frame is ~0). */
  ptsSec: number;
  /** Valid until the next iteration step (see the module comment). */
  image: RgbImage;
  /** With the `letterbox` option: the whole frame scaled into a centred square on black; same lifetime. */
  letterbox?: RgbImage;
}

/** What liveFrames() yields: a decoded frame with what its consumers asked for. Same lifetime as VideoFrame. */
export interface DecodedFrame {
  index: number;
  ptsSec: number;
  /** On the `fps` sampling grid (analysis takes it); false: delivered only because `deliverAll` asked. */
  sampled: boolean;
  /** RGB, for frames on the grid (not with `rgb: false`). */
  image?: RgbImage;
  letterbox?: RgbImage;
  /** The decoded picture, yuv420p (read-only), while `deliverAll()` is true. */
  yuv?: YuvImage;
  /**
   * With `yuv`, when the decoded frame already is that picture (yuv420p, limited range, the delivered size): the
   * decoder's frame itself, for native copies (YuvCanvas.loadFrame). `yuv` is then made only when read: reading
   * it wraps the frame's planes in new Buffers (V8 external memory, freed only by a GC).
   */
  native?: Frame;
}

/** Counters for tests, benchmarks and logs. */
export interface VideoStats { packets: number; decoded: number; delivered: number; keyframeOnly: boolean }

/** A detached copy of a frame (its own pixel buffer), for consumers that keep frames past the next step. */
export function copyFrame(f: VideoFrame): VideoFrame {
  const copy: VideoFrame = { index: f.index, ptsSec: f.ptsSec, image: { ...f.image, data: f.image.data.slice() } };
  if (f.letterbox) copy.letterbox = { ...f.letterbox, data: f.letterbox.data.slice() };
  return copy;
}
