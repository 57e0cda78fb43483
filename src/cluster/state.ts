/**
 * The cluster's shared state in Redis, as plain reads and writes:
 *  - the desired streams (a hash of validated configs, so POST/PATCH/DELETE on any instance affect them all);
 *  - each owner's report of its streams (status, groups, scene summary), rewritten about twice a second with a
 *    PX expiry, so a dead owner's reports vanish with its leases;
 *  - each instance's socket.io subscriber counts, so an owner emits a stream's frames while anyone, on any
 *    instance, is subscribed.
 * Stream configs hold camera URLs with their credentials: protect Redis (password, TLS, private network).
 */
import type { Redis } from 'ioredis';
import type { GroupRecord } from '../core/records.js';
import type { StreamConfig } from '../server/config.js';
import type { StreamStatus } from '../server/service.js';
import type { SceneSummary } from '../pipeline/groups/combine.js';
import { Logger } from '../core/log.js';
import { KEYS } from './redis.js';

const log = new Logger('ClusterState');

/** One desired stream. */
export interface DesiredStream {
  config: StreamConfig;
  /** Insertion order across the cluster. */
  seq: number;
}

/** What an owner publishes about one of its streams. */
export interface StreamReport {
  owner: string;
  ownerUrl: string;
  /** Epoch ms when written. */
  at: number;
  status: StreamStatus;
  groups: GroupRecord[];
  scene: SceneSummary | null;
}

function parse<T>(v: string | null | undefined, what: string): T | undefined {
  if (!v) return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    log.debug(`parse(): ${what} is not JSON; ignored`);
    return undefined;
  }
}

export class ClusterState {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Every desired stream, in insertion order. */
  async streams(): Promise<Map<string, DesiredStream>> {
    const [all, order] = await Promise.all([this.#redis.hgetall(KEYS.streams), this.#redis.hgetall(KEYS.streamsOrder)]);
    const list: [string, DesiredStream][] = [];
    for (const [id, v] of Object.entries(all)) {
      const config = parse<StreamConfig>(v, `stream ${id}`);
      if (config?.id === id) list.push([id, { config, seq: Number(order[id] ?? Infinity) }]);
    }
    return new Map(list.sort((a, b) => a[1].seq - b[1].seq || (a[0] < b[0] ? -1 : 1)));
  }

  async stream(id: string): Promise<StreamConfig | undefined> {
    return parse<StreamConfig>(await this.#redis.hget(KEYS.streams, id), `stream ${id}`);
  }

  /**
   * Adds a stream unless the id exists; returns whether it was added. One script, so that a stream and its place
   * in the order appear together: as separate calls, instances seeding the same configuration at once could number
   * it out of order (one wins cam1's HSETNX, another cam2's, and the second's INCR runs first).
   */
  async add(config: StreamConfig): Promise<boolean> {
    const r = await this.#redis.eval(
      `if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end redis.call('HSET', KEYS[3], ARGV[1], redis.call('INCR', KEYS[2])) return 1`,
      3,
      KEYS.streams,
      KEYS.streamsSeq,
      KEYS.streamsOrder,
      config.id,
      JSON.stringify(config),
    );
    return r === 1;
  }

  /** Replaces an existing stream's config; false when it no longer exists (a DELETE in between wins). */
  async replace(config: StreamConfig): Promise<boolean> {
    const r = await this.#redis.eval(
      `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1`,
      1,
      KEYS.streams,
      config.id,
      JSON.stringify(config),
    );
    return r === 1;
  }

  /** Removes a stream; false when it did not exist. */
  async remove(id: string): Promise<boolean> {
    const removed = (await this.#redis.hdel(KEYS.streams, id)) === 1;
    await this.#redis.hdel(KEYS.streamsOrder, id);
    return removed;
  }

  async publishReports(reports: ReadonlyMap<string, StreamReport>, ttlMs: number): Promise<void> {
    if (reports.size === 0) return;
    const p = this.#redis.pipeline();
    for (const [id, r] of reports) p.set(KEYS.status(id), JSON.stringify(r), 'PX', ttlMs);
    await p.exec();
  }

  async reports(ids: readonly string[]): Promise<Map<string, StreamReport>> {
    const out = new Map<string, StreamReport>();
    if (ids.length === 0) return out;
    const values = await this.#redis.mget(ids.map((id) => KEYS.status(id)));
    ids.forEach((id, i) => {
      const r = parse<StreamReport>(values[i], `report ${id}`);
      if (r) out.set(id, r);
    });
    return out;
  }

  async publishSubscribers(instance: string, counts: ReadonlyMap<string, number>, ttlMs: number): Promise<void> {
    await this.#redis.set(KEYS.subs(instance), JSON.stringify(Object.fromEntries(counts)), 'PX', ttlMs);
  }

  /** Subscriber counts of the given instances, summed per stream. */
  async subscribers(instances: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (instances.length === 0) return out;
    const values = await this.#redis.mget(instances.map((i) => KEYS.subs(i)));
    for (const v of values) {
      for (const [id, n] of Object.entries(parse<Record<string, number>>(v, 'subscriber counts') ?? {})) {
        if (typeof n === 'number') out.set(id, (out.get(id) ?? 0) + n);
      }
    }
    return out;
  }
}
