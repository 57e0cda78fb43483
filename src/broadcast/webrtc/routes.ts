/**
 * WHEP endpoints (draft-ietf-wish-whep, non-trickle):
 *   POST   /whep/:stream[?overlay=server|client]
 *                                   body = SDP offer (application/sdp, ≤ 64 KB) → 201, SDP answer, Location;
 *                                   overlay: boxes burnt into the video, or clean video (passthrough when the
 *                                   camera sends H.264) for the page to draw on; default from output.mode
 *   DELETE /whep/:stream/:session   → 204
 * Errors are HttpErrors, rendered as JSON by the app's error handler (400 bad SDP or E_UNSUPPORTED_CODEC: no
 * offered H.264 profile fits the video, 404 unknown stream or session, 413 too large, 415 not application/sdp,
 * 503 camera profile not known yet for a passthrough that cannot fall back to an encode).
 */
import express, { Router, type RequestHandler } from 'express';
import { HttpError } from '../../core/http-errors.js';
import type { WhepService } from './whep.js';

/** An SDP offer is a few KB; anything near this is not one. */
export const MAX_OFFER_BYTES = 64 * 1024;

/** Guards of the WHEP routes: `viewer` (auth) on both, `limit` (rate limit, before auth) on session set-up. */
export interface WhepRouterOptions {
  viewer?: RequestHandler[];
  limit?: RequestHandler[];
}

export function whepRouter(service: WhepService, opts: WhepRouterOptions = {}): Router {
  const router = Router();
  const viewer = opts.viewer ?? [];
  // Parses every body as text so the content type can be checked here (→ 415) rather than silently ignored.
  const text = express.text({ type: () => true, limit: MAX_OFFER_BYTES });

  router.post('/whep/:stream', ...(opts.limit ?? []), ...viewer, (req, _res, next) => {
    if (!req.is('application/sdp')) {
      next(new HttpError('E_UNSUPPORTED_MEDIA_TYPE', 'a WHEP offer must be sent as Content-Type: application/sdp'));
      return;
    }
    next();
  }, text, async (req: express.Request<{ stream: string }>, res: express.Response) => {
    const stream = req.params.stream;
    const offer: unknown = req.body;
    if (typeof offer !== 'string' || offer.length === 0) throw new HttpError('E_VALIDATION', 'empty SDP offer');
    const q = req.query.overlay;
    if (q !== undefined && q !== 'server' && q !== 'client') throw new HttpError('E_VALIDATION', 'overlay must be "server" or "client"');
    const { sessionId, answerSdp, overlay } = await service.createSession(stream, offer, q === undefined ? {} : { overlay: q });
    res
      .status(201)
      .location(`/whep/${encodeURIComponent(stream)}/${sessionId}`)
      .set('X-Facecast-Overlay', overlay)
      .type('application/sdp')
      .send(answerSdp);
  });

  router.delete('/whep/:stream/:session', ...viewer, async (req: express.Request<{ stream: string; session: string }>, res: express.Response) => {
    const viewer = service.session(req.params.session);
    if (!viewer || viewer.streamId !== req.params.stream) throw new HttpError('E_NOT_FOUND', `no WHEP session "${req.params.session}" on stream "${req.params.stream}"`);
    await service.deleteSession(req.params.session);
    res.status(204).end();
  });

  // Trickle ICE and ICE restarts (PATCH) are not supported: candidates are all in the answer.
  router.patch('/whep/:stream/:session', (_req, _res, next) => {
    next(new HttpError('E_VALIDATION', 'trickle ICE is not supported: all candidates are in the answer'));
  });

  return router;
}
