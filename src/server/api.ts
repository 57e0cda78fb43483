/**
 * The REST API: streams CRUD, group aggregates, snapshots and the health probes, over a StreamService.
 * Request bodies are validated here, at the edge, with the same schemas as the config file.
 */
import express from 'express';
import type { Express, NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { StreamConfigSchema, StreamPatchSchema, formatIssues } from './config.js';
import { HttpError, errorHandler, notFoundHandler } from '../core/http-errors.js';
import type { StreamService } from './service.js';

/** Options of {@link streamsApi} and {@link createApiApp}. */
export interface ApiOptions {
  /** Largest JSON body, bytes or a size like '1mb' (config `server.bodyLimit`). Default 1 MiB. */
  bodyLimit?: number | string;
  /** Run before the read routes (stream list, one stream, groups, snapshot): viewer auth. Default none. */
  read?: RequestHandler[];
  /** Run before the control routes (POST/PATCH/DELETE): rate limit, then control auth. Default none. */
  write?: RequestHandler[];
  /**
   * Checks a source of a POST or PATCH body before the stream is touched (security.sources: SSRF policy);
   * rejects with an HttpError. Config-file streams do not come through here. Default: no check.
   */
  checkSource?: (source: string, field: 'source' | 'detectSource') => Promise<void>;
}

/** Media types accepted for JSON bodies (`application/merge-patch+json` fits PATCH's null-deletes semantics). */
const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * Router with `/healthz`, `/readyz` and `/api/streams…`. Mount it at the root; errors are passed on to the
 * app's error handler ({@link errorHandler}).
 */
export function streamsApi(service: StreamService, options: ApiOptions = {}): Router {
  const router = express.Router();
  const read = options.read ?? [];
  // Guards first: an unauthorised or rate-limited client's body is not even read.
  const write = options.write ?? [];
  const json = [...write, requireJson, express.json({ limit: options.bodyLimit ?? '1mb', type: JSON_TYPES, strict: true })];
  const checkSources = async (c: { source?: string | null; detectSource?: string | null }): Promise<void> => {
    if (!options.checkSource) return;
    if (typeof c.source === 'string') await options.checkSource(c.source, 'source');
    if (typeof c.detectSource === 'string') await options.checkSource(c.detectSource, 'detectSource');
  };

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', (_req, res) => {
    const r = service.ready();
    if (r.ready) res.json({ status: 'ready' });
    else res.status(503).json({ status: 'unavailable', reason: r.reason ?? 'not ready' });
  });

  router.get('/api/streams', ...read, (_req, res) => {
    res.json({ streams: service.list() });
  });

  router.post('/api/streams', ...json, async (req, res) => {
    const config = parseBody(StreamConfigSchema, req.body, 'stream');
    await checkSources(config);
    const info = await service.add(config);
    res.status(201).location(`/api/streams/${encodeURIComponent(info.id)}`).json(info);
  });

  router.get('/api/streams/:id', ...read, (req: Request<{ id: string }>, res: Response) => {
    const info = service.get(req.params.id);
    if (!info) throw notFound(req.params.id);
    res.json(info);
  });

  router.patch('/api/streams/:id', ...json, async (req: Request<{ id: string }>, res: Response) => {
    // 404 before 400: a patch for a stream that does not exist is reported as such, whatever its body.
    if (!service.get(req.params.id)) throw notFound(req.params.id);
    const patch = parseBody(StreamPatchSchema, req.body, 'patch');
    await checkSources(patch);
    res.json(await service.update(req.params.id, patch));
  });

  router.delete('/api/streams/:id', ...write, async (req: Request<{ id: string }>, res: Response) => {
    if (!service.get(req.params.id)) throw notFound(req.params.id);
    await service.remove(req.params.id);
    res.status(204).end();
  });

  router.get('/api/streams/:id/groups', ...read, (req: Request<{ id: string }>, res: Response) => {
    const groups = service.groups(req.params.id);
    if (!groups) throw notFound(req.params.id);
    res.json({ groups });
  });

  router.get('/api/streams/:id/snapshot.jpg', ...read, async (req: Request<{ id: string }>, res: Response) => {
    if (!service.get(req.params.id)) throw notFound(req.params.id);
    const jpeg = await service.snapshot(req.params.id);
    if (!jpeg) throw new HttpError('E_UNAVAILABLE', `stream "${req.params.id}" has no frame yet`);
    res.status(200).type('image/jpeg').set('Cache-Control', 'no-store').send(Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength));
  });

  return router;
}

/** A complete express app: the API router, a JSON 404 for other paths, and the error handler. */
export function createApiApp(service: StreamService, options: ApiOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(streamsApi(service, options));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

function notFound(id: string): HttpError {
  return new HttpError('E_NOT_FOUND', `stream "${id}" not found`);
}

/**
 * express.json() silently skips bodies of other media types (req.body stays undefined), which would surface as
 * a confusing "expected object"; answer 415 instead. A request without a body is left to validation (400).
 */
function requireJson(req: Request, _res: Response, next: NextFunction): void {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !req.is(JSON_TYPES)) {
    next(new HttpError('E_UNSUPPORTED_MEDIA_TYPE', `expected a JSON body (Content-Type: application/json), got ${req.headers['content-type'] ?? 'no Content-Type'}`));
    return;
  }
  next();
}

interface Schema<T> {
  safeParse(input: unknown): { success: true; data: T } | { success: false; error: Parameters<typeof formatIssues>[0] };
}

function parseBody<T>(schema: Schema<T>, body: unknown, what: string): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError('E_VALIDATION', `expected a JSON object as the ${what}`);
  const r = schema.safeParse(body);
  if (!r.success) throw new HttpError('E_VALIDATION', `invalid ${what}: ${formatIssues(r.error).join('; ')}`);
  return r.data;
}
