/**
 * ClusterCoordinator: runs this instance's share of the cluster's streams. Every `renewMs` (a reconcile round)
 * it heartbeats, renews its leases, reads the desired streams and who owns what, applies config changes to the
 * streams it runs, and follows the even-spread plan (balance.ts): acquire free streams before starting them,
 * stop shed streams before releasing them. Every 500 ms it publishes its streams' reports (status, groups,
 * scene summary) and its socket.io subscriber counts, and reads the others'.
 *
 * The streams themselves run in the local StreamRegistry, exactly as in single-instance mode; the coordinator
 * only adds and removes them there. A lease that is not renewed in time stops its stream (leases.ts, fencing).
 */
import type { Redis } from 'ioredis';
import { Logger } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import type { FrameRecord } from '../core/records.js';
import { sceneSummary } from '../pipeline/groups/combine.js';
import { WHIP_SOURCE, type StreamConfig, type StreamPatch } from '../server/config.js';
import type { StreamRegistry } from '../server/registry.js';
import { planBalance } from './balance.js';
import { LeaseManager } from './leases.js';
import { Membership, type MemberInfo } from './membership.js';
import { ClusterState, type DesiredStream, type StreamReport } from './state.js';

const log = new Logger('Cluster');

/** Period of reports and subscriber counts, ms (group aggregates about twice a second). */
export const REPORT_MS = 500;

export interface ClusterCoordinatorOptions {
  redis: Redis;
  instanceId: string;
  leaseMs: number;
  renewMs: number;
  registry: StreamRegistry;
  /** The latest record of a locally running stream (for its scene summary). */
  latestRecord: (id: string) => FrameRecord | undefined;
  /** socket.io subscribers on this instance, per stream. */
  localSubscribers: () => Map<string, number>;
  /** The stream list or its owners changed (to tell socket.io clients). */
  onChange?: () => void;
}

/** Who runs a stream. */
export interface Owner {
  instanceId: string;
  url: string;
}

export class ClusterCoordinator implements AsyncDisposable {
  readonly instanceId: string;
  readonly state: ClusterState;
  readonly #o: ClusterCoordinatorOptions;
  readonly #leases: LeaseManager;
  #membership: Membership | undefined;
  #url = '';
  #desired = new Map<string, DesiredStream>();
  #owners = new Map<string, string>();
  #members: MemberInfo[] = [];
  #reports = new Map<string, StreamReport>();
  #remoteSubs = new Map<string, number>();
  /** Locally running streams → JSON of the config they run with. */
  readonly #applied = new Map<string, string>();
  #signature = '';
  #healthy = false;
  #round: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];
  #closing: Promise<void> | undefined;

  constructor(o: ClusterCoordinatorOptions) {
    this.#o = o;
    this.instanceId = o.instanceId;
    this.state = new ClusterState(o.redis);
    this.#leases = new LeaseManager({ redis: o.redis, instanceId: o.instanceId, leaseMs: o.leaseMs, onExpired: (id) => void this.#stopLocal(id) });
  }

  /**
   * Joins the cluster under `url` (this instance's advertised URL, known once the server listens): first
   * round (takes its share), then the periodic rounds and reports.
   */
  async start(url: string): Promise<this> {
    this.#url = url;
    this.#membership = new Membership(this.#o.redis, { id: this.instanceId, url, startedAt: Date.now() }, this.#o.leaseMs);
    await this.#membership.heartbeat();
    await this.reconcile();
    this.#timers = [setInterval(() => void this.reconcile(), this.#o.renewMs).unref(), setInterval(() => void this.#report(), REPORT_MS).unref()];
    log.info(`start() [instance:${this.instanceId}, url:${this.url}, members:${this.#members.length}, streams:${this.#desired.size}, mine:${this.#applied.size}]`);
    return this;
  }

  /** This instance's advertised URL ('' before start()). */
  get url(): string {
    return this.#url;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Whether the last reconcile round reached Redis. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** The desired streams as of the last round (or local writes since). */
  get desired(): ReadonlyMap<string, DesiredStream> {
    return this.#desired;
  }

  get members(): readonly MemberInfo[] {
    return this.#members;
  }

  /** Streams running here. */
  local(): string[] {
    return [...this.#applied.keys()];
  }

  /**
   * The fence at use time: whether this instance may publish the stream's output now (its lease is held and
   * within its deadline). Checked per record, so a process resumed after a freeze (SIGSTOP, a long GC) emits
   * nothing for a stream another instance may already run, even before its watchdog timer gets to run.
   */
  fenced(id: string): boolean {
    return this.#leases.valid(id);
  }

  /** The latest report of a stream run elsewhere. */
  report(id: string): StreamReport | undefined {
    return this.#reports.get(id);
  }

  owner(id: string): Owner | undefined {
    if (this.#applied.has(id)) return { instanceId: this.instanceId, url: this.url };
    const o = this.#owners.get(id);
    if (o === undefined || o === this.instanceId) return undefined;
    const url = this.#members.find((m) => m.id === o)?.url ?? this.#reports.get(id)?.ownerUrl;
    return url === undefined ? undefined : { instanceId: o, url };
  }

  /** socket.io subscribers of a stream on the other instances. */
  remoteSubscribers(id: string): number {
    return this.#remoteSubs.get(id) ?? 0;
  }

  /** Records a stream added through this instance, so it is listed before the next round. */
  noteAdded(config: StreamConfig): void {
    if (!this.#desired.has(config.id)) this.#desired.set(config.id, { config, seq: Number.MAX_SAFE_INTEGER });
    this.#changed();
  }

  /** Records a config replaced through this instance; a local stream gets it now. */
  async noteReplaced(config: StreamConfig): Promise<void> {
    const d = this.#desired.get(config.id);
    this.#desired.set(config.id, { config, seq: d?.seq ?? Number.MAX_SAFE_INTEGER });
    if (this.#applied.has(config.id)) await this.#apply(config);
  }

  /** A stream deleted through this instance: stops it here if it runs here. */
  async noteRemoved(id: string): Promise<void> {
    this.#desired.delete(id);
    if (this.#leases.holds(id) || this.#applied.has(id)) {
      await this.#stopLocal(id);
      await this.#leases.release(id);
    }
    this.#owners.delete(id);
    this.#changed();
  }

  /**
   * Takes a free stream here now, whatever the balance (a WHIP publisher connects to this instance). Rejects
   * when another instance owns it.
   */
  async claim(config: StreamConfig): Promise<boolean> {
    if (this.#applied.has(config.id)) return true;
    if (!(await this.#leases.acquire(config.id))) return false;
    this.#owners.set(config.id, this.instanceId);
    await this.#startLocal(config);
    return true;
  }

  /** One reconcile round; concurrent calls share the one in flight. */
  reconcile(): Promise<void> {
    if (this.closed || !this.#membership) return Promise.resolve();
    this.#round ??= this.#reconcile().finally(() => (this.#round = undefined));
    return this.#round;
  }

  async #reconcile(): Promise<void> {
    const membership = this.#membership;
    if (!membership) return;
    try {
      await membership.heartbeat();
      const lost = await this.#leases.renewAll();
      for (const id of lost) {
        log.warn(`lease lost: stopping [stream:${id}]`);
        await this.#stopLocal(id);
      }
      const [members, desired] = await Promise.all([membership.members(), this.state.streams()]);
      const owners = await this.#leases.owners([...desired.keys()]);
      this.#members = members;
      this.#desired = desired;
      this.#owners = owners;
      if (this.closed) return;
      // Deleted streams, and anything running here without a lease (a failed start, a lost race).
      for (const id of this.local()) {
        if (!desired.has(id) || !this.#leases.holds(id)) {
          await this.#stopLocal(id);
          await this.#leases.release(id);
        }
      }
      for (const id of this.#leases.held()) {
        const d = desired.get(id);
        if (!d) await this.#leases.release(id);
        else await this.#apply(d.config);
      }
      const pinned = new Set(this.local().filter((id) => desired.get(id)?.config.source === WHIP_SOURCE));
      const plan = planBalance({ me: this.instanceId, members: members.map((m) => m.id), streams: [...desired.keys()], owners, pinned });
      for (const id of plan.release) {
        log.info(`reconcile(): shedding [stream:${id}, target:${plan.target}]`);
        await this.#stopLocal(id); // stopped before the lease is free for another instance
        await this.#leases.release(id);
        owners.delete(id);
      }
      for (const id of plan.acquire) {
        const d = desired.get(id);
        if (!d || this.closed || !(await this.#leases.acquire(id))) continue;
        owners.set(id, this.instanceId);
        await this.#apply(d.config);
      }
      this.#healthy = true;
    } catch (e) {
      if (this.#healthy) log.warn(`reconcile(): ${errorMessage(e)} (leases not renewed stop their streams in time)`);
      this.#healthy = false;
    }
    this.#changed();
  }

  /** Runs (or re-configures) a stream whose lease this instance holds. */
  async #apply(config: StreamConfig): Promise<void> {
    const json = JSON.stringify(config);
    const applied = this.#applied.get(config.id);
    if (applied === json) return;
    if (applied === undefined) return this.#startLocal(config);
    const prev = JSON.parse(applied) as Record<string, unknown>;
    const next = config as unknown as Record<string, unknown>;
    const patch: Record<string, unknown> = {};
    for (const k of new Set([...Object.keys(prev), ...Object.keys(next)])) if (k !== 'id') patch[k] = next[k] ?? null;
    try {
      await this.#o.registry.update(config.id, patch as StreamPatch);
      this.#applied.set(config.id, json);
      log.info(`apply() [stream:${config.id}] new config`);
    } catch (e) {
      log.warn(`apply() [stream:${config.id}] ${errorMessage(e)}`);
    }
  }

  async #startLocal(config: StreamConfig): Promise<void> {
    if (!this.#leases.holds(config.id)) return;
    this.#applied.set(config.id, JSON.stringify(config));
    try {
      await this.#o.registry.add(config);
      log.info(`start [stream:${config.id}]`);
    } catch (e) {
      log.warn(`start [stream:${config.id}] failed: ${errorMessage(e)}`);
      this.#applied.delete(config.id);
      await this.#leases.release(config.id);
    }
    this.#changed();
  }

  async #stopLocal(id: string): Promise<void> {
    const was = this.#applied.delete(id);
    if (this.#o.registry.get(id)) {
      try {
        await this.#o.registry.remove(id);
      } catch (e) {
        log.warn(`stop [stream:${id}] ${errorMessage(e)}`);
      }
    }
    if (was) log.info(`stop [stream:${id}]`);
    if (this.#owners.get(id) === this.instanceId) this.#owners.delete(id);
    this.#changed();
  }

  /** Publishes the local streams' reports and subscriber counts; reads the others'. */
  async #report(): Promise<void> {
    if (this.closed || !this.#membership) return;
    try {
      const reports = new Map<string, StreamReport>();
      for (const id of this.local()) {
        const info = this.#o.registry.get(id);
        if (!info) continue;
        const rec = this.#o.latestRecord(id);
        reports.set(id, { owner: this.instanceId, ownerUrl: this.url, at: Date.now(), status: info.status, groups: this.#o.registry.groups(id) ?? [], scene: rec ? (sceneSummary(rec) ?? null) : null });
      }
      await this.state.publishReports(reports, this.#o.leaseMs);
      await this.state.publishSubscribers(this.instanceId, this.#o.localSubscribers(), this.#o.leaseMs);
      const remote = [...this.#desired.keys()].filter((id) => !this.#applied.has(id));
      this.#reports = await this.state.reports(remote);
      this.#remoteSubs = await this.state.subscribers(this.#members.map((m) => m.id).filter((m) => m !== this.instanceId));
    } catch (e) {
      log.debug(`report(): ${errorMessage(e)}`);
    }
  }

  #changed(): void {
    const sig = JSON.stringify([[...this.#desired.keys()], [...this.#owners], this.local()]);
    if (sig === this.#signature) return;
    this.#signature = sig;
    this.#o.onChange?.();
  }

  /**
   * Leaves the cluster cleanly: stops the rounds, stops the local streams, then releases their leases and the
   * heartbeat so the others take over at their next round instead of after leaseMs.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const t of this.#timers) clearInterval(t);
      await this.#round?.catch(() => undefined);
      await Promise.all(this.local().map((id) => this.#stopLocal(id)));
      try {
        await this.#leases.close();
        await this.#membership?.leave();
      } catch (e) {
        log.warn(`close(): ${errorMessage(e)} (leases expire by themselves)`);
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
