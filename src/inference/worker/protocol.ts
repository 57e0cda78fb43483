/**
 * Messages between WorkerEngine (client.ts, main thread) and the engine worker (worker.ts). Every request has an
 * id and gets exactly one reply with that id (a result or an error), also when it was cancelled: the client
 * gives a frame's pooled buffer back only then, since the worker may read it until it answers.
 *
 * Images travel as views of SharedArrayBuffers: postMessage shares that memory instead of cloning it. Results
 * (detections, attributes) are small plain objects and are cloned.
 */
import type { Detection, FaceAttributes, RgbImage } from '../../core/types.js';
import { AbortError, ConfigError, FacecastError, InferenceError, InputError, InvalidStateError, ModelError, UsageError, errorMessage, type ErrorCode } from '../../core/errors.js';
import type { EngineOptions } from '../engine.js';
import type { BatcherView, ClassifyScope, ImageAnalysis } from '../api.js';
import type { ExecutionProvider } from '../session.js';

/** What the worker is started with (workerData). `store` is a class instance and stays on its own side. */
export interface WorkerStart {
  options: Omit<EngineOptions, 'store'>;
  /** Honour `crash` requests (tests only). */
  allowCrash: boolean;
  /** How often the worker sends batcher stats while they change (ms). */
  statsIntervalMs: number;
  /** Nice value the worker thread takes before loading models (see WorkerEngineOptions.niceness). */
  niceness: number;
}

/** An RgbImage whose data is a view of a SharedArrayBuffer. */
export type WireImage = RgbImage;

export type Request =
  | { kind: 'detect'; id: number; image: WireImage; letterbox: WireImage | undefined }
  | { kind: 'classify'; id: number; image: WireImage; detections: readonly Detection[]; scope: ClassifyScope }
  | { kind: 'analyzeImage'; id: number; image: WireImage; wholeIfNone: boolean }
  /** Abort request `id` (its reply still comes, as an AbortError). */
  | { kind: 'cancel'; id: number }
  /** Tests: make the worker die the way a native crash or a bug would. */
  | { kind: 'crash'; id: number; how: 'exit' | 'throw' }
  /** Close the engine and let the thread end. */
  | { kind: 'close' };

/** A thrown error as it crosses the thread boundary: its class name, code and message survive. */
export interface WireError {
  name: string;
  code: ErrorCode | undefined;
  message: string;
  stack: string | undefined;
  /** Message of the cause, if any (onnxruntime's text). */
  cause: string | undefined;
}

export interface EngineInfo {
  detectorInputSize: number | undefined;
  provider: ExecutionProvider;
  /** Why a requested CUDA provider was not taken, if it was not. */
  fallbackReason: string | undefined;
  batchers: BatcherView[];
  /** The worker thread's kernel id (Linux), e.g. to check its priority; undefined elsewhere. */
  threadId: number | undefined;
}

export type Reply =
  | { kind: 'ready'; info: EngineInfo }
  | { kind: 'startFailed'; error: WireError }
  | { kind: 'detect'; id: number; value: Detection[] }
  | { kind: 'classify'; id: number; value: FaceAttributes[] }
  | { kind: 'analyzeImage'; id: number; value: ImageAnalysis }
  | { kind: 'error'; id: number; error: WireError }
  | { kind: 'stats'; batchers: BatcherView[] };

/** The result type of each request kind. */
export interface ResultOf {
  detect: Detection[];
  classify: FaceAttributes[];
  analyzeImage: ImageAnalysis;
}

export function toWire(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    name: err.name,
    code: e instanceof FacecastError ? e.code : undefined,
    message: err.message,
    stack: err.stack,
    cause: err.cause !== undefined ? errorMessage(err.cause) : undefined,
  };
}

/** Rebuilds the error class callers switch on (ModelError, InferenceError, AbortError …), keeping code and text. */
export function fromWire(w: WireError): Error {
  const cause = w.cause !== undefined ? { cause: new Error(w.cause) } : undefined;
  let e: Error;
  if (w.code === undefined) e = new InferenceError('E_INFERENCE_RUN', `engine worker: ${w.name}: ${w.message}`, cause);
  else if (w.name === 'AbortError' || w.code === 'E_ABORTED') e = new AbortError(w.message, cause);
  else if (w.name === 'InvalidStateError') e = new InvalidStateError(w.message);
  else if (w.name === 'UsageError') e = new UsageError(w.message);
  else {
    const Cls = { ConfigError, ModelError, InputError, InferenceError }[w.name] ?? FacecastError;
    e = new Cls(w.code, w.message, cause);
  }
  // The worker's stack says where it failed; the client's own frames add nothing.
  if (w.stack !== undefined) e.stack = w.stack;
  return e;
}
