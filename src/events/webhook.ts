/**
 * Webhooks: one WebhookTarget per configured URL, with its own bounded queue, delivering one event at a time in
 * order (a slow or dead receiver delays only its own events). Each attempt is a POST of the event JSON with
 *
 *   X-Facecast-Timestamp: <unix seconds>
 *   X-Facecast-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 *   X-Facecast-Event: <event id>          (the same on every retry: receivers drop duplicates by it)
 *
 * (the Stripe/Slack scheme: the timestamp is signed too, so a captured request cannot be replayed later than the
 * receiver's tolerance). Failures — network errors, timeouts, 408, 429, 5xx — are retried with exponential
 * backoff until the event is `retryWindowMs` old; the last attempt is made at the end of the window, so a
 * receiver that is down for less than the window loses nothing. Other answers (4xx, redirects: never followed)
 * are permanent failures. A full queue drops its oldest event. Every outcome is counted (metrics).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidStateError, errorMessage } from '../core/errors.js';
import { Logger } from '../core/log.js';
import type { FacecastEvent } from './event.js';
import type { WebhookConfig } from './schema.js';

const log = new Logger('Webhook');

export const SIGNATURE_HEADER = 'x-facecast-signature';
export const TIMESTAMP_HEADER = 'x-facecast-timestamp';
export const EVENT_HEADER = 'x-facecast-event';

/** `sha256=<hex>` of `<timestamp>.<body>`. */
export function signPayload(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does: recomputes the signature (constant-time compare) and checks the timestamp is within
 * `toleranceS` of `nowS` (default 300 s), so an old captured request is refused.
 */
export function verifySignature(secret: string, headers: { signature: string | undefined; timestamp: string | undefined }, body: string, nowS = Date.now() / 1000, toleranceS = 300): boolean {
  const ts = Number(headers.timestamp);
  if (!headers.signature || !Number.isInteger(ts) || Math.abs(nowS - ts) > toleranceS) return false;
  const want = Buffer.from(signPayload(secret, ts, body));
  const got = Buffer.from(headers.signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Counters of one target (metrics). */
export interface WebhookStats {
  /** Events delivered (2xx). */
  delivered: number;
  /** Attempts that failed (each retry counts). */
  failedAttempts: number;
  /** Events given up: queue full (oldest dropped), retry window over, permanent failure (4xx), refused by the policy. */
  dropped: { queue: number; expired: number; rejected: number; forbidden: number };
  /** Events waiting now, the one in flight included. */
  queued: number;
}

export interface WebhookTargetOptions {
  /** Checks the URL before each attempt (the SSRF policy); rejects when forbidden. Default: none. */
  check?: (url: string) => Promise<void>;
  /** The clock, epoch ms (default Date.now): retry windows are measured on it. */
  now?: () => number;
  /** Waits (default timers/promises setTimeout); rejects on abort. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The fetch used (default globalThis.fetch). */
  fetch?: typeof fetch;
}

interface Queued {
  event: FacecastEvent;
  body: string;
  /** When it was queued (the retry window starts here). */
  at: number;
}

const RETRYABLE = (status: number): boolean => status === 408 || status === 429 || status >= 500;

export class WebhookTarget implements AsyncDisposable {
  readonly id: string;
  readonly #config: WebhookConfig;
  readonly #opts: Required<Pick<WebhookTargetOptions, 'now' | 'sleep' | 'fetch'>> & Pick<WebhookTargetOptions, 'check'>;
  readonly #queue: Queued[] = [];
  readonly #abort = new AbortController();
  readonly #stats: WebhookStats = { delivered: 0, failedAttempts: 0, dropped: { queue: 0, expired: 0, rejected: 0, forbidden: 0 }, queued: 0 };
  #running: Promise<void> | undefined;
  /** 1 while an event is being delivered (it has left the queue, so the bound applies to waiting events). */
  #inFlight = 0;
  #closing: Promise<void> | undefined;

  constructor(id: string, config: WebhookConfig, opts: WebhookTargetOptions = {}) {
    this.id = id;
    this.#config = config;
    this.#opts = {
      check: opts.check,
      now: opts.now ?? Date.now,
      sleep: opts.sleep ?? ((ms, signal) => sleep(ms, undefined, { signal })),
      fetch: opts.fetch ?? globalThis.fetch,
    };
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  stats(): WebhookStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped }, queued: this.#queue.length + this.#inFlight };
  }

  /** Whether this target takes events of `rule` (config `rules`). */
  wants(rule: string): boolean {
    return this.#config.rules === undefined || this.#config.rules.includes(rule);
  }

  /** Queues an event (never blocks; a full queue drops its oldest waiting event, counted). */
  send(event: FacecastEvent): void {
    if (this.closed) throw new InvalidStateError(`WebhookTarget ${this.id} is closed`);
    if (this.#queue.length >= this.#config.queueSize) {
      this.#queue.shift();
      this.#stats.dropped.queue++;
      // Rate-limited: a dead receiver under a burst of events would otherwise log once per event.
      const n = this.#stats.dropped.queue;
      if (n === 1 || n % 100 === 0) log.warn(`send() [target:${this.id}] queue full (${this.#config.queueSize}): oldest event dropped (${n} so far)`);
    }
    this.#queue.push({ event, body: JSON.stringify(event), at: this.#opts.now() });
    this.#running ??= this.#drain().finally(() => (this.#running = undefined));
  }

  /** Resolves once the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops delivering: waiting events are abandoned (not counted as dropped: the server is stopping). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort();
      await this.#running?.catch(() => undefined);
      this.#queue.length = 0;
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #drain(): Promise<void> {
    const signal = this.#abort.signal;
    for (let item = this.#queue.shift(); item && !signal.aborted; item = this.#queue.shift()) {
      this.#inFlight = 1;
      await this.#deliver(item, signal).catch((e: unknown) => {
        if (!signal.aborted) log.error(`#deliver() [target:${this.id}] ${errorMessage(e)}`);
      });
      this.#inFlight = 0;
    }
  }

  /** Attempts until delivered, permanently refused, or out of the retry window. */
  async #deliver(item: Queued, signal: AbortSignal): Promise<void> {
    const c = this.#config;
    let backoff = c.initialBackoffMs;
    const deadline = item.at + c.retryWindowMs;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(item, signal);
      if (signal.aborted) return;
      if (outcome === 'ok') {
        this.#stats.delivered++;
        return;
      }
      if (outcome === 'forbidden' || outcome === 'rejected') {
        this.#stats.dropped[outcome]++;
        return;
      }
      this.#stats.failedAttempts++;
      const now = this.#opts.now();
      if (now >= deadline) {
        this.#stats.dropped.expired++;
        log.warn(`#deliver() [target:${this.id}, event:${item.event.id}] given up after ${attempt} attempts (retry window ${c.retryWindowMs} ms)`);
        return;
      }
      // The last retry lands on the end of the window: a receiver back before then gets the event.
      const wait = Math.min(backoff, deadline - now);
      backoff = Math.min(backoff * 2, c.maxBackoffMs);
      try {
        await this.#opts.sleep(wait, signal);
      } catch {
        return; // aborted: closing
      }
    }
  }

  async #attempt(item: Queued, signal: AbortSignal): Promise<'ok' | 'retry' | 'rejected' | 'forbidden'> {
    const c = this.#config;
    if (this.#opts.check) {
      try {
        await this.#opts.check(c.url);
      } catch (e) {
        log.warn(`#attempt() [target:${this.id}] refused by the webhook policy: ${errorMessage(e)}`);
        return 'forbidden';
      }
    }
    const ts = Math.floor(this.#opts.now() / 1000);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'facecast-webhook/1', [TIMESTAMP_HEADER]: String(ts), [EVENT_HEADER]: item.event.id };
    if (c.secret !== undefined) headers[SIGNATURE_HEADER] = signPayload(c.secret, ts, item.body);
    try {
      const res = await this.#opts.fetch(c.url, { method: 'POST', headers, body: item.body, redirect: 'manual', signal: AbortSignal.any([signal, AbortSignal.timeout(c.timeoutMs)]) });
      await res.body?.cancel().catch(() => undefined); // the answer's body is not needed; free the connection
      if (res.status >= 200 && res.status < 300) return 'ok';
      log.debug(`#attempt() [target:${this.id}, event:${item.event.id}] HTTP ${res.status}`);
      return RETRYABLE(res.status) ? 'retry' : 'rejected';
    } catch (e) {
      log.debug(`#attempt() [target:${this.id}, event:${item.event.id}] ${errorMessage(e)}`);
      return 'retry';
    }
  }
}
