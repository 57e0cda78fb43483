/**
 * HTTP routes of cluster mode and camera groups:
 *  - ownerRedirect: requests that must reach the instance running a stream (WHEP and WHIP signalling, snapshots)
 *    get `307 Temporary Redirect` to the owner's advertised URL, same path and query (307 keeps the method and
 *    body: WHEP/WHIP clients re-POST the offer there). 503 with Retry-After while the stream has no owner
 *    (failover in progress); unknown streams fall through to the local routes (404, or WHIP auto-create).
 *  - GET /api/cluster: this instance, the members, which streams run here and who owns each stream.
 *  - GET /api/groups, GET /api/groups/:id: camera groups (both modes).
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { HttpError } from '../core/http-errors.js';
import type { ClusterCoordinator } from './coordinator.js';
import type { CameraGroups } from './groups.js';

export function ownerRedirect(node: ClusterCoordinator): Router {
  const router = Router();
  const redirect = (param: 'stream' | 'id', whenUnplaced: 'wait' | 'local') => (req: Request, res: Response, next: NextFunction): void => {
    const id = req.params[param];
    if (typeof id !== 'string' || !node.desired.has(id) || node.local().includes(id)) return next();
    const owner = node.owner(id);
    if (owner) {
      res.redirect(307, `${owner.url.replace(/\/+$/, '')}${req.originalUrl}`);
      return;
    }
    if (whenUnplaced === 'local') return next();
    res.set('Retry-After', '1');
    next(new HttpError('E_UNAVAILABLE', `stream "${id}" is moving to another instance; retry in a second`));
  };
  router.post('/whep/:stream', redirect('stream', 'wait'));
  router.delete('/whep/:stream/:session', redirect('stream', 'wait'));
  router.get('/api/streams/:id/snapshot.jpg', redirect('id', 'wait'));
  // A publisher to an unplaced WHIP stream takes it here (the WHIP service claims it).
  router.post('/whip/:stream', redirect('stream', 'local'));
  router.delete('/whip/:stream/:session', redirect('stream', 'wait'));
  return router;
}

export function clusterApi(node: ClusterCoordinator): Router {
  const router = Router();
  router.get('/api/cluster', (_req, res) => {
    const owners: Record<string, string | null> = {};
    for (const id of node.desired.keys()) owners[id] = node.owner(id)?.instanceId ?? null;
    res.set('Cache-Control', 'no-store').json({
      instanceId: node.instanceId,
      url: node.url,
      healthy: node.healthy,
      members: node.members.map((m) => ({ id: m.id, url: m.url, startedAt: m.startedAt })),
      local: node.local(),
      owners,
    });
  });
  return router;
}

export function groupsApi(groups: CameraGroups): Router {
  const router = express.Router();
  router.get('/api/groups', (_req, res) => {
    res.json({ groups: groups.all() });
  });
  router.get('/api/groups/:id', (req, res) => {
    const g = groups.get(req.params.id);
    if (!g) throw new HttpError('E_NOT_FOUND', `group "${req.params.id}" not found`);
    res.json(g);
  });
  return router;
}
