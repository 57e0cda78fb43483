/**
 * The engine worker thread: owns one FaceEngine and answers WorkerEngine's requests (protocol.ts). All streams'
 * requests arrive here, so the engine's batchers still gather crops across streams.
 *
 * The polyfill is imported first: the worker is a fresh JS realm, and a module loaded here may reach node-av.
 */
import '../../core/polyfill.js';
import { parentPort, workerData } from 'node:worker_threads';
import { FaceEngine } from '../engine.js';
import { errorMessage } from '../../core/errors.js';
import { Logger } from '../../core/log.js';
import { currentThreadId, lowerThreadPriority } from '../../core/thread-priority.js';
import { toWire, type Reply, type Request, type WorkerStart } from './protocol.js';
import type { BatcherView } from '../api.js';

const log = new Logger('EngineWorker');
const port = parentPort;
if (!port) throw new Error('inference/worker/worker.ts must run in a worker thread');
const start = workerData as WorkerStart;

function send(msg: Reply): void {
  port!.postMessage(msg);
}

/** Plain copies of the batchers' counts (the live objects keep changing while the message is in flight). */
function batcherSnapshot(engine: FaceEngine): BatcherView[] {
  return engine.batchers.map((b) => ({ name: b.name, stats: { ...b.stats, sizes: [...b.stats.sizes] } }));
}

// Before the models load: onnxruntime's threads, created with the sessions, inherit the thread's nice value.
const threadId = currentThreadId();
try {
  lowerThreadPriority(start.niceness);
} catch (e) {
  log.warn(`could not lower the inference thread's priority: ${errorMessage(e)}`);
}

let engine: FaceEngine;
try {
  engine = await FaceEngine.create(start.options);
} catch (e) {
  log.debug(`start failed: ${errorMessage(e)}`);
  send({ kind: 'startFailed', error: toWire(e) });
  process.exit(0); // the client has its answer; ending the thread here is the normal path, not a crash
}

const inFlight = new Map<number, AbortController>();
const sessionInfo = engine.sessions[0];
send({
  kind: 'ready',
  info: {
    detectorInputSize: engine.detectorInputSize,
    provider: sessionInfo?.provider ?? 'cpu',
    fallbackReason: engine.sessions.find((s) => s.fallbackReason !== undefined)?.fallbackReason,
    batchers: batcherSnapshot(engine),
    threadId,
  },
});

// Batcher counts for metrics, pushed while they change (scrapes read the client's copy synchronously).
let lastTotal = -1;
const statsTimer = setInterval(() => {
  let total = 0;
  for (const b of engine.batchers) total += b.stats.items + b.stats.cancelled;
  if (total === lastTotal) return;
  lastTotal = total;
  send({ kind: 'stats', batchers: batcherSnapshot(engine) });
}, start.statsIntervalMs);

async function handle(req: Exclude<Request, { kind: 'cancel' | 'crash' | 'close' }>): Promise<void> {
  const ctl = new AbortController();
  inFlight.set(req.id, ctl);
  try {
    switch (req.kind) {
      case 'detect':
        send({ kind: 'detect', id: req.id, value: await engine.detect(req.image, ctl.signal, req.letterbox) });
        break;
      case 'classify':
        send({ kind: 'classify', id: req.id, value: await engine.classify(req.image, req.detections, ctl.signal, req.scope) });
        break;
      case 'analyzeImage':
        send({ kind: 'analyzeImage', id: req.id, value: await engine.analyzeImage(req.image, { wholeIfNone: req.wholeIfNone, signal: ctl.signal }) });
        break;
    }
  } catch (e) {
    send({ kind: 'error', id: req.id, error: toWire(e) });
  } finally {
    inFlight.delete(req.id);
  }
}

port.on('message', (req: Request) => {
  switch (req.kind) {
    case 'cancel':
      inFlight.get(req.id)?.abort();
      return;
    case 'crash':
      if (!start.allowCrash) {
        send({ kind: 'error', id: req.id, error: toWire(new Error('crash requests are for tests (allowCrash)')) });
        return;
      }
      if (req.how === 'exit') process.exit(3);
      // An exception no one catches, as a bug in a listener would throw: the thread dies with an 'error' event.
      throw new Error('engine worker: crash requested by a test');
    case 'close':
      clearInterval(statsTimer);
      for (const c of inFlight.values()) c.abort();
      void engine.close().finally(() => port.close());
      return;
    default:
      void handle(req);
  }
});
