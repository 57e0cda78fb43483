/**
 * The registry's StreamHandle for a real stream: a StreamRuntime (LiveSource → FrameAnalyzer) on the shared
 * FaceEngine, its status in the API's terms, the latest groups and an annotated snapshot. A config change that
 * affects ingest or analysis restarts the runtime; a name change does not.
 */
import { fileURLToPath } from 'node:url';
import type { FrameRecord, GroupRecord } from '../core/records.js';
import { TypedEmitter } from '../core/emitter.js';
import type { LiveFrame } from '../ingest/live.js';
import type { FaceEngine } from '../inference/engine.js';
import { StreamRuntime } from '../pipeline/stream.js';
import { annotatedJpeg } from '../broadcast/snapshot.js';
import type { StreamConfig } from './config.js';
import type { StreamHandle } from './registry.js';
import type { StreamStatus } from './service.js';

/** Keys whose change needs a new runtime. */
const RESTART_KEYS = ['source', 'detectSource', 'rtspTransport', 'fps', 'detectEvery', 'zones', 'enabled'] as const;

function sourceUrl(source: string): string {
  return source.startsWith('file://') ? fileURLToPath(source) : source;
}

export interface RuntimeHandleEvents {
  /** Every analysed frame of the stream, across runtime restarts (config changes, re-enabling). */
  record: [record: FrameRecord];
  /** The stream was removed (the registry closed its handle). */
  close: [];
}

export class RuntimeHandle extends TypedEmitter<RuntimeHandleEvents> implements StreamHandle {
  readonly id: string;
  readonly #engine: FaceEngine;
  #config: StreamConfig;
  #runtime: StreamRuntime | undefined;

  readonly #viewers: () => number;

  /** `viewers`: how many WebRTC viewers watch this stream (owned by the video service). */
  constructor(engine: FaceEngine, config: StreamConfig, opts: { viewers?: () => number } = {}) {
    super();
    this.id = config.id;
    this.#viewers = opts.viewers ?? (() => 0);
    this.#engine = engine;
    this.#config = config;
    if (config.enabled) this.#runtime = this.#start(config);
  }

  #start(c: StreamConfig): StreamRuntime {
    const r = new StreamRuntime(this.#engine, sourceUrl(c.source), {
      id: c.id,
      source: { fps: c.fps, rtspTransport: c.rtspTransport },
      analyzer: { detectEvery: c.detectEvery, zones: c.zones },
    });
    // Consumers (live data, video) subscribe to the handle, which outlives its runtimes.
    r.on('record', (rec) => this.safeEmit('record', rec));
    return r.start();
  }

  /** The frame the latest record was computed from, for video and snapshots. Valid until the next `record`
   *  event (its buffers are then reused): copy it before awaiting anything. */
  get latestFrame(): LiveFrame | undefined {
    return this.#runtime?.latestFrame;
  }

  get latestRecord(): FrameRecord | undefined {
    return this.#runtime?.latestRecord;
  }

  status(): StreamStatus {
    const r = this.#runtime;
    if (!r) return { state: 'stopped', inputFps: 0, outputFps: 0, latencyMs: 0, viewers: this.#viewers(), faces: 0, framesReceived: 0, framesDropped: 0 };
    const s = r.status();
    const out: StreamStatus = {
      state: s.state === 'closed' ? 'stopped' : s.state,
      inputFps: s.inputFps,
      // Video goes out once per analysed frame (the overlay needs the record), so output = analysed rate.
      outputFps: s.analysedFps,
      latencyMs: s.latencyMs,
      viewers: this.#viewers(),
      faces: s.faces,
      framesReceived: s.framesReceived,
      framesDropped: s.framesDropped,
    };
    if (s.lastError) out.lastError = s.lastError;
    return out;
  }

  groups(): GroupRecord[] {
    return this.#runtime?.latestRecord?.groups ?? [];
  }

  async snapshot(): Promise<Uint8Array | undefined> {
    const frame = this.#runtime?.latestFrame;
    if (!frame) return undefined;
    return annotatedJpeg(frame.image, this.#runtime?.latestRecord);
  }

  async update(config: StreamConfig): Promise<void> {
    const prev = this.#config;
    this.#config = config;
    if (!RESTART_KEYS.some((k) => JSON.stringify(prev[k]) !== JSON.stringify(config[k]))) return;
    const old = this.#runtime;
    this.#runtime = undefined;
    await old?.close();
    if (config.enabled) this.#runtime = this.#start(config);
  }

  async close(): Promise<void> {
    const r = this.#runtime;
    this.#runtime = undefined;
    await r?.close();
    this.safeEmit('close');
    this.removeAllListeners();
  }
}
