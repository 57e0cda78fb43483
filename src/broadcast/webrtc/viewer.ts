/**
 * One WHEP viewer: its werift peer, its sender, where it is in the shared stream, and whether its peer is still
 * there. A viewer that leaves without a DELETE (tab closed, browser or process killed, network gone) must not stay
 * attached: it would keep its stream's encode running for nobody (issue 12: still attached 30 s after the
 * viewer's process was killed). Signals, most reliable first:
 *
 * - No packet from the peer for `peerTimeoutMs` (default 8 s): browsers send RTCP receiver reports about every
 *   second while they receive, and STUN checks on the selected pair every few seconds (both count). Polled once a
 *   second from counters werift keeps (the DTLS transport's received SRTP/SRTCP packets), plus a subscription to
 *   STUN requests; this catches a peer killed without a word, and anything the signals below miss.
 * - DTLS closed (the peer sent close_notify: a browser closing its connection) or failed.
 * - ICE consent (RFC 7675): werift checks every ~5 s and reports `disconnected` after one unanswered check
 *   (~6 s of retransmissions); werift 0.23 stops checking after that, so `disconnected` is final here.
 * - connectionState failed/closed.
 * - Never connected within `connectTimeoutMs` (default 15 s).
 *
 * The viewer emits `gone` once with the reason; the service (whep.ts) detaches, counts and closes it.
 */
import { randomUUID } from 'node:crypto';
import { RtpHeader, RtpPacket } from 'werift';
import type { RTCPeerConnection, RTCRtpSender, RtcpPacket } from 'werift';
import { TypedEmitter } from '../../core/emitter.js';
import { errorMessage } from '../../core/errors.js';
import { Logger } from '../../core/log.js';
import type { BroadcastSink } from '../broadcast.js';

const log = new Logger('WhepViewer');

/** Why a viewer's session ended (the label of facecast_whep_sessions_closed_total). */
export const VIEWER_CLOSE_REASONS = ['delete', 'peer-timeout', 'dtls-closed', 'dtls-failed', 'ice-disconnected', 'connection-failed', 'connection-closed', 'connect-timeout', 'shutdown'] as const;
export type ViewerCloseReason = (typeof VIEWER_CLOSE_REASONS)[number];

/** What each reason means, for the log line. */
export const CLOSE_REASON_TEXT: Readonly<Record<ViewerCloseReason, string>> = {
  delete: 'DELETE',
  'peer-timeout': 'no RTCP or STUN from the peer',
  'dtls-closed': 'the peer closed DTLS',
  'dtls-failed': 'DTLS failed',
  'ice-disconnected': 'ICE consent expired',
  'connection-failed': 'the connection failed',
  'connection-closed': 'the connection closed',
  'connect-timeout': 'never connected',
  shutdown: 'the service closed',
};

export interface ViewerWatchOptions {
  /** Not connected after this long: gone, ms (default 15000). */
  connectTimeoutMs?: number;
  /** Connected, but nothing from the peer for this long: gone, ms (default 8000). */
  peerTimeoutMs?: number;
  /** Watchdog period, ms (default 1000). */
  checkEveryMs?: number;
}

export interface WhepViewerEvents {
  /** The peer connected: packets may flow. */
  connected: [];
  /** The peer asked for a key frame (PLI or FIR). */
  keyframe: [];
  /** The peer is gone; emitted once. */
  gone: [reason: ViewerCloseReason];
}

/** RTCP payload-specific feedback (RFC 4585): FMT 1 = PLI, FMT 4 = FIR (RFC 5104). */
const RTCP_PSFB = 206;
const FMT_PLI = 1;
const FMT_FIR = 4;

export class WhepViewer extends TypedEmitter<WhepViewerEvents> implements BroadcastSink {
  readonly id = randomUUID();
  readonly streamId: string;
  /** Key of the broadcast it watches (the service's map). */
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
  /** performance.now() of the last packet or STUN request seen from the peer. */
  lastHeardAt = performance.now();
  #seq = Math.floor(Math.random() * 0x10000);
  /** Header extensions stamped on every packet (the negotiated playout delay, see playout-delay.ts). */
  #extensions: { id: number; payload: Buffer }[] = [];
  #closed = false;
  #gone = false;
  #timer: NodeJS.Timeout | undefined;
  #received = 0;
  readonly #unsubscribe: (() => void)[] = [];

  constructor(streamId: string, pc: RTCPeerConnection, sender: RTCRtpSender) {
    super();
    this.streamId = streamId;
    this.pc = pc;
    this.sender = sender;
  }

  /**
   * Stamps the playout-delay extension on every packet from now on, under the id the offer gave it (a one-byte
   * header id, 1–14: werift writes one-byte headers). On every packet, not only key frames: a receiver that joins
   * or loses packets applies it from the next frame it gets, and it costs 4 bytes a packet. An id outside 1–14
   * (a two-byte header offer) is not written: false, and packets go out without it.
   */
  setPlayoutDelay(id: number, payload: Buffer): boolean {
    if (!Number.isInteger(id) || id < 1 || id > 14) return false;
    this.#extensions = [{ id, payload }];
    return true;
  }

  /** Sends one packet without waiting; the sender rewrites SSRC and payload type. */
  send(payload: Buffer, timestamp: number, marker: boolean): void {
    const header = new RtpHeader({ payloadType: 96, sequenceNumber: this.#seq, timestamp, marker, extensions: this.#extensions });
    this.#seq = (this.#seq + 1) & 0xffff;
    this.inFlight++;
    this.sender
      .sendRtp(new RtpPacket(header, payload))
      .catch((e: unknown) => log.debug(`send() [viewer:${this.id}] failed: ${errorMessage(e)}`))
      .finally(() => this.inFlight--);
  }

  /** Starts watching the peer (module comment). Call once the answer is set. */
  watch(opts: ViewerWatchOptions = {}): void {
    if (this.#closed || this.#timer) return;
    const connectTimeoutMs = opts.connectTimeoutMs ?? 15000;
    const peerTimeoutMs = opts.peerTimeoutMs ?? 8000;
    const sub = (s: { unSubscribe: () => void }): void => void this.#unsubscribe.push(s.unSubscribe);
    sub(
      this.pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected') this.#onConnected();
        else if (state === 'failed') this.#goneFor('connection-failed');
        else if (state === 'closed') this.#goneFor('connection-closed');
      }),
    );
    sub(
      this.pc.iceConnectionStateChange.subscribe((state) => {
        if (state === 'disconnected') this.#goneFor('ice-disconnected');
        else if (state === 'failed') this.#goneFor('connection-failed');
      }),
    );
    const dtls = this.sender.dtlsTransport as RTCRtpSender['dtlsTransport'] | undefined;
    if (dtls) {
      sub(
        dtls.onStateChange.subscribe((state) => {
          if (state === 'closed') this.#goneFor('dtls-closed');
          else if (state === 'failed') this.#goneFor('dtls-failed');
        }),
      );
    }
    sub(
      this.sender.onRtcp.subscribe((pkt: RtcpPacket) => {
        if (pkt.type !== RTCP_PSFB) return;
        const fmt = 'feedback' in pkt ? pkt.feedback.count : -1;
        if (fmt === FMT_PLI || fmt === FMT_FIR) this.safeEmit('keyframe');
      }),
    );
    this.#timer = setInterval(() => {
      const now = performance.now();
      if (!this.connected) {
        if (now - this.createdAt > connectTimeoutMs) this.#goneFor('connect-timeout');
        return;
      }
      const received = dtls?.packetsReceived ?? 0;
      if (received !== this.#received) {
        this.#received = received;
        this.lastHeardAt = now;
      }
      if (now - this.lastHeardAt > peerTimeoutMs) this.#goneFor('peer-timeout');
    }, opts.checkEveryMs ?? 1000);
    this.#timer.unref();
  }

  #onConnected(): void {
    if (this.connected || this.#gone) return;
    this.connected = true;
    this.lastHeardAt = performance.now();
    // STUN checks from the peer count as signs of life too (a browser that receives nothing sends no RTCP).
    const pair = this.sender.dtlsTransport?.iceTransport.connection.nominated;
    if (pair) this.#unsubscribe.push(pair.protocol.onRequestReceived.subscribe(() => void (this.lastHeardAt = performance.now())).unSubscribe);
    this.safeEmit('connected');
  }

  #goneFor(reason: ViewerCloseReason): void {
    if (this.#gone || this.#closed) return;
    this.#gone = true;
    this.safeEmit('gone', reason);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops watching and closes the peer. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#gone = true;
    clearInterval(this.#timer);
    for (const u of this.#unsubscribe.splice(0)) u();
    this.removeAllListeners();
    await this.pc.close().catch((e: unknown) => log.debug(`close() [viewer:${this.id}]: ${errorMessage(e)}`));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
