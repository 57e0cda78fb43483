/**
 * facecast's RTSP client for H.264 / H.265 cameras (RTP over the RTSP TCP connection): OPTIONS, DESCRIBE,
 * SETUP, PLAY with Basic/Digest auth, keep-alives within the session timeout, RTCP receiver reports, TEARDOWN
 * on close. Access units end on the RTP marker bit (rtp-h26x.ts), so a frame reaches the decoder as soon as its
 * last packet is in: FFmpeg's RTSP demuxer held every frame one frame period (bench/results/rtsp-demux.md).
 *
 * What it does not do is left to FFmpeg (video-open.ts falls back): UDP transport, rtsps://, codecs other than
 * H.264/H.265, redirects. `RtspUnsupported` says which; every other failure is an InputError as FFmpeg's would
 * be (E_INPUT_UNREADABLE with the server's status).
 *
 * Flow control: access units wait in a queue for VideoSource's reads; past QUEUE_HIGH the socket is paused (TCP
 * makes the camera wait, as with FFmpeg's own buffer), so a stalled consumer never grows memory. Catching up is
 * skip-ahead's job (lag.ts), which reads fast and drops undecoded.
 */
import { AV_CODEC_ID_H264, AV_CODEC_ID_HEVC, AV_NOPTS_VALUE, AV_PKT_FLAG_CORRUPT, AVERROR_EOF, AVERROR_EXIT } from 'node-av/constants';
import type { Packet } from 'node-av/lib';
import { InputError } from '../../core/errors.js';
import type { InputInfo, PacketInput } from '../packet-input.js';
import { Authenticator, splitCredentials } from './auth.js';
import { avErrno, RtspConnection, type ConnectionEnd, type RtspResponse } from './connection.js';
import { h264NalType, h265NalType, parseH264Sps, parseH265Sps, splitAnnexB, type SpsInfo } from './h26x.js';
import { H26xDepacketizer, type AccessUnit, type H26xCodec } from './rtp-h26x.js';
import { ReceiverReports } from './rtcp.js';
import { parseSdp, resolveControl, spropParameterSets, type SdpMedia } from './sdp.js';

/** Why the native client hands a source to FFmpeg instead (video-open.ts logs it once per open). */
export class RtspUnsupported extends Error {}

export interface RtspOpenOptions {
  /** Connect, each request, and the wait for the first packets, ms; also the data timeout while playing. */
  timeoutMs: number;
  signal?: AbortSignal;
}

const QUEUE_HIGH = 64;
const QUEUE_LOW = 16;
const START = Buffer.from([0, 0, 0, 1]);

export class RtspInput implements PacketInput {
  readonly client = 'native';
  readonly streamIndex = 0;
  info!: InputInfo;
  detail: string | undefined;

  private readonly queue: AccessUnit[] = [];
  private wake: (() => void) | null = null;
  private failure: ConnectionEnd | null = null;
  private interrupted = false;
  private paused = false;
  private lastData = performance.now();
  private timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | null = null;
  /** Unwrapped RTP time of the last unit read (32-bit wrap every 13 h at 90 kHz). */
  private ext = -1;
  private lastTs = 0;
  private session = '';
  /** The session's aggregate control URL (PLAY, keep-alives, TEARDOWN). */
  private control = '';
  private readonly auth: Authenticator | null;
  private readonly url: string;
  private readonly depay: H26xDepacketizer;
  private readonly codec: H26xCodec;

  private constructor(
    private readonly label: string,
    private readonly conn: RtspConnection,
    url: string,
    auth: Authenticator | null,
    private readonly opts: RtspOpenOptions,
    media: { codec: H26xCodec; clockRate: number },
  ) {
    this.url = url;
    this.auth = auth;
    this.codec = media.codec;
    this.depay = new H26xDepacketizer(media.codec, (u) => this.onUnit(u));
  }

  /** Connects, negotiates and starts playing; the first packets are waited for (the stream's size is in them). */
  static async open(label: string, rawUrl: string, opts: RtspOpenOptions): Promise<RtspInput> {
    const { url, creds } = splitCredentials(rawUrl);
    const u = new URL(url);
    if (u.protocol !== 'rtsp:') throw new RtspUnsupported(`${u.protocol}// is read by FFmpeg`);
    let conn: RtspConnection;
    try {
      conn = await RtspConnection.connect(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || 554), opts.timeoutMs, opts.signal);
    } catch (e) {
      throw unreadable(label, e as ConnectionEnd);
    }
    const auth = creds ? new Authenticator(creds) : null;
    let input: RtspInput | null = null;
    const onAbort = (): void => conn.close(); // a request in flight fails now; video-open.ts reports the abort
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const describe = await request(label, conn, auth, 'DESCRIBE', url, { Accept: 'application/sdp' }, opts.timeoutMs);
      const sdp = parseSdp(describe.body.toString('utf8'));
      const base = describe.headers.get('content-base')?.[0] ?? describe.headers.get('content-location')?.[0] ?? url;
      const { media, codec, pt, clockRate } = pickVideo(label, sdp.media);
      input = new RtspInput(label, conn, url, auth, opts, { codec, clockRate });
      await input.start(base, sdp.control, media, pt, clockRate);
      return input;
    } catch (e) {
      if (input) await input.close();
      else conn.close();
      if (e instanceof InputError || e instanceof RtspUnsupported) throw e;
      throw unreadable(label, e as ConnectionEnd);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async start(base: string, sessionControl: string | undefined, media: SdpMedia, pt: number, clockRate: number): Promise<void> {
    const { conn, opts } = this;
    const setup = await request(this.label, conn, this.auth, 'SETUP', resolveControl(base, media.control), { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' }, opts.timeoutMs);
    const [session, timeoutParam] = (setup.headers.get('session')?.[0] ?? '').split(';').map((s) => s.trim());
    this.session = session;
    const channels = /interleaved=(\d+)(?:-(\d+))?/.exec(setup.headers.get('transport')?.[0] ?? '');
    if (!channels) throw new RtspUnsupported('the server did not agree to RTP over the RTSP connection');
    const rtp = Number(channels[1]);
    const rtcp = channels[2] !== undefined ? Number(channels[2]) : rtp + 1;
    const reports = new ReceiverReports();
    conn.onInterleaved = (ch, p) => {
      this.lastData = performance.now();
      if (ch === rtp) {
        if ((p[1] & 0x7f) === pt) {
          reports.onRtp(p);
          this.depay.push(p);
        }
      } else if (ch === rtcp) reports.onRtcp(p);
    };
    conn.onEnd = (end) => this.fail(end);
    const playUrl = sessionControl && sessionControl !== '*' ? resolveControl(base, sessionControl) : base;
    this.control = playUrl;
    await request(this.label, conn, this.auth, 'PLAY', playUrl, { Session: session, Range: 'npt=0.000-' }, opts.timeoutMs);
    this.lastData = performance.now();

    // Keep-alive within the session timeout (60 s unless stated): cameras end sessions that go quiet on the
    // control channel even while RTP flows. Receiver reports every 5 s, as FFmpeg sends them.
    const timeoutSec = Number(/timeout=(\d+)/.exec(timeoutParam ?? '')?.[1] ?? 60);
    // GET_PARAMETER as FFmpeg and most clients send it; a camera that refuses it gets OPTIONS from then on.
    const keepAlive = Math.max(1000, (timeoutSec * 1000) / 2);
    let method = 'GET_PARAMETER';
    this.timers.push(setInterval(() => {
      request(this.label, conn, this.auth, method, playUrl, { Session: session }, opts.timeoutMs).catch((e: unknown) => {
        if (e instanceof InputError) method = 'OPTIONS';
      });
    }, keepAlive));
    this.timers.push(setInterval(() => {
      const rr = reports.report();
      if (rr) conn.sendInterleaved(rtcp, rr);
    }, 5000));
    this.timers.push(setInterval(() => {
      // Not while paused: then the silence is ours (flow control), not the camera's.
      if (!this.paused && performance.now() - this.lastData > opts.timeoutMs) this.fail({ code: avErrno('ETIMEDOUT'), message: `no data from the camera for ${opts.timeoutMs} ms` });
    }, Math.min(1000, opts.timeoutMs / 4)));
    for (const t of this.timers) t.unref();

    this.info = await this.describeStream(media, pt, clockRate);
  }

  /** Size, rate and parameter sets: from the SDP's sprop sets, else from the first in-band parameter sets. */
  private async describeStream(media: SdpMedia, pt: number, clockRate: number): Promise<InputInfo> {
    const h265 = this.codec === 'h265';
    let sets = spropParameterSets(h265 ? 'H265' : 'H264', media.fmtp.get(pt));
    const spsType = h265 ? 33 : 7;
    const type = h265 ? h265NalType : h264NalType;
    let sps = sets.find((n) => type(n) === spsType);
    if (!sps) {
      const deadline = performance.now() + this.opts.timeoutMs;
      for (let i = 0; !sps; i++) {
        const unit = await this.peek(i, deadline);
        if (!unit) throw new InputError('E_INPUT_UNREADABLE', `${this.label}: no parameter sets (SPS) in the SDP nor in the stream within ${this.opts.timeoutMs} ms`);
        if (!unit.nalTypes.includes(spsType)) continue;
        const nals = splitAnnexB(unit.data);
        sets = nals.filter((n) => (h265 ? [32, 33, 34] : [7, 8]).includes(type(n))).map((n) => Buffer.from(n));
        sps = sets.find((n) => type(n) === spsType);
      }
    }
    let params: SpsInfo;
    try {
      params = h265 ? parseH265Sps(sps) : parseH264Sps(sps);
    } catch (e) {
      throw new InputError('E_INPUT_UNREADABLE', `${this.label}: unreadable SPS: ${(e as Error).message}`, { cause: e });
    }
    const fps = params.fps ?? media.framerate ?? (await this.measureFps(clockRate));
    return {
      codecId: h265 ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264,
      width: params.width,
      height: params.height,
      sar: params.sar,
      fps,
      timeBase: { num: 1, den: clockRate },
      startPts: AV_NOPTS_VALUE,
      durationSec: undefined,
      frameCount: undefined,
      extradata: Buffer.concat(sets.flatMap((n) => [START, n])),
    };
  }

  /** The frame rate from the first units' timestamps, when neither the SPS nor the SDP states it. */
  private async measureFps(clockRate: number): Promise<number | undefined> {
    const deadline = performance.now() + Math.min(this.opts.timeoutMs, 2000);
    let best = Infinity;
    for (let i = 1; i < 4; i++) {
      const [a, b] = [await this.peek(i - 1, deadline), await this.peek(i, deadline)];
      if (!a || !b) break;
      const d = (b.timestamp - a.timestamp) >>> 0;
      if (d > 0 && d < best) best = d;
    }
    const fps = clockRate / best;
    return fps >= 1 && fps <= 240 ? fps : undefined;
  }

  /** The i-th queued unit, waiting for it until `deadline`; null on timeout or failure. */
  private async peek(i: number, deadline: number): Promise<AccessUnit | null> {
    while (this.queue.length <= i) {
      if (this.failure) throw unreadable(this.label, this.failure);
      if (this.interrupted) return null;
      const left = deadline - performance.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.queue[i];
  }

  private onUnit(u: AccessUnit): void {
    this.queue.push(u);
    if (this.queue.length >= QUEUE_HIGH && !this.paused) {
      this.paused = true;
      this.conn.pause();
    }
    this.notify();
  }

  private fail(end: ConnectionEnd): void {
    if (this.failure) return;
    this.failure = end;
    this.detail = end.message;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async read(pkt: Packet): Promise<number> {
    for (;;) {
      if (this.interrupted) return AVERROR_EXIT;
      const u = this.queue.shift();
      if (u) {
        if (this.paused && this.queue.length <= QUEUE_LOW) {
          this.paused = false;
          this.lastData = performance.now();
          this.conn.resume();
        }
        this.fill(pkt, u);
        return 0;
      }
      // The server ending the session is the end of the stream (the supervisor reconnects), as with FFmpeg.
      if (this.failure) return this.failure.message === 'the RTSP server closed the connection' ? AVERROR_EOF : this.failure.code;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private fill(pkt: Packet, u: AccessUnit): void {
    // Unwrap the 32-bit RTP clock; a step back (B-frames' presentation order) stays a step back.
    this.ext = this.ext < 0 ? u.timestamp : this.ext + ((u.timestamp - this.lastTs) | 0);
    this.lastTs = u.timestamp;
    pkt.data = u.data;
    pkt.pts = BigInt(this.ext);
    pkt.dts = AV_NOPTS_VALUE;
    pkt.streamIndex = 0;
    pkt.timeBase = this.info.timeBase;
    pkt.isKeyframe = u.keyframe;
    if (u.corrupt) pkt.setFlags(AV_PKT_FLAG_CORRUPT);
  }

  readSync(): number {
    throw new InputError('E_INPUT_INVALID', `${this.label}: a network input has no synchronous reads`);
  }

  interrupt(): void {
    this.interrupted = true;
    this.notify();
  }

  /** TEARDOWN (not waited for: a camera that does not answer must not hold a reconnect) and closes. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.interrupt();
      for (const t of this.timers) clearInterval(t);
      if (!this.conn.closed && this.session) void request(this.label, this.conn, this.auth, 'TEARDOWN', this.control || this.url, { Session: this.session }, 200).catch(() => undefined);
      this.conn.close();
      this.queue.length = 0;
    })();
    return this.closing;
  }

  /** Counters of the depacketizer (tests, benchmarks). */
  get rtpStats(): H26xDepacketizer['stats'] {
    return this.depay.stats;
  }
}

/** The first video medium in H.264 or H.265; RtspUnsupported for other codecs (FFmpeg reads those). */
function pickVideo(label: string, media: SdpMedia[]): { media: SdpMedia; codec: H26xCodec; pt: number; clockRate: number } {
  const video = media.filter((m) => m.type === 'video');
  if (video.length === 0) throw new InputError('E_INPUT_UNREADABLE', `${label}: not a video (no video stream in the SDP)`);
  for (const m of video) {
    for (const pt of m.formats) {
      const map = m.rtpmap.get(pt);
      const codec = map?.encoding === 'H264' ? 'h264' : map?.encoding === 'H265' || map?.encoding === 'HEVC' ? 'h265' : null;
      if (!codec || !map) continue;
      const mode = Number(m.fmtp.get(pt)?.get('packetization-mode') ?? 0);
      if (codec === 'h264' && mode === 2) continue; // interleaved mode: left to FFmpeg
      if (codec === 'h265' && Number(m.fmtp.get(pt)?.get('sprop-max-don-diff') ?? 0) > 0) continue; // DONL fields
      return { media: m, codec, pt, clockRate: map.clockRate || 90000 };
    }
  }
  const names = video.flatMap((m) => m.formats.map((pt) => m.rtpmap.get(pt)?.encoding ?? `payload type ${pt}`));
  throw new RtspUnsupported(`video is ${names.join(', ')}`);
}

/** A request with one retry after a 401 the authenticator can answer; a non-2xx status is an InputError. */
async function request(label: string, conn: RtspConnection, auth: Authenticator | null, method: string, url: string, headers: Record<string, string>, timeoutMs: number): Promise<RtspResponse> {
  for (let attempt = 0; ; attempt++) {
    const authorization = auth?.header(method, url);
    const res = await conn.request(method, url, authorization ? { ...headers, Authorization: authorization } : headers, timeoutMs);
    if (res.status === 401 && auth && attempt < 2 && auth.accept(res.headers.get('www-authenticate') ?? [])) continue;
    if (res.status >= 200 && res.status < 300) return res;
    if (res.status >= 300 && res.status < 400) throw new RtspUnsupported(`${method} was redirected (${res.status})`);
    if (method === 'SETUP' && res.status === 461) throw new RtspUnsupported('the server refused RTP over TCP (461 Unsupported Transport)');
    const why = res.status === 401 ? (auth ? ' (the credentials were refused)' : ' (the URL has no credentials)') : '';
    throw new InputError('E_INPUT_UNREADABLE', `${label}: cannot open as video: ${method}: RTSP ${res.status} ${res.reason}${why}`);
  }
}

function unreadable(label: string, e: ConnectionEnd | Error): InputError {
  const message = e instanceof Error ? e.message : e.message;
  return new InputError('E_INPUT_UNREADABLE', `${label}: cannot open as video: ${message}`, { cause: e });
}
