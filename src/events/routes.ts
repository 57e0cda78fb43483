/**
 * `GET /api/events`: the latest events (newest first), behind the viewer guards like the other read routes.
 * Query: `limit` (1..1000, default 100), `rule`, `stream`.
 */
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import type { FacecastEvent } from './event.js';

const QuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  rule: z.string().max(63).optional(),
  stream: z.string().max(63).optional(),
});

export interface EventList {
  list(filter: { limit?: number; rule?: string; stream?: string }): FacecastEvent[];
}

/** A 400 in the project's error shape, without reaching into server/http-errors (its home may move). */
function badRequest(res: Response, message: string): void {
  res.status(400).json({ error: { code: 'E_VALIDATION', message } });
}

export function eventsApi(events: EventList, options: { read?: RequestHandler[] } = {}): Router {
  const router = express.Router();
  router.get('/api/events', ...(options.read ?? []), (req: Request, res: Response) => {
    const q = QuerySchema.safeParse(req.query);
    if (!q.success) return badRequest(res, `invalid query: ${q.error.issues.map((i) => `${i.path.join('.') || '(query)'}: ${i.message}`).join('; ')}`);
    res.set('Cache-Control', 'no-store').json({ events: events.list(q.data) });
  });
  return router;
}
