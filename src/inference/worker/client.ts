/**
 * WorkerEngine: the Engine that runs one FaceEngine in a worker thread, so that model runs and the JS crop
 * sampler (both synchronous: onnxruntime-node's run() blocks the calling thread) never stall the main thread's
 * event loop (ingest, WebRTC, socket.io, HTTP). One per process: every stream's requests reach the same worker,
 * so its batchers still gather crops across streams.
 *
 * Frames: postMessage shares SharedArrayBuffer memory instead of cloning it. A frame whose `data.buffer` is a
 * SharedArrayBuffer is sent as is (LiveSource's pooled copies are: `facecast serve` sends live frames with no
 * copy). Any other buffer is copied once (one memcpy, ~2.8 MB for a 720p RGB frame) into a SharedArrayBuffer
 * from this client's pool, which takes it back when the worker answers (`facecast analyze`: VideoSource reuses
 * its own buffer, and still images come from sharp). `copiedBytes` counts those copies.
 *
 * Failure: if the worker dies (uncaught error, process.exit, out of memory), every pending call rejects with
 * InferenceError E_ENGINE_CRASHED and the worker is restarted with capped backoff; calls made meanwhile wait
 * for it, at most `restartWaitMs`, then reject with the same code. Nothing waits without a bound.
 */
import { Worker } from 'node:worker_threads';
import { AbortError, InferenceError, InvalidStateError, errorMessage } from '../../core/errors.js';
import { Logger } from '../../core/log.js';
import type { Detection, FaceAttributes, RgbImage } from '../../core/types.js';
import type { AnalyzeImageOptions, BatcherView, ClassifyScope, Engine, ImageAnalysis } from '../api.js';
import type { EngineOptions } from '../engine.js';
import type { ExecutionProvider } from '../session.js';
import { SharedFramePool } from './pool.js';
import { fromWire, type EngineInfo, type Reply, type Request, type ResultOf, type WorkerStart } from './protocol.js';

const log = new Logger('WorkerEngine');

export interface WorkerEngineOptions extends Omit<EngineOptions, 'store'> {
  /** How long a call made while the worker restarts waits for it (ms, default 30000). */
  restartWaitMs?: number;
  /** First restart delay after a crash (ms, default 200), doubled per consecutive crash up to maxBackoffMs. */
  backoffMs?: number;
  /** Restart delay cap (ms, default 5000). */
  maxBackoffMs?: number;
  /** Let `crashForTests()` kill the worker (tests only). */
  allowCrash?: boolean;
  /**
   * Nice value of the worker thread and its onnxruntime threads (Linux; 0 = as the process). Above 0 live video
   * wins the cores under load and analysis, latest-frame-wins, runs less often (`inference.niceness`).
   */
  niceness?: number;
}

type Kind = keyof ResultOf;

interface Call {
  kind: Kind;
  resolve: (v: never) => void;
  reject: (e: unknown) => void;
  /** Settled locally (aborted, or the worker died): a late reply is dropped. */
  settled: boolean;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Pool buffers holding this call's copied frames, given back on the reply. */
  leased: Uint8Array[];
}

/**
 * Starts the worker thread. From dist/ the entry is worker.js and the parent's execArgv is inherited. Under tsx
 * (tests, bench: `node --import tsx`), Node 20 does not apply the parent's module hooks to a worker, so neither
 * the .ts entry nor a preloaded `--import x.ts` would load: the worker starts from a bootstrap that registers
 * tsx in the worker itself, without the parent's preloads (worker.ts imports the polyfill it needs).
 */
function newWorker(start: WorkerStart): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: start });
  const entry = new URL('./worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: start, execArgv: withoutPreloads(process.execArgv) });
}

/** execArgv minus module preloads and loaders (--import, --require, --loader), which the bootstrap replaces. */
function withoutPreloads(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(a)) i++;
    else if (!/^--(import|require|loader|experimental-loader)=/.test(a)) out.push(a);
  }
  return out;
}

export class WorkerEngine implements Engine {
  readonly #start: WorkerStart;
  readonly #opts: WorkerEngineOptions;
  readonly #pending = new Map<number, Call>();
  readonly #pool = new SharedFramePool();
  #worker: Worker | undefined;
  /** Resolves when a (re)started worker is ready; rejects if it could not start. */
  #ready: Promise<Worker>;
  /** Rejects the waiters of a restart in progress (close()). */
  #readyReject: ((e: unknown) => void) | undefined;
  #info: EngineInfo;
  #batchers: BatcherView[];
  #nextId = 1;
  #closed = false;
  #closing: Promise<void> | undefined;
  #crashes = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  /** Times the worker died and was restarted (metrics, tests). */
  restarts = 0;
  /** Bytes copied into shared buffers because a caller's frame was not in shared memory. */
  copiedBytes = 0;
  /** Calls whose frames were sent in place (already shared memory). */
  sharedCalls = 0;

  private constructor(start: WorkerStart, opts: WorkerEngineOptions, worker: Worker, info: EngineInfo) {
    this.#start = start;
    this.#opts = opts;
    this.#info = info;
    this.#batchers = info.batchers;
    this.#attach(worker);
    this.#ready = Promise.resolve(worker);
  }

  /** Starts the worker and loads the models there; model errors reject here with their code (E_MODEL_LOAD …). */
  static async create(opts: WorkerEngineOptions = {}): Promise<WorkerEngine> {
    const { restartWaitMs: _w, backoffMs: _b, maxBackoffMs: _m, allowCrash, niceness, ...options } = opts;
    const start: WorkerStart = { options, allowCrash: allowCrash ?? false, statsIntervalMs: 1000, niceness: niceness ?? 0 };
    const { worker, info } = await spawn(start);
    return new WorkerEngine(start, opts, worker, info);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get detectorInputSize(): number | undefined {
    return this.#info.detectorInputSize;
  }

  /** The batchers' counts as the worker last sent them (at most ~1 s old). */
  get batchers(): readonly BatcherView[] {
    return this.#batchers;
  }

  get provider(): ExecutionProvider {
    return this.#info.provider;
  }

  /** Why a requested CUDA provider was not taken, if so. */
  get fallbackReason(): string | undefined {
    return this.#info.fallbackReason;
  }

  /** The worker thread's kernel id (Linux; it changes when a crashed worker restarts). */
  get threadId(): number | undefined {
    return this.#info.threadId;
  }

  /** Whether a worker is up (false while it restarts after a crash, and after close). */
  get running(): boolean {
    return !this.#closed && this.#worker !== undefined;
  }

  /** Calls waiting for the worker. */
  get pendingCalls(): number {
    return this.#pending.size;
  }

  detect(img: RgbImage, signal?: AbortSignal, letterbox?: RgbImage): Promise<Detection[]> {
    return this.#call('detect', signal, (id, lease) => ({ kind: 'detect', id, image: lease(img), letterbox: letterbox && lease(letterbox) }));
  }

  classify(img: RgbImage, detections: readonly Detection[], signal?: AbortSignal, scope: ClassifyScope = 'all'): Promise<FaceAttributes[]> {
    return this.#call('classify', signal, (id, lease) => ({ kind: 'classify', id, image: lease(img), detections, scope }));
  }

  analyzeImage(img: RgbImage, opts: AnalyzeImageOptions = {}): Promise<ImageAnalysis> {
    return this.#call('analyzeImage', opts.signal, (id, lease) => ({ kind: 'analyzeImage', id, image: lease(img), wholeIfNone: opts.wholeIfNone ?? false }));
  }

  /** Tests only (needs `allowCrash`): kills the worker by process.exit ('exit') or an uncaught exception ('throw'). */
  async crashForTests(how: 'exit' | 'throw'): Promise<void> {
    this.#assertOpen();
    const w = await this.#ready;
    w.postMessage({ kind: 'crash', id: this.#nextId++, how } satisfies Request);
  }

  async #call<K extends Kind>(kind: K, signal: AbortSignal | undefined, build: (id: number, lease: (img: RgbImage) => RgbImage) => Request): Promise<ResultOf[K]> {
    this.#assertOpen();
    if (signal?.aborted) throw new AbortError(`engine ${kind}: aborted before the call`, { cause: signal.reason });
    const worker = await this.#waitReady(signal);
    if (signal?.aborted) throw new AbortError(`engine ${kind}: aborted`, { cause: signal.reason });
    const id = this.#nextId++;
    const leased: Uint8Array[] = [];
    const lease = (img: RgbImage): RgbImage => {
      if (img.data.buffer instanceof SharedArrayBuffer) return img;
      const buf = this.#pool.acquire(img.data.byteLength);
      buf.set(img.data);
      this.copiedBytes += img.data.byteLength;
      leased.push(buf);
      return { data: buf, width: img.width, height: img.height, stride: img.stride };
    };
    const req = build(id, lease);
    if (leased.length === 0) this.sharedCalls++;
    return new Promise<ResultOf[K]>((resolve, reject) => {
      const call: Call = { kind, resolve: resolve as (v: never) => void, reject, settled: false, signal, onAbort: undefined, leased };
      if (signal) {
        call.onAbort = () => {
          this.#settle(call);
          reject(new AbortError(`engine ${kind}: aborted`, { cause: signal.reason }));
          // The reply still comes (as an AbortError, or a result the worker had finished): it frees the buffers.
          this.#worker?.postMessage({ kind: 'cancel', id } satisfies Request);
        };
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
      this.#pending.set(id, call);
      worker.postMessage(req);
    });
  }

  /** The ready worker, waiting (bounded, abortable) while it restarts. */
  async #waitReady(signal: AbortSignal | undefined): Promise<Worker> {
    if (this.#worker) return this.#worker;
    const bound = this.#opts.restartWaitMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        this.#ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new InferenceError('E_ENGINE_CRASHED', `inference worker not back after ${bound} ms`)), bound);
          if (signal) {
            onAbort = () => reject(new AbortError('engine call aborted while the worker restarts', { cause: signal.reason }));
            signal.addEventListener('abort', onAbort, { once: true });
          }
        }),
      ]);
    } catch (e) {
      if (this.#closed) throw new InvalidStateError('engine is closed');
      throw e;
    } finally {
      clearTimeout(timer);
      if (signal && onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  #settle(call: Call): void {
    call.settled = true;
    if (call.signal && call.onAbort) call.signal.removeEventListener('abort', call.onAbort);
  }

  #attach(worker: Worker): void {
    this.#worker = worker;
    let lastError: unknown;
    worker.on('message', (msg: Reply) => this.#onMessage(msg));
    worker.on('error', (e) => {
      lastError = e;
      log.error(`worker error: ${errorMessage(e)}`);
    });
    worker.once('exit', (code) => this.#onExit(worker, code, lastError));
  }

  #onMessage(msg: Reply): void {
    switch (msg.kind) {
      case 'stats':
        this.#batchers = msg.batchers;
        return;
      case 'ready':
      case 'startFailed':
        return; // handled by spawn()
      default: {
        const call = this.#pending.get(msg.id);
        if (!call) return;
        this.#pending.delete(msg.id);
        for (const b of call.leased) this.#pool.release(b);
        if (call.settled) return;
        this.#settle(call);
        if (msg.kind === 'error') call.reject(fromWire(msg.error));
        else call.resolve(msg.value as never);
      }
    }
  }

  #onExit(worker: Worker, code: number, cause: unknown): void {
    if (this.#worker === worker) this.#worker = undefined;
    const err = this.#closed
      ? new InvalidStateError('engine is closed')
      : new InferenceError('E_ENGINE_CRASHED', `inference worker died (exit code ${code}${cause ? `: ${errorMessage(cause)}` : ''}); restarting it`, { cause });
    // The dead worker can no longer touch the pooled buffers: they go back with the calls.
    for (const call of this.#pending.values()) {
      for (const b of call.leased) this.#pool.release(b);
      if (call.settled) continue;
      this.#settle(call);
      call.reject(err);
    }
    this.#pending.clear();
    if (this.#closed) return;
    log.error(`worker exited unexpectedly (code ${code}); restarting`);
    this.#restart();
  }

  #restart(): void {
    const delay = Math.min(this.#opts.maxBackoffMs ?? 5000, (this.#opts.backoffMs ?? 200) * 2 ** this.#crashes);
    this.#crashes++;
    this.#ready = new Promise<Worker>((resolve, reject) => {
      this.#readyReject = reject;
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = undefined;
        spawn(this.#start).then(
          ({ worker, info }) => {
            if (this.#closed) {
              void worker.terminate();
              reject(new InvalidStateError('engine is closed'));
              return;
            }
            this.restarts++;
            this.#info = info;
            this.#batchers = info.batchers;
            this.#attach(worker);
            // A worker that stays up a minute resets the backoff.
            setTimeout(() => {
              if (this.#worker === worker) this.#crashes = 0;
            }, 60_000).unref();
            log.info(`worker restarted (${this.restarts} restart(s))`);
            resolve(worker);
          },
          (e: unknown) => {
            log.error(`worker restart failed: ${errorMessage(e)}`);
            reject(e);
            if (!this.#closed) this.#restart();
          },
        );
      }, delay);
    });
    // Nobody may be waiting right now: a failed restart must not become an unhandled rejection.
    this.#ready.catch(() => undefined);
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('engine is closed');
  }

  /** Rejects pending calls (InvalidStateError), lets the worker close its sessions (bounded), then ends it. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      clearTimeout(this.#restartTimer);
      this.#readyReject?.(new InvalidStateError('engine is closed'));
      const closedErr = new InvalidStateError('engine is closed');
      for (const call of this.#pending.values()) {
        if (call.settled) continue;
        this.#settle(call);
        call.reject(closedErr);
      }
      const w = this.#worker;
      if (!w) return;
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      w.postMessage({ kind: 'close' } satisfies Request);
      const timer = setTimeout(() => void w.terminate(), 2000);
      await exited;
      clearTimeout(timer);
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Starts a worker and waits for its first message: ready, or the coded error that stopped the engine loading. */
function spawn(start: WorkerStart): Promise<{ worker: Worker; info: EngineInfo }> {
  const worker = newWorker(start);
  return new Promise((resolve, reject) => {
    let lastError: unknown;
    const onMessage = (msg: Reply): void => {
      if (msg.kind === 'ready') {
        cleanup();
        resolve({ worker, info: msg.info });
      } else if (msg.kind === 'startFailed') {
        cleanup();
        reject(fromWire(msg.error));
        void worker.terminate();
      }
    };
    const onError = (e: unknown): void => {
      lastError = e;
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new InferenceError('E_ENGINE_CRASHED', `inference worker exited while starting (code ${code}${lastError ? `: ${errorMessage(lastError)}` : ''})`, { cause: lastError }));
    };
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
