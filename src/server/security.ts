/**
 * The `security` config turned into what `facecast serve` mounts: headers and CORS for every response, guards for
 * the read and control routes, the rate limiters, the API's source check and socket.io's handshake checks. Each
 * piece lives in its own module (auth, rate-limit, ssrf, http-security); this only assembles them.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { Config } from './config.js';
import { Access, exposureProblem, isLoopbackHost } from '../core/auth.js';
import { RateLimiter, rateLimit } from './rate-limit.js';
import { SourcePolicy, type Lookup } from './ssrf.js';
import { cors, perConnectionLimit, securityHeaders, socketOriginAllowed } from './http-security.js';
import { ConfigError } from '../core/errors.js';
import { Logger } from '../core/log.js';

const log = new Logger('Security');

export interface ServerSecurity {
  readonly access: Access;
  /** Mount first: the per-connection work bound, security headers, then CORS. */
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
 * @throws ConfigError when the server would listen beyond loopback with no API token (see exposureProblem), or
 *   its own metrics listener would with no metrics token (metricsExposureProblem).
 */
export function serverSecurity(config: Pick<Config, 'server' | 'security' | 'whip'> & Partial<Pick<Config, 'metrics'>>, opts: { lookup?: Lookup } = {}): ServerSecurity {
  const problem = exposureProblem(config) ?? (config.metrics ? metricsExposureProblem({ ...config, metrics: config.metrics }) : undefined);
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
    common: [perConnectionLimit(), securityHeaders(), cors(s.cors.origins)],
    read: [access.guard('viewer')],
    write: [...limiter('control requests'), access.guard('control')],
    sessionLimit: limiter('WebRTC session requests'),
    checkSource: (source, field) => policy.check(source, field),
    authorizeSocket: (auth, headers) => access.allowsHandshake(auth, headers),
    allowSocketOrigin: (req) => socketOriginAllowed(req, s.cors.origins),
    publishTokens: [...config.whip.tokens, ...s.apiTokens],
  };
}

/**
 * The main listener's rule applied to the separate metrics listener (`metrics.port`): beyond loopback it needs
 * `metrics.token` (its series name every stream and group), unless security.allowInsecure says something in front
 * restricts access. Undefined when it may start. Metrics on the main port follow the main listener's rule.
 */
export function metricsExposureProblem(c: Pick<Config, 'server' | 'metrics'> & { security: Pick<Config['security'], 'allowInsecure'> }): string | undefined {
  const m = c.metrics;
  if (!m.enabled || m.port === undefined) return undefined;
  const host = m.host ?? c.server.host;
  if (isLoopbackHost(host) || m.token !== undefined || c.security.allowInsecure) return undefined;
  return (
    `refusing to serve metrics on ${host} without a metrics token: anyone who can reach that address could read ` +
    'every stream and group name and their activity. Set metrics.token (FACECAST_METRICS_TOKEN=<16+ random ' +
    'characters>), or set metrics.host: 127.0.0.1, or — if something in front of facecast already restricts ' +
    'access — set security.allowInsecure: true (FACECAST_ALLOW_INSECURE=true)'
  );
}
