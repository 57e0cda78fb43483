/**
 * One WHIP publisher (a browser webcam or OBS): a werift RTCPeerConnection receiving one video track, whose RTP
 * is forwarded to a loopback UDP port described by an SDP file. The stream's LiveSource opens that SDP with
 * libavformat, which reorders, depacketises (H.264 FU-A/STAP-A, VP8) and decodes it like any camera: the rest of
 * the pipeline does not know the frames came from a browser.
 *
 * Recovery: werift NACKs lost packets (nack feedback is negotiated) and the publisher retransmits; a PLI asks for
 * a key frame — sent until the stream decodes its first frame (libavformat can only start at an IDR, and packets
 * sent before it listens are lost), when a packet stays lost past NACK's chance (LossMonitor), and when a
 * passthrough viewer joins.
 *
 * Bitrate: without bandwidth feedback Chromium starts at ~300 kb/s and sends 640×360; the answer's fmtp lines
 * carry x-google-{min,start,max}-bitrate so a 720p camera is sent at 720p.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RTCPeerConnection, RTCRtpCodecParameters, type MediaStreamTrack, type RTCRtpTransceiver, type RtpPacket } from 'werift';
import { Logger } from '../../core/log.js';
import { errorMessage } from '../../core/errors.js';
import { icePeerConfig, pinStunServer, type IceConfig } from '../../core/ice.js';
import { TypedEmitter } from '../../core/emitter.js';
import { LossMonitor } from './loss.js';

const log = new Logger('WhipPublisher');

/** Payload type of the forwarded RTP, as the SDP file states it. */
const FORWARD_PT = 96;
const RTCP_FB = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];

export type WhipCodec = 'H264' | 'VP8';

const CODECS = (): RTCRtpCodecParameters[] => [
  new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: RTCP_FB, parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' }),
  new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: RTCP_FB }),
];

const AUDIO = (): RTCRtpCodecParameters[] => [
  new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 }),
  new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1 }),
  new RTCRtpCodecParameters({ mimeType: 'audio/PCMA', clockRate: 8000, channels: 1 }),
];

export interface WhipBitrate {
  /** kb/s */
  minKbps: number;
  startKbps: number;
  maxKbps: number;
}

export interface WhipPublisherOptions {
  webrtc?: IceConfig;
  /** Directory for the SDP file. */
  dir: string;
  bitrate?: WhipBitrate;
  /** Dropped when the peer is not connected after this long, ms (default 15000). */
  connectTimeoutMs?: number;
}

export interface WhipPublisherEvents {
  /** The first RTP packet arrived (or the codec changed): the SDP file at `sdpPath` describes the feed now. */
  feed: [sdpPath: string, codec: WhipCodec];
  /** The peer failed, closed, or never connected. */
  close: [];
}

const DEFAULT_BITRATE: WhipBitrate = { minKbps: 1000, startKbps: 2500, maxKbps: 6000 };

export class WhipPublisher extends TypedEmitter<WhipPublisherEvents> {
  readonly id = randomUUID();
  readonly streamId: string;
  readonly pc: RTCPeerConnection;
  readonly sdpPath: string;
  codec: WhipCodec | undefined;
  packets = 0;
  bytes = 0;
  keyframeRequests = 0;
  /** Sequence gaps seen, recovered by retransmission, and lost for good (each loss → a PLI). */
  readonly loss = new LossMonitor();
  readonly createdAt = performance.now();
  #lastPli = 0;
  #lossTimer: NodeJS.Timeout | undefined;
  #video: RTCRtpTransceiver | undefined;
  #ssrc: number | undefined;
  #udp: Socket | undefined;
  #port = 0;
  #payloadTypes = new Map<number, WhipCodec>();
  #feedPt: number | undefined;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  private constructor(streamId: string, pc: RTCPeerConnection, dir: string) {
    super();
    this.streamId = streamId;
    this.pc = pc;
    this.sdpPath = join(dir, `whip-${streamId}-${this.id.slice(0, 8)}.sdp`);
  }

  /**
   * Answers an offer (already checked to have H.264 or VP8 video). Audio and extra video m-lines are answered
   * inactive: negotiated away, nothing is sent for them. Throws what werift throws on a bad offer.
   */
  static async create(streamId: string, offerSdp: string, opts: WhipPublisherOptions): Promise<{ publisher: WhipPublisher; answerSdp: string }> {
    // Audio codecs only so that werift can answer an audio m-line at all (it throws on one it has no codec for);
    // the audio transceiver is then made inactive, so nothing is sent.
    const pc = new RTCPeerConnection({ codecs: { video: CODECS(), audio: AUDIO() }, headerExtensions: { video: [], audio: [] }, ...icePeerConfig(opts.webrtc) });
    const p = new WhipPublisher(streamId, pc, opts.dir);
    // werift announces remote tracks during setRemoteDescription: listen before it.
    pc.onTrack.subscribe((track: MediaStreamTrack) => {
      if (track.kind === 'video') track.onReceiveRtp.subscribe((rtp: RtpPacket) => p.#forward(rtp));
    });
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      for (const t of pc.getTransceivers()) {
        if (t.kind === 'video' && !p.#video) {
          p.#video = t;
          t.setDirection('recvonly');
        } else t.setDirection('inactive');
      }
      if (!p.#video) throw new Error('the offer has no video');
      for (const c of p.#video.codecs) p.#payloadTypes.set(c.payloadType, c.mimeType.toLowerCase() === 'video/vp8' ? 'VP8' : 'H264');
      pinStunServer(pc, opts.webrtc);
      await pc.setLocalDescription(await pc.createAnswer());
      const sdp = pc.localDescription?.sdp;
      if (!sdp) throw new Error('werift produced no answer');
      p.#start(opts);
      return { publisher: p, answerSdp: mungeAnswer(sdp, opts.bitrate ?? DEFAULT_BITRATE) };
    } catch (e) {
      await p.close();
      throw e;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  get connected(): boolean {
    return this.pc.connectionState === 'connected';
  }

  #start(opts: WhipPublisherOptions): void {
    const udp = createSocket('udp4');
    udp.on('error', (e) => log.debug(`publisher ${this.id}: udp: ${errorMessage(e)}`));
    this.#udp = udp;
    this.#timer = setTimeout(() => {
      if (!this.connected) {
        log.info(`publisher ${this.id} (stream ${this.streamId}) did not connect`);
        void this.close();
      }
    }, opts.connectTimeoutMs ?? 15000);
    this.#timer.unref();
    // Packets lost for good (NACK did not bring them back) leave the decoder with a broken reference: PLI.
    this.#lossTimer = setInterval(() => {
      const now = performance.now();
      if (this.loss.check(now) && now - this.#lastPli > 500) this.requestKeyframe();
    }, 100);
    this.#lossTimer.unref();
    this.pc.connectionStateChange.subscribe((s) => {
      log.debug(`publisher ${this.id}: ${s}`);
      if (s === 'connected') clearTimeout(this.#timer);
      if (s === 'failed' || s === 'closed') void this.close();
    });
  }

  #forward(rtp: RtpPacket): void {
    if (this.#closed) return;
    const pt = rtp.header.payloadType;
    if (pt !== this.#feedPt) {
      const codec = this.#payloadTypes.get(pt);
      log.debug(`publisher ${this.id}: payload type ${pt} → ${codec ?? 'unknown'} (${[...this.#payloadTypes].join(' ')})`);
      if (!codec) return; // not a media payload type we negotiated (e.g. a probe)
      this.#feedPt = pt;
      this.#ssrc = rtp.header.ssrc;
      void this.#describe(codec);
      return; // the demuxer is not listening yet; a key frame is requested once it is
    }
    if (this.#port === 0) return;
    this.loss.add(rtp.header.sequenceNumber, performance.now());
    this.packets++;
    this.bytes += rtp.payload.length;
    rtp.header.payloadType = FORWARD_PT;
    this.#udp?.send(rtp.serialize(), this.#port, '127.0.0.1');
  }

  /** Writes the SDP of the feed (a new port each time) and announces it. */
  async #describe(codec: WhipCodec): Promise<void> {
    this.codec = codec;
    this.#port = 0;
    const port = await freeUdpPort();
    const sdp = [
      'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=facecast WHIP', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=video ${port} RTP/AVP ${FORWARD_PT}`,
      `a=rtpmap:${FORWARD_PT} ${codec}/90000`,
      ...(codec === 'H264' ? [`a=fmtp:${FORWARD_PT} packetization-mode=1`] : []),
      '',
    ].join('\r\n');
    await writeFile(this.sdpPath, sdp);
    if (this.#closed) return;
    this.#port = port;
    log.info(`publisher ${this.id} (stream ${this.streamId}): ${codec} feed on udp ${port}`);
    this.safeEmit('feed', this.sdpPath, codec);
  }

  /** Asks the publisher for a key frame (RTCP PLI). */
  requestKeyframe(): void {
    if (this.#closed || this.#ssrc === undefined || !this.#video) return;
    this.keyframeRequests++;
    this.#lastPli = performance.now();
    this.#video.receiver.sendRtcpPLI(this.#ssrc).catch((e: unknown) => log.debug(`publisher ${this.id}: PLI: ${errorMessage(e)}`));
  }

  /** Closes the peer and the forwarder, removes the SDP file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#lossTimer);
    this.#udp?.close();
    await this.pc.close().catch((e: unknown) => log.debug(`publisher ${this.id}: close: ${errorMessage(e)}`));
    await rm(this.sdpPath, { force: true });
    this.safeEmit('close');
    this.removeAllListeners();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Adds x-google-{min,start,max}-bitrate to every video fmtp line (and an fmtp line where a codec has none). */
export function mungeAnswer(sdp: string, b: WhipBitrate): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const extra = `x-google-min-bitrate=${b.minKbps};x-google-start-bitrate=${b.startKbps};x-google-max-bitrate=${b.maxKbps}`;
  const out: string[] = [];
  let video = false;
  const lines = sdp.split(/\r?\n/);
  const withFmtp = new Set(lines.filter((l) => l.startsWith('a=fmtp:')).map((l) => /^a=fmtp:(\d+)/.exec(l)?.[1]));
  for (const line of lines) {
    if (line.startsWith('m=')) video = line.startsWith('m=video');
    if (video && line.startsWith('a=fmtp:')) {
      out.push(`${line};${extra}`);
      continue;
    }
    out.push(line);
    const pt = /^a=rtpmap:(\d+) (H264|VP8)\//i.exec(line)?.[1];
    if (video && pt && !withFmtp.has(pt)) out.push(`a=fmtp:${pt} ${extra}`);
  }
  return out.join(eol);
}

/** A free loopback UDP port (bound and released: the race is harmless on loopback). */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
