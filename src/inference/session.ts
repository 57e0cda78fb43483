/**
 * One onnxruntime-node session per model file, with an explicit lifecycle.
 *
 * Why these defaults: on 2 cores, onnxruntime's intra-op threads spin while idle, and when several models and
 * JavaScript pre-processing alternate that spinning steals the core the JS needs (measured ~2x slower, see
 * FIELD-NOTES). So spinning is off, and one intra-op thread is the default for the per-face models.
 */
import * as ort from 'onnxruntime-node';
import { InferenceError, InvalidStateError, ModelError, errorMessage } from '../core/errors.js';
import { Logger } from '../core/log.js';

const log = new Logger('Session');

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  /** Preferred provider; 'cuda' falls back to 'cpu' with a warning (and `fallbackReason`) when a CUDA session
   *  cannot be created (provider library or CUDA/cuDNN missing, no device). */
  provider?: ExecutionProvider;
  /** Intra-op threads (default 1). */
  threads?: number;
  /** Let idle intra-op threads spin (default false: see the module comment). */
  spinning?: boolean;
  /** CUDA device id. */
  deviceId?: number;
}

export interface IoMeta {
  name: string;
  /** Dims as the model declares them; symbolic dims are strings. */
  shape: (number | string)[];
}

export type Feeds = Record<string, ort.Tensor>;
export type Fetches = Record<string, ort.Tensor>;

/**
 * CUDA is found out by trying: onnxruntime-node's `listSupportedBackends()` reports `bundled: false` for CUDA as
 * a compile-time constant whether or not its provider library is installed, so only creating a session tells.
 * The first failure is warned about once per process (with onnxruntime's reason); each session keeps its reason.
 */
let cudaWarned = false;

function sessionOptions(o: SessionOptions, provider: ExecutionProvider): ort.InferenceSession.SessionOptions {
  const threads = o.threads ?? 1;
  return {
    // CPU stays listed after CUDA for the nodes CUDA has no kernel for; a missing CUDA library still throws.
    executionProviders: provider === 'cuda' ? [{ name: 'cuda', deviceId: o.deviceId ?? 0 }, 'cpu'] : ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: o.spinning ? '1' : '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

export class OnnxSession implements AsyncDisposable {
  readonly name: string;
  readonly provider: ExecutionProvider;
  /** Why the requested CUDA provider was not taken (onnxruntime's message), when it was not. */
  readonly fallbackReason: string | undefined;
  readonly inputs: readonly IoMeta[];
  readonly outputs: readonly IoMeta[];
  #session: ort.InferenceSession | undefined;
  #closed = false;
  #runs = 0;
  #runMs = 0;

  private constructor(name: string, session: ort.InferenceSession, provider: ExecutionProvider, fallbackReason: string | undefined) {
    this.name = name;
    this.#session = session;
    this.provider = provider;
    this.fallbackReason = fallbackReason;
    this.inputs = session.inputMetadata.map((m) => ({ name: m.name, shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) : [] }));
    this.outputs = session.outputMetadata.map((m) => ({ name: m.name, shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) : [] }));
  }

  /** Loads a model from a file path or bytes. */
  static async create(name: string, model: string | Uint8Array, opts: SessionOptions = {}): Promise<OnnxSession> {
    if (opts.provider === 'cuda') {
      try {
        return new OnnxSession(name, await load(model, sessionOptions(opts, 'cuda')), 'cuda', undefined);
      } catch (e) {
        const reason = `CUDA execution provider failed: ${errorMessage(e)}`;
        if (!cudaWarned) {
          cudaWarned = true;
          log.warn(
            `create() [model:${name}] ${reason}; using the CPU. CUDA needs onnxruntime-node's CUDA binaries ` +
              '(`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --foreground-scripts`, network access) and CUDA 12 + cuDNN 9.',
          );
        } else {
          log.debug(`create() [model:${name}] ${reason}; using the CPU`);
        }
        return OnnxSession.#createCpu(name, model, opts, reason);
      }
    }
    return OnnxSession.#createCpu(name, model, opts, undefined);
  }

  static async #createCpu(name: string, model: string | Uint8Array, opts: SessionOptions, fallbackReason: string | undefined): Promise<OnnxSession> {
    try {
      return new OnnxSession(name, await load(model, sessionOptions(opts, 'cpu')), 'cpu', fallbackReason);
    } catch (e) {
      throw new ModelError('E_MODEL_LOAD', `model "${name}" could not be loaded by onnxruntime: ${errorMessage(e)}`, { cause: e });
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Average run time so far (ms) and the number of runs: a counter the stage owns, read by metrics. */
  get stats(): { runs: number; meanMs: number } {
    return { runs: this.#runs, meanMs: this.#runs ? this.#runMs / this.#runs : 0 };
  }

  /** Checks that the model has the named input/outputs, so a manifest mistake fails at load, not per frame. */
  assertIo(input: string, outputs: readonly string[]): void {
    if (!this.inputs.some((i) => i.name === input)) {
      throw new ModelError('E_MODEL_IO_MISMATCH', `model "${this.name}" has no input "${input}" (inputs: ${this.inputs.map((i) => i.name).join(', ')})`);
    }
    for (const o of outputs) {
      if (!this.outputs.some((x) => x.name === o)) {
        throw new ModelError('E_MODEL_IO_MISMATCH', `model "${this.name}" has no output "${o}" (outputs: ${this.outputs.map((x) => x.name).join(', ')})`);
      }
    }
  }

  async run(feeds: Feeds, outputs?: readonly string[]): Promise<Fetches> {
    const s = this.#session;
    if (this.#closed || !s) throw new InvalidStateError(`session "${this.name}" is closed`);
    const t0 = performance.now();
    try {
      const res = outputs ? await s.run(feeds, outputs as string[]) : await s.run(feeds);
      this.#runs++;
      this.#runMs += performance.now() - t0;
      return res;
    } catch (e) {
      throw new InferenceError('E_INFERENCE_RUN', `model "${this.name}" run failed: ${errorMessage(e)}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const s = this.#session;
    this.#session = undefined;
    if (s) await s.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function load(model: string | Uint8Array, o: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model, o) : ort.InferenceSession.create(model, o);
}

export { ort };
