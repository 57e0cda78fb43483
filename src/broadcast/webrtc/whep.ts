/**
 * WHEP viewers (WebRTC-HTTP Egress Protocol, non-trickle): each viewer is one werift RTCPeerConnection with one
 * sendonly H.264 transceiver. Viewers choose the overlay (`?overlay=server|client`, default from the stream's
 * `output.mode`); every viewer of the same stream and video receives the same frames: one Broadcast per
 * (stream, overlay, video) — an encode with the boxes burnt in, or for a client overlay the camera's own H.264
 * (passthrough) when it is H.264, else a clean encode.
 *
 * Profile negotiation (h264-sdp.ts): the answer names exactly one of the offer's H.264 payload types, the one
 * whose profile fits the video sent — constrained baseline for the encode, the camera's SPS profile for
 * passthrough. The camera's profile is read from its extradata or first in-band SPS: known at once when
 * passthrough viewers already watch, else the offer waits for the view source's packets (at most `profileWaitMs`,
 * 3 s: a camera with in-band parameter sets only shows them at its next IDR). When it stays unknown, or the offer
 * has no payload type of that profile, the viewer gets a clean server encode instead (as for a non-H.264 camera);
 * where there are no decoded frames to encode (passthrough with a demux-only detect substream view) the offer is
 * refused: 503 E_UNAVAILABLE (profile not known yet, retry) or 400 E_UNSUPPORTED_CODEC.
 *
 * Viewer lifecycle (viewer.ts): a viewer whose peer is gone (no RTCP/STUN for 8 s, DTLS closed, ICE consent
 * lost, connection failed) is detached and closed, counted by reason and logged once; the last viewer of a
 * broadcast leaving closes it (no listening, no encode).
 *
 * ICE comes only from the config (src/core/ice.ts: never werift's fallback public STUN server).
 *
 * Fan-out never waits on a viewer: each viewer's packets go to its own sender without awaiting; a viewer with
 * too many sends still in flight skips frames (and restarts at the next key frame), the others are not affected.
 */
import { RTCPeerConnection, RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters } from 'werift';
import type { PeerConfig } from 'werift';
import { Logger } from '../../core/log.js';
import { icePeerConfig, pinStunServer } from '../../core/ice.js';
import { errorMessage } from '../../core/errors.js';
import { HttpError } from '../../core/http-errors.js';
import type { Config, StreamConfig } from '../../server/config.js';
import type { LiveConnection, LivePacket } from '../../ingest/live.js';
import { EncodedBroadcast, PassthroughBroadcast, type Broadcast, type OverlayKind, type VideoFeed } from '../broadcast.js';
import { H264Framer } from '../h264.js';
import { chooseH264, withProfileLevelId } from './h264-sdp.js';
import { DEFAULT_PLAYOUT_DELAY_MS, PLAYOUT_DELAY_URI, encodePlayoutDelay } from './playout-delay.js';
import { CLOSE_REASON_TEXT, VIEWER_CLOSE_REASONS, WhepViewer, type ViewerCloseReason } from './viewer.js';

export { WhepViewer, VIEWER_CLOSE_REASONS, type ViewerCloseReason } from './viewer.js';

/** What the WHEP service needs from a stream (the server's RuntimeHandle). */
export interface WhepStream extends VideoFeed {
  readonly config: Pick<StreamConfig, 'output' | 'detectSource'>;
  /** The view source's codec once connected (e.g. 'h264'), else undefined. */
  passthroughCodec(): string | undefined;
}

const log = new Logger('Whep');

/** The H.264 the LiveEncoder makes: constrained baseline (the level is the offer's, see h264-sdp.ts). */
const ENCODED_PLID = '42e01f';

/** The codec werift matches offers against (by MIME type: the payload type and fmtp are chosen per offer). */
const H264 = (): RTCRtpCodecParameters =>
  new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90000,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    parameters: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${ENCODED_PLID}`,
  });

export type WebrtcConfig = Pick<Config['webrtc'], 'iceServers' | 'hostAddresses' | 'playoutDelayMs'>;

export interface WhepServiceOptions {
  /** The stream behind an id, or undefined when there is none (→ 404). */
  lookup: (streamId: string) => WhepStream | undefined;
  webrtc?: Partial<WebrtcConfig>;
  /** Nominal encode rate (default 25). */
  fps?: number;
  /** A viewer whose peer is not connected after this long is dropped, ms (default 15000). */
  connectTimeoutMs?: number;
  /** A connected viewer from whose peer nothing (RTCP, STUN) came for this long is dropped, ms (default 8000). */
  peerTimeoutMs?: number;
  /** Passthrough: how long an offer waits for the camera's SPS when it is not known yet, ms (default 3000). */
  profileWaitMs?: number;
  /** At most one forced key frame per this many ms per broadcast (default 1000). */
  keyframeIntervalMs?: number;
  /** privacy.blurFaces: faces are blurred in every video; the camera's own H.264 (passthrough) is never sent. */
  blurFaces?: boolean;
}

/** Key-frame counters of a stream, over every broadcast it had. */
export interface KeyframeCounts {
  /** Key frames forced (or asked of the source), at most one per second per broadcast. */
  forced: number;
  /** Requests that waited for the throttle or the natural GOP (coalesced). */
  throttled: number;
}

/** What one viewer will watch: the broadcast's key, how to make it, and the profile-level-id of its video. */
interface VideoPlan {
  key: string;
  plid: string;
  make: () => Broadcast;
  /** Where the offer cannot take this video: the clean encode to give instead, if there are frames to encode. */
  fallback?: VideoPlan;
  /** Why there is no fallback, for the error. */
  refusal?: HttpError;
}

export class WhepService {
  readonly #opts: WhepServiceOptions;
  /** By `${streamId}/${overlay}/${video}`. */
  readonly #broadcasts = new Map<string, Broadcast>();
  readonly #viewers = new Map<string, WhepViewer>();
  /** Counters of broadcasts that have since closed, by stream (status counters never go back). */
  readonly #retired = new Map<string, { dropped: number; forced: number; throttled: number }>();
  /** Sessions ended, by reason (facecast_whep_sessions_closed_total). */
  readonly sessionsClosed: Record<ViewerCloseReason, number> = Object.fromEntries(VIEWER_CLOSE_REASONS.map((r) => [r, 0])) as Record<ViewerCloseReason, number>;
  #closed = false;
  /** The playout-delay payload viewers get (0 .. webrtc.playoutDelayMs), or undefined when it is off (null). */
  readonly #playoutDelay: Buffer | undefined;

  constructor(opts: WhepServiceOptions) {
    this.#opts = opts;
    const max = opts.webrtc?.playoutDelayMs === undefined ? DEFAULT_PLAYOUT_DELAY_MS : opts.webrtc.playoutDelayMs;
    this.#playoutDelay = max === null ? undefined : encodePlayoutDelay(0, max);
  }

  /** The stream's broadcasts (one per overlay kind and video with viewers), passthrough first. */
  #of(streamId: string): Broadcast[] {
    const out: Broadcast[] = [];
    for (const [key, b] of this.#broadcasts) if (key.startsWith(`${streamId}/`)) out.push(b);
    return out.sort((a, b) => (a.video === b.video ? 0 : a.video === 'passthrough' ? -1 : 1));
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
      dropped: bs.reduce((n, b) => n + b.framesDropped, this.#retired.get(streamId)?.dropped ?? 0),
    };
  }

  /** Key frames forced and requests throttled on a stream since it started (metrics). */
  keyframeCounts(streamId: string): KeyframeCounts {
    const r = this.#retired.get(streamId);
    const bs = this.#of(streamId);
    return {
      forced: bs.reduce((n, b) => n + b.keyframesForced, r?.forced ?? 0),
      throttled: bs.reduce((n, b) => n + b.keyframeRequestsThrottled, r?.throttled ?? 0),
    };
  }

  /** The viewer behind a session id (for stats and tests). */
  session(sessionId: string): WhepViewer | undefined {
    return this.#viewers.get(sessionId);
  }

  /** A stream's broadcast for one overlay kind (passthrough first for 'client'), while it has viewers. */
  broadcast(streamId: string, overlay: OverlayKind = 'server'): Broadcast | undefined {
    return this.#of(streamId).find((b) => b.overlay === overlay);
  }

  /**
   * Answers a WHEP offer: a sendonly H.264 peer whose answer carries every candidate (gathering is complete) and
   * one H.264 payload type, of the profile sent (module comment).
   * `overlay` defaults to the stream's output mode (overlay → 'server', passthrough → 'client').
   * @throws HttpError E_NOT_FOUND (unknown stream), E_VALIDATION (not an SDP offer, no H.264 video),
   *   E_UNSUPPORTED_CODEC (no offered profile fits), E_UNAVAILABLE (closed; camera profile not known yet)
   */
  async createSession(streamId: string, offerSdp: string, opts: { overlay?: OverlayKind } = {}): Promise<{ sessionId: string; answerSdp: string; overlay: OverlayKind }> {
    if (this.#closed) throw new HttpError('E_UNAVAILABLE', 'the WHEP service is closed');
    const stream = this.#opts.lookup(streamId);
    if (!stream) throw new HttpError('E_NOT_FOUND', `no stream "${streamId}"`);
    checkOffer(offerSdp);
    const overlay = opts.overlay ?? (stream.config.output.mode === 'passthrough' ? 'client' : 'server');
    let plan = await this.#plan(streamId, stream, overlay);
    if (this.#closed) throw new HttpError('E_UNAVAILABLE', 'the WHEP service is closed');
    const pc = new RTCPeerConnection(this.#peerConfig());
    const transceiver = pc.addTransceiver('video', { direction: 'sendonly' });
    const viewer = new WhepViewer(streamId, pc, transceiver.sender);
    try {
      try {
        await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      } catch (e) {
        throw new HttpError('E_VALIDATION', `invalid SDP offer: ${errorMessage(e)}`, { cause: e });
      }
      // werift keeps every offered H.264 payload type; the answer must name the one of the profile we send.
      let choice = chooseH264(transceiver.codecs, plan.plid);
      if (!choice && plan.fallback) {
        log.info(`createSession() [stream:${streamId}] the offer has no H.264 payload type of the camera's profile ${plan.plid}: clean encode instead of passthrough`);
        plan = plan.fallback;
        choice = chooseH264(transceiver.codecs, plan.plid);
      }
      if (!choice) throw plan.refusal ?? new HttpError('E_UNSUPPORTED_CODEC', `the offer has no H.264 (packetization-mode=1) payload type that can carry profile-level-id ${plan.plid}`);
      choice.codec.parameters = withProfileLevelId(choice.codec.parameters, choice.profileLevelId);
      transceiver.codecs = [choice.codec];
      // werift chose the sender's codec (the payload type it stamps on every packet) from the offer's first H.264
      // entry when the offer was set; the answer names `choice`, so the packets must carry its payload type, or a
      // receiver drops them all (the bench's werift viewer offered 42e01f before 64001f: no packet passed).
      transceiver.sender.codec = choice.codec;
      if (this.#playoutDelay) {
        // The answer carries the extension only when the offer did (werift keeps the offer's id); browsers offer it.
        const ext = transceiver.headerExtensions.find((e) => e.uri === PLAYOUT_DELAY_URI);
        if (ext) viewer.setPlayoutDelay(ext.id, this.#playoutDelay);
      }
      pinStunServer(pc, this.#opts.webrtc);
      await pc.setLocalDescription(await pc.createAnswer()); // gathers every candidate before it resolves
      const answerSdp = pc.localDescription?.sdp;
      if (!answerSdp) throw new Error('werift produced no answer');
      if (!/^m=video [1-9]/m.test(answerSdp)) throw new HttpError('E_VALIDATION', 'the offer has no H.264 (packetization-mode=1) video this server can send');
      if (this.#closed) throw new HttpError('E_UNAVAILABLE', 'the WHEP service is closed');
      this.#attach(viewer, plan);
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
    await this.#end(viewer, 'delete');
    return true;
  }

  /** Closes every peer and encoder. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#viewers.values()].map((v) => this.#end(v, 'shutdown')));
    for (const b of this.#broadcasts.values()) b.close();
    this.#broadcasts.clear();
  }

  /** Detaches, counts and closes a viewer; its broadcast closes with its last viewer. */
  async #end(viewer: WhepViewer, reason: ViewerCloseReason): Promise<void> {
    if (this.#viewers.get(viewer.id) !== viewer) return;
    this.#viewers.delete(viewer.id);
    this.sessionsClosed[reason]++;
    const line = `viewer ${viewer.id} of stream ${viewer.streamId} closed: ${CLOSE_REASON_TEXT[reason]}`;
    if (reason === 'delete' || reason === 'shutdown') log.debug(line);
    else log.info(line);
    const b = this.#broadcasts.get(viewer.key);
    if (b) {
      b.detach(viewer);
      if (b.sinks.size === 0) {
        // No viewers, no encode: the broadcast stops listening and frees its encoder.
        this.#broadcasts.delete(viewer.key);
        const r = this.#retired.get(viewer.streamId) ?? { dropped: 0, forced: 0, throttled: 0 };
        r.dropped += b.framesDropped;
        r.forced += b.keyframesForced;
        r.throttled += b.keyframeRequestsThrottled;
        this.#retired.set(viewer.streamId, r);
        b.close();
      }
    }
    await viewer.close();
  }

  #attach(viewer: WhepViewer, plan: VideoPlan): void {
    this.#viewers.set(viewer.id, viewer);
    viewer.key = plan.key;
    let b = this.#broadcasts.get(plan.key);
    if (!b) {
      b = plan.make();
      this.#broadcasts.set(plan.key, b);
    }
    b.attach(viewer);
    const broadcast = b;
    // A join and a PLI/FIR are key-frame requests, throttled by the broadcast (at most one forced per second).
    viewer.on('connected', () => broadcast.requestKeyframe());
    viewer.on('keyframe', () => broadcast.requestKeyframe());
    viewer.on('gone', (reason) => void this.#end(viewer, reason));
    viewer.watch({
      ...(this.#opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.#opts.connectTimeoutMs } : {}),
      ...(this.#opts.peerTimeoutMs !== undefined ? { peerTimeoutMs: this.#opts.peerTimeoutMs } : {}),
    });
  }

  /** What a viewer of this stream and overlay will watch (module comment). */
  async #plan(id: string, stream: WhepStream, overlay: OverlayKind): Promise<VideoPlan> {
    const out = stream.config.output;
    const keyframes = this.#opts.keyframeIntervalMs !== undefined ? { keyframeIntervalMs: this.#opts.keyframeIntervalMs } : {};
    const encode = { fps: this.#opts.fps ?? 25, blurFaces: this.#opts.blurFaces === true, ...keyframes, ...(out.width !== undefined ? { width: out.width } : {}), ...(out.fps !== undefined ? { maxFps: out.fps } : {}) };
    const server: VideoPlan = { key: `${id}/server/encode`, plid: ENCODED_PLID, make: () => new EncodedBroadcast(id, stream, encode) };
    const clean: VideoPlan = { key: `${id}/client/encode`, plid: ENCODED_PLID, make: () => new EncodedBroadcast(id, stream, { ...encode, overlay: false }) };
    if (overlay === 'server') return server;
    // Passthrough pixels cannot be blurred: with blurFaces a client overlay gets a clean encode, blurred.
    if (this.#opts.blurFaces) return clean;
    // Client overlay: the camera's H.264 as is when it is H.264 (or not known yet in passthrough mode, where a
    // view stream may not even be decoded); otherwise a clean encode of the decoded frames.
    const codec = stream.passthroughCodec();
    // Passthrough mode with a detect substream: the view source is only demuxed, there are no frames to encode.
    const framesToEncode = !(out.mode === 'passthrough' && stream.config.detectSource !== undefined);
    if (codec === 'h264' || (codec === undefined && out.mode === 'passthrough')) {
      const key = `${id}/client/passthrough`;
      const existing = this.#broadcasts.get(key);
      const plid = (existing instanceof PassthroughBroadcast ? existing.profileLevelId : undefined) ?? (await probeProfile(stream, this.#opts.profileWaitMs ?? 3000));
      if (plid) {
        const plan: VideoPlan = { key, plid, make: () => new PassthroughBroadcast(id, stream, keyframes) };
        if (framesToEncode) plan.fallback = clean;
        else plan.refusal = new HttpError('E_UNSUPPORTED_CODEC', `stream "${id}": the offer has no H.264 payload type of the camera's profile (profile-level-id ${plid}), and passthrough cannot be re-encoded here`);
        return plan;
      }
      if (!framesToEncode) throw new HttpError('E_UNAVAILABLE', `stream "${id}": the camera's H.264 profile is not known yet (not connected, or no SPS within ${this.#opts.profileWaitMs ?? 3000} ms); retry`);
      log.info(`createSession() [stream:${id}] the camera's H.264 profile is not known yet: clean encode instead of passthrough`);
      return clean;
    }
    if (!framesToEncode) throw new HttpError('E_UNAVAILABLE', `stream "${id}": passthrough needs an H.264 camera, this one sends ${codec}; use output.mode overlay`);
    return clean;
  }

  #peerConfig(): Partial<PeerConfig> {
    const video = this.#playoutDelay ? [new RTCRtpHeaderExtensionParameters({ uri: PLAYOUT_DELAY_URI })] : [];
    return { codecs: { video: [H264()] }, headerExtensions: { video }, ...icePeerConfig(this.#opts.webrtc) };
  }
}

/**
 * The profile-level-id of a stream's H.264 from its next packets: the connection's extradata, else the first
 * in-band SPS (a WHIP publisher is asked for a key frame, which carries one). Undefined after `timeoutMs`, or at
 * once when the stream is not H.264.
 */
export function probeProfile(feed: VideoFeed, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let conn: LiveConnection | undefined;
    let framer: H264Framer | undefined;
    const done = (plid: string | undefined): void => {
      clearTimeout(timer);
      feed.off('packet', onPacket);
      resolve(plid);
    };
    const onPacket = (p: LivePacket): void => {
      if (p.connection.codec !== 'h264') return done(undefined);
      if (p.connection !== conn) {
        conn = p.connection;
        framer = new H264Framer(conn.extradata);
      }
      if (!framer) return;
      if (!framer.profileLevelId) framer.nalus(p.data); // remembers an in-band SPS
      if (framer.profileLevelId) done(framer.profileLevelId);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    feed.on('packet', onPacket);
    // In-band parameter sets come with an IDR: a WHIP publisher can be asked for one now (a camera cannot).
    feed.requestSourceKeyframe?.();
  });
}

/** Rejects what is not an SDP offer with H.264 video before any peer is made (400 with a reason). */
function checkOffer(sdp: string): void {
  if (!/^v=0\r?\n/.test(sdp)) throw new HttpError('E_VALIDATION', 'the body is not an SDP offer (it must start with "v=0")');
  if (!/^m=video /m.test(sdp)) throw new HttpError('E_VALIDATION', 'the SDP offer has no video m-line');
  if (!/^a=rtpmap:\d+ H264\/90000/im.test(sdp)) throw new HttpError('E_VALIDATION', 'the SDP offer has no H.264 video');
}
