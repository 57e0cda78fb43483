/**
 * The `security` config turned into what `facecast serve` mounts: headers and CORS for every response, guards for
 * the read and control routes, the rate limiters, the API's source check and socket.io's handshake checks. Each
 * piece lives in its own module (auth, rate-limit, ssrf, http-security); this only assembles them.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { Config } from './config.js';
import { Access, exposureProblem, isLoopbackHost } from './auth.js';
import { RateLimiter, rateLimit } from './rate-limit.js';
import { SourcePolicy, type Lookup } from './ssrf.js';
import { cors, securityHeaders, socketOriginAllowed } from './http-security.js';
import { ConfigError } from '../core/errors.js';
import { Logger } from '../core/log.js';

const log = new Logger('Security');

export interface ServerSecurity {
  readonly access: Access;
  /** Mount first: security headers, then CORS. */
  readonly common: RequestHandler[];
  /** Before read routes (streams, groups, snapshots, WHEP): viewer auth. */
  readonly read: RequestHandler[];
  /** Before control routes: rate limit, then control auth. */
  readonly write: RequestHandler[];
  /** Before WebRTC session set-up (WHEP and WHIP POST): rate limit. */
  readonly sessionLimit: RequestHandler[];
  /** The API's source check (SSRF policy). */
  checkSource(source: string, field: 'source' | 'detectSource'): Promise<void>;
  /** socket.io: viewer auth of a handshake. */
  authorizeSocket(auth: unknown, headers: IncomingHttpHeaders): boolean;
  /** socket.io: same-origin or configured origins only. */
  allowSocketOrigin(req: IncomingMessage): boolean;
  /** Publishing (WHIP) tokens: whip.tokens and the API tokens. */
  readonly publishTokens: readonly string[];
}

/**
 * Builds the server's security from the config.
 * @throws ConfigError when the server would listen beyond loopback with no API token (see exposureProblem).
 */
export function serverSecurity(config: Pick<Config, 'server' | 'security' | 'whip'>, opts: { lookup?: Lookup } = {}): ServerSecurity {
  const problem = exposureProblem(config);
  if (problem) throw new ConfigError('E_CONFIG_INVALID', problem);
  const s = config.security;
  if (!isLoopbackHost(config.server.host) && s.apiTokens.length === 0) {
    log.warn(`serving ${config.server.host} without API tokens (security.allowInsecure): the control API is open to whoever reaches it`);
  }
  const access = new Access({ apiTokens: s.apiTokens, viewerTokens: s.viewerTokens, publishTokens: config.whip.tokens });
  const limiter = (what: string): RequestHandler[] => (s.rateLimit.enabled ? [rateLimit(new RateLimiter(s.rateLimit), what)] : []);
  const policy = new SourcePolicy(s.sources, opts.lookup);
  return {
    access,
    common: [securityHeaders(), cors(s.cors.origins)],
    read: [access.guard('viewer')],
    write: [...limiter('control requests'), access.guard('control')],
    sessionLimit: limiter('WebRTC session requests'),
    checkSource: (source, field) => policy.check(source, field),
    authorizeSocket: (auth, headers) => access.allowsHandshake(auth, headers),
    allowSocketOrigin: (req) => socketOriginAllowed(req, s.cors.origins),
    publishTokens: [...config.whip.tokens, ...s.apiTokens],
  };
}
