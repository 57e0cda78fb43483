/**
 * Stream leases: one Redis key per stream holds the owner's instance id with a PX expiry. SET NX acquires,
 * a compare-and-PEXPIRE script renews, a compare-and-DEL script releases (RENEW_LUA / RELEASE_LUA).
 *
 * Fencing, so that no camera is analysed by two instances: a lease acquired or renewed by a command sent at
 * time t cannot expire in Redis before t + leaseMs, so this instance treats it as valid only until
 * t + leaseMs × 2/3 (its `deadline`, on the monotonic clock). A watchdog checks the deadlines every 100 ms and
 * calls `onExpired` for a lease not renewed in time — whether Redis said no, is unreachable, or the event loop
 * stalled — and the owner stops the stream then, a third of a lease before anyone else can acquire it.
 *
 * The watchdog is a timer on the same event loop that other work (inference, a long GC) can block, so it may fire
 * late. The deadline is therefore also checked at use time: `holds()`, `held()` and `valid()` expire a lease
 * whose deadline passed (calling `onExpired`) before answering, so no caller acts on a lease that is no longer
 * safe, whenever the timer gets to run.
 */
import type { Redis } from 'ioredis';
import { Logger } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import { KEYS, RELEASE_LUA, RENEW_LUA } from './redis.js';

const log = new Logger('Leases');

/** How often deadlines are checked, ms. */
const WATCHDOG_MS = 100;

export interface LeaseManagerOptions {
  redis: Redis;
  instanceId: string;
  leaseMs: number;
  /** A held lease passed its deadline without renewal: stop the stream now. Called once per lease. */
  onExpired: (stream: string) => void;
  /** Monotonic clock, ms (tests inject a fake one). Default performance.now. */
  now?: () => number;
  /** Watchdog period, ms (default 100). */
  watchdogMs?: number;
}

export class LeaseManager {
  readonly #redis: Redis;
  readonly #me: string;
  readonly #leaseMs: number;
  readonly #onExpired: (stream: string) => void;
  /** Held leases → deadline (performance.now() ms). */
  readonly #held = new Map<string, number>();
  readonly #watchdog: NodeJS.Timeout;
  readonly #now: () => number;
  #closed = false;

  constructor(o: LeaseManagerOptions) {
    this.#redis = o.redis;
    this.#me = o.instanceId;
    this.#leaseMs = o.leaseMs;
    this.#onExpired = o.onExpired;
    this.#now = o.now ?? (() => performance.now());
    this.#watchdog = setInterval(() => this.#check(), o.watchdogMs ?? WATCHDOG_MS).unref();
  }

  /** Streams whose lease this instance holds (and considers valid: deadlines are checked now). */
  held(): string[] {
    this.#check();
    return [...this.#held.keys()];
  }

  /** Whether this instance holds the stream's lease and it is within its deadline (checked now). */
  holds(stream: string): boolean {
    return this.valid(stream);
  }

  /**
   * The fence at use time: true while the lease is held and its deadline has not passed. A passed deadline
   * expires the lease here and now (onExpired is called), even if the watchdog timer has not run yet.
   */
  valid(stream: string): boolean {
    const deadline = this.#held.get(stream);
    if (deadline === undefined) return false;
    if (this.#now() <= deadline) return true;
    this.#expire(stream);
    return false;
  }

  /** Tries to take a free lease; true when this instance now owns the stream. */
  async acquire(stream: string): Promise<boolean> {
    if (this.#closed) return false;
    const sent = this.#now();
    const r = await this.#redis.set(KEYS.lease(stream), this.#me, 'PX', this.#leaseMs, 'NX');
    if (r !== 'OK') return false;
    this.#held.set(stream, sent + (this.#leaseMs * 2) / 3);
    log.debug(`acquire() [stream:${stream}]`);
    return true;
  }

  /**
   * Renews every held lease in one round trip. Returns the streams whose lease turned out to be someone
   * else's (or gone): they are forgotten here and must be stopped. A Redis failure renews nothing and throws;
   * the watchdog then stops the streams when their deadlines pass.
   */
  async renewAll(): Promise<string[]> {
    const streams = this.held();
    if (streams.length === 0) return [];
    const sent = this.#now();
    const p = this.#redis.pipeline();
    for (const s of streams) p.eval(RENEW_LUA, 1, KEYS.lease(s), this.#me, String(this.#leaseMs));
    const results = (await p.exec()) ?? [];
    const lost: string[] = [];
    streams.forEach((s, i) => {
      const [err, res] = results[i] ?? [new Error('no reply'), null];
      if (!this.#held.has(s)) return; // released or expired meanwhile
      if (err) return; // not renewed; the deadline stays and the watchdog decides
      if (res === 1) this.#held.set(s, sent + (this.#leaseMs * 2) / 3);
      else {
        this.#held.delete(s);
        lost.push(s);
      }
    });
    return lost;
  }

  /** Gives a lease up (only if still ours in Redis). */
  async release(stream: string): Promise<void> {
    this.#held.delete(stream);
    try {
      await this.#redis.eval(RELEASE_LUA, 1, KEYS.lease(stream), this.#me);
    } catch (e) {
      // It expires by itself within leaseMs.
      log.warn(`release() [stream:${stream}] ${errorMessage(e)}`);
    }
  }

  /** Current holders of the given streams' leases (absent: free). */
  async owners(streams: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (streams.length === 0) return out;
    const values = await this.#redis.mget(streams.map((s) => KEYS.lease(s)));
    streams.forEach((s, i) => {
      const v = values[i];
      if (v) out.set(s, v);
    });
    return out;
  }

  /** Stops the watchdog; releases every held lease (best effort) so others take over at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    await Promise.all(this.held().map((s) => this.release(s)));
  }

  #check(): void {
    const now = this.#now();
    for (const [s, deadline] of this.#held) if (now > deadline) this.#expire(s);
  }

  #expire(stream: string): void {
    if (!this.#held.delete(stream)) return;
    log.warn(`lease not renewed in time: stopping [stream:${stream}]`);
    this.#onExpired(stream);
  }
}
