/**
 * Serving /metrics: one request handler (optional bearer token, GET/HEAD only) used on the main express app or
 * on a listener of its own (MetricsServer), and startMetrics(), which picks between them from the config.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Express } from 'express';
import { InvalidStateError, errorMessage } from '../core/errors.js';
import { Logger } from '../core/log.js';
import type { Config } from '../server/config.js';
import { FacecastMetrics, type MetricsSources } from './metrics.js';

const log = new Logger('Metrics');

export const METRICS_PATH = '/metrics';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The /metrics handler. With a `token`, a request must carry `Authorization: Bearer <token>`: compared as
 * SHA-256 digests with timingSafeEqual, so neither the content nor the length of the token leaks through timing.
 */
export function metricsHandler(metrics: FacecastMetrics, opts: { token?: string } = {}): Handler {
  const expected = opts.token === undefined ? undefined : digest(opts.token);
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, 405, 'E_METHOD_NOT_ALLOWED', `${req.method ?? ''} is not allowed on ${METRICS_PATH}`, { Allow: 'GET, HEAD' });
      return;
    }
    if (expected) {
      const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
      if (!m || !timingSafeEqual(digest(m[1]), expected)) {
        sendError(res, 401, 'E_UNAUTHORIZED', `${METRICS_PATH} needs "Authorization: Bearer <metrics.token>"`, { 'WWW-Authenticate': 'Bearer realm="facecast metrics"' });
        return;
      }
    }
    metrics.render().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (e: unknown) => {
        log.error(`render() failed: ${errorMessage(e)}`);
        sendError(res, 500, 'E_INTERNAL', 'internal error');
      },
    );
  };
}

/** A listener that serves only /metrics (config `metrics.port`). */
export class MetricsServer implements AsyncDisposable {
  readonly #server: Server;
  #closing: Promise<void> | undefined;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Listens on host:port (0 picks a free port). */
  static async listen(handler: Handler, opts: { host: string; port: number }): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === METRICS_PATH) handler(req, res);
      else sendError(res, 404, 'E_NOT_FOUND', `only ${METRICS_PATH} is served on this port`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new MetricsServer(server);
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** The bound port (the chosen one when listening on port 0). */
  get port(): number {
    if (this.closed) throw new InvalidStateError('MetricsServer is closed');
    const a = this.#server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** Stops listening and drops open connections (a scraper's keep-alive). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** What startMetrics() set up; close() stops the separate listener, if any. */
export interface MetricsEndpoint {
  readonly metrics: FacecastMetrics;
  /** The separate listener, when config `metrics.port` is set. */
  readonly server: MetricsServer | undefined;
  close(): Promise<void>;
}

/**
 * From the config: nothing (metrics disabled), GET /metrics on `app` (mount it before the 404 handler), or a
 * MetricsServer of its own, whose URL is written to stderr like the main server's.
 */
export async function startMetrics(app: Express, config: Pick<Config, 'metrics' | 'server'>, sources: MetricsSources): Promise<MetricsEndpoint | undefined> {
  const c = config.metrics;
  if (!c.enabled) return undefined;
  const metrics = new FacecastMetrics(sources);
  const handler = metricsHandler(metrics, { token: c.token });
  if (c.port === undefined) {
    app.all(METRICS_PATH, (req, res) => handler(req, res));
    return { metrics, server: undefined, close: async () => undefined };
  }
  const host = c.host ?? config.server.host;
  const server = await MetricsServer.listen(handler, { host, port: c.port });
  process.stderr.write(`facecast: metrics on http://${host.includes(':') ? `[${host}]` : host}:${server.port}${METRICS_PATH}\n`);
  return { metrics, server, close: () => server.close() };
}
