/**
 * RuleEngine: the pure core of the events feature. Synchronous, no I/O, no timers: the adapters feed it what
 * they observe (a stream's groups per analysed record, a camera group's aggregate, a stream's state) and it
 * returns the events that observation caused. Time comes from an injected clock, so tests step it by hand.
 *
 * Each rule keeps one small state machine per watched key (the group; for `group: cluster` each proximity
 * cluster separately):
 *
 *   idle ──condition true──▶ pending ──held forMs, minIntervalMs since the last firing──▶ active (event `fired`)
 *     ▲                        │ condition false                                          │ cleared past the
 *     └────────────────────────┴──────────────────────────────────────────────────────────┘ hysteresis (`resolved`)
 *
 * A pending rule whose duration is over but whose minimum interval is not waits in pending and fires once the
 * interval has passed (if the condition still holds), so a real change is delayed, never lost. An unknown value
 * (fewer faces than minFaces, the group absent) neither starts nor clears: pending falls back to idle, active
 * stays active. `dominant` rules keep the established dominant emotion instead: a different one that leads it
 * by the hysteresis and holds for forMs fires and becomes the established one (the first is established
 * silently).
 */
import { EMOTIONS, type Emotion } from '../core/types.js';
import type { EventGroup, EventPhase, EventValues, FacecastEvent } from './event.js';
import { isThresholdMetric, type RuleConfig } from './schema.js';

/** What the engine reads from a group: GroupRecord and CameraGroupRecord both fit. */
export interface GroupLike {
  id: string;
  name: string;
  faceCount: number;
  valence: number;
  arousal: number;
  cohesion: number;
  dominant: Emotion | null;
  /** EMOTIONS order. */
  emotion: readonly number[];
}

/** A stream's group: GroupRecord fits. */
export interface StreamGroupLike extends GroupLike {
  kind: 'scene' | 'zone' | 'cluster';
}

/** Stream states that count as offline: trying and failing to get frames (not a disabled or idle stream). */
const OFFLINE_STATES: ReadonlySet<string> = new Set(['connecting', 'backoff', 'error', 'stalled']);

/** Proximity clusters watched per `group: cluster` rule and stream at most (their ids are minted as people move). */
export const MAX_CLUSTER_KEYS = 64;

type Phase = 'idle' | 'pending' | 'active';

interface KeyState {
  phase: Phase;
  /** pending: since when the condition holds; active: when the event fired (epoch ms). */
  since: number;
  lastFired: number;
  /** dominant rules: the established emotion (undefined before one is) and the candidate being timed. */
  stable: Emotion | undefined;
  candidate: Emotion | undefined;
}

/** A rule's state for one key, for MQTT state messages, the API and tests. */
export interface RuleStateView {
  rule: string;
  key: string;
  phase: Phase;
  since: number;
  dominant?: Emotion;
}

export interface RuleEngineOptions {
  /** The clock, epoch ms. Default Date.now. */
  now?: () => number;
  /** Prefix of event ids (unique per run). Default: the start time in base 36. */
  runId?: string;
}

const NONE: FacecastEvent[] = [];

const emotionIndex = (e: Emotion): number => EMOTIONS.indexOf(e);

export class RuleEngine {
  readonly rules: readonly RuleConfig[];
  readonly #now: () => number;
  readonly #runId: string;
  #seq = 0;
  /** rule id → key → state. */
  readonly #states = new Map<string, Map<string, KeyState>>();
  readonly #byStream = new Map<string, RuleConfig[]>();
  readonly #byCameraGroup = new Map<string, RuleConfig[]>();
  /** Events made, per rule and phase (for metrics). */
  readonly counts = new Map<string, { fired: number; resolved: number }>();

  constructor(rules: readonly RuleConfig[], opts: RuleEngineOptions = {}) {
    if (!Array.isArray(rules)) throw new TypeError('RuleEngine: rules must be an array');
    this.rules = rules;
    this.#now = opts.now ?? Date.now;
    this.#runId = opts.runId ?? Date.now().toString(36);
    for (const r of rules) {
      this.#states.set(r.id, new Map());
      this.counts.set(r.id, { fired: 0, resolved: 0 });
      const [map, key] = r.stream !== undefined ? [this.#byStream, r.stream] : [this.#byCameraGroup, r.cameraGroup ?? ''];
      map.set(key, [...(map.get(key) ?? []), r]);
    }
  }

  /** Whether any rule watches this stream's groups or state (the adapters skip the rest). */
  watchesStream(stream: string): boolean {
    return this.#byStream.has(stream);
  }

  /** Camera groups some rule watches. */
  get cameraGroups(): string[] {
    return [...this.#byCameraGroup.keys()];
  }

  /** One analysed record's groups of a stream. Runs per frame: allocates only when an event is made. */
  observeGroups(stream: string, groups: readonly StreamGroupLike[]): FacecastEvent[] {
    const rules = this.#byStream.get(stream);
    if (!rules) return NONE;
    let out = NONE;
    for (const r of rules) {
      if (r.when === 'offline' || r.when === 'online') continue;
      const want = r.group ?? 'scene';
      if (want === 'cluster') {
        out = this.#observeClusters(r, stream, groups, out);
        continue;
      }
      let g: StreamGroupLike | undefined;
      for (const x of groups) if (x.id === want) g = x;
      out = this.#observeGroup(r, want, g, stream, g?.kind ?? (want === 'scene' ? 'scene' : 'zone'), out);
    }
    return out;
  }

  /** A camera group's aggregate (polled by the adapter). */
  observeCameraGroup(group: GroupLike): FacecastEvent[] {
    const rules = this.#byCameraGroup.get(group.id);
    if (!rules) return NONE;
    let out = NONE;
    for (const r of rules) out = this.#observeGroup(r, group.id, group, null, 'camera-group', out);
    return out;
  }

  /** A stream's state (StreamState: streaming, connecting, backoff, …), polled by the adapter. */
  observeState(stream: string, state: string): FacecastEvent[] {
    const rules = this.#byStream.get(stream);
    if (!rules) return NONE;
    let out = NONE;
    for (const r of rules) {
      if (r.when !== 'offline' && r.when !== 'online') continue;
      const cond = r.when === 'offline' ? OFFLINE_STATES.has(state) : state === 'streaming';
      const clear = r.when === 'offline' ? state === 'streaming' : !cond;
      const ev = this.#step(r, this.#state(r, ''), cond, clear, () => ({ stream, group: { id: '', kind: 'stream', name: stream }, value: state, previous: null, values: null }));
      if (ev) out = push(out, ev);
    }
    return out;
  }

  /** Forgets the states of a removed stream (a re-added one starts afresh). */
  forgetStream(stream: string): void {
    for (const r of this.#byStream.get(stream) ?? []) this.#states.get(r.id)?.clear();
  }

  /** Every rule's state per key (pending and active ones, and established dominants). */
  states(): RuleStateView[] {
    const out: RuleStateView[] = [];
    for (const [rule, keys] of this.#states) {
      for (const [key, s] of keys) {
        const v: RuleStateView = { rule, key, phase: s.phase, since: s.since };
        if (s.stable !== undefined) v.dominant = s.stable;
        out.push(v);
      }
    }
    return out;
  }

  #state(r: RuleConfig, key: string): KeyState {
    const keys = this.#states.get(r.id);
    if (!keys) throw new TypeError(`RuleEngine: unknown rule ${r.id}`);
    let s = keys.get(key);
    if (!s) {
      s = { phase: 'idle', since: 0, lastFired: -Infinity, stable: undefined, candidate: undefined };
      keys.set(key, s);
    }
    return s;
  }

  #observeClusters(r: RuleConfig, stream: string, groups: readonly StreamGroupLike[], out: FacecastEvent[]): FacecastEvent[] {
    const keys = this.#states.get(r.id);
    if (!keys) return out;
    let seen = 0;
    for (const g of groups) {
      if (g.kind !== 'cluster') continue;
      if (!keys.has(g.id) && keys.size >= MAX_CLUSTER_KEYS) continue;
      seen++;
      out = this.#observeGroup(r, g.id, g, stream, 'cluster', out);
    }
    // A cluster that dispersed takes its state with it (its id is never reused).
    if (keys.size > seen) for (const key of [...keys.keys()]) if (!groups.some((g) => g.id === key)) keys.delete(key);
    return out;
  }

  #observeGroup(r: RuleConfig, key: string, g: GroupLike | undefined, stream: string | null, kind: EventGroup['kind'], out: FacecastEvent[]): FacecastEvent[] {
    const s = this.#state(r, key);
    const meta = (): Omit<Made, 'value' | 'previous'> => ({ stream, group: { id: key, kind, name: g?.name ?? key }, values: g ? valuesOf(g) : null });
    if (r.when === 'dominant') {
      const ev = this.#stepDominant(r, s, g, meta);
      return ev ? push(out, ev) : out;
    }
    if (!isThresholdMetric(r.when)) return out;
    const metric = r.when;
    const known = g !== undefined && (metric === 'faces' || g.faceCount >= r.minFaces);
    if (!known) {
      if (s.phase === 'pending') s.phase = 'idle';
      return out;
    }
    const v = metric === 'faces' ? g.faceCount : g[metric];
    const cond = r.below !== undefined ? v < r.below : v > (r.above ?? Infinity);
    const clear = r.below !== undefined ? v >= r.below + r.hysteresis : v <= (r.above ?? Infinity) - r.hysteresis;
    const ev = this.#step(r, s, cond, clear, () => ({ ...meta(), value: v, previous: null }));
    return ev ? push(out, ev) : out;
  }

  /** The idle → pending → active machine of the module comment. */
  #step(r: RuleConfig, s: KeyState, cond: boolean, clear: boolean, made: () => Made): FacecastEvent | undefined {
    const now = this.#now();
    if (s.phase === 'active') {
      if (!clear) return undefined;
      const from = s.since;
      s.phase = 'idle';
      return this.#event(r, 'resolved', from, now, made());
    }
    if (!cond) {
      s.phase = 'idle';
      return undefined;
    }
    if (s.phase === 'idle') {
      s.phase = 'pending';
      s.since = now;
    }
    if (now - s.since < r.forMs || now - s.lastFired < r.minIntervalMs) return undefined;
    const from = s.since;
    s.phase = 'active';
    s.since = now;
    s.lastFired = now;
    return this.#event(r, 'fired', from, now, made());
  }

  #stepDominant(r: RuleConfig, s: KeyState, g: GroupLike | undefined, meta: () => Omit<Made, 'value' | 'previous'>): FacecastEvent | undefined {
    const now = this.#now();
    const d = g !== undefined && g.faceCount >= r.minFaces ? g.dominant : null;
    if (d === null || g === undefined) {
      s.phase = 'idle';
      return undefined;
    }
    const stable = s.stable;
    // Not a change: the established emotion, or a new one that does not lead it by the hysteresis.
    if (d === stable || (stable !== undefined && (g.emotion[emotionIndex(d)] ?? 0) - (g.emotion[emotionIndex(stable)] ?? 0) < r.hysteresis)) {
      s.phase = 'idle';
      return undefined;
    }
    if (s.phase !== 'pending' || s.candidate !== d) {
      s.phase = 'pending';
      s.candidate = d;
      s.since = now;
    }
    if (now - s.since < r.forMs) return undefined;
    if (stable === undefined) {
      // The first dominant emotion seen is the baseline, not a change.
      s.stable = d;
      s.phase = 'idle';
      return undefined;
    }
    if (now - s.lastFired < r.minIntervalMs) return undefined;
    const from = s.since;
    s.stable = d;
    s.phase = 'idle';
    s.lastFired = now;
    return this.#event(r, 'fired', from, now, { ...meta(), value: d, previous: stable });
  }

  #event(r: RuleConfig, phase: EventPhase, from: number, to: number, m: Made): FacecastEvent {
    const c = this.counts.get(r.id);
    if (c) c[phase]++;
    const condition: FacecastEvent['condition'] = { forMs: r.forMs, hysteresis: r.hysteresis, minIntervalMs: r.minIntervalMs };
    if (r.below !== undefined) condition.below = r.below;
    if (r.above !== undefined) condition.above = r.above;
    return {
      id: `${this.#runId}-${++this.#seq}`,
      version: 1,
      rule: r.id,
      ruleName: r.name,
      when: r.when,
      phase,
      stream: m.stream,
      cameraGroup: m.stream === null ? m.group.id : null,
      group: m.group,
      condition,
      value: m.value,
      previous: m.previous,
      values: m.values,
      window: { from, to, ms: to - from },
      at: to,
      time: new Date(to).toISOString(),
    };
  }
}

interface Made {
  stream: string | null;
  group: EventGroup;
  value: number | string | null;
  previous: string | null;
  values: EventValues | null;
}

function valuesOf(g: GroupLike): EventValues {
  return { faces: g.faceCount, valence: g.valence, arousal: g.arousal, cohesion: g.cohesion, dominant: g.dominant };
}

/** Appends to `out`, allocating the array only for the first event (the shared empty one is never written). */
function push(out: FacecastEvent[], ev: FacecastEvent): FacecastEvent[] {
  if (out === NONE) return [ev];
  out.push(ev);
  return out;
}
