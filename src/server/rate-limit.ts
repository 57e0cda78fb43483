/**
 * Rate limiting of control requests (stream changes, WebRTC session set-up): a token bucket per client address,
 * in memory. `RateLimiter` is the pure core (time is passed in); `rateLimit()` is its express adapter, which
 * answers 429 E_RATE_LIMITED with `Retry-After` (whole seconds).
 *
 * The client address is the socket's peer: behind a reverse proxy every client shares the proxy's bucket (size
 * the limit for that, or rate-limit at the proxy). Forwarded headers are not trusted: any client can forge them.
 */
import type { RequestHandler } from 'express';
import { HttpError } from '../core/http-errors.js';

export interface RateLimitOptions {
  /** Requests a client may make at once (bucket size). */
  burst: number;
  /** Sustained requests per minute (refill rate). */
  perMinute: number;
  /** Most clients tracked; beyond it the least recently seen are forgotten (a full bucket). Default 10000. */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  /** ms */
  at: number;
}

export type Take = { ok: true } | { ok: false; retryAfterSec: number };

export class RateLimiter {
  readonly #burst: number;
  /** tokens per ms */
  readonly #rate: number;
  readonly #max: number;
  /** Least recently seen first (a hit re-inserts its key). */
  readonly #buckets = new Map<string, Bucket>();

  constructor(opts: RateLimitOptions) {
    if (!(opts.burst >= 1) || !(opts.perMinute > 0)) throw new TypeError('RateLimiter: burst must be >= 1 and perMinute > 0');
    this.#burst = opts.burst;
    this.#rate = opts.perMinute / 60_000;
    this.#max = opts.maxClients ?? 10_000;
  }

  /** Clients currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token from `key`'s bucket at time `nowMs`. */
  take(key: string, nowMs: number): Take {
    const prev = this.#buckets.get(key);
    const tokens = prev ? Math.min(this.#burst, prev.tokens + (nowMs - prev.at) * this.#rate) : this.#burst;
    this.#buckets.delete(key);
    if (tokens >= 1) {
      this.#buckets.set(key, { tokens: tokens - 1, at: nowMs });
      this.#evict();
      return { ok: true };
    }
    this.#buckets.set(key, { tokens, at: nowMs });
    return { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - tokens) / this.#rate / 1000)) };
  }

  #evict(): void {
    while (this.#buckets.size > this.#max) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) break;
      this.#buckets.delete(oldest);
    }
  }
}

/** express middleware over a RateLimiter (module comment). */
export function rateLimit(limiter: RateLimiter, what = 'requests'): RequestHandler {
  return (req, res, next) => {
    const r = limiter.take(req.socket.remoteAddress ?? 'unknown', Date.now());
    if (r.ok) return next();
    res.set('Retry-After', String(r.retryAfterSec));
    next(new HttpError('E_RATE_LIMITED', `too many ${what} from this address; retry in ${r.retryAfterSec} s`));
  };
}
