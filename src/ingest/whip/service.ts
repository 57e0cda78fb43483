/**
 * WHIP ingest (WebRTC-HTTP Ingestion Protocol, non-trickle): `POST /whip/:stream` with an SDP offer creates a
 * WhipPublisher whose feed becomes the stream's source; `DELETE` on the session (or the peer failing) ends it and
 * the stream goes idle, its viewers staying attached until a publisher comes back. One publisher per stream: a
 * new one replaces the previous (OBS reconnecting after a network drop must not be locked out by its own ghost).
 *
 * Auth: when tokens are configured, both requests need `Authorization: Bearer <token>` (what OBS sends).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../../core/log.js';
import { errorMessage } from '../../core/errors.js';
import type { IceConfig } from '../../core/ice.js';
import { HttpError } from '../../core/http-errors.js';
import { TokenSet, bearerToken } from '../../core/auth.js';
import { WhipPublisher, type WhipBitrate } from './publisher.js';

const log = new Logger('Whip');

/** A stream that can take a WHIP feed (the server's RuntimeHandle with `source: whip`). */
export interface WhipTarget {
  /** Whether the stream is a WHIP publish point (a camera stream cannot be published to). */
  readonly acceptsWhip: boolean;
  /** The feed of the current publisher is described by `sdpPath`; called again if it changes. */
  publish(sdpPath: string, control: { requestKeyframe(): void }): Promise<void>;
  /** The publisher left: stop ingest, go idle (viewers stay attached). */
  unpublish(): Promise<void>;
  /** True once frames of the current feed are decoded. */
  receiving(): boolean;
}

export interface WhipServiceOptions {
  lookup: (streamId: string) => WhipTarget | undefined;
  /**
   * Makes a WHIP stream for an unknown id (auto-create); without it an unknown id is 404. Called only once the
   * offer was answered, so a rejected offer creates nothing. Its errors should be HttpErrors (a bad id: 400).
   */
  create?: (streamId: string) => Promise<WhipTarget>;
  /** Auto-create: throws an HttpError (E_VALIDATION) for an id no stream may have, before the offer is processed. */
  checkId?: (streamId: string) => void;
  /** Bearer tokens that may publish (whip.tokens and the API tokens); none configured = no auth. */
  tokens?: readonly string[];
  webrtc?: IceConfig;
  bitrate?: WhipBitrate;
  /** Key-frame requests until the first frame decodes: every this many ms (default 500), at most 20 times. */
  keyframeRetryMs?: number;
}

export class WhipService {
  readonly #opts: WhipServiceOptions;
  readonly #tokens: TokenSet;
  readonly #dir = mkdtempSync(join(tmpdir(), 'facecast-whip-'));
  /** Current publisher per stream. */
  readonly #byStream = new Map<string, WhipPublisher>();
  #closed = false;

  constructor(opts: WhipServiceOptions) {
    this.#opts = opts;
    this.#tokens = new TokenSet(opts.tokens ?? []);
  }

  /** The stream's current publisher. */
  publisher(streamId: string): WhipPublisher | undefined {
    return this.#byStream.get(streamId);
  }

  /** Checks `Authorization: Bearer …` against the configured tokens (SHA-256 digests, constant time). */
  authorize(header: string | undefined): void {
    if (this.#tokens.open) return;
    const got = bearerToken(header);
    if (!this.#tokens.has(got)) throw new HttpError('E_UNAUTHORIZED', got === undefined ? 'publishing needs "Authorization: Bearer <token>"' : 'invalid publish token');
  }

  /**
   * Answers a WHIP offer and makes its publisher the stream's feed.
   * @throws HttpError E_VALIDATION (bad offer), E_NOT_FOUND, E_CONFLICT (not a WHIP stream), E_UNAVAILABLE (closed)
   */
  async createSession(streamId: string, offerSdp: string): Promise<{ sessionId: string; answerSdp: string }> {
    if (this.#closed) throw new HttpError('E_UNAVAILABLE', 'the WHIP service is closed');
    checkOffer(offerSdp);
    let target = this.#opts.lookup(streamId);
    const create = this.#opts.create;
    if (!target) {
      if (!create) throw new HttpError('E_NOT_FOUND', `no stream "${streamId}"`);
      this.#opts.checkId?.(streamId);
    }
    if (target && !target.acceptsWhip) throw new HttpError('E_CONFLICT', `stream "${streamId}" has a camera source; publish to a stream with source "whip"`);
    let created: { publisher: WhipPublisher; answerSdp: string };
    try {
      created = await WhipPublisher.create(streamId, offerSdp, { dir: this.#dir, ...(this.#opts.webrtc ? { webrtc: this.#opts.webrtc } : {}), ...(this.#opts.bitrate ? { bitrate: this.#opts.bitrate } : {}) });
    } catch (e) {
      throw new HttpError('E_VALIDATION', `invalid SDP offer: ${errorMessage(e)}`, { cause: e });
    }
    // The stream is auto-created only now that the offer was answered: a rejected offer leaves nothing behind.
    if (!target) {
      try {
        target = this.#opts.lookup(streamId) ?? (await create!(streamId));
      } catch (e) {
        await created.publisher.close();
        throw e;
      }
      if (!target.acceptsWhip) {
        await created.publisher.close();
        throw new HttpError('E_CONFLICT', `stream "${streamId}" has a camera source; publish to a stream with source "whip"`);
      }
    }
    const { publisher, answerSdp } = created;
    if (this.#closed) {
      await publisher.close();
      throw new HttpError('E_UNAVAILABLE', 'the WHIP service is closed');
    }
    const previous = this.#byStream.get(streamId);
    this.#byStream.set(streamId, publisher);
    if (previous) {
      log.info(`stream ${streamId}: publisher ${publisher.id} replaces ${previous.id}`);
      void previous.close();
    }
    const t = target;
    publisher.on('feed', (sdpPath) => {
      if (this.#byStream.get(streamId) !== publisher) return;
      void t
        .publish(sdpPath, publisher)
        .then(() => this.#askForKeyframes(publisher, t))
        .catch((e: unknown) => log.warn(`stream ${streamId}: publish failed: ${errorMessage(e)}`));
    });
    publisher.on('close', () => {
      if (this.#byStream.get(streamId) !== publisher) return;
      this.#byStream.delete(streamId);
      void t.unpublish().catch((e: unknown) => log.warn(`stream ${streamId}: unpublish failed: ${errorMessage(e)}`));
    });
    return { sessionId: publisher.id, answerSdp };
  }

  /** Ends a session; false when there is none with that id on that stream. */
  async deleteSession(streamId: string, sessionId: string): Promise<boolean> {
    const p = this.#byStream.get(streamId);
    if (!p || p.id !== sessionId) return false;
    await p.close(); // its 'close' handler unpublishes
    return true;
  }

  /** Closes every publisher. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#byStream.values()].map((p) => p.close()));
    this.#byStream.clear();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** PLIs until the stream decodes (the demuxer starts listening after the publisher started sending). */
  async #askForKeyframes(p: WhipPublisher, t: WhipTarget): Promise<void> {
    const every = this.#opts.keyframeRetryMs ?? 500;
    for (let i = 0; i < 20 && !p.closed && !t.receiving(); i++) {
      p.requestKeyframe();
      await new Promise((r) => setTimeout(r, every).unref());
    }
  }
}

/** Rejects what is not an SDP offer with H.264 or VP8 video before any peer is made (400 with a reason). */
function checkOffer(sdp: string): void {
  if (!/^v=0\r?\n/.test(sdp)) throw new HttpError('E_VALIDATION', 'the body is not an SDP offer (it must start with "v=0")');
  if (!/^m=video /m.test(sdp)) throw new HttpError('E_VALIDATION', 'the SDP offer has no video m-line');
  if (!/^a=rtpmap:\d+ (H264|VP8)\/90000/im.test(sdp)) throw new HttpError('E_UNSUPPORTED_CODEC', 'the SDP offer has neither H.264 nor VP8 video (facecast ingests those two)');
}
