/**
 * `facecast serve`: the live server. Loads the config (file < environment < flags), starts the shared
 * FaceEngine, runs every configured stream (or the built-in demo stream when none is configured), and serves
 * the REST API and the web page. SIGINT/SIGTERM stop ingest, close the streams and exit 0 in bounded time.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { Logger } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import { FaceEngine, envManifests } from '../inference/engine.js';
import { configureFfmpegLog } from '../ingest/ffmpeg-log.js';
import { PROJECT_ROOT } from '../models/manifest.js';
import { StreamConfigSchema, WHIP_SOURCE, defaultInstanceId, loadConfig, type Config, type StreamConfig } from '../server/config.js';
import { StreamRegistry } from '../server/registry.js';
import { RuntimeHandle } from '../server/stream-handle.js';
import { streamsApi } from '../server/api.js';
import { errorHandler, notFoundHandler } from '../server/http-errors.js';
import { serverSecurity } from '../server/security.js';
import { ensureDemoClip } from '../server/demo.js';
import { WhepService } from '../broadcast/webrtc/whep.js';
import { whepRouter } from '../broadcast/webrtc/routes.js';
import { LiveDataHub } from '../broadcast/live-data.js';
import { startMetrics } from '../metrics/http.js';
import { WhipService } from '../ingest/whip/service.js';
import { whipRouter } from '../ingest/whip/routes.js';
import { ClusterMode } from '../cluster/index.js';
import { CameraGroups } from '../cluster/groups.js';
import { groupsApi } from '../cluster/routes.js';
import { sceneSummary } from '../pipeline/groups/combine.js';
import { parseCommandArgs } from './args.js';

const log = new Logger('Serve');

const HELP = `Usage: facecast serve [--config FILE] [--host H] [--port N]

Runs the live server (default http://127.0.0.1:8080): the streams of the config file, or the built-in demo
stream when none are configured, the REST API (/api/streams, /healthz, /readyz), the web page, live video for
viewers (WHEP: POST /whep/:stream[?overlay=server|client]) and WebRTC ingest from browsers and OBS (WHIP:
POST /whip/:stream; the page /publish.html goes live with this browser's camera) and Prometheus metrics
(/metrics; config section metrics: own port, bearer token).
Environment variables override the file and flags override both: see docs/config.md.
`;

/** How long shutdown may take before the process exits anyway (ms). */
const SHUTDOWN_MS = 8000;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values: v } = parseCommandArgs('serve', {
    args: argv,
    options: { config: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const config = loadConfig({ file: v.config, flags: { host: v.host, port: v.port } });
  // Before anything starts: refuses to listen beyond loopback with no API token (unless security.allowInsecure).
  const security = serverSecurity(config);
  configureFfmpegLog();
  const engine = await FaceEngine.create({
    manifests: [...envManifests(), ...config.inference.manifests],
    provider: config.inference.provider,
    detectorThreads: config.inference.threads,
    classifierThreads: config.inference.threads,
    classifier: { race: config.inference.race, tta: config.inference.tta },
    // The tracker's second stage uses detections down to 0.3 to keep tracks alive.
    detector: { minScore: 0.3 },
  });
  // The HTTP server exists before any stream, so that each stream can join the live-data hub as it is created.
  const app = express();
  app.disable('x-powered-by');
  app.use(security.common);
  const server = createServer(app);
  // Running streams by id, for the video service (WHEP viewers attach to a stream's analysed frames).
  const handles = new Map<string, RuntimeHandle>();
  const whep = new WhepService({ lookup: (id) => handles.get(id), webrtc: config.webrtc, blurFaces: config.privacy.blurFaces });
  const registry: StreamRegistry = new StreamRegistry({
    factory: (c) => {
      const h = new RuntimeHandle(engine, c, { video: () => whep.videoStatus(c.id), blurFaces: config.privacy.blurFaces });
      handles.set(c.id, h);
      hub.attachStream(c.id, h);
      // The registry stores the stream after the factory returns: send clients the list that includes it.
      setImmediate(() => hub.notifyStreams());
      h.on('close', () => {
        if (handles.get(c.id) !== h) return;
        handles.delete(c.id);
        hub.detachStream(c.id);
      });
      return h;
    },
    ready: () => ({ ready: !engine.closed }),
  });
  // Cluster mode (config cluster:): streams shared through Redis, each run by one instance (src/cluster).
  const cluster = config.cluster
    ? await ClusterMode.connect({ cluster: config.cluster, registry, latestRecord: (id) => handles.get(id)?.latestRecord, localSubscribers: () => hub.localSubscriberCounts(), onChange: () => hub.notifyStreams() })
    : undefined;
  const streams = cluster?.service ?? registry;
  const hub = new LiveDataHub(server, {
    directory: streams,
    ...(cluster ? { remoteSubscribers: (id: string) => cluster.node.remoteSubscribers(id) } : {}),
    ...(config.security.cors.origins.length > 0 ? { cors: { origin: config.security.cors.origins.includes('*') ? '*' : [...config.security.cors.origins] } } : {}),
    ...(security.access.required('viewer') ? { authorize: security.authorizeSocket } : {}),
    allowOrigin: security.allowSocketOrigin,
  });
  cluster?.attach(hub.io);
  // Groups spanning several cameras (config groups:), for this instance's clients.
  const cameraGroups = new CameraGroups(config.groups, (id) => {
    if (cluster) return cluster.sceneOf(id);
    const r = handles.get(id)?.latestRecord;
    return r ? sceneSummary(r) : undefined;
  });
  const stopGroups = cameraGroups.broadcast((g) => hub.io.local.emit('cameraGroups', g));
  // WHIP publishers feed streams with `source: whip`; an unknown id becomes one when autoCreate is on.
  const whip = new WhipService({
    lookup: (id) => handles.get(id),
    ...(config.whip.autoCreate || cluster
      ? {
          create: async (id: string) => {
            if (cluster) await cluster.claimWhip(id, config.whip.autoCreate);
            else await registry.add(StreamConfigSchema.parse({ id, source: WHIP_SOURCE }));
            const h = handles.get(id);
            if (!h) throw new Error(`stream ${id} vanished while being created`);
            return h;
          },
        }
      : {}),
    tokens: security.publishTokens,
    webrtc: config.webrtc,
    bitrate: { minKbps: config.whip.minBitrateKbps, startKbps: Math.round((config.whip.minBitrateKbps + config.whip.maxBitrateKbps) / 2), maxKbps: config.whip.maxBitrateKbps },
  });
  // Cluster mode: added to the cluster's streams unless there (Redis holds the list; any instance may run them).
  const addAtBoot = (c: StreamConfig): Promise<unknown> => (cluster ? cluster.seed(c) : registry.add(c));
  for (const s of config.streams) await addAtBoot(s);
  if (wantsDemo(config)) {
    const clip = await ensureDemoClip();
    await addAtBoot(StreamConfigSchema.parse({ id: 'demo', name: 'Demo (photos from npm)', source: clip }));
  }

  app.use(express.static(join(PROJECT_ROOT, 'web'), { index: 'index.html' }));
  if (cluster) app.use(...cluster.routers());
  app.use(groupsApi(cameraGroups));
  app.use(streamsApi(streams, { bodyLimit: config.server.bodyLimit, read: security.read, write: security.write, checkSource: security.checkSource }));
  app.use(whepRouter(whep, { viewer: security.read, limit: security.sessionLimit }));
  app.use(whipRouter(whip, { limit: security.sessionLimit }));
  // Prometheus /metrics, read at scrape time from what the streams already count (main port or its own).
  const metrics = await startMetrics(app, config, {
    streams: () => handles.values(),
    socketSubscribers: (id) => hub.subscriberCount(id),
    batchers: () => engine.batchers,
    instanceId: config.cluster?.instanceId ?? defaultInstanceId(),
    cameraGroups: () => (!cluster || cluster.exportsGroupMetrics() ? cameraGroups.all() : []),
  });
  app.use(notFoundHandler);
  app.use(errorHandler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.server.port;
  await cluster?.start(config.server.host, port);
  process.stderr.write(`facecast: serving http://${config.server.host}:${port}/ (${registry.list().length} stream${registry.list().length === 1 ? '' : 's'})\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info(`stop() on ${signal}`);
      const force = setTimeout(() => {
        log.warn('stop() took too long; exiting anyway');
        resolve(0);
      }, SHUTDOWN_MS);
      force.unref();
      void (async () => {
        try {
          server.closeAllConnections();
          await new Promise<void>((r) => server.close(() => r()));
          await whip.close();
          await metrics?.close();
          await whep.close();
          stopGroups();
          await cluster?.leave(); // local streams stopped and handed over before the hub goes
          await hub.close();
          await cluster?.disconnect();
          await registry.close();
          await engine.close();
        } catch (e) {
          log.error(`stop() ${errorMessage(e)}`);
        }
        clearTimeout(force);
        resolve(0);
      })();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

function wantsDemo(c: Config): boolean {
  return c.demo.enabled === true || (c.demo.enabled === 'auto' && c.streams.length === 0);
}
