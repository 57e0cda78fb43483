/**
 * WHEP viewers (WebRTC-HTTP Egress Protocol, non-trickle): each viewer is one werift RTCPeerConnection with one
 * sendonly H.264 transceiver. Viewers choose the overlay (`?overlay=server|client`, default from the stream's
 * `output.mode`); every viewer of the same stream and overlay receives the same video: one Broadcast per
 * (stream, overlay) — an encode with the boxes burnt in, or for a client overlay the camera's own H.264
 * (passthrough) when it is H.264, else a clean encode.
 *
 * ICE comes only from the config (src/core/ice.ts: never werift's fallback public STUN server).
 *
 * Fan-out never waits on a viewer: each viewer's packets go to its own sender without awaiting; a viewer with
 * too many sends still in flight skips frames (and restarts at the next IDR), the others are not affected.
 */
import { randomUUID } from 'node:crypto';
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket } from 'werift';
import type { PeerConfig, RTCRtpSender, RtcpPacket } from 'werift';
import { Logger } from '../../core/log.js';
import { icePeerConfig, pinStunServer } from '../../core/ice.js';
import { errorMessage } from '../../core/errors.js';
import { HttpError } from '../../server/http-errors.js';
import type { Config, StreamConfig } from '../../server/config.js';
import { EncodedBroadcast, PassthroughBroadcast, type Broadcast, type BroadcastSink, type OverlayKind, type VideoFeed } from '../broadcast.js';

/** What the WHEP service needs from a stream (the server's RuntimeHandle). */
export interface WhepStream extends VideoFeed {
  readonly config: Pick<StreamConfig, 'output' | 'detectSource'>;
  /** The view source's codec once connected (e.g. 'h264'), else undefined. */
  passthroughCodec(): string | undefined;
}

const log = new Logger('Whep');

/** The H.264 the LiveEncoder makes: constrained baseline 3.1, FU-A packetisation. */
const H264 = (): RTCRtpCodecParameters =>
  new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90000,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  });

/** RTCP payload-specific feedback (RFC 4585): FMT 1 = PLI, FMT 4 = FIR (RFC 5104). */
const RTCP_PSFB = 206;
const FMT_PLI = 1;
const FMT_FIR = 4;

export type WebrtcConfig = Pick<Config['webrtc'], 'iceServers' | 'hostAddresses'>;

export interface WhepServiceOptions {
  /** The stream behind an id, or undefined when there is none (→ 404). */
  lookup: (streamId: string) => WhepStream | undefined;
  webrtc?: Partial<WebrtcConfig>;
  /** Nominal encode rate (default 25). */
  fps?: number;
  /** A viewer whose peer is not connected after this long is dropped, ms (default 15000). */
  connectTimeoutMs?: number;
  /** privacy.blurFaces: faces are blurred in every video; the camera's own H.264 (passthrough) is never sent. */
  blurFaces?: boolean;
}

/** One viewer: its peer, its sender and where it is in the shared stream. */
export class WhepViewer implements BroadcastSink {
  readonly id = randomUUID();
  readonly streamId: string;
  /** Key of the broadcast it watches: `${streamId}/${overlay}`. */
  key = '';
  readonly pc: RTCPeerConnection;
  readonly sender: RTCRtpSender;
  /** Set once the peer is connected: only then are packets sent. */
  connected = false;
  /** False until the viewer's first IDR went out (and again after it fell behind). */
  started = false;
  /** RTP packets handed to the sender and not yet sent. */
  inFlight = 0;
  framesSent = 0;
  framesSkipped = 0;
  readonly createdAt = performance.now();
  firstFrameAt: number | undefined;
  #seq = Math.floor(Math.random() * 0x10000);
  #closed = false;

  constructor(streamId: string, pc: RTCPeerConnection, sender: RTCRtpSender) {
    this.streamId = streamId;
    this.pc = pc;
    this.sender = sender;
  }

  /** Sends one packet without waiting; the sender rewrites SSRC and payload type. */
  send(payload: Buffer, timestamp: number, marker: boolean): void {
    const header = new RtpHeader({ payloadType: 96, sequenceNumber: this.#seq, timestamp, marker });
    this.#seq = (this.#seq + 1) & 0xffff;
    this.inFlight++;
    this.sender
      .sendRtp(new RtpPacket(header, payload))
      .catch((e: unknown) => log.debug(`viewer ${this.id}: send failed: ${errorMessage(e)}`))
      .finally(() => this.inFlight--);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pc.close().catch((e: unknown) => log.debug(`viewer ${this.id}: close: ${errorMessage(e)}`));
  }
}

export class WhepService {
  readonly #opts: WhepServiceOptions;
  /** By `${streamId}/${overlay}`. */
  readonly #broadcasts = new Map<string, Broadcast>();
  readonly #viewers = new Map<string, WhepViewer>();
  /** Video frames dropped by broadcasts that have since closed, by stream (status counters never go back). */
  readonly #retiredDrops = new Map<string, number>();
  #closed = false;

  constructor(opts: WhepServiceOptions) {
    this.#opts = opts;
  }

  /** The stream's broadcasts (one per overlay kind with viewers). */
  #of(streamId: string): Broadcast[] {
    return [this.#broadcasts.get(`${streamId}/server`), this.#broadcasts.get(`${streamId}/client`)].filter((b): b is Broadcast => b !== undefined);
  }

  /** Viewers attached to a stream (connecting or playing). */
  viewerCount(streamId: string): number {
    return this.#of(streamId).reduce((n, b) => n + b.sinks.size, 0);
  }

  /** Viewers, video frame rate (the busiest broadcast) and video frames dropped, for the stream's status. */
  videoStatus(streamId: string): { viewers: number; fps: number; dropped: number } {
    const bs = this.#of(streamId);
    return {
      viewers: bs.reduce((n, b) => n + b.sinks.size, 0),
      fps: bs.reduce((m, b) => Math.max(m, b.fps()), 0),
      dropped: bs.reduce((n, b) => n + b.framesDropped, this.#retiredDrops.get(streamId) ?? 0),
    };
  }

  /** The viewer behind a session id (for stats and tests). */
  session(sessionId: string): WhepViewer | undefined {
    return this.#viewers.get(sessionId);
  }

  /** A stream's broadcast for one overlay kind, while it has viewers. */
  broadcast(streamId: string, overlay: OverlayKind = 'server'): Broadcast | undefined {
    return this.#broadcasts.get(`${streamId}/${overlay}`);
  }

  /**
   * Answers a WHEP offer: a sendonly H.264 peer whose answer carries every candidate (gathering is complete).
   * `overlay` defaults to the stream's output mode (overlay → 'server', passthrough → 'client').
   * @throws HttpError E_NOT_FOUND (unknown stream), E_VALIDATION (not an SDP offer, no H.264 video), E_UNAVAILABLE (closed)
   */
  async createSession(streamId: string, offerSdp: string, opts: { overlay?: OverlayKind } = {}): Promise<{ sessionId: string; answerSdp: string; overlay: OverlayKind }> {
    if (this.#closed) throw new HttpError('E_UNAVAILABLE', 'the WHEP service is closed');
    const stream = this.#opts.lookup(streamId);
    if (!stream) throw new HttpError('E_NOT_FOUND', `no stream "${streamId}"`);
    checkOffer(offerSdp);
    const overlay = opts.overlay ?? (stream.config.output.mode === 'passthrough' ? 'client' : 'server');
    const pc = new RTCPeerConnection(this.#peerConfig());
    const transceiver = pc.addTransceiver('video', { direction: 'sendonly' });
    const viewer = new WhepViewer(streamId, pc, transceiver.sender);
    try {
      try {
        await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      } catch (e) {
        throw new HttpError('E_VALIDATION', `invalid SDP offer: ${errorMessage(e)}`, { cause: e });
      }
      pinStunServer(pc, this.#opts.webrtc);
      await pc.setLocalDescription(await pc.createAnswer()); // gathers every candidate before it resolves
      const answerSdp = pc.localDescription?.sdp;
      if (!answerSdp) throw new Error('werift produced no answer');
      if (!/^m=video [1-9]/m.test(answerSdp)) throw new HttpError('E_VALIDATION', 'the offer has no H.264 (packetization-mode=1) video this server can send');
      if (this.#closed) throw new HttpError('E_UNAVAILABLE', 'the WHEP service is closed');
      this.#attach(viewer, stream, overlay);
      return { sessionId: viewer.id, answerSdp, overlay };
    } catch (e) {
      await viewer.close();
      throw e;
    }
  }

  /** Ends a session; false when there was none. */
  async deleteSession(sessionId: string): Promise<boolean> {
    const viewer = this.#viewers.get(sessionId);
    if (!viewer) return false;
    this.#viewers.delete(sessionId);
    const b = this.#broadcasts.get(viewer.key);
    if (b) {
      b.detach(viewer);
      if (b.sinks.size === 0) {
        // No viewers, no encode: the broadcast stops listening and frees its encoder.
        this.#broadcasts.delete(viewer.key);
        this.#retiredDrops.set(viewer.streamId, (this.#retiredDrops.get(viewer.streamId) ?? 0) + b.framesDropped);
        b.close();
      }
    }
    await viewer.close();
    return true;
  }

  /** Closes every peer and encoder. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#viewers.keys()].map((id) => this.deleteSession(id)));
    for (const b of this.#broadcasts.values()) b.close();
    this.#broadcasts.clear();
  }

  #attach(viewer: WhepViewer, stream: WhepStream, overlay: OverlayKind): void {
    this.#viewers.set(viewer.id, viewer);
    viewer.key = `${viewer.streamId}/${overlay}`;
    let b = this.#broadcasts.get(viewer.key);
    if (!b) {
      b = this.#makeBroadcast(viewer.streamId, stream, overlay);
      this.#broadcasts.set(viewer.key, b);
    }
    b.attach(viewer);
    const broadcast = b;
    const { pc } = viewer;
    const timer = setTimeout(() => {
      if (!viewer.connected) void this.deleteSession(viewer.id);
    }, this.#opts.connectTimeoutMs ?? 15000);
    timer.unref();
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' && !viewer.connected) {
        viewer.connected = true;
        clearTimeout(timer);
        broadcast.requestKeyframe(); // the viewer starts at the next IDR: make it the next frame
      } else if (state === 'failed' || state === 'closed') {
        clearTimeout(timer);
        void this.deleteSession(viewer.id);
      }
    });
    viewer.sender.onRtcp.subscribe((pkt: RtcpPacket) => {
      if (pkt.type !== RTCP_PSFB) return;
      const fmt = 'feedback' in pkt ? pkt.feedback.count : -1;
      if (fmt === FMT_PLI || fmt === FMT_FIR) broadcast.requestKeyframe();
    });
  }

  #makeBroadcast(id: string, stream: WhepStream, overlay: OverlayKind): Broadcast {
    const out = stream.config.output;
    const encode = { fps: this.#opts.fps ?? 25, blurFaces: this.#opts.blurFaces === true, ...(out.width !== undefined ? { width: out.width } : {}), ...(out.fps !== undefined ? { maxFps: out.fps } : {}) };
    if (overlay === 'server') return new EncodedBroadcast(id, stream, encode);
    // Passthrough pixels cannot be blurred: with blurFaces a client overlay gets a clean encode, blurred.
    if (this.#opts.blurFaces) return new EncodedBroadcast(id, stream, { ...encode, overlay: false });
    // Client overlay: the camera's H.264 as is when it is H.264 (or not known yet in passthrough mode, where a
    // view stream may not even be decoded); otherwise a clean encode of the decoded frames.
    const codec = stream.passthroughCodec();
    if (codec === 'h264' || (codec === undefined && out.mode === 'passthrough')) return new PassthroughBroadcast(id, stream);
    if (out.mode === 'passthrough' && stream.config.detectSource !== undefined) {
      throw new HttpError('E_UNAVAILABLE', `stream "${id}": passthrough needs an H.264 camera, this one sends ${codec}; use output.mode overlay`);
    }
    return new EncodedBroadcast(id, stream, { ...encode, overlay: false });
  }

  #peerConfig(): Partial<PeerConfig> {
    return { codecs: { video: [H264()] }, headerExtensions: { video: [] }, ...icePeerConfig(this.#opts.webrtc) };
  }
}

/** Rejects what is not an SDP offer with H.264 video before any peer is made (400 with a reason). */
function checkOffer(sdp: string): void {
  if (!/^v=0\r?\n/.test(sdp)) throw new HttpError('E_VALIDATION', 'the body is not an SDP offer (it must start with "v=0")');
  if (!/^m=video /m.test(sdp)) throw new HttpError('E_VALIDATION', 'the SDP offer has no video m-line');
  if (!/^a=rtpmap:\d+ H264\/90000/im.test(sdp)) throw new HttpError('E_VALIDATION', 'the SDP offer has no H.264 video');
}
