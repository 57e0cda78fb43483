/**
 * HTTP hardening of the main listener, as small express middleware (no dependency): security headers on every
 * response, CORS for configured origins only (default: none, the dashboard is same-origin), and the origin check
 * socket.io needs (a WebSocket is not subject to CORS, so without it any web page could read the live data).
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { HttpError } from './http-errors.js';

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
  'Permissions-Policy': 'camera=(self), microphone=(), geolocation=()',
};

/** Sets the security headers on every response (mount first). */
export function securityHeaders(): RequestHandler {
  return (_req, res, next) => {
    res.set(HEADERS);
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
