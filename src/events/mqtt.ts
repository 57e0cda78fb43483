/**
 * MqttPublisher: the MQTT adapter (the `mqtt` package, MQTT.js). Publishes
 *
 *   <prefix>/status                      "online" / "offline" (retained; "offline" is the broker-sent will)
 *   <prefix>/events/<rule>               each event, JSON, QoS 1, not retained
 *   <prefix>/state/<stream>/<group>      each scene and zone group, retained JSON, every stateIntervalMs
 *   <prefix>/state/_groups/<id>          each camera group, likewise
 *   <discoveryPrefix>/sensor/<node>/<field>/config   Home Assistant discovery (retained), once per group and
 *                                                    connection: faces, valence, arousal, cohesion, dominant
 *
 * Group ids such as `zone:door` become `zone_door` in topics. MQTT.js reconnects by itself every reconnectMs;
 * while the broker is unreachable, events wait in a bounded queue (oldest dropped beyond queueSize, counted) and
 * state is simply not sent (the next period brings it up to date). The rule state lives in the RuleEngine, not
 * here, so a broker restart loses nothing but the state messages of the outage.
 */
import { connect, type MqttClient } from 'mqtt';
import { errorMessage } from '../core/errors.js';
import { Logger } from '../core/log.js';
import { redactUrl } from '../core/redact.js';
import type { FacecastEvent } from './event.js';
import type { GroupLike } from './rules.js';
import type { MqttConfig } from './schema.js';

const log = new Logger('Mqtt');

/** One group's state message: `stream` is the stream id, or null for a camera group. */
export interface GroupState {
  stream: string | null;
  group: GroupLike;
}

export interface MqttStats {
  connected: boolean;
  /** Successful (re)connections. */
  connects: number;
  eventsPublished: number;
  statesPublished: number;
  /** Events dropped while the broker was unreachable (queue full). */
  eventsDropped: number;
  /** Events waiting for the broker. */
  queued: number;
}

/** Groups announced to Home Assistant at most (the config bounds scenes and zones; this bounds the set anyway). */
const MAX_DISCOVERED = 1024;

const FIELDS = [
  { key: 'faces', name: 'Faces', unit: 'faces', numeric: true },
  { key: 'valence', name: 'Valence', unit: undefined, numeric: true },
  { key: 'arousal', name: 'Arousal', unit: undefined, numeric: true },
  { key: 'cohesion', name: 'Cohesion', unit: undefined, numeric: true },
  { key: 'dominant', name: 'Dominant emotion', unit: undefined, numeric: false },
] as const;

const slug = (s: string): string => s.replace(/[^A-Za-z0-9_-]/g, '_');

export class MqttPublisher implements AsyncDisposable {
  readonly #config: MqttConfig;
  readonly #client: MqttClient;
  readonly #pending: FacecastEvent[] = [];
  /** State topics announced on the current connection (cleared on reconnect: discovery is re-sent). */
  readonly #announced = new Set<string>();
  readonly #stats = { connects: 0, eventsPublished: 0, statesPublished: 0, eventsDropped: 0 };
  #closing: Promise<void> | undefined;

  constructor(config: MqttConfig, opts: { clientId: string }) {
    this.#config = config;
    const status = `${config.topicPrefix}/status`;
    this.#client = connect(config.url, {
      clientId: config.clientId ?? opts.clientId,
      ...(config.username !== undefined ? { username: config.username } : {}),
      ...(config.password !== undefined ? { password: config.password } : {}),
      reconnectPeriod: config.reconnectMs,
      connectTimeout: Math.max(2000, config.reconnectMs),
      // Nothing piles up inside MQTT.js while offline: QoS 0 state is not queued, events wait in #pending.
      queueQoSZero: false,
      will: { topic: status, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.#client.on('connect', () => this.#onConnect());
    this.#client.on('close', () => log.debug(`close [broker:${redactUrl(config.url)}]`));
    this.#client.on('offline', () => log.warn(`offline [broker:${redactUrl(config.url)}]: reconnecting every ${config.reconnectMs} ms`));
    // MQTT.js emits 'error' for refused connections too; without a listener it would be thrown.
    this.#client.on('error', (e) => log.warn(`error [broker:${redactUrl(config.url)}] ${errorMessage(e)}`));
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  stats(): MqttStats {
    return { connected: this.connected, ...this.#stats, queued: this.#pending.length };
  }

  /** Publishes an event now, or queues it until the broker is back. */
  publishEvent(e: FacecastEvent): void {
    if (this.closed) return;
    if (!this.connected) {
      if (this.#pending.length >= this.#config.queueSize) {
        this.#pending.shift();
        this.#stats.eventsDropped++;
      }
      this.#pending.push(e);
      return;
    }
    this.#client.publish(`${this.#config.topicPrefix}/events/${e.rule}`, JSON.stringify(e), { qos: 1 }, (err) => {
      if (err) log.debug(`publishEvent() ${errorMessage(err)}`);
    });
    this.#stats.eventsPublished++;
  }

  /** The retained state of each group (and its discovery messages the first time on this connection). */
  publishStates(states: readonly GroupState[], at = Date.now()): void {
    if (this.closed || !this.connected) return;
    for (const s of states) {
      const topic = this.stateTopic(s.stream, s.group.id);
      const g = s.group;
      const payload = { stream: s.stream, group: g.id, name: g.name, faces: g.faceCount, valence: round(g.valence), arousal: round(g.arousal), cohesion: round(g.cohesion), dominant: g.dominant, at };
      if (this.#config.discovery && !this.#announced.has(topic) && this.#announced.size < MAX_DISCOVERED) this.#announce(s, topic);
      this.#client.publish(topic, JSON.stringify(payload), { qos: 0, retain: true });
      this.#stats.statesPublished++;
    }
  }

  stateTopic(stream: string | null, groupId: string): string {
    return `${this.#config.topicPrefix}/state/${stream === null ? '_groups' : stream}/${slug(groupId)}`;
  }

  /** Publishes "offline" (retained), then disconnects. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const end = (): void => void this.#client.end(false, {}, () => resolve());
      if (!this.connected) {
        this.#client.end(true, {}, () => resolve());
        return;
      }
      this.#client.publish(`${this.#config.topicPrefix}/status`, 'offline', { qos: 1, retain: true }, end);
      setTimeout(() => this.#client.end(true, {}, () => resolve()), 2000).unref();
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #onConnect(): void {
    this.#stats.connects++;
    log.info(`connect [broker:${redactUrl(this.#config.url)}${this.#stats.connects > 1 ? ', reconnected' : ''}]`);
    this.#announced.clear(); // a restarted broker without persistence lost the retained discovery messages
    this.#client.publish(`${this.#config.topicPrefix}/status`, 'online', { qos: 1, retain: true });
    for (const e of this.#pending.splice(0)) this.publishEvent(e);
  }

  #announce(s: GroupState, stateTopic: string): void {
    this.#announced.add(stateTopic);
    const node = slug(`facecast_${s.stream ?? 'group'}_${s.group.id}`);
    const device = { identifiers: [node], name: s.stream === null ? `facecast ${s.group.name}` : `facecast ${s.stream} ${s.group.name}`, manufacturer: 'facecast', model: s.stream === null ? 'camera group' : 'stream group' };
    for (const f of FIELDS) {
      const config: Record<string, unknown> = {
        name: f.name,
        unique_id: `${node}_${f.key}`,
        object_id: `${node}_${f.key}`,
        state_topic: stateTopic,
        value_template: `{{ value_json.${f.key} }}`,
        availability_topic: `${this.#config.topicPrefix}/status`,
        payload_available: 'online',
        payload_not_available: 'offline',
        device,
      };
      if (f.numeric) config.state_class = 'measurement';
      if (f.unit !== undefined) config.unit_of_measurement = f.unit;
      this.#client.publish(`${this.#config.discoveryPrefix}/sensor/${node}/${f.key}/config`, JSON.stringify(config), { qos: 1, retain: true });
    }
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
