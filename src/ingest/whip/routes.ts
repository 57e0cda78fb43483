/**
 * WHIP endpoints (RFC 9725, non-trickle):
 *   POST   /whip/:stream            body = SDP offer (application/sdp, ≤ 64 KB) → 201, SDP answer, Location
 *   DELETE /whip/:stream/:session   → 204
 * With publish tokens configured both need `Authorization: Bearer <token>` (401 otherwise). Errors are JSON
 * with a code: 400 bad SDP / no video, 400 E_UNSUPPORTED_CODEC (neither H.264 nor VP8), 401, 404, 409 (a camera
 * stream), 413 too large, 415 not application/sdp.
 */
import express, { Router, type RequestHandler } from 'express';
import { HttpError } from '../../core/http-errors.js';
import type { WhipService } from './service.js';

/** An SDP offer is a few KB; anything near this is not one. */
export const MAX_OFFER_BYTES = 64 * 1024;

/** `limit`: rate limiting of session set-up (runs before auth). */
export function whipRouter(service: WhipService, opts: { limit?: RequestHandler[] } = {}): Router {
  const router = Router();
  const text = express.text({ type: () => true, limit: MAX_OFFER_BYTES });

  router.post(
    '/whip/:stream',
    ...(opts.limit ?? []),
    (req, _res, next) => {
      // Auth first: an unauthenticated client learns nothing else, and its body is not even read.
      service.authorize(req.get('authorization'));
      if (!req.is('application/sdp')) throw new HttpError('E_UNSUPPORTED_MEDIA_TYPE', 'a WHIP offer must be sent as Content-Type: application/sdp');
      next();
    },
    text,
    async (req: express.Request<{ stream: string }>, res: express.Response) => {
      const offer: unknown = req.body;
      if (typeof offer !== 'string' || offer.length === 0) throw new HttpError('E_VALIDATION', 'empty SDP offer');
      const stream = req.params.stream;
      const { sessionId, answerSdp } = await service.createSession(stream, offer);
      res.status(201).location(`/whip/${encodeURIComponent(stream)}/${sessionId}`).type('application/sdp').send(answerSdp);
    },
  );

  router.delete('/whip/:stream/:session', async (req, res) => {
    service.authorize(req.get('authorization'));
    if (!(await service.deleteSession(req.params.stream, req.params.session))) {
      throw new HttpError('E_NOT_FOUND', `no WHIP session "${req.params.session}" on stream "${req.params.stream}"`);
    }
    res.status(204).end();
  });

  router.patch('/whip/:stream/:session', (_req, _res, next) => {
    next(new HttpError('E_VALIDATION', 'trickle ICE is not supported: all candidates are in the answer'));
  });

  return router;
}
