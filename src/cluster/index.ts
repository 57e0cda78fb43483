/**
 * Cluster mode for `facecast serve` (config `cluster:`): connects to Redis, makes the coordinator and the
 * cluster-wide StreamService, puts socket.io on the Redis adapter, and offers what serve mounts (the owner
 * redirects, /api/cluster). See README.md § Cluster mode for what it does and its limits.
 */
import { networkInterfaces } from 'node:os';
import type { Router } from 'express';
import type { Redis } from 'ioredis';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Server as IoServer } from 'socket.io';
import { Logger } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import { redactUrl } from '../core/redact.js';
import type { FrameRecord } from '../core/records.js';
import { sceneSummary, type SceneSummary } from '../pipeline/groups/combine.js';
import type { ClusterConfig, StreamConfig } from '../server/config.js';
import { validate, type StreamRegistry } from '../server/registry.js';
import { HttpError } from '../core/http-errors.js';
import { ClusterCoordinator } from './coordinator.js';
import { connectRedis, createRedis, KEYS } from './redis.js';
import { ClusterStreamService } from './service.js';
import { clusterApi, ownerRedirect } from './routes.js';

const log = new Logger('Cluster');

export interface ClusterModeOptions {
  cluster: ClusterConfig;
  registry: StreamRegistry;
  latestRecord: (id: string) => FrameRecord | undefined;
  localSubscribers: () => Map<string, number>;
  onChange: () => void;
}

export class ClusterMode {
  readonly node: ClusterCoordinator;
  readonly service: ClusterStreamService;
  readonly #cfg: ClusterConfig;
  readonly #clients: Redis[];
  readonly #latestRecord: (id: string) => FrameRecord | undefined;

  private constructor(cfg: ClusterConfig, node: ClusterCoordinator, service: ClusterStreamService, clients: Redis[], latestRecord: (id: string) => FrameRecord | undefined) {
    this.#cfg = cfg;
    this.node = node;
    this.service = service;
    this.#clients = clients;
    this.#latestRecord = latestRecord;
  }

  /** Connects to Redis (rejects after a few seconds when it is unreachable: the server does not start). */
  static async connect(o: ClusterModeOptions): Promise<ClusterMode> {
    const c = o.cluster;
    const renewMs = c.renewMs ?? Math.min(1000, Math.floor(c.leaseMs / 3));
    const timeout = Math.max(500, Math.floor(c.leaseMs / 3));
    // One client for commands, two for the socket.io adapter (a subscribed connection cannot send commands).
    const clients = [createRedis(c.redisUrl, 'commands', timeout), createRedis(c.redisUrl, 'socket.io-pub', timeout), createRedis(c.redisUrl, 'socket.io-sub', timeout)];
    try {
      await Promise.all(clients.map((r) => connectRedis(r, c.redisUrl, 5000)));
    } catch (e) {
      for (const r of clients) r.disconnect();
      throw e;
    }
    const node = new ClusterCoordinator({ redis: clients[0], instanceId: c.instanceId, leaseMs: c.leaseMs, renewMs, registry: o.registry, latestRecord: o.latestRecord, localSubscribers: o.localSubscribers, onChange: o.onChange });
    log.info(`connect() [instance:${c.instanceId}, redis:${redactUrl(c.redisUrl)}, leaseMs:${c.leaseMs}, renewMs:${renewMs}]`);
    return new ClusterMode(c, node, new ClusterStreamService(node, o.registry), clients, o.latestRecord);
  }

  /** socket.io on the Redis adapter: room emits reach the sockets of every instance. */
  attach(io: IoServer): void {
    io.adapter(createAdapter(safePublisher(this.#clients[1]), this.#clients[2], { key: KEYS.socketio }));
  }

  /** A stream of the config file (or the demo): added to the cluster's streams unless the id is there. */
  async seed(config: StreamConfig): Promise<void> {
    if (await this.node.state.add(config)) this.node.noteAdded(config);
  }

  /** Routers serve mounts before the API, WHEP and WHIP routes. */
  routers(): Router[] {
    return [ownerRedirect(this.node), clusterApi(this.node)];
  }

  /**
   * WHIP auto-create in cluster mode: a publisher that reaches this instance (the redirect sent it here if
   * another instance owns the stream) takes the stream here; an unknown id becomes a WHIP stream when allowed.
   */
  async claimWhip(id: string, autoCreate: boolean): Promise<void> {
    // Validated first (HttpError E_VALIDATION, 400): an id no stream may have is neither looked up nor created.
    const fresh = validate({ id, source: 'whip' });
    let config = this.node.desired.get(id)?.config ?? (await this.node.state.stream(id));
    if (!config) {
      if (!autoCreate) throw new HttpError('E_NOT_FOUND', `no stream "${id}"`);
      config = fresh;
      if (await this.node.state.add(config)) this.node.noteAdded(config);
      else config = (await this.node.state.stream(id)) ?? config;
    }
    if (!(await this.node.claim(config))) throw new HttpError('E_CONFLICT', `stream "${id}" is run by another instance; publish there`);
  }

  /** A stream's scene summary: from its runtime here, from its owner's report otherwise. */
  sceneOf(id: string): SceneSummary | undefined {
    if (this.node.local().includes(id)) {
      const r = this.#latestRecord(id);
      return r ? sceneSummary(r) : undefined;
    }
    return this.node.report(id)?.scene ?? undefined;
  }

  /** Whether this instance may publish the stream's output now (lease held and within its deadline). */
  owns(id: string): boolean {
    return this.node.fenced(id);
  }

  /** Camera-group metrics come from one instance (the live member with the smallest id). */
  exportsGroupMetrics(): boolean {
    const first = this.node.members[0]?.id;
    return first === undefined || first === this.node.instanceId;
  }

  /** Joins the cluster once the server listens on `port`. */
  async start(host: string, port: number): Promise<void> {
    await this.node.start(this.#cfg.advertiseUrl ?? defaultAdvertiseUrl(host, port));
  }

  /** Stops the local streams and hands them over (leases released, heartbeat removed). */
  async leave(): Promise<void> {
    await this.node.close();
  }

  /** Closes the Redis connections (after the socket.io server is closed). */
  async disconnect(): Promise<void> {
    await Promise.all(
      this.#clients.map((r) =>
        r.quit().then(
          () => undefined,
          (e: unknown) => {
            log.debug(`disconnect(): ${errorMessage(e)}`);
            r.disconnect();
          },
        ),
      ),
    );
  }
}

/** http://host:port, with a wildcard host replaced by this machine's first external IPv4 address. */
export function defaultAdvertiseUrl(host: string, port: number): string {
  let h = host;
  if (h === '0.0.0.0' || h === '::' || h === '') {
    h = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1';
  }
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

let publishesLost = 0;

/**
 * The socket.io Redis adapter publishes without awaiting (a room emit is fire-and-forget): while Redis does not
 * answer (frozen, paused) each publish would reject unhandled after the command timeout and end the process
 * (issue 14, found by test/e2e/cluster-faults.test.ts). Publishes lost then are counted and logged, rate-limited.
 */
function safePublisher(client: Redis): Redis {
  const publish = (channel: string | Buffer, message: string | Buffer): Promise<number> =>
    client.publish(channel, message).catch((e: unknown) => {
      if (publishesLost++ % 1000 === 0) log.warn(`socket.io adapter: publish lost (${publishesLost} so far): ${errorMessage(e)}`);
      return 0;
    });
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'publish') return publish;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
