/**
 * EventService: wires the RuleEngine to the running server and its events to the sinks. It listens to the
 * records of the streams some rule watches, polls stream states and camera groups (every 250 ms), and hands each
 * event to the history (GET /api/events), its own `event` listeners (socket.io), every webhook target that wants
 * it and MQTT. It also publishes the per-group MQTT state every `mqtt.stateIntervalMs`.
 *
 * Webhook targets are checked against the SSRF policy (events.allow) once at start-up — a forbidden target is a
 * configuration error — and again before each attempt, since DNS answers change.
 */
import { TypedEmitter } from '../core/emitter.js';
import { ConfigError, InvalidStateError, errorMessage } from '../core/errors.js';
import { Logger } from '../core/log.js';
import type { CameraGroupRecord, FrameRecord, GroupRecord } from '../core/records.js';
import { SourcePolicy, type Lookup } from '../server/ssrf.js';
import type { FacecastEvent } from './event.js';
import { MqttPublisher, type GroupState, type MqttStats } from './mqtt.js';
import { RuleEngine } from './rules.js';
import type { EventsConfig } from './schema.js';
import { WebhookTarget, type WebhookStats } from './webhook.js';

const log = new Logger('Events');

/** Period of the stream-state and camera-group polls, ms: offline/online rules and camera-group rules see changes this late at most. */
export const POLL_MS = 250;

/** What the service needs from a stream: its records (RuntimeHandle fits). */
export interface EventRecordSource {
  on(event: 'record', listener: (record: FrameRecord) => void): unknown;
  off(event: 'record', listener: (record: FrameRecord) => void): unknown;
}

export interface EventServiceOptions {
  config: EventsConfig;
  /** MQTT client id when the config has none (facecast-<instance id>). */
  clientId: string;
  /** Each local stream's state now (offline/online rules). */
  streamStates: () => Iterable<{ id: string; state: string }>;
  /** Scene and zone groups of each local stream (MQTT state). */
  streamGroups: () => Iterable<{ stream: string; groups: readonly GroupRecord[] }>;
  /** Camera groups this instance evaluates (cluster mode: one instance does). */
  cameraGroups: () => readonly CameraGroupRecord[];
  /** The clock (epoch ms) of the rules and the webhook retry windows. Default Date.now. */
  now?: () => number;
  /** DNS lookup of the webhook policy (tests). */
  lookup?: Lookup;
}

export interface EventServiceEvents {
  /** Every event, as made (socket.io sends it to every client). */
  event: [event: FacecastEvent];
}

/** Counters for metrics. */
export interface EventStats {
  /** Per rule: events made, by phase. */
  rules: { rule: string; fired: number; resolved: number }[];
  webhooks: ({ id: string } & WebhookStats)[];
  /** undefined without MQTT. */
  mqtt: MqttStats | undefined;
}

/**
 * Checks every webhook URL against the policy of `events.allow` (`facecast serve` calls it before loading the
 * models, so a forbidden target fails fast); returns the check to repeat before each attempt.
 * @throws ConfigError E_CONFIG_INVALID naming the webhook.
 */
export async function checkWebhookTargets(config: EventsConfig, lookup?: Lookup): Promise<(url: string) => Promise<void>> {
  const a = config.allow;
  const policy = new SourcePolicy({ schemes: ['http', 'https'], allowFiles: false, allowLoopback: a.loopback, allowPrivate: a.private, allowLinkLocal: a.linkLocal }, lookup);
  // The policy's messages name the stream-source keys (security.sources.allowX): name ours instead.
  const ours = (e: unknown): string => errorMessage(e).replace(/\s*\(security\.sources\.allow(\w)(\w*)\)/, (_m, c: string, rest: string) => ` (events.allow.${c.toLowerCase()}${rest})`);
  const check = (url: string): Promise<void> =>
    policy.check(url, 'url').catch((e: unknown) => {
      throw new ConfigError('E_CONFIG_INVALID', ours(e), { cause: e });
    });
  for (const [i, w] of config.webhooks.entries()) {
    try {
      await check(w.url);
    } catch (e) {
      throw new ConfigError('E_CONFIG_INVALID', `invalid configuration: events.webhooks.${i}.${errorMessage(e)}`, { cause: e });
    }
  }
  return check;
}

export class EventService extends TypedEmitter<EventServiceEvents> implements AsyncDisposable {
  readonly engine: RuleEngine;
  readonly #opts: EventServiceOptions;
  readonly #webhooks: WebhookTarget[];
  readonly #mqtt: MqttPublisher | undefined;
  readonly #history: FacecastEvent[] = [];
  readonly #attached = new Map<string, { source: EventRecordSource; listener: (r: FrameRecord) => void }>();
  readonly #timers: NodeJS.Timeout[] = [];
  #closing: Promise<void> | undefined;

  private constructor(opts: EventServiceOptions, webhooks: WebhookTarget[]) {
    super();
    this.#opts = opts;
    this.engine = new RuleEngine(opts.config.rules, { now: opts.now });
    this.#webhooks = webhooks;
    this.#mqtt = opts.config.mqtt ? new MqttPublisher(opts.config.mqtt, { clientId: opts.clientId }) : undefined;
    if (this.engine.rules.length > 0) this.#timers.push(setInterval(() => this.#poll(), POLL_MS).unref());
    if (this.#mqtt) {
      const mqtt = this.#mqtt;
      this.#timers.push(setInterval(() => mqtt.publishStates(this.#states(), (opts.now ?? Date.now)()), opts.config.mqtt?.stateIntervalMs ?? 1000).unref());
    }
  }

  /**
   * Checks every webhook target against the policy, then starts (MQTT connects in the background).
   * @throws ConfigError E_CONFIG_INVALID naming the webhook a policy forbids.
   */
  static async create(opts: EventServiceOptions): Promise<EventService> {
    const check = await checkWebhookTargets(opts.config, opts.lookup);
    const targets = opts.config.webhooks.map((w, i) => new WebhookTarget(w.id ?? `webhook-${i}`, w, { check, ...(opts.now ? { now: opts.now } : {}) }));
    return new EventService(opts, targets);
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Follows a stream's records when a rule watches it; re-attaching an id (a restart) replaces the source. */
  attachStream(id: string, source: EventRecordSource): void {
    if (this.closed) throw new InvalidStateError('EventService is closed');
    if (!this.engine.watchesStream(id)) return;
    this.detachStream(id);
    const listener = (r: FrameRecord): void => this.#dispatch(this.engine.observeGroups(id, r.groups));
    source.on('record', listener);
    this.#attached.set(id, { source, listener });
  }

  /** Stops following a removed stream and forgets its rule states. */
  detachStream(id: string): void {
    const a = this.#attached.get(id);
    if (!a) return;
    a.source.off('record', a.listener);
    this.#attached.delete(id);
    this.engine.forgetStream(id);
  }

  /** The latest events, newest first, optionally of one rule or stream. */
  list(filter: { limit?: number; rule?: string; stream?: string } = {}): FacecastEvent[] {
    const out: FacecastEvent[] = [];
    const limit = filter.limit ?? this.#history.length;
    for (let i = this.#history.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.#history[i];
      if ((filter.rule === undefined || e.rule === filter.rule) && (filter.stream === undefined || e.stream === filter.stream)) out.push(e);
    }
    return out;
  }

  stats(): EventStats {
    return {
      rules: [...this.engine.counts].map(([rule, c]) => ({ rule, ...c })),
      webhooks: this.#webhooks.map((w) => ({ id: w.id, ...w.stats() })),
      mqtt: this.#mqtt?.stats(),
    };
  }

  /** Resolves once every webhook queue is empty (tests, benches). */
  async idle(): Promise<void> {
    await Promise.all(this.#webhooks.map((w) => w.idle()));
  }

  /** Stops the polls, the webhook deliveries (waiting events are abandoned) and MQTT ("offline" published). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const t of this.#timers) clearInterval(t);
      for (const id of [...this.#attached.keys()]) this.detachStream(id);
      await Promise.all([...this.#webhooks.map((w) => w.close()), this.#mqtt?.close()]);
      this.removeAllListeners();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #poll(): void {
    if (this.closed) return;
    for (const s of this.#opts.streamStates()) if (this.engine.watchesStream(s.id)) this.#dispatch(this.engine.observeState(s.id, s.state));
    const wanted = this.engine.cameraGroups;
    if (wanted.length === 0) return;
    for (const g of this.#opts.cameraGroups()) if (wanted.includes(g.id)) this.#dispatch(this.engine.observeCameraGroup(g));
  }

  #states(): GroupState[] {
    const out: GroupState[] = [];
    for (const s of this.#opts.streamGroups()) for (const g of s.groups) if (g.kind !== 'cluster') out.push({ stream: s.stream, group: g });
    for (const g of this.#opts.cameraGroups()) out.push({ stream: null, group: g });
    return out;
  }

  #dispatch(events: readonly FacecastEvent[]): void {
    if (events.length === 0 || this.closed) return;
    for (const e of events) {
      log.info(`event [rule:${e.rule}, phase:${e.phase}, stream:${e.stream ?? '-'}, group:${e.group.id || '-'}, value:${String(e.value)}]`);
      this.#history.push(e);
      if (this.#history.length > this.#opts.config.history) this.#history.shift();
      this.safeEmit('event', e);
      for (const w of this.#webhooks) if (w.wants(e.rule)) w.send(e);
      this.#mqtt?.publishEvent(e);
    }
  }
}
