/**
 * Errors with stable codes. The code is what callers (CLI, HTTP API, tests) switch on; `cause` keeps the
 * native error (onnxruntime message, FFmpeg code) for the log.
 */
export type ErrorCode =
  // configuration and manifest
  | 'E_CONFIG_INVALID'
  | 'E_MANIFEST_INVALID'
  | 'E_MODEL_NOT_FOUND'
  | 'E_MODEL_SOURCE_MISSING'
  | 'E_MODEL_FORMAT'
  | 'E_MODEL_UNSUPPORTED_OP'
  | 'E_MODEL_LOAD'
  | 'E_MODEL_IO_MISMATCH'
  // inference
  | 'E_INFERENCE_RUN'
  | 'E_INFERENCE_EP_UNAVAILABLE'
  | 'E_ABORTED'
  | 'E_INVALID_STATE'
  // input
  | 'E_INPUT_NOT_FOUND'
  | 'E_INPUT_UNREADABLE'
  | 'E_INPUT_INVALID'
  | 'E_USAGE';

export class FacecastError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class ConfigError extends FacecastError {}
export class ModelError extends FacecastError {}
export class InferenceError extends FacecastError {}
export class InputError extends FacecastError {}
export class UsageError extends FacecastError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}

export class InvalidStateError extends FacecastError {
  constructor(message: string) {
    super('E_INVALID_STATE', message);
  }
}

export class AbortError extends FacecastError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super('E_ABORTED', message, options);
  }
}

export function isFacecastError(e: unknown): e is FacecastError {
  return e instanceof FacecastError;
}

/** Message of any thrown value, for logs. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
