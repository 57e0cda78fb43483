/**
 * LiveEncoder: ONE H.264 encode of a stream's annotated frames, shared by every WebRTC viewer of that stream.
 *
 * x264 (ultrafast, zerolatency, baseline profile → constrained baseline, level 3.1, yuv420p, no B-frames) emits
 * Annex-B access units with SPS/PPS repeated before every IDR (no global header), so a viewer can start at any
 * IDR. `requestKeyframe()` marks the next frame `pict_type = I`; with libx264's `forced-idr=1` that frame is an
 * IDR (tested: the very packet of that frame is a keyframe). This uses node-av's low-level CodecContext, not
 * the high-level `Encoder`: `Encoder.encode()` resets every frame's pict_type to NONE (and rescales pts to
 * 1/fps), so a forced keyframe cannot get through it.
 *
 * RTP packetisation is done here (RFC 6184: single NAL unit packets, FU-A for NAL units larger than the MTU; no
 * STAP-A) rather than by node-av's Muxer('rtp'): the payloads are plain buffers that each viewer wraps in its
 * own RTP header (own sequence numbers, starting at its first IDR), and there is no second muxer to keep in
 * step with the encoder's timestamps.
 */
import { AVERROR_EAGAIN, AVERROR_EOF, AV_PICTURE_TYPE_I, AV_PICTURE_TYPE_NONE, AV_PIX_FMT_YUV420P, FF_ENCODER_LIBX264 } from 'node-av/constants';
import { Codec, CodecContext, Dictionary, FFmpegError, Packet, Rational } from 'node-av/lib';
import { YuvConverter } from './yuv.js';
import type { RgbImage } from '../core/types.js';
import type { FrameRecord } from '../core/records.js';
import { Logger } from '../core/log.js';
import { annotateFrame } from './overlay/annotate.js';
import { atlasFor } from './overlay/font.js';

const log = new Logger('LiveEncoder');

/** RTP video clock. */
export const RTP_CLOCK = 90000;
const TIME_BASE = new Rational(1, RTP_CLOCK);
/** Payload bytes per RTP packet: leaves room for RTP/SRTP/UDP/IP headers and extensions under a 1500 MTU. */
export const RTP_MAX_PAYLOAD = 1200;

export interface LiveEncoderOptions {
  /** Nominal frame rate (the analysis rate): x264 sizes its rate control by it. Default 25. */
  fps?: number;
  /** Seconds between periodic IDRs. Default 2. */
  gopSec?: number;
  /** Target bitrate, bit/s. Default: ~0.1 bit per pixel per frame, at least 300 kb/s. */
  bitrate?: number;
}

/** One encoded frame, already split into RTP payloads (the marker bit goes on the last). */
export interface EncodedFrame {
  /** RTP timestamp (90 kHz, wraps at 2^32). */
  rtpTimestamp: number;
  keyframe: boolean;
  payloads: Buffer[];
  /** Wall time spent in colour conversion + x264, ms. */
  encodeMs: number;
}

export class LiveEncoder {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  frames = 0;
  keyframes = 0;
  #ctx: CodecContext;
  #pkt: Packet;
  readonly #yuv: YuvConverter;
  #forceKey = true; // the first frame is an IDR anyway; say so explicitly
  #closed = false;

  private constructor(width: number, height: number, fps: number, ctx: CodecContext, yuv: YuvConverter) {
    this.width = width;
    this.height = height;
    this.fps = fps;
    this.#ctx = ctx;
    this.#pkt = new Packet();
    this.#pkt.alloc();
    this.#yuv = yuv;
  }

  /** Frames given to encode() must be `width`×`height` (odd sizes lose their last row/column: yuv420p). */
  static async open(width: number, height: number, opts: LiveEncoderOptions = {}): Promise<LiveEncoder> {
    const w = width & ~1;
    const h = height & ~1;
    const fps = Math.max(1, Math.round(opts.fps ?? 25));
    const bitrate = opts.bitrate ?? Math.max(300_000, Math.round(w * h * fps * 0.1));
    const codec = Codec.findEncoderByName(FF_ENCODER_LIBX264);
    if (!codec) throw new Error('LiveEncoder: libx264 is not available in this FFmpeg build');
    const ctx = new CodecContext();
    ctx.allocContext3(codec);
    ctx.width = w;
    ctx.height = h;
    ctx.pixelFormat = AV_PIX_FMT_YUV420P;
    // 90 kHz: pts are RTP timestamps as they are; the frame rate is what x264's rate control divides the bitrate
    // by (without it x264 assumes an absurd rate and starves the bitrate, see FIELD-NOTES).
    ctx.timeBase = TIME_BASE;
    ctx.framerate = new Rational(fps, 1);
    ctx.gopSize = Math.max(1, Math.round(fps * (opts.gopSec ?? 2)));
    ctx.maxBFrames = 0;
    ctx.bitRate = BigInt(bitrate);
    const kbps = Math.round(bitrate / 1000);
    using options = Dictionary.fromObject({
      preset: 'ultrafast',
      tune: 'zerolatency',
      profile: 'baseline',
      level: '3.1',
      'forced-idr': '1',
      // A VBV cap keeps an IDR from bursting far above the average rate (a burst is what a jitter buffer drops).
      x264opts: `log=-1:vbv-maxrate=${Math.round(kbps * 1.5)}:vbv-bufsize=${kbps}`,
    });
    const ret = await ctx.open2(codec, options);
    if (ret < 0) ctx.freeContext();
    FFmpegError.throwIfError(ret, 'LiveEncoder: open libx264');
    return new LiveEncoder(w, h, fps, ctx, new YuvConverter(w, h, TIME_BASE));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next encoded frame will be an IDR (with SPS/PPS): a viewer joined or sent PLI/FIR. */
  requestKeyframe(): void {
    this.#forceKey = true;
  }

  /**
   * Encodes one (already annotated) RGB frame taken at `ptsSec`. Returns undefined when x264 produced no
   * packet (it should not, with zerolatency) or after close(). Timestamps are forced strictly increasing.
   */
  async encode(image: RgbImage, ptsSec: number): Promise<EncodedFrame | undefined> {
    if (this.#closed) return undefined;
    const t0 = performance.now();
    using yuv = this.#yuv.convert(image, ptsSec);
    const forced = this.#forceKey;
    this.#forceKey = false;
    yuv.pictType = forced ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    FFmpegError.throwIfError(await this.#ctx.sendFrame(yuv), 'LiveEncoder: send frame');
    const payloads: Buffer[] = [];
    let keyframe = false;
    let got = false;
    for (;;) {
      const ret = await this.#ctx.receivePacket(this.#pkt);
      if (ret === AVERROR_EAGAIN || ret === AVERROR_EOF) break;
      FFmpegError.throwIfError(ret, 'LiveEncoder: receive packet');
      try {
        const data = this.#pkt.data;
        if (!data) continue;
        got = true;
        keyframe ||= this.#pkt.isKeyframe;
        payloads.push(...packetizeH264(splitAnnexB(data)));
      } finally {
        this.#pkt.unref();
      }
    }
    // No B-frames and zerolatency: one packet per frame, out in input order, so the input pts is its timestamp.
    const rtpTimestamp = Number(yuv.pts & 0xffffffffn);
    if (!got) {
      if (forced) this.#forceKey = true; // the request was not served yet
      return undefined;
    }
    this.frames++;
    if (keyframe) this.keyframes++;
    return { rtpTimestamp, keyframe, payloads, encodeMs: performance.now() - t0 };
  }

  /** Frees the encoder (no flush: a live stream's last buffered frame is worthless). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ctx.freeContext();
    this.#pkt.free();
    this.#yuv.free();
  }
}

/** NAL units of an Annex-B byte stream, start codes removed. */
export function splitAnnexB(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = -1;
  let i = 0;
  while (i + 2 < buf.length) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      if (start >= 0) out.push(trimZeros(buf.subarray(start, i)));
      i += 3;
      start = i;
    } else i++;
  }
  if (start >= 0 && start < buf.length) out.push(buf.subarray(start));
  else if (start < 0 && buf.length > 0) out.push(buf); // no start code: treat as one NAL unit
  return out.filter((n) => n.length > 0);
}

/** Drops the trailing zero bytes that belong to the next 4-byte start code. */
function trimZeros(nal: Buffer): Buffer {
  let end = nal.length;
  while (end > 0 && nal[end - 1] === 0) end--;
  return nal.subarray(0, end);
}

/** RFC 6184 packetization-mode 1 payloads of one access unit: single NAL unit packets, or FU-A fragments. */
export function packetizeH264(nalus: Buffer[], maxPayload = RTP_MAX_PAYLOAD): Buffer[] {
  const out: Buffer[] = [];
  for (const nal of nalus) {
    // AUD (9) and filler (12) carry nothing a WebRTC decoder needs.
    const type = nal[0] & 0x1f;
    if (type === 9 || type === 12) continue;
    if (nal.length <= maxPayload) {
      out.push(nal);
      continue;
    }
    const indicator = (nal[0] & 0xe0) | 28; // F and NRI of the NAL, type FU-A
    const body = nal.subarray(1);
    const step = maxPayload - 2;
    for (let off = 0; off < body.length; off += step) {
      const first = off === 0;
      const last = off + step >= body.length;
      const header = (first ? 0x80 : 0) | (last ? 0x40 : 0) | type;
      out.push(Buffer.concat([Buffer.from([indicator, header]), body.subarray(off, off + step)]));
    }
  }
  return out;
}

/** What StreamBroadcast needs from a stream: StreamRuntime fits (it sets latestFrame before emitting `record`). */
export interface AnalysedStream {
  on(event: 'record', listener: (rec: FrameRecord) => void): unknown;
  off(event: 'record', listener: (rec: FrameRecord) => void): unknown;
  readonly latestFrame: { image: RgbImage; ptsSec: number } | undefined;
}

/** A receiver of the shared encode (one WebRTC viewer). send() must not block. */
export interface BroadcastSink {
  readonly connected: boolean;
  started: boolean;
  readonly inFlight: number;
  framesSent: number;
  framesSkipped: number;
  firstFrameAt: number | undefined;
  send(payload: Buffer, rtpTimestamp: number, marker: boolean): void;
}

/** A sink with more packets than this still unsent is behind: it skips frames until the next IDR. */
const MAX_IN_FLIGHT = 400;

/**
 * One stream's shared encode: listens to `record` only while it has sinks, annotates a copy of each analysed
 * frame, encodes it once and hands the RTP payloads to every sink. A frame that arrives while the previous one
 * is still being encoded is dropped (never queued): latency stays bounded when the encoder falls behind.
 */
export class StreamBroadcast {
  readonly id: string;
  readonly sinks = new Set<BroadcastSink>();
  framesEncoded = 0;
  framesDropped = 0;
  /** Sum of encode times (RGB→YUV + x264), ms: divide by framesEncoded. */
  encodeMsTotal = 0;
  readonly #stream: AnalysedStream;
  readonly #opts: LiveEncoderOptions;
  #encoder: LiveEncoder | undefined;
  #busy = false;
  #keyWanted = false;
  #listening = false;
  #closed = false;
  readonly #onRecord = (rec: FrameRecord): void => this.#handle(rec);

  constructor(id: string, stream: AnalysedStream, opts: LiveEncoderOptions = {}) {
    this.id = id;
    this.#stream = stream;
    this.#opts = opts;
  }

  attach(sink: BroadcastSink): void {
    if (this.#closed) return;
    this.sinks.add(sink);
    if (!this.#listening) {
      this.#listening = true;
      this.#stream.on('record', this.#onRecord);
    }
  }

  detach(sink: BroadcastSink): void {
    this.sinks.delete(sink);
  }

  /** Coalesced: any number of requests before the next frame give one IDR. */
  requestKeyframe(): void {
    this.#keyWanted = true;
  }

  /** Stops listening and frees the encoder (a frame being encoded finishes first). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.sinks.clear();
    if (this.#listening) this.#stream.off('record', this.#onRecord);
    if (!this.#busy) this.#encoder?.close();
  }

  #handle(rec: FrameRecord): void {
    const frame = this.#stream.latestFrame;
    if (this.#closed || !frame || this.sinks.size === 0) return;
    if (this.#busy) {
      this.framesDropped++;
      return;
    }
    this.#busy = true;
    this.#encode(frame.image, frame.ptsSec, rec)
      .catch((e: unknown) => {
        this.framesDropped++;
        log.warn(`stream ${this.id}: live encode failed: ${e instanceof Error ? e.message : String(e)}`);
      })
      .finally(() => {
        this.#busy = false;
        if (this.#closed) this.#encoder?.close();
      });
  }

  async #encode(image: RgbImage, ptsSec: number, rec: FrameRecord): Promise<void> {
    // The stream's frame is shared (snapshots read it): draw on a copy.
    const copy: RgbImage = { data: Uint8Array.from(image.data.subarray(0, image.stride * image.height)), width: image.width, height: image.height, stride: image.stride };
    annotateFrame(copy, rec, await atlasFor(image.height));
    let enc = this.#encoder;
    if (enc && (enc.width !== (image.width & ~1) || enc.height !== (image.height & ~1))) {
      enc.close(); // the camera changed resolution: a new encoder (its first frame is an IDR)
      enc = undefined;
    }
    if (!enc) {
      enc = await LiveEncoder.open(image.width, image.height, this.#opts);
      this.#encoder = enc;
    }
    if (this.#closed) return;
    if (this.#keyWanted) {
      this.#keyWanted = false;
      enc.requestKeyframe();
    }
    const out = await enc.encode(copy, ptsSec);
    if (!out) return;
    this.framesEncoded++;
    this.encodeMsTotal += out.encodeMs;
    this.#fanOut(out);
  }

  #fanOut(f: EncodedFrame): void {
    const last = f.payloads.length - 1;
    for (const s of this.sinks) {
      if (!s.connected) continue;
      if (s.inFlight > MAX_IN_FLIGHT) {
        // Behind (slow link or gone): skip, and restart cleanly at an IDR.
        s.started = false;
        s.framesSkipped++;
        this.#keyWanted = true;
        continue;
      }
      if (!s.started) {
        if (!f.keyframe) {
          s.framesSkipped++;
          continue;
        }
        s.started = true;
        s.firstFrameAt ??= performance.now();
      }
      f.payloads.forEach((p, i) => s.send(p, f.rtpTimestamp, i === last));
      s.framesSent++;
    }
  }
}
