/**
 * Cluster membership: each instance keeps a heartbeat key (`facecast:member:<id>`, PX leaseMs) holding how to
 * reach it; the live members are the heartbeat keys present. An instance that dies drops out within leaseMs.
 */
import type { Redis } from 'ioredis';
import { Logger } from '../core/log.js';
import { KEYS } from './redis.js';

const log = new Logger('Membership');

export interface MemberInfo {
  id: string;
  /** How other instances and clients reach it (config cluster.advertiseUrl). */
  url: string;
  /** Epoch ms of its start. */
  startedAt: number;
}

export class Membership {
  readonly #redis: Redis;
  readonly #self: MemberInfo;
  readonly #leaseMs: number;

  constructor(redis: Redis, self: MemberInfo, leaseMs: number) {
    this.#redis = redis;
    this.#self = self;
    this.#leaseMs = leaseMs;
  }

  get self(): MemberInfo {
    return this.#self;
  }

  async heartbeat(): Promise<void> {
    await this.#redis.set(KEYS.member(this.#self.id), JSON.stringify(this.#self), 'PX', this.#leaseMs);
  }

  /** Live members, sorted by id (a SCAN: the cluster is a handful of instances). */
  async members(): Promise<MemberInfo[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.#redis.scan(cursor, 'MATCH', KEYS.memberPattern, 'COUNT', 200);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const values = await this.#redis.mget(keys);
    const out: MemberInfo[] = [];
    for (const v of values) {
      if (!v) continue;
      try {
        const m = JSON.parse(v) as MemberInfo;
        if (typeof m.id === 'string' && typeof m.url === 'string') out.push(m);
      } catch {
        log.debug('members(): a heartbeat key that is not JSON (not a member)');
      }
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Removes the heartbeat (clean shutdown), so the others rebalance at their next round. */
  async leave(): Promise<void> {
    await this.#redis.del(KEYS.member(this.#self.id));
  }
}
