/**
 * FacecastMetrics: the Prometheus view of a running server, computed when scraped. Nothing here runs per frame
 * or per face: gauges and counters are prom-client metrics whose collect() reads the counters the runtime
 * already keeps (stream status, runtime counters, the latest groups, viewer counts), and the histograms are
 * written from counts the stages own (core/stage-stats, the batchers, each runtime's latency); see exposition.ts.
 *
 * Naming follows Prometheus conventions: base units (`_seconds`), `_total` on counters, ratios in 0..1
 * (`_ratio`). Labels are low-cardinality only: stream, group, emotion, stage, transport, state, model — never a
 * track id. Groups are the scene and the operator's zones (bounded by the config); proximity clusters are
 * counted (facecast_clusters) but not labelled, because their ids are minted as people move and would make
 * series without end.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { GroupRecord } from '../core/records.js';
import { LATENCY_BUCKETS, STAGES, stageTimings, type HistogramCounts, type StageName } from '../core/stage-stats.js';
import { EMOTIONS } from '../core/types.js';
import type { BatcherStats } from '../inference/batcher.js';
import type { StreamState, StreamStatus } from '../server/service.js';
import type { EventStats } from '../events/service.js';
import { batchSizeSeries, formatHistogram, seriesOf, type HistogramSeries } from './exposition.js';

/** What metrics read from a stream (the server's RuntimeHandle fits). */
export interface MetricsStream {
  readonly id: string;
  status(): StreamStatus;
  /** The current runtime (counters restart with it, which Prometheus treats as a counter reset). */
  readonly runtime: { status(): { framesAnalysed: number; reconnects: number }; readonly latency: HistogramCounts } | undefined;
  groups(): GroupRecord[];
}

export interface MetricsSources {
  /** The streams now; read once per scrape. */
  streams(): Iterable<MetricsStream>;
  /** socket.io clients subscribed to a stream (default: none). */
  socketSubscribers?(streamId: string): number;
  /** The inference batchers (default: none). */
  batchers?(): Iterable<{ readonly name: string; readonly stats: Readonly<BatcherStats> }>;
  /** Stage durations (default: the process's stageTimings). */
  stages?: Readonly<Record<StageName, HistogramCounts>>;
  /** This instance's id (facecast_instance_info); default "standalone". */
  instanceId?: string;
  /** Camera groups (config `groups:`) to expose, under stream="_groups"; default none. */
  cameraGroups?(): Iterable<GroupValues>;
  /** WHEP viewers' counters (the WhepService fits); default none. */
  video?: WhepCounters;
  /** Event rules, webhooks and MQTT counters (src/events); default none. */
  events?(): EventStats;
}

/** What the WHEP counters read (src/broadcast/webrtc/whep.ts WhepService). */
export interface WhepCounters {
  /** Sessions ended, by reason (a fixed set: delete, peer-timeout, dtls-closed, …). */
  readonly sessionsClosed: Readonly<Record<string, number>>;
  /** Key frames forced and key-frame requests throttled on a stream, over all its broadcasts. */
  keyframeCounts(streamId: string): { forced: number; throttled: number };
}

/** What the group gauges read from a group. */
export type GroupValues = Pick<GroupRecord, 'id' | 'faceCount' | 'emotion' | 'valence' | 'arousal' | 'cohesion'>;

/** The `stream` label of camera groups: not a valid stream id, so it cannot collide with one. */
export const CAMERA_GROUPS_STREAM = '_groups';

export interface FacecastMetricsOptions {
  /** prom-client's default process and Node.js metrics (default true). */
  defaultMetrics?: boolean;
}

/** Every state a stream can report (StreamState), one facecast_stream_state series each. */
export const STREAM_STATES: readonly StreamState[] = ['idle', 'connecting', 'streaming', 'stalled', 'backoff', 'stopped', 'error'];
/** Buckets of facecast_inference_batch_size (a batch is at most maxBatch, 8 by default). */
export const BATCH_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64];
export const VIEWER_TRANSPORTS = ['whep', 'socketio'] as const;

/** One stream's values for one scrape: every collector of that scrape reads the same snapshot. */
interface StreamSnapshot {
  id: string;
  status: StreamStatus;
  processed: number;
  reconnects: number;
  latency: HistogramCounts | undefined;
  /** Scene and zone groups (see the module comment on clusters). */
  groups: GroupRecord[];
  clusters: number;
  socketio: number;
}

/** How #define makes a gauge or counter whose collect() fills its series (label names typed). */
type MetricDefiner = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (set: (labels: Record<L, string>, v: number) => void) => void) => void;

/** A snapshot is reused by every collect() of one scrape (they run in the same tick), never across scrapes. */
const SNAPSHOT_TTL_MS = 50;

export class FacecastMetrics {
  readonly registry = new Registry();
  readonly #sources: MetricsSources;
  #snapshot: { at: number; streams: StreamSnapshot[] } | undefined;
  /** Scrapes rendered, and the duration of the last one (ms), for logs and the bench. */
  scrapes = 0;
  lastScrapeMs = 0;

  constructor(sources: MetricsSources, opts: FacecastMetricsOptions = {}) {
    if (typeof sources?.streams !== 'function') throw new TypeError('FacecastMetrics: sources.streams must be a function');
    this.#sources = sources;
    // Event-loop lag (nodejs_eventloop_lag_*_seconds) is sampled by a timer every eventLoopMonitoringPrecision ms
    // and each sample includes that interval: at prom-client's default of 10 an idle loop reads p99 ≈ 10 ms. At
    // 1 ms the floor is ~1 ms, so the p99 is close to the real stall (a model run on the main thread shows up).
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1 });
    this.#define();
  }

  /** Content-Type of render()'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text: prom-client's families, then the histograms made from the stages' counts. */
  async render(): Promise<string> {
    const t0 = performance.now();
    this.#snapshot = undefined;
    const streams = this.#streams(); // a fresh read, shared by the collect()s below (they run in this tick)
    const base = await this.registry.metrics();
    const stages = this.#sources.stages ?? stageTimings;
    const histograms = [
      formatHistogram({
        name: 'facecast_stage_duration_seconds',
        help: 'Time per frame (or per run) spent in a pipeline stage, seconds: decode, detect, track, classify, group, overlay, encode.',
        bounds: stages.decode.bounds,
        series: STAGES.map((s) => seriesOf(stages[s], { stage: s })),
      }),
      formatHistogram({
        name: 'facecast_frame_latency_seconds',
        help: "The camera's time of the frame (its timeline mapped to the server clock) to its analysis ready, seconds, per analysed frame; includes any ingest backlog.",
        bounds: LATENCY_BUCKETS,
        series: streams.flatMap((s): HistogramSeries[] => (s.latency ? [seriesOf(s.latency, { stream: s.id })] : [])),
      }),
      formatHistogram({
        name: 'facecast_inference_batch_size',
        help: 'Items per inference run, per model (face crops batched across streams).',
        bounds: BATCH_BUCKETS,
        series: [...(this.#sources.batchers?.() ?? [])].map((b) => batchSizeSeries(b.stats.sizes, BATCH_BUCKETS, { model: b.name })),
      }),
    ];
    this.scrapes++;
    this.lastScrapeMs = performance.now() - t0;
    return `${base}${histograms.join('\n\n')}\n`;
  }

  #streams(): StreamSnapshot[] {
    const now = performance.now();
    if (this.#snapshot && now - this.#snapshot.at < SNAPSHOT_TTL_MS) return this.#snapshot.streams;
    const streams: StreamSnapshot[] = [];
    for (const s of this.#sources.streams()) {
      const run = s.runtime;
      const rs = run?.status();
      const all = s.groups();
      streams.push({
        id: s.id,
        status: s.status(),
        processed: rs?.framesAnalysed ?? 0,
        reconnects: rs?.reconnects ?? 0,
        latency: run?.latency,
        groups: all.filter((g) => g.kind !== 'cluster'),
        clusters: all.length - all.filter((g) => g.kind !== 'cluster').length,
        socketio: this.#sources.socketSubscribers?.(s.id) ?? 0,
      });
    }
    this.#snapshot = { at: now, streams };
    return streams;
  }

  /** The gauges and counters; each collect() rebuilds its series from the snapshot, so removed streams vanish. */
  #define(): void {
    const registers = [this.registry];
    const streams = (): StreamSnapshot[] => this.#streams();
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (set: (labels: Record<L, string>, v: number) => void) => void): void => {
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          fill((labels, v) => this.set(labels, v));
        },
      });
    };
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (set: (labels: Record<L, string>, v: number) => void) => void): void => {
      new Counter<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          // The runtime's counter is the truth: reset and add it (prom-client counters have no set()).
          this.reset();
          fill((labels, v) => this.inc(labels, Math.max(0, v)));
        },
      });
    };
    const groups = (): { stream: string; g: GroupValues }[] => [
      ...streams().flatMap((s) => s.groups.map((g) => ({ stream: s.id, g }))),
      ...[...(this.#sources.cameraGroups?.() ?? [])].map((g) => ({ stream: CAMERA_GROUPS_STREAM, g })),
    ];
    const perGroup = (set: (labels: Record<'stream' | 'group', string>, v: number) => void, value: (g: GroupValues) => number): void => {
      for (const { stream, g } of groups()) set({ stream, group: g.id }, value(g));
    };
    const instanceId = this.#sources.instanceId ?? 'standalone';

    gauge('facecast_instance_info', 'Always 1; instance_id names this facecast instance (cluster mode: its cluster.instanceId).', ['instance_id'], (set) => set({ instance_id: instanceId }, 1));
    gauge('facecast_stream_owned', 'Streams run by this instance: 1 per stream (cluster mode: the stream lease is held here).', ['stream'], (set) => {
      for (const s of streams()) set({ stream: s.id }, 1);
    });

    gauge('facecast_stream_up', 'Whether the stream is receiving frames (1) or not (0).', ['stream'], (set) => {
      for (const s of streams()) set({ stream: s.id }, s.status.state === 'streaming' ? 1 : 0);
    });
    gauge('facecast_stream_state', 'The stream state: 1 for the current state, 0 for the others.', ['stream', 'state'], (set) => {
      for (const s of streams()) for (const st of STREAM_STATES) set({ stream: s.id, state: st }, s.status.state === st ? 1 : 0);
    });
    gauge('facecast_ingest_lag_seconds', "How far behind the camera ingest is: the latest frame's arrival minus its time on the camera's timeline, seconds.", ['stream'], (set) => {
      for (const s of streams()) set({ stream: s.id }, s.status.ingestLagMs / 1000);
    });
    counter('facecast_frames_received_total', 'Frames decoded from the source.', ['stream'], (set) => {
      for (const s of streams()) set({ stream: s.id }, s.status.framesReceived);
    });
    counter('facecast_frames_processed_total', 'Frames analysed (faces detected or tracked).', ['stream'], (set) => {
      for (const s of streams()) set({ stream: s.id }, s.processed);
    });
    counter('facecast_frames_dropped_total', 'Frames dropped: stage "ingest" (skipped undecoded to catch up with the camera), "analyze" (replaced by a newer frame before analysis took it), "encode" (live video encoder busy).', ['stream', 'stage'], (set) => {
      for (const s of streams()) {
        set({ stream: s.id, stage: 'ingest' }, s.status.framesSkipped);
        set({ stream: s.id, stage: 'analyze' }, s.status.framesDropped);
        set({ stream: s.id, stage: 'encode' }, s.status.videoFramesDropped);
      }
    });
    counter('facecast_stream_reconnects_total', 'Reconnects of the source (each backoff after a failure, an end or a stall).', ['stream'], (set) => {
      for (const s of streams()) set({ stream: s.id }, s.reconnects);
    });
    gauge('facecast_faces', 'Faces on the latest analysed frame.', ['stream'], (set) => {
      for (const s of streams()) set({ stream: s.id }, s.status.faces);
    });
    gauge('facecast_clusters', 'Proximity clusters (groups of people standing together) on the latest analysed frame.', ['stream'], (set) => {
      for (const s of streams()) set({ stream: s.id }, s.clusters);
    });
    gauge('facecast_group_faces', 'Faces in the group (the scene or a zone) on the latest analysed frame.', ['stream', 'group'], (set) => perGroup(set, (g) => g.faceCount));
    gauge('facecast_group_emotion_ratio', "The group's emotion distribution over its window (0..1, sums to 1 over emotions when faces are classified).", ['stream', 'group', 'emotion'], (set) => {
      for (const { stream, g } of groups()) EMOTIONS.forEach((e, i) => set({ stream, group: g.id, emotion: e }, g.emotion[i] ?? 0));
    });
    gauge('facecast_group_valence', "The group's mean valence, -1 (displeasure) .. 1 (pleasure).", ['stream', 'group'], (set) => perGroup(set, (g) => g.valence));
    gauge('facecast_group_arousal', "The group's mean arousal, -1 (sleepy) .. 1 (activated).", ['stream', 'group'], (set) => perGroup(set, (g) => g.arousal));
    gauge('facecast_group_cohesion_ratio', 'How much the members of the group agree in emotion, 0..1.', ['stream', 'group'], (set) => perGroup(set, (g) => g.cohesion));
    gauge('facecast_viewers', 'Viewers of the stream: WebRTC (WHEP) peers, socket.io subscribers.', ['stream', 'transport'], (set) => {
      for (const s of streams()) {
        set({ stream: s.id, transport: 'whep' }, s.status.viewers);
        set({ stream: s.id, transport: 'socketio' }, s.socketio);
      }
    });
    const video = this.#sources.video;
    if (video) {
      counter('facecast_whep_sessions_closed_total', 'WHEP sessions ended, by reason: delete (DELETE), peer-timeout (no RTCP/STUN from the peer), dtls-closed, dtls-failed, ice-disconnected (consent lost), connection-failed, connection-closed, connect-timeout, shutdown.', ['reason'], (set) => {
        for (const [reason, n] of Object.entries(video.sessionsClosed)) set({ reason }, n);
      });
      counter('facecast_keyframes_forced_total', 'Key frames forced for viewers (joins, PLI/FIR, viewers back from behind), at most one per second per broadcast.', ['stream'], (set) => {
        for (const s of streams()) set({ stream: s.id }, video.keyframeCounts(s.id).forced);
      });
      counter('facecast_keyframe_requests_throttled_total', 'Key-frame requests that waited for the one-per-second throttle or the natural GOP (coalesced).', ['stream'], (set) => {
        for (const s of streams()) set({ stream: s.id }, video.keyframeCounts(s.id).throttled);
      });
    }
    this.#defineEvents(gauge, counter);
  }
  /** Events (src/events): read from EventService.stats() at scrape time; nothing when the server has none. */
  #defineEvents(gauge: MetricDefiner, counter: MetricDefiner): void {
    const stats = (): EventStats | undefined => this.#sources.events?.();
    counter('facecast_events_total', 'Events made by the event rules, per rule and phase (fired, resolved).', ['rule', 'phase'], (set) => {
      for (const r of stats()?.rules ?? []) {
        set({ rule: r.rule, phase: 'fired' }, r.fired);
        set({ rule: r.rule, phase: 'resolved' }, r.resolved);
      }
    });
    counter('facecast_webhook_deliveries_total', 'Events delivered to a webhook target (2xx answer).', ['target'], (set) => {
      for (const w of stats()?.webhooks ?? []) set({ target: w.id }, w.delivered);
    });
    counter('facecast_webhook_failures_total', 'Failed webhook attempts (network error, timeout, non-2xx); each retry counts.', ['target'], (set) => {
      for (const w of stats()?.webhooks ?? []) set({ target: w.id }, w.failedAttempts);
    });
    counter('facecast_webhook_dropped_total', 'Events a webhook target gave up: reason "queue" (queue full, oldest dropped), "expired" (retry window over), "rejected" (4xx), "forbidden" (the SSRF policy).', ['target', 'reason'], (set) => {
      for (const w of stats()?.webhooks ?? []) for (const [reason, v] of Object.entries(w.dropped)) set({ target: w.id, reason }, v);
    });
    gauge('facecast_webhook_queue_length', 'Events waiting for a webhook target (the one in flight included).', ['target'], (set) => {
      for (const w of stats()?.webhooks ?? []) set({ target: w.id }, w.queued);
    });
    gauge('facecast_mqtt_connected', 'Whether the MQTT client is connected to the broker (1) or not (0; also without MQTT configured).', [], (set) => {
      const m = stats()?.mqtt;
      if (m) set({}, m.connected ? 1 : 0);
    });
    counter('facecast_mqtt_connects_total', 'Successful connections to the MQTT broker (the first and every reconnect).', [], (set) => {
      const m = stats()?.mqtt;
      if (m) set({}, m.connects);
    });
    counter('facecast_mqtt_events_dropped_total', 'Events dropped while the MQTT broker was unreachable (queue full).', [], (set) => {
      const m = stats()?.mqtt;
      if (m) set({}, m.eventsDropped);
    });
  }
}
