/**
 * Redis for cluster mode: the client settings (commands fail fast instead of queueing while Redis is away, so a
 * reconcile round fails and lease fencing takes over), the key layout, and the Lua scripts that make lease
 * renewal and release compare-and-act in one step.
 *
 *   facecast:streams            hash  stream id → JSON StreamConfig: the cluster's desired streams
 *   facecast:streams:order      hash  stream id → insertion number (GET /api/streams lists in that order)
 *   facecast:streams:seq        int   the insertion counter
 *   facecast:lease:<stream>     str   instance id of the owner, PX leaseMs (SET NX to acquire)
 *   facecast:member:<instance>  str   JSON MemberInfo, PX leaseMs: the heartbeat
 *   facecast:status:<stream>    str   JSON StreamReport from the owner, PX leaseMs
 *   facecast:subs:<instance>    str   JSON { stream: socket.io subscribers on that instance }, PX leaseMs
 *   facecast:socket.io#…        pub/sub channels of @socket.io/redis-adapter
 */
import { Redis } from 'ioredis';
import { Logger } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import { redactUrl } from '../core/redact.js';

const log = new Logger('Redis');

export const KEYS = {
  streams: 'facecast:streams',
  streamsSeq: 'facecast:streams:seq',
  streamsOrder: 'facecast:streams:order',
  lease: (stream: string): string => `facecast:lease:${stream}`,
  member: (instance: string): string => `facecast:member:${instance}`,
  memberPattern: 'facecast:member:*',
  status: (stream: string): string => `facecast:status:${stream}`,
  subs: (instance: string): string => `facecast:subs:${instance}`,
  socketio: 'facecast:socket.io',
} as const;

/** Extends the lease only while this instance holds it: 1 when renewed, 0 when someone else (or nobody) does. */
export const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
/** Deletes the lease only while this instance holds it. */
export const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * A client for commands (`role` names it in logs). `commandTimeoutMs` bounds every command; with Redis away,
 * commands are rejected at once (no offline queue) while the client keeps reconnecting in the background.
 */
export function createRedis(url: string, role: string, commandTimeoutMs: number): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(1000, commandTimeoutMs),
    retryStrategy: (times) => Math.min(100 * times, 1000),
    connectionName: `facecast-${role}`,
  });
  let down = false;
  client.on('error', (e: unknown) => {
    if (down) return; // ioredis reports every failed reconnect; once per outage is enough
    down = true;
    log.warn(`${role}: ${errorMessage(e)} [url:${redactUrl(url)}]`);
  });
  client.on('ready', () => {
    if (down) log.info(`${role}: connected again [url:${redactUrl(url)}]`);
    down = false;
  });
  return client;
}

/** Connects a lazy client, rejecting after `timeoutMs` with a message that names the (redacted) URL. */
export async function connectRedis(client: Redis, url: string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    client.disconnect();
    throw new Error(`cannot connect to Redis at ${redactUrl(url)}: ${errorMessage(e)}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}
