/**
 * The registry's StreamHandle for a real stream: a StreamRuntime (LiveSource → FrameAnalyzer) on the shared
 * Engine, its status in the API's terms, the latest groups and an annotated snapshot. A config change that
 * affects ingest or analysis restarts the runtime; a name change does not.
 *
 * Video for viewers comes from the "view" source: the analysed source itself, or, when a `detectSource`
 * substream is configured (as NVRs offer), a second LiveSource on the main `source` — decoded in overlay mode (the
 * server draws on it), demuxed only in passthrough mode. The handle re-emits the view source's `frame` and
 * `packet` events, so broadcasts survive runtime restarts. Both are tapped on the view source only while the
 * handle itself has listeners: packets are then not copied out of the demuxer, and frames are not delivered off
 * the analysis grid nor viewed as YUV — so a stream analysed at a low rate with no viewer decodes key frames only.
 */
import { parseSource } from '../core/source.js';
import type { FrameRecord, GroupRecord } from '../core/records.js';
import { TypedEmitter } from '../core/emitter.js';
import { LiveSource, type LiveFrame, type LivePacket, type LiveVideoFrame } from '../ingest/live.js';
import type { Engine } from '../inference/api.js';
import { StreamRuntime } from '../pipeline/stream.js';
import { annotatedJpeg } from '../broadcast/snapshot.js';
import { ffmpegLogScope } from '../ingest/ffmpeg-log.js';
import { WHIP_SOURCE, type StreamConfig } from './config.js';
import type { StreamHandle } from './registry.js';
import type { WhipTarget } from '../ingest/whip/service.js';
import type { StreamStatus } from './service.js';

/** Keys whose change needs a new runtime. */
const RESTART_KEYS = ['source', 'detectSource', 'rtspTransport', 'fps', 'detectEvery', 'maxLagMs', 'zones', 'enabled', 'output'] as const;

/** What LiveSource opens: file URLs as paths; everything else as written (the opener parses it the same way). */
function sourceUrl(source: string): string {
  const p = parseSource(source);
  return p.kind === 'file' ? p.path : source;
}

export interface RuntimeHandleEvents {
  /** Every analysed frame of the stream, across runtime restarts (config changes, re-enabling). */
  record: [record: FrameRecord];
  /** Every ingested frame of the view source as YUV (valid during the call only; see LiveSource `frame`). */
  frame: [frame: LiveVideoFrame];
  /** Every compressed packet of the view source, while someone listens (passthrough). */
  packet: [packet: LivePacket];
  /** The stream was removed (the registry closed its handle). */
  close: [];
}

/** What the video service reports about a stream's viewers. */
export interface VideoStatus {
  viewers: number;
  /** Video frames per second sent (the busiest broadcast of the stream). */
  fps: number;
  /** Video frames dropped (encoder busy) since the stream started. */
  dropped: number;
}

export class RuntimeHandle extends TypedEmitter<RuntimeHandleEvents> implements StreamHandle, WhipTarget {
  readonly id: string;
  readonly #engine: Engine;
  #config: StreamConfig;
  #logScope: Disposable | undefined;
  #runtime: StreamRuntime | undefined;
  /** The main stream when analysis runs on a detect substream; undefined otherwise. */
  #view: LiveSource | undefined;
  #tapped: LiveSource | undefined;
  #frameTapped: LiveSource | undefined;

  readonly #video: () => VideoStatus;
  /** WHIP streams: the current publisher's feed (an SDP file) and its key-frame control, while one publishes. */
  #whip: { sdpPath: string; control: { requestKeyframe(): void } } | undefined;
  readonly #onFrame = (f: LiveVideoFrame): void => void this.safeEmit('frame', f);
  readonly #onPacket = (p: LivePacket): void => void this.safeEmit('packet', p);

  /** privacy.blurFaces: snapshots blurred; a passthrough view source is decoded anyway (video is re-encoded). */
  readonly #blurFaces: boolean;
  /** security.sources.followRedirects: false makes http(s) sources refuse redirects. */
  readonly #followRedirects: boolean;
  /** The config's `ingest` section (skip-ahead bound, stall timeout); a stream's maxLagMs overrides the bound. */
  readonly #ingest: { maxLagMs?: number; stallTimeoutMs?: number; rtspClient?: 'native' | 'ffmpeg' };

  /** `video`: what the video service (which owns the viewers) reports about this stream. */
  constructor(engine: Engine, config: StreamConfig, opts: { video?: () => VideoStatus; blurFaces?: boolean; followRedirects?: boolean; ingest?: { maxLagMs?: number; stallTimeoutMs?: number; rtspClient?: 'native' | 'ffmpeg' } } = {}) {
    super();
    this.#blurFaces = opts.blurFaces === true;
    this.#followRedirects = opts.followRedirects !== false;
    this.#ingest = opts.ingest ?? {};
    this.id = config.id;
    this.#video = opts.video ?? (() => ({ viewers: 0, fps: 0, dropped: 0 }));
    this.#engine = engine;
    this.#config = config;
    if (config.enabled) this.#start(config);
  }

  get acceptsWhip(): boolean {
    return this.#config.source === WHIP_SOURCE;
  }

  /** WhipTarget: a publisher's feed starts (or changes): analysis and video restart on it. */
  async publish(sdpPath: string, control: { requestKeyframe(): void }): Promise<void> {
    this.#whip = { sdpPath, control };
    await this.#stop();
    if (this.#config.enabled) this.#start(this.#config);
  }

  /** WhipTarget: the publisher left; the stream is idle, its viewers stay attached. */
  async unpublish(): Promise<void> {
    this.#whip = undefined;
    await this.#stop();
  }

  /** WhipTarget: frames of the current feed are being decoded. */
  receiving(): boolean {
    return this.#runtime?.source.state === 'streaming';
  }

  /** Asks the source for a key frame where it can (a WHIP publisher can; a camera's GOP is its own). */
  requestSourceKeyframe(): void {
    this.#whip?.control.requestKeyframe();
  }

  get config(): StreamConfig {
    return this.#config;
  }

  /** Zones outlined by the server overlay (broadcast VideoFeed). */
  zones(): StreamConfig['zones'] {
    return this.#config.zones;
  }

  /** The running runtime, undefined while stopped: metrics read its counters (they restart with it). */
  get runtime(): StreamRuntime | undefined {
    return this.#runtime;
  }

  /** The source viewers watch (see the module comment). */
  get viewSource(): LiveSource | undefined {
    return this.#view ?? this.#runtime?.source;
  }

  #start(c: StreamConfig): void {
    let url = sourceUrl(c.detectSource ?? c.source);
    if (c.source === WHIP_SOURCE) {
      if (!this.#whip) return; // a publish point with nobody publishing: idle
      url = this.#whip.sdpPath;
    }
    const ingest = { maxLagMs: c.maxLagMs ?? this.#ingest.maxLagMs, stallTimeoutMs: this.#ingest.stallTimeoutMs, rtspClient: this.#ingest.rtspClient };
    const r = new StreamRuntime(this.#engine, url, {
      id: c.id,
      source: { fps: c.fps, rtspTransport: c.rtspTransport, followRedirects: this.#followRedirects, ...ingest },
      analyzer: { detectEvery: c.detectEvery, zones: c.zones },
    });
    // Consumers (live data, video) subscribe to the handle, which outlives its runtimes.
    r.on('record', (rec) => this.safeEmit('record', rec));
    this.#runtime = r.start();
    // libav's log lines carry this stream's id while it is the only one running (ingest/ffmpeg-log.ts).
    this.#logScope = ffmpegLogScope(c.id);
    if (c.detectSource !== undefined && c.source !== WHIP_SOURCE) {
      const decode = c.output.mode !== 'passthrough' || this.#blurFaces;
      this.#view = new LiveSource(sourceUrl(c.source), { rtspTransport: c.rtspTransport, followRedirects: this.#followRedirects, ...ingest, decode, delivery: 'events' }).start();
    }
    const view = this.viewSource;
    this.#syncTaps();
  }

  /** The view source is listened to for `packet` / `frame` only while the handle has listeners of that event. */
  #syncTaps(): void {
    const packets = this.listenerCount('packet') > 0 ? this.viewSource : undefined;
    if (packets !== this.#tapped) {
      this.#tapped?.off('packet', this.#onPacket);
      packets?.on('packet', this.#onPacket);
      this.#tapped = packets;
    }
    const frames = this.listenerCount('frame') > 0 ? this.viewSource : undefined;
    if (frames !== this.#frameTapped) {
      this.#frameTapped?.off('frame', this.#onFrame);
      frames?.on('frame', this.#onFrame);
      this.#frameTapped = frames;
    }
  }

  override on<K extends keyof RuntimeHandleEvents>(event: K, listener: (...args: RuntimeHandleEvents[K]) => void): this {
    super.on(event, listener);
    if (event === 'packet' || event === 'frame') this.#syncTaps();
    return this;
  }

  override off<K extends keyof RuntimeHandleEvents>(event: K, listener: (...args: RuntimeHandleEvents[K]) => void): this {
    super.off(event, listener);
    if (event === 'packet' || event === 'frame') this.#syncTaps();
    return this;
  }

  async #stop(): Promise<void> {
    const r = this.#runtime;
    const view = this.#view;
    this.#runtime = undefined;
    this.#view = undefined;
    this.#logScope?.[Symbol.dispose]();
    this.#logScope = undefined;
    this.#tapped?.off('packet', this.#onPacket);
    this.#tapped = undefined;
    this.#frameTapped?.off('frame', this.#onFrame);
    this.#frameTapped = undefined;
    await Promise.all([r?.close(), view?.close()]);
  }

  /**
   * Whether the view source's own H.264 can be forwarded (passthrough): known once it is connected. Undefined
   * while not known yet.
   */
  passthroughCodec(): string | undefined {
    return this.viewSource?.codec;
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
    const v = this.#video();
    if (!r) return { state: this.#config.enabled && this.acceptsWhip ? 'idle' : 'stopped', inputFps: 0, analysedFps: 0, outputFps: 0, latencyMs: 0, processingMs: 0, ingestLagMs: 0, sinceFrameMs: 0, viewers: v.viewers, faces: 0, framesReceived: 0, framesAnalysed: 0, framesDropped: 0, framesSkipped: 0, videoFramesDropped: v.dropped };
    const s = r.status();
    const out: StreamStatus = {
      state: s.state === 'closed' ? 'stopped' : s.state,
      inputFps: s.inputFps,
      analysedFps: s.analysedFps,
      outputFps: v.fps,
      latencyMs: s.latencyMs,
      processingMs: s.processingMs,
      ingestLagMs: s.ingestLagMs,
      sinceFrameMs: s.sinceFrameMs,
      viewers: v.viewers,
      faces: s.faces,
      framesReceived: s.framesReceived,
      framesAnalysed: s.framesAnalysed,
      framesDropped: s.framesDropped,
      framesSkipped: s.framesSkipped,
      videoFramesDropped: v.dropped,
    };
    if (s.lastError) out.lastError = s.lastError;
    if (s.lastErrorCode) out.lastErrorCode = s.lastErrorCode;
    return out;
  }

  groups(): GroupRecord[] {
    return this.#runtime?.latestRecord?.groups ?? [];
  }

  async snapshot(): Promise<Uint8Array | undefined> {
    const frame = this.#runtime?.latestFrame;
    if (!frame) return undefined;
    return annotatedJpeg(frame.image, this.#runtime?.latestRecord, 80, { blurFaces: this.#blurFaces, zones: this.#config.zones });
  }

  async update(config: StreamConfig): Promise<void> {
    const prev = this.#config;
    this.#config = config;
    if (!RESTART_KEYS.some((k) => JSON.stringify(prev[k]) !== JSON.stringify(config[k]))) return;
    await this.#stop();
    if (config.enabled) this.#start(config);
  }

  async close(): Promise<void> {
    await this.#stop();
    this.safeEmit('close');
    this.removeAllListeners();
  }
}
