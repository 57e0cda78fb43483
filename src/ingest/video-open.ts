/**
 * Opening an input for VideoSource: what a source string is (the one parser the config and the source policy use,
 * core/source.ts), which client reads it (rtsp:// over TCP in H.264/H.265: facecast's own, ingest/rtsp; the rest
 * and what ours does not support: libavformat), the FFmpeg options per kind of input (RTSP over TCP with timeouts,
 * no HTTP redirects unless asked for, files restricted to the file protocol, .sdp inputs as live RTP), the checks
 * that refuse what cannot be a video stream, and the decoder's threading. Errors are InputErrors with the codes
 * callers switch on.
 */
import { stat } from 'node:fs/promises';
import { FF_THREAD_SLICE, AVDISCARD_ALL, AVMEDIA_TYPE_VIDEO } from 'node-av/constants';
import { Codec, CodecContext, CodecParameters, Dictionary, FFmpegError, FormatContext, Rational } from 'node-av/lib';
import type { Stream } from 'node-av/lib';
import { AbortError, InputError, UsageError, errorMessage } from '../core/errors.js';
import { Logger } from '../core/log.js';
import { parseSource } from '../core/source.js';
import { FormatInput, type InputInfo, type PacketInput } from './packet-input.js';
import { RtspInput, RtspUnsupported } from './rtsp/session.js';
import type { VideoSourceOptions } from './video-types.js';

const log = new Logger('VideoSource');

/**
 * An .sdp input describes RTP arriving on a loopback UDP port (WebRTC ingest forwards there). Reordering waits at
 * most 100 ms for a missing packet (the publisher retransmits on NACK well within that); a 4 MB socket buffer
 * holds a key frame burst.
 */
const SDP_OPTIONS = { protocol_whitelist: 'file,udp,rtp', reorder_queue_size: '128', max_delay: '100000', buffer_size: '4194304', fflags: 'nobuffer' };

/**
 * Largest frames accepted: 8K UHD (7680×4320) fits. A bigger (or forged) header would make every frame buffer
 * hundreds of MB; refusing at open keeps one bad source from exhausting memory for every stream.
 */
const MAX_SIDE = 16384;
const MAX_PIXELS = 40e6;

/** Demuxers of still images: a JPEG handed over as a video would otherwise "play" as one frame. */
const STILL_FORMATS = /^(image2|.*_pipe|tty)$/;

/** An opened input and its opened decoder. The caller owns them. */
export interface OpenedInput {
  input: PacketInput;
  cc: CodecContext;
  network: boolean;
}

/** Opens `url` and its video decoder (see the module comment); frees everything on failure. */
export async function openInput(url: string, opts: VideoSourceOptions): Promise<OpenedInput> {
    if (opts.fps !== undefined && !(opts.fps > 0 && Number.isFinite(opts.fps))) throw new UsageError(`fps must be a positive number, got ${opts.fps}`);
    if (opts.maxWidth !== undefined && !(Number.isInteger(opts.maxWidth) && opts.maxWidth >= 2)) throw new UsageError(`maxWidth must be an integer >= 2, got ${opts.maxWidth}`);
    const { target, network, sdp, http, rtsp } = await resolveInput(url);
    const aborted = (): AbortError => new AbortError(`${url}: aborted while opening`, { cause: opts.signal?.reason });
    if (opts.signal?.aborted) throw aborted();
    if (rtsp && opts.rtspTransport !== 'udp' && opts.rtspClient !== 'ffmpeg') {
      try {
        return await openNative(url, opts);
      } catch (e) {
        if (opts.signal?.aborted) throw aborted();
        if (!(e instanceof RtspUnsupported)) throw e;
        log.info(`openInput() [source:${url}] read by FFmpeg's RTSP client: ${e.message}`);
      }
    }
    const fc = new FormatContext();
    fc.allocContext(); // allocated before opening so that interrupt() reaches a blocking open (abort)
    const onAbort = (): void => fc.interrupt();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const us = String((opts.timeoutMs ?? 10_000) * 1000);
    // TCP for RTSP: analysis wants every packet more than it wants UDP's lower latency.
    // Redirects refused unless asked for: a source the server's policy allowed must not bounce FFmpeg elsewhere.
    const redirects = http && opts.followRedirects === false ? { max_redirects: '0' } : {};
    // A plain file may only read files: a playlist or concat list in it cannot make FFmpeg open network URLs.
    const dict = sdp ? Dictionary.fromObject(SDP_OPTIONS) : network ? Dictionary.fromObject({ rw_timeout: us, timeout: us, rtsp_transport: opts.rtspTransport ?? 'tcp', ...redirects }) : Dictionary.fromObject({ protocol_whitelist: 'file' });
    let opened = false;
    let cc: CodecContext | null = null;
    const check = (ret: number, what: string): void => {
      if (ret >= 0) return;
      if (opts.signal?.aborted) throw aborted();
      throw new InputError('E_INPUT_UNREADABLE', `${url}: ${what}: ${FFmpegError.strerror(ret)}`, { cause: new FFmpegError(ret) });
    };
    try {
      check(await fc.openInput(target, null, dict), 'cannot open as video');
      opened = true;
      check(await fc.findStreamInfo(null), 'cannot read stream information');
      const fmt = fc.iformat?.name ?? 'unknown format';
      const st = fc.streams.find((s) => s.codecpar.codecType === AVMEDIA_TYPE_VIDEO && !s.attachedPic);
      if (!st || STILL_FORMATS.test(fmt)) throw new InputError('E_INPUT_UNREADABLE', `${url}: not a video (${st ? 'a still image' : 'no video stream'}, format ${fmt})`);
      const { width: w, height: h } = st.codecpar;
      if (w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS) {
        throw new InputError('E_INPUT_INVALID', `${url}: ${w}×${h} is too large (at most ${MAX_SIDE} px a side and ${MAX_PIXELS / 1e6} Mpx, i.e. 8K)`);
      }
      for (const s of fc.streams) if (s.index !== st.index) s.discard = AVDISCARD_ALL; // demuxer drops audio etc.
      const dec = decoderFor(url, st.codecpar, opts, network, w * h);
      cc = dec.cc;
      const codec = dec.codec;
      cc.pktTimebase = st.timeBase;
      check(await cc.open2(codec, null), `cannot open the ${codec.name ?? ''} decoder`);
      return { input: new FormatInput(fc, st.index, streamInfo(fc, st)), cc, network };
    } catch (e) {
      cc?.freeContext();
      if (opened) await fc.closeInput();
      else fc.freeContext();
      throw e;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      dict?.free();
    }
}

/** The stream facts VideoSource uses, from libavformat's stream. */
function streamInfo(fc: FormatContext, st: Stream): InputInfo {
  const par = st.codecpar;
  const rate = [st.avgFrameRate, st.rFrameRate].find((r) => r.num > 0 && r.den > 0)?.toDouble();
  const fps = rate && rate < 1000 ? rate : undefined;
  const tb = st.timeBase.toDouble();
  const durationSec = st.duration > 0n ? Number(st.duration) * tb : fc.duration > 0n ? Number(fc.duration) / 1e6 : undefined;
  const extra = par.extradata;
  return {
    codecId: par.codecId,
    width: par.width,
    height: par.height,
    sar: par.sampleAspectRatio.toDouble(),
    fps,
    timeBase: { num: st.timeBase.num, den: st.timeBase.den },
    startPts: st.startTime,
    durationSec,
    frameCount: st.nbFrames > 0n ? Number(st.nbFrames) : durationSec && fps ? Math.round(durationSec * fps) : undefined,
    extradata: extra && extra.length > 0 ? Buffer.from(extra) : null,
  };
}

/** The decoder for a stream, allocated (not opened), with the threading its kind of input wants. */
function decoderFor(url: string, par: CodecParameters, opts: VideoSourceOptions, network: boolean, pixels: number): { cc: CodecContext; codec: Codec } {
  const codec = Codec.findDecoder(par.codecId);
  if (!codec) throw new InputError('E_INPUT_UNREADABLE', `${url}: no decoder for codec id ${par.codecId}`);
  const cc = new CodecContext();
  cc.allocContext3(codec);
  const ret = cc.parametersToContext(par);
  if (ret < 0) {
    cc.freeContext();
    throw new InputError('E_INPUT_UNREADABLE', `${url}: bad codec parameters: ${FFmpegError.strerror(ret)}`, { cause: new FFmpegError(ret) });
  }
  cc.threadCount = opts.threads ?? 0;
  if (network && opts.threads === undefined) {
    // Live inputs: no frame threads — they hold one frame per extra thread before output (2 frames = 80 ms at
    // 25 fps measured here), latency a viewer sees. Up to 1080p one decoding thread per camera (~3 ms a 720p
    // frame; idle slice threads only add wake-ups, and cameras decode in parallel on the thread pool);
    // larger frames get slice threads. Files keep frame threads for throughput.
    cc.threadType = FF_THREAD_SLICE;
    if (pixels <= 1920 * 1088) cc.threadCount = 1;
  }
  return { cc, codec };
}

/** rtsp:// through facecast's client (ingest/rtsp); RtspUnsupported hands the source to FFmpeg. */
async function openNative(url: string, opts: VideoSourceOptions): Promise<OpenedInput> {
  const input = await RtspInput.open(url, url, { timeoutMs: opts.timeoutMs ?? 10_000, signal: opts.signal });
  let cc: CodecContext | null = null;
  const par = new CodecParameters();
  try {
    const { info } = input;
    if (info.width > MAX_SIDE || info.height > MAX_SIDE || info.width * info.height > MAX_PIXELS) {
      throw new InputError('E_INPUT_INVALID', `${url}: ${info.width}×${info.height} is too large (at most ${MAX_SIDE} px a side and ${MAX_PIXELS / 1e6} Mpx, i.e. 8K)`);
    }
    par.alloc();
    par.codecType = AVMEDIA_TYPE_VIDEO;
    par.codecId = info.codecId;
    par.width = info.width;
    par.height = info.height;
    par.extradata = info.extradata;
    const dec = decoderFor(url, par, opts, true, info.width * info.height);
    cc = dec.cc;
    cc.pktTimebase = new Rational(info.timeBase.num, info.timeBase.den);
    const ret = await cc.open2(dec.codec, null);
    if (ret < 0) throw new InputError('E_INPUT_UNREADABLE', `${url}: cannot open the ${dec.codec.name ?? ''} decoder: ${FFmpegError.strerror(ret)}`, { cause: new FFmpegError(ret) });
    return { input, cc, network: true };
  } catch (e) {
    cc?.freeContext();
    await input.close();
    throw e;
  } finally {
    par.free();
  }
}

/** Maps a path, file: URL or network URL to what libavformat opens, with the input errors callers switch on. */
async function resolveInput(url: string): Promise<{ target: string; network: boolean; sdp?: boolean; http?: boolean; rtsp?: boolean }> {
  // The one parser the config and the API's source policy use too (issue 14): FFmpeg only ever gets a URL this
  // classified as network, and files as "file:<path>".
  const parsed = parseSource(url);
  if (parsed.kind === 'network') return { target: url, network: true, http: parsed.scheme === 'http' || parsed.scheme === 'https', rtsp: parsed.scheme === 'rtsp' };
  if (parsed.kind !== 'file') throw new InputError('E_INPUT_INVALID', `${url}: ${parsed.kind === 'invalid' ? parsed.reason : 'a WHIP publish point is not a file or URL'}`);
  const path = parsed.path;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new InputError('E_INPUT_INVALID', `${url} is not a file`);
    if (st.size === 0) throw new InputError('E_INPUT_UNREADABLE', `${url} is empty (0 bytes)`);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const kind = code === 'ENOENT' || code === 'ENOTDIR' ? 'E_INPUT_NOT_FOUND' : code ? 'E_INPUT_UNREADABLE' : 'E_INPUT_INVALID';
    throw new InputError(kind, `${url}: ${errorMessage(e)}`, { cause: e });
  }
  // An SDP file is a live network input (RTP over UDP): async reads, damaged packets skipped, never paced.
  if (/\.sdp$/i.test(path)) return { target: `file:${path}`, network: true, sdp: true };
  return { target: `file:${path}`, network: false }; // "file:" so that a colon in a path is not read as a protocol
}
