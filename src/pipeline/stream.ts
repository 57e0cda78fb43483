/**
 * StreamRuntime: one camera, end to end — LiveSource → one-slot latest-frame mailbox → FrameAnalyzer loop.
 * Analysis never blocks ingest: while a frame is being analysed, newer frames replace each other in the mailbox
 * and are counted as dropped at stage 'analyze'. Latency is measured from the camera's timeline (LiveFrame
 * `capturedAt`, see ingest/lag.ts), so a backlog in ingest shows in it instead of hiding before arrival. The runtime keeps the latest FrameRecord and the frame it was
 * computed from (for snapshots), and reports counters through status().
 *
 * The Engine is injected and shared by every stream, so face crops of all cameras batch in its classifiers.
 * Closing the runtime never closes the engine.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError, InvalidStateError, errorMessage, isFacecastError } from '../core/errors.js';
import { TypedEmitter } from '../core/emitter.js';
import { Logger } from '../core/log.js';
import type { FrameRecord } from '../core/records.js';
import type { Engine } from '../inference/api.js';
import { LiveSource, RateMeter, type LiveFrame, type LiveSourceOptions, type LiveState } from '../ingest/live.js';
import { FrameAnalyzer, type AnalyzerOptions } from './analyzer.js';
import { HistogramCounts, LATENCY_BUCKETS } from '../core/stage-stats.js';

const log = new Logger('StreamRuntime');

export interface StreamRuntimeOptions {
  /** Name for logs (default: the redacted URL). */
  id?: string;
  source?: LiveSourceOptions;
  /** FrameAnalyzer options; `fps` defaults to source.fps, else the source's own rate, else 25. */
  analyzer?: Partial<AnalyzerOptions>;
  /** close() waits at most this long for the analysis in flight, ms (default 3000). */
  closeTimeoutMs?: number;
}

export interface StreamRuntimeEvents {
  record: [record: FrameRecord];
  state: [state: LiveState, previous: LiveState];
  /** Ingest faults (then reconnecting) and analysis failures (that frame is skipped). */
  error: [error: Error];
  close: [];
}

export interface StreamRuntimeStatus {
  state: LiveState;
  /** Frames received from the source over the last second. */
  inputFps: number;
  /** Frames analysed over the last second. */
  analysedFps: number;
  /** Camera time of the frame (capturedAt) → record ready, ms, EWMA (0 before the first record): end to end. */
  latencyMs: number;
  /** Frame arrival (delivered by ingest) → record ready, ms, EWMA: the pipeline's own part of latencyMs. */
  processingMs: number;
  /** How far behind the camera ingest is (the latest frame's delivery − its camera time), ms. */
  ingestLagMs: number;
  /** Time since the latest frame arrived, ms (0 before the first). */
  sinceFrameMs: number;
  framesReceived: number;
  framesAnalysed: number;
  /** Frames replaced before analysis could take them (stage 'analyze'). */
  framesDropped: number;
  /** Frames dropped undecoded by ingest to catch up with the camera (stage 'ingest'). */
  framesSkipped: number;
  reconnects: number;
  /** Faces on the latest record. */
  faces: number;
  /** The error that stopped frames or their analysis; cleared by the next frame analysed. */
  lastError?: string;
  /** Code of lastError: E_INPUT_* from ingest, or the engine's code for an analysis failure. */
  lastErrorCode?: string;
}

/** Weight of the newest sample in the latency EWMA (~10 frames of memory). */
const EWMA_ALPHA = 0.1;

export class StreamRuntime extends TypedEmitter<StreamRuntimeEvents> implements AsyncDisposable {
  readonly id: string;
  readonly source: LiveSource;
  framesAnalysed = 0;
  /** Analysis failures (each also an `error` event). */
  analysisErrors = 0;
  /** Camera time → record ready, seconds, one observation per analysed frame (metrics: frame latency). */
  readonly latency = new HistogramCounts(LATENCY_BUCKETS);
  #latest: FrameRecord | undefined;
  #latestFrame: LiveFrame | undefined;
  #latencyMs = 0;
  #processingMs = 0;
  #lastError: string | undefined;
  #lastErrorCode: string | undefined;
  /** performance.now() when lastError was set: only a frame received after it shows the stream is back. */
  #lastErrorAt = 0;
  #analyzer: FrameAnalyzer | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #engine: Engine;
  readonly #opts: StreamRuntimeOptions;
  readonly #meter = new RateMeter();
  readonly #ctl = new AbortController();

  constructor(engine: Engine, url: string, opts: StreamRuntimeOptions = {}) {
    super();
    this.#engine = engine;
    this.#opts = opts;
    // The detector's letterboxed input is made by swscale in ingest (much cheaper than sampling in JS).
    this.source = new LiveSource(url, { letterbox: engine.detectorInputSize, ...opts.source });
    this.id = opts.id ?? this.source.label;
    this.source.on('state', (s, prev) => this.safeEmit('state', s, prev));
    this.source.on('error', (e) => {
      this.#lastError = this.source.lastError; // already redacted
      this.#lastErrorCode = this.source.lastErrorCode;
      this.#lastErrorAt = performance.now();
      this.safeEmit('error', e);
    });
  }

  /** Starts ingest and analysis; idempotent. Throws InvalidStateError after close(). */
  start(): this {
    if (this.#closing) throw new InvalidStateError(`StreamRuntime ${this.id}: start() after close()`);
    if (this.#loop) return this;
    this.source.start();
    this.#loop = this.#analyse(this.#ctl.signal);
    return this;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** The latest record, or undefined before the first. */
  get latestRecord(): FrameRecord | undefined {
    return this.#latest;
  }

  /** The frame the latest record was computed from. Valid until the next `record` event (its buffers are then
   *  reused): copy it before awaiting anything. */
  get latestFrame(): LiveFrame | undefined {
    return this.#latestFrame;
  }

  status(): StreamRuntimeStatus {
    const s = this.source.stats();
    const lastError = this.#lastError;
    return {
      state: s.state,
      inputFps: s.inputFps,
      analysedFps: this.#meter.rate(),
      latencyMs: this.#latencyMs,
      processingMs: this.#processingMs,
      ingestLagMs: s.lagMs,
      sinceFrameMs: s.sinceFrameMs,
      framesReceived: s.framesReceived,
      framesAnalysed: this.framesAnalysed,
      framesDropped: s.framesDropped,
      framesSkipped: s.framesSkipped,
      reconnects: s.reconnects,
      faces: this.#latest?.faces.length ?? 0,
      ...(lastError !== undefined ? { lastError } : {}),
      ...(this.#lastErrorCode !== undefined ? { lastErrorCode: this.#lastErrorCode } : {}),
    };
  }

  /** Stops ingest, then waits for the analysis in flight (at most closeTimeoutMs). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.source.close(); // closes the mailbox: the loop's pending take() rejects
      const bound = this.#opts.closeTimeoutMs ?? 3000;
      // unref'd: a pending 3 s timer must not keep the process alive after a prompt close
      const done = await Promise.race([this.#loop?.then(() => true), sleep(bound, false, { ref: false })]);
      if (done === false) {
        // The engine did not return in time: abort it (engine calls take the signal) and stop waiting.
        log.warn(`close() [stream:${this.id}] analysis still running after ${bound} ms; aborting it`);
        this.#ctl.abort(new AbortError(`StreamRuntime ${this.id} closed`));
      }
      this.safeEmit('close');
      this.removeAllListeners();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #analyse(signal: AbortSignal): Promise<void> {
    for (;;) {
      let frame: LiveFrame;
      try {
        frame = await this.source.next(signal);
      } catch {
        return; // the source closed (or the runtime aborted): the only ways take() rejects
      }
      // Created at the first frame so that the detection period follows the source's actual rate.
      this.#analyzer ??= new FrameAnalyzer(this.#engine, { ...this.#opts.analyzer, fps: this.#opts.analyzer?.fps ?? this.#opts.source?.fps ?? this.source.sourceFps ?? 25 });
      let record: FrameRecord;
      try {
        record = await this.#analyzer.process(frame.index, frame.ptsSec, frame.image, signal, frame.letterbox);
      } catch (e) {
        if (signal.aborted) return;
        this.analysisErrors++;
        this.#lastError = `analysis failed on frame ${frame.index}: ${errorMessage(e)}`;
        this.#lastErrorCode = isFacecastError(e) ? e.code : 'E_INTERNAL';
        this.#lastErrorAt = performance.now();
        log.warn(`analyse() [stream:${this.id}] ${this.#lastError}`);
        this.safeEmit('error', e instanceof Error ? e : new Error(this.#lastError));
        continue;
      }
      // A frame analysed: the source is back and analysis works, so the last error no longer describes the
      // stream (issue 16: it stayed in the status, and on the dashboard, after the camera came back). Only a frame
      // that arrived after the error: one still in analysis when the camera died says nothing about its return.
      if (this.#lastError !== undefined && frame.receivedAt > this.#lastErrorAt) {
        this.#lastError = undefined;
        this.#lastErrorCode = undefined;
      }
      const now = performance.now();
      const latency = now - frame.capturedAt;
      const processing = now - frame.receivedAt;
      const first = this.framesAnalysed === 0;
      this.#latencyMs = first ? latency : this.#latencyMs + EWMA_ALPHA * (latency - this.#latencyMs);
      this.#processingMs = first ? processing : this.#processingMs + EWMA_ALPHA * (processing - this.#processingMs);
      this.latency.observeMs(latency);
      this.framesAnalysed++;
      this.#meter.add(now);
      this.#latest = record;
      // Readers of the previous frame (snapshots, video) copy it synchronously, so its buffers can be reused now.
      const previous = this.#latestFrame;
      this.#latestFrame = frame;
      if (previous) this.source.recycle(previous);
      this.safeEmit('record', record);
    }
  }
}
