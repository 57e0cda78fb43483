/**
 * `facecast serve`: the live server. Loads the config (file < environment < flags), starts the shared
 * inference engine (a FaceEngine in a worker thread), runs every configured stream (or the built-in demo stream
 * when none is configured), and serves the REST API and the web page. SIGINT/SIGTERM stop ingest, close the
 * streams and exit 0 in bounded time.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { Logger } from '../core/log.js';
import { errorMessage, fromSystemError } from '../core/errors.js';
import { envManifests } from '../inference/engine.js';
import { WorkerEngine } from '../inference/worker/client.js';
import { configureFfmpegLog } from '../ingest/ffmpeg-log.js';
import { PROJECT_ROOT } from '../models/manifest.js';
import { StreamConfigSchema, WHIP_SOURCE, defaultInstanceId, loadConfig, type Config, type StreamConfig } from '../server/config.js';
import { StreamRegistry, validate as validateStream } from '../server/registry.js';
import { RuntimeHandle } from '../server/stream-handle.js';
import { streamsApi } from '../server/api.js';
import { errorHandler, notFoundHandler } from '../core/http-errors.js';
import { serverSecurity } from '../server/security.js';
import { demoStreamConfig, ensureDemoClip } from '../server/demo.js';
import { WhepService } from '../broadcast/webrtc/whep.js';
import { whepRouter } from '../broadcast/webrtc/routes.js';
import { LiveDataHub, type RecordSource } from '../broadcast/live-data.js';
import type { FrameRecord } from '../core/records.js';
import { startMetrics } from '../metrics/http.js';
import { WhipService } from '../ingest/whip/service.js';
import { whipRouter } from '../ingest/whip/routes.js';
import { ClusterMode } from '../cluster/index.js';
import { CameraGroups } from '../cluster/groups.js';
import { groupsApi } from '../cluster/routes.js';
import { sceneSummary } from '../pipeline/groups/combine.js';
import { EventService, checkWebhookTargets } from '../events/service.js';
import { eventsApi } from '../events/routes.js';
import { parseCommandArgs } from './args.js';

const log = new Logger('Serve');

const HELP = `Usage: facecast serve [--config FILE] [--host H] [--port N]

Runs the live server (default http://127.0.0.1:8080): the streams of the config file, or the built-in demo
stream when none are configured, the REST API (/api/streams, /healthz, /readyz), the web page, live video for
viewers (WHEP: POST /whep/:stream[?overlay=server|client]) and WebRTC ingest from browsers and OBS (WHIP:
POST /whip/:stream; the page /publish.html goes live with this browser's camera) and Prometheus metrics
(/metrics; config section metrics: own port, bearer token), and events of the rules of config section events:
(GET /api/events, socket.io "event", signed webhooks, MQTT with Home Assistant discovery; docs/events.md).
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
  // Webhook targets against the SSRF policy (events.allow) before anything starts: a forbidden one fails fast.
  await checkWebhookTargets(config.events);
  configureFfmpegLog();
  // Models run in a worker thread: their runs are synchronous and would stall ingest, WebRTC and the API.
  const engine = await WorkerEngine.create({
    manifests: [...envManifests(), ...config.inference.manifests],
    provider: config.inference.provider,
    detectorThreads: config.inference.threads,
    classifierThreads: config.inference.threads,
    classifier: { race: config.inference.race, tta: config.inference.tta },
    // The tracker's second stage uses detections down to 0.3 to keep tracks alive.
    detector: { minScore: 0.3 },
    // inference.niceness > 0: live video first (src/core/thread-priority.ts).
    niceness: config.inference.niceness,
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
      const h = new RuntimeHandle(engine, c, { video: () => whep.videoStatus(c.id), blurFaces: config.privacy.blurFaces, followRedirects: config.security.sources.followRedirects, ingest: config.ingest });
      handles.set(c.id, h);
      hub.attachStream(c.id, cluster ? fencedRecords(h, () => cluster.owns(c.id)) : h);
      events.attachStream(c.id, h);
      // The registry stores the stream after the factory returns: send clients the list that includes it.
      setImmediate(() => hub.notifyStreams());
      h.on('close', () => {
        if (handles.get(c.id) !== h) return;
        handles.delete(c.id);
        hub.detachStream(c.id);
        events.detachStream(c.id);
      });
      return h;
    },
    ready: () => (engine.running ? { ready: true } : { ready: false, reason: engine.closed ? 'engine closed' : 'inference worker restarting' }),
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
  // Event rules (config events:) on this instance's streams and camera groups → socket.io, webhooks, MQTT.
  const exportsCameraGroups = (): boolean => !cluster || cluster.exportsGroupMetrics();
  const events = await EventService.create({
    config: config.events,
    clientId: `facecast-${config.cluster?.instanceId ?? defaultInstanceId()}`,
    streamStates: () => [...handles.values()].map((h) => ({ id: h.id, state: h.status().state })),
    streamGroups: () => [...handles.values()].map((h) => ({ stream: h.id, groups: h.groups() })),
    cameraGroups: () => (exportsCameraGroups() ? cameraGroups.all() : []),
  });
  events.on('event', (e) => hub.emitEvent(e));
  // WHIP publishers feed streams with `source: whip`; an unknown id becomes one when autoCreate is on.
  const whip = new WhipService({
    lookup: (id) => handles.get(id),
    ...(config.whip.autoCreate || cluster
      ? {
          // A bad id is 400 E_VALIDATION (an HttpError), checked before the offer is processed.
          checkId: (id: string) => void validateStream({ id, source: WHIP_SOURCE }),
          create: async (id: string) => {
            if (cluster) await cluster.claimWhip(id, config.whip.autoCreate);
            else await registry.add(validateStream({ id, source: WHIP_SOURCE }));
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
    await addAtBoot(StreamConfigSchema.parse(demoStreamConfig(clip)));
  }

  app.use(express.static(join(PROJECT_ROOT, 'web'), { index: 'index.html' }));
  // Every /api route reads something a viewer token guards (stream and group names at least): one guard for the
  // whole prefix, so a router mounted without its own (issue 14: /api/groups) cannot answer anonymous callers.
  app.use('/api', ...security.read);
  if (cluster) app.use(...cluster.routers());
  app.use(groupsApi(cameraGroups));
  app.use(eventsApi(events, { read: security.read }));
  app.use(streamsApi(streams, { bodyLimit: config.server.bodyLimit, read: security.read, write: security.write, checkSource: security.checkSource }));
  app.use(whepRouter(whep, { viewer: security.read, limit: security.sessionLimit }));
  app.use(whipRouter(whip, { limit: security.sessionLimit }));
  // Everything started above, closed in dependency order: on a signal, or when a port cannot be opened.
  const closeAll = async (): Promise<void> => {
    server.closeAllConnections();
    if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    await whip.close();
    await metrics?.close();
    await whep.close();
    stopGroups();
    await events.close();
    await cluster?.leave(); // local streams stopped and handed over before the hub goes
    await hub.close();
    await cluster?.disconnect();
    await registry.close();
    await engine.close();
  };
  // Prometheus /metrics, read at scrape time from what the streams already count (main port or its own).
  let metrics: Awaited<ReturnType<typeof startMetrics>>;
  const failedListen = async (e: unknown): Promise<never> => {
    // A port in use: a coded one-line error (E_LISTEN), and nothing left running that would keep the process.
    await closeAll().catch((c: unknown) => log.warn(`closing after a failed listen: ${errorMessage(c)}`));
    throw fromSystemError(e);
  };
  metrics = await startMetrics(app, config, {
    streams: () => handles.values(),
    socketSubscribers: (id) => hub.subscriberCount(id),
    batchers: () => engine.batchers,
    instanceId: config.cluster?.instanceId ?? defaultInstanceId(),
    cameraGroups: () => (exportsCameraGroups() ? cameraGroups.all() : []),
    events: () => events.stats(),
    video: whep,
  }).catch(failedListen);
  app.use(notFoundHandler);
  app.use(errorHandler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.server.port, config.server.host, () => resolve());
    });
  } catch (e) {
    await failedListen(e);
  }
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
          await closeAll();
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

/**
 * Cluster mode: a stream's records reach viewers only while this instance's lease is valid at that moment
 * (issue 14: a frozen instance resumed after its lease went elsewhere must not publish a frame first).
 */
function fencedRecords(h: RuntimeHandle, owns: () => boolean): RecordSource {
  const wrapped = new Map<(r: FrameRecord) => void, (r: FrameRecord) => void>();
  return {
    on: (event, listener) => {
      const w = (r: FrameRecord): void => {
        if (owns()) listener(r);
      };
      wrapped.set(listener, w);
      return h.on(event, w);
    },
    off: (event, listener) => {
      const w = wrapped.get(listener);
      wrapped.delete(listener);
      return w ? h.off(event, w) : h;
    },
  };
}

function wantsDemo(c: Config): boolean {
  return c.demo.enabled === true || (c.demo.enabled === 'auto' && c.streams.length === 0);
}
