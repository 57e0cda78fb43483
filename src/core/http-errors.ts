/**
 * Error codes → HTTP status, in one place, and the express middleware that turns any thrown error into
 * `{ "error": { "code", "message" } }`. 4xx messages are shown to the client (they were written for it);
 * 5xx messages are replaced by a generic one and the real error is logged, so internals (paths, native
 * messages, camera URLs) never leak.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isFacecastError } from './errors.js';
import type { ErrorCode } from './errors.js';
import { Logger } from './log.js';
import { redactUrls } from './redact.js';

/** Codes of the server layer (core's ErrorCode stays about the engine and pipeline). */
export type HttpErrorCode =
  | 'E_NOT_FOUND'
  | 'E_CONFLICT'
  | 'E_VALIDATION'
  | 'E_PAYLOAD_TOO_LARGE'
  | 'E_UNSUPPORTED_MEDIA_TYPE'
  /** No or a wrong bearer token. */
  | 'E_UNAUTHORIZED'
  /** A valid token of a role that may not do this (a viewer token on a control route), or a refused origin. */
  | 'E_FORBIDDEN'
  /** A source the API may not open (scheme, local file, loopback/private/link-local address): security.sources. */
  | 'E_SOURCE_FORBIDDEN'
  /** Too many control requests from one address (Retry-After says when to come back). */
  | 'E_RATE_LIMITED'
  /** The media offered uses no codec facecast can take (e.g. a WHIP offer with only VP9/AV1 video). */
  | 'E_UNSUPPORTED_CODEC'
  /** The resource exists but cannot answer yet (no frame yet, not ready). */
  | 'E_UNAVAILABLE';

/** Every code a response body can carry; E_INTERNAL stands for anything unexpected. */
export type ResponseErrorCode = HttpErrorCode | ErrorCode | 'E_INTERNAL';

/**
 * An error raised by the server layer (API and registry). Its message is meant for the client. The codes say
 * what went wrong, not how it is transported, so socket.io handlers can reuse them.
 */
export class HttpError extends Error {
  readonly code: HttpErrorCode;
  constructor(code: HttpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'HttpError';
  }
}

/**
 * The mapping. Decisions:
 * - Config/input/usage errors are the client's (400): in the API they come from request bodies.
 * - E_INPUT_NOT_FOUND / E_INPUT_UNREADABLE → 422, not 404: they mean "the source in your request cannot be
 *   opened"; a 404 would read as "this API URL does not exist". Unknown API resources use E_NOT_FOUND.
 * - E_INVALID_STATE → 409 (the resource is closing or closed: the request conflicts with its state).
 * - E_ABORTED → 503 (the server is shutting down; retrying elsewhere or later may work).
 * - Model, manifest and inference errors are the server's → 500.
 * - E_ENGINE_CRASHED → 503: the inference worker is being restarted; a retry soon should work.
 */
const STATUS: Record<ResponseErrorCode, number> = {
  E_VALIDATION: 400,
  E_CONFIG_INVALID: 400,
  E_INPUT_INVALID: 400,
  E_USAGE: 400,
  E_UNSUPPORTED_CODEC: 400,
  E_SOURCE_FORBIDDEN: 400,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_INVALID_STATE: 409,
  E_PAYLOAD_TOO_LARGE: 413,
  E_UNSUPPORTED_MEDIA_TYPE: 415,
  E_RATE_LIMITED: 429,
  E_INPUT_NOT_FOUND: 422,
  E_INPUT_UNREADABLE: 422,
  E_UNAVAILABLE: 503,
  E_ABORTED: 503,
  E_ENGINE_CRASHED: 503,
  E_MANIFEST_INVALID: 500,
  E_MODEL_NOT_FOUND: 500,
  E_MODEL_SOURCE_MISSING: 500,
  E_MODEL_FORMAT: 500,
  E_MODEL_UNSUPPORTED_OP: 500,
  E_MODEL_LOAD: 500,
  E_MODEL_IO_MISMATCH: 500,
  E_INFERENCE_RUN: 500,
  E_INFERENCE_EP_UNAVAILABLE: 500,
  E_IO: 500,
  E_LISTEN: 500,
  E_INTERNAL: 500,
};

/** HTTP status for an error code. */
export function statusOf(code: ResponseErrorCode): number {
  return STATUS[code];
}

/** JSON body of every error response. */
export interface ErrorBody {
  error: { code: ResponseErrorCode; message: string };
}

/** body-parser marks its errors with `type` (and `status`); these are the client's fault. */
interface BodyParserError {
  type: string;
  status?: number;
  limit?: number;
  message: string;
}
function isBodyParserError(e: unknown): e is BodyParserError {
  return typeof e === 'object' && e !== null && typeof (e as { type?: unknown }).type === 'string' && typeof (e as { message?: unknown }).message === 'string';
}

/**
 * Classifies any thrown value: code, status and the message to show. Exported for socket.io handlers and
 * tests; `internal` is true when the real error must be logged instead of shown.
 */
export function toErrorResponse(e: unknown): { status: number; body: ErrorBody; internal: boolean } {
  const make = (code: ResponseErrorCode, message: string, internal = false) => ({ status: STATUS[code], body: { error: { code, message: redactUrls(message) } }, internal });
  if (e instanceof HttpError) return make(e.code, e.message);
  if (isFacecastError(e)) {
    const status = STATUS[e.code] ?? 500;
    return status >= 500 ? make('E_INTERNAL', 'internal server error', true) : make(e.code, e.message);
  }
  if (isBodyParserError(e)) {
    switch (e.type) {
      case 'entity.parse.failed':
        return make('E_VALIDATION', `malformed JSON body: ${e.message}`);
      case 'entity.too.large':
        return make('E_PAYLOAD_TOO_LARGE', `request body too large${e.limit ? ` (limit ${e.limit} bytes)` : ''}`);
      case 'charset.unsupported':
      case 'encoding.unsupported':
        return make('E_UNSUPPORTED_MEDIA_TYPE', e.message);
      default:
        // Other body-parser errors (aborted request, bad length) are 4xx client errors too.
        if (e.status !== undefined && e.status >= 400 && e.status < 500) return make('E_VALIDATION', e.message);
    }
  }
  // Errors marked the http-errors way as the client's (status 4xx, expose) without a body-parser `type`: e.g. a
  // body declared gzip that is not (zlib's Z_DATA_ERROR, wrapped by body-parser with status 400).
  const marked = e as { status?: unknown; expose?: unknown; message?: unknown } | null;
  if (typeof marked === 'object' && marked !== null && marked.expose === true && typeof marked.status === 'number' && marked.status >= 400 && marked.status < 500) {
    const what = typeof marked.message === 'string' ? marked.message : 'bad request';
    if (marked.status === 413) return make('E_PAYLOAD_TOO_LARGE', 'request body too large');
    if (marked.status === 415) return make('E_UNSUPPORTED_MEDIA_TYPE', what);
    return make('E_VALIDATION', `unreadable request body: ${what}`);
  }
  // express's router: a path parameter that is not valid percent-encoding (e.g. /api/streams/%) is a URIError
  // with status 400 — the client's mistake, not the server's.
  if (e instanceof URIError && (e as URIError & { status?: number }).status === 400) return make('E_VALIDATION', `malformed URL: ${e.message}`);
  return make('E_INTERNAL', 'internal server error', true);
}

const log = new Logger('Http');

/** Express error handler: the last middleware of the app. */
export const errorHandler: ErrorRequestHandler = (err, req, res, next) => {
  // Headers already out (a streamed response failed midway): only express can end the socket now.
  if (res.headersSent) return next(err);
  const { status, body, internal } = toErrorResponse(err);
  // The stack is logged as redacted text: native messages (FFmpeg, fetch) often quote the camera URL.
  if (internal) log.error(`${req.method} ${redactUrls(req.originalUrl)} failed: ${redactUrls(err instanceof Error ? err.stack ?? err.message : String(err))}`);
  else log.debug(`${req.method} ${redactUrls(req.originalUrl)} → ${status} ${body.error.code}`);
  if (status === 401) res.set('WWW-Authenticate', 'Bearer'); // RFC 6750: say which scheme is expected
  res.status(status).json(body);
};

/** 404 for any route nothing else answered, in the same JSON shape. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HttpError('E_NOT_FOUND', `no route for ${req.method} ${req.path}`));
};
