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
  /** The inference worker thread died (uncaught error, exit, out of memory); it is restarted. */
  | 'E_ENGINE_CRASHED'
  | 'E_ABORTED'
  | 'E_INVALID_STATE'
  // input
  | 'E_INPUT_NOT_FOUND'
  | 'E_INPUT_UNREADABLE'
  | 'E_INPUT_INVALID'
  | 'E_USAGE'
  // the process's own resources (wrapped from Node's system errors by fromSystemError)
  /** A file or directory could not be read or written (an output directory, a config file). */
  | 'E_IO'
  /** A listener could not be opened (the port is in use, or binding it is not permitted). */
  | 'E_LISTEN';

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
/** E_IO or E_LISTEN: see fromSystemError. */
export class SystemError extends FacecastError {}
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

/** Node's system errors (fs, net): a string `code` such as ENOENT or EADDRINUSE, and the failing `syscall`. */
interface NodeSystemError extends Error {
  code: string;
  syscall?: string;
  path?: string;
  address?: string;
  port?: number;
}

function isNodeSystemError(e: unknown): e is NodeSystemError {
  if (!(e instanceof Error)) return false;
  const { code, syscall } = e as { code?: unknown; syscall?: unknown };
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) && typeof syscall === 'string';
}

/**
 * A coded FacecastError for Node's system errors, so the CLI prints one line with a code instead of "unexpected
 * error" and a stack: `listen`/`bind` failures are E_LISTEN (with a hint for a port in use), other system calls
 * E_IO. FacecastErrors and anything else come back unchanged.
 */
export function fromSystemError(e: unknown): unknown {
  if (e instanceof FacecastError || !isNodeSystemError(e)) return e;
  if (e.syscall === 'listen' || e.syscall === 'bind') {
    const where = e.address !== undefined ? `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port ?? ''}` : 'the address';
    const hint = e.code === 'EADDRINUSE' ? ': the port is in use (another facecast?); choose another with --port or FACECAST_PORT' : e.code === 'EACCES' ? ': not permitted (ports below 1024 need privileges)' : '';
    return new SystemError('E_LISTEN', `cannot listen on ${where} (${e.code})${hint}`, { cause: e });
  }
  return new SystemError('E_IO', `${e.path !== undefined ? `${e.path}: ` : ''}${e.message}`, { cause: e });
}
