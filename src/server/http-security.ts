/**
 * HTTP hardening of the main listener, as small express middleware (no dependency): security headers on every
 * response, CORS for configured origins only (default: none, the dashboard is same-origin), and the origin check
 * socket.io needs (a WebSocket is not subject to CORS, so without it any web page could read the live data).
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { HttpError } from '../core/http-errors.js';

/**
 * The dashboard's policy: its own ES modules and styles only (no inline script or style), images from itself,
 * data: (the favicon) and blob: (snapshots fetched with a token), fetch/WebSocket to itself; never framed.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

/** Only the go-live page (web/publish.html) may ask for the camera; every other response denies it. */
const PUBLISH_PAGE = '/publish.html';
const PUBLISH_PERMISSIONS = 'camera=(self), microphone=(), geolocation=()';

/** Sets the security headers on every response (mount first). */
export function securityHeaders(): RequestHandler {
  return (req, res, next) => {
    res.set(HEADERS);
    if (req.path === PUBLISH_PAGE) res.set('Permissions-Policy', PUBLISH_PERMISSIONS);
    next();
  };
}

/** `*` or a list of origins (`https://example.org`, `http://localhost:3000`). */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  return allowed.includes('*') || allowed.includes(origin.toLowerCase());
}

/** Whether `origin` is the server itself as the client reached it (its Host header). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** socket.io `allowRequest`: same-origin clients, configured origins, and non-browser clients (no Origin). */
export function socketOriginAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  return origin === undefined || sameOrigin(origin, req.headers.host) || originAllowed(origin, allowed);
}

const CORS_METHODS = 'GET, HEAD, POST, PATCH, DELETE';
const CORS_HEADERS = 'Authorization, Content-Type';
const CORS_EXPOSE = 'Location, Retry-After, X-Facecast-Overlay, WWW-Authenticate';

/**
 * CORS for `allowed` origins: their requests get `Access-Control-Allow-Origin` (no credentials: tokens travel
 * in the Authorization header, never cookies); their preflights 204. A preflight from any other cross origin is
 * refused (403 E_FORBIDDEN) without CORS headers, so the browser blocks the request.
 */
export function cors(allowed: readonly string[]): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    if (origin === undefined || sameOrigin(origin, req.get('host'))) return next();
    const ok = allowed.length > 0 && originAllowed(origin, allowed);
    const preflight = req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined;
    if (ok) {
      res.set('Access-Control-Allow-Origin', allowed.includes('*') ? '*' : origin);
      res.vary('Origin');
      res.set('Access-Control-Expose-Headers', CORS_EXPOSE);
      if (preflight) {
        res.set({ 'Access-Control-Allow-Methods': CORS_METHODS, 'Access-Control-Allow-Headers': CORS_HEADERS, 'Access-Control-Max-Age': '600' });
        res.status(204).end();
        return;
      }
      return next();
    }
    if (preflight) return next(new HttpError('E_FORBIDDEN', `origin ${origin} is not allowed (security.cors.origins)`));
    next();
  };
}

/** Requests of one connection handled at once; more wait their turn (HTTP/1.1 answers in order anyway). */
export const IN_FLIGHT_PER_CONNECTION = 4;
/** Requests of one connection waiting their turn; beyond this the connection is closed. */
export const QUEUED_PER_CONNECTION = 64;

interface ConnectionWork {
  active: number;
  waiting: (() => void)[];
}

/**
 * Bounds the work one connection can start (issue 14: 1 000 pipelined snapshot requests on a socket that never
 * reads made 1 000 JPEGs, all buffered: +737 MB). HTTP/1.1 answers pipelined requests in order, so a request
 * beyond IN_FLIGHT_PER_CONNECTION waits until an earlier response is done — and a response of a client that
 * does not read is not done until its bytes reach the kernel: the work stops at the socket's backpressure.
 * A connection with more than QUEUED_PER_CONNECTION requests waiting is closed (no client needs that many).
 */
export function perConnectionLimit(opts: { inFlight?: number; queued?: number } = {}): RequestHandler {
  const inFlight = opts.inFlight ?? IN_FLIGHT_PER_CONNECTION;
  const queued = opts.queued ?? QUEUED_PER_CONNECTION;
  const work = new WeakMap<object, ConnectionWork>();
  return (req, res, next) => {
    const socket = req.socket;
    let w = work.get(socket);
    if (!w) {
      w = { active: 0, waiting: [] };
      work.set(socket, w);
    }
    const conn = w;
    const start = (): void => {
      conn.active++;
      let done = false;
      // 'close' fires once the response is finished (its bytes handed to the OS) or the connection died.
      res.once('close', () => {
        if (done) return;
        done = true;
        conn.active--;
        conn.waiting.shift()?.();
      });
      next();
    };
    if (conn.active < inFlight) return start();
    if (conn.waiting.length >= queued) {
      socket.destroy();
      return;
    }
    conn.waiting.push(start);
  };
}
