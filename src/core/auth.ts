/**
 * Bearer-token access control, shared by every transport (REST API, WHEP, WHIP, socket.io):
 *  - control (`security.apiTokens`): adding, changing and deleting streams; an API token also grants viewing
 *    and publishing;
 *  - viewer (`security.viewerTokens`): reading streams, groups and snapshots, WHEP video, socket.io data;
 *    open when no viewer token is configured;
 *  - publish (`whip.tokens`): WHIP ingest.
 * A role with no token configured is open (the loopback default); `exposureProblem()` is the start-up check that
 * refuses to serve the network that way unless told to (`security.allowInsecure`).
 * Tokens are compared as SHA-256 digests with timingSafeEqual: neither content nor length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';
import { HttpError } from './http-errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** A set of accepted tokens. Empty = nothing is required. */
export class TokenSet {
  readonly #digests: Buffer[];

  constructor(...lists: readonly (readonly string[])[]) {
    this.#digests = [...new Set(lists.flat())].map(digest);
  }

  /** True when no token is configured (the role is open). */
  get open(): boolean {
    return this.#digests.length === 0;
  }

  /** Whether `token` is one of the set (every digest is compared, so timing does not tell which). */
  has(token: string | undefined): boolean {
    if (token === undefined) return false;
    const d = digest(token);
    let ok = false;
    for (const t of this.#digests) ok = timingSafeEqual(t, d) || ok;
    return ok;
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
}

/** The roles a request can be checked for. */
export type Role = 'control' | 'viewer' | 'publish';

export interface AccessTokens {
  apiTokens: readonly string[];
  viewerTokens: readonly string[];
  publishTokens: readonly string[];
}

/** The tokens of each role and the checks built on them (module comment). */
export class Access {
  readonly #sets: Record<Role, TokenSet>;

  constructor(t: AccessTokens) {
    const control = new TokenSet(t.apiTokens);
    this.#sets = {
      control,
      // Viewer access is open while no viewer token is configured, whatever the API tokens.
      viewer: t.viewerTokens.length === 0 ? new TokenSet() : new TokenSet(t.viewerTokens, t.apiTokens),
      // Publishing: whip.tokens, or API tokens; with API tokens set and no whip token, publishing needs one too
      // (a publisher to an unknown id creates a stream, which is a control action).
      publish: t.publishTokens.length === 0 && t.apiTokens.length === 0 ? new TokenSet() : new TokenSet(t.publishTokens, t.apiTokens),
    };
  }

  /** Whether the role needs a token at all. */
  required(role: Role): boolean {
    return !this.#sets[role].open;
  }

  /** Whether `token` may act in `role` (true for any token when the role is open). */
  allows(role: Role, token: string | undefined): boolean {
    const set = this.#sets[role];
    return set.open || set.has(token);
  }

  /**
   * Throws HttpError E_UNAUTHORIZED (no or unknown token) or E_FORBIDDEN (a valid token of a lesser role, e.g. a
   * viewer token on a control route).
   */
  check(role: Role, token: string | undefined): void {
    if (this.allows(role, token)) return;
    if (token === undefined) throw new HttpError('E_UNAUTHORIZED', `this needs "Authorization: Bearer <token>" (${WHAT[role]})`);
    const lesser = (['viewer', 'publish', 'control'] as const).some((r) => r !== role && !this.#sets[r].open && this.#sets[r].has(token));
    if (lesser) throw new HttpError('E_FORBIDDEN', `this token may not do this (it needs ${WHAT[role]})`);
    throw new HttpError('E_UNAUTHORIZED', `invalid token (this needs ${WHAT[role]})`);
  }

  /** express middleware: the request's bearer token must allow `role`. */
  guard(role: Role): RequestHandler {
    return (req, _res, next) => {
      this.check(role, bearerToken(req.get('authorization')));
      next();
    };
  }

  /** For socket.io handshakes: `auth: { token }` from the client, else an Authorization header. */
  allowsHandshake(auth: unknown, headers: IncomingHttpHeaders): boolean {
    const t = (auth as { token?: unknown } | undefined)?.token;
    return this.allows('viewer', typeof t === 'string' ? t : bearerToken(headers.authorization));
  }
}

const WHAT: Record<Role, string> = {
  control: 'an API token, security.apiTokens',
  viewer: 'a viewer or API token, security.viewerTokens',
  publish: 'a publish token, whip.tokens, or an API token',
};

/** Whether a listen address only reaches this machine. Hostnames other than `localhost` count as network. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Why the server must not start as configured, or undefined: listening beyond loopback with no API token would
 * let anyone who reaches the address add, change and delete streams (and make the server open URLs for them).
 */
export function exposureProblem(c: { server: { host: string }; security: { apiTokens: readonly string[]; allowInsecure: boolean } }): string | undefined {
  if (isLoopbackHost(c.server.host) || c.security.apiTokens.length > 0 || c.security.allowInsecure) return undefined;
  return (
    `refusing to serve on ${c.server.host} without an API token: anyone who can reach that address could add, ` +
    'change and delete streams and have the server open URLs of their choosing. Set security.apiTokens ' +
    '(FACECAST_API_TOKENS=<16+ random characters>), or listen on 127.0.0.1, or — if something in front of ' +
    'facecast (a reverse proxy, a firewall, a port published on loopback only) already restricts access — set ' +
    'security.allowInsecure: true (FACECAST_ALLOW_INSECURE=true)'
  );
}
