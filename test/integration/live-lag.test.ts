/**
 * Honest latency against a real camera: a GStreamer RTSP server into a StreamRuntime with the real FaceEngine
 * whose detection is made slow on purpose — a synchronous 1.2 s busy-wait per analysed frame, standing for heavy
 * inference on the main thread (the event loop is blocked, so ingest cannot read while it runs: the situation
 * where ingest fell seconds behind the camera). Then the camera freezes (SIGSTOP: TCP open, no data).
 *
 * What is checked, bounded by the configured numbers only (never by how fast this machine is):
 * - with skip-ahead: frames are skipped and counted, and no frame arrives later than the bound (plus a small
 *   margin) after the camera froze — the backlog was really gone, measured against the freeze, not the estimate;
 * - without it (control, maxLagMs 0), the same load delivers frames seconds after the camera made them, and
 *   still after the freeze beyond the bound: the test does create the backlog it claims to cure;
 * - status: every status read more than the stall timeout after the last frame says it is not `streaming`
 *   (`stalled`, then backoff), also when the event loop was blocked past the watchdog's time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fillRect, makeClip } from '../../src/ingest/testmedia.ts';
import { LiveSource, type LiveState, type LiveVideoFrame } from '../../src/ingest/live.ts';
import { StreamRuntime, type StreamRuntimeStatus } from '../../src/pipeline/stream.ts';
import { FaceEngine } from '../../src/inference/engine.ts';
import { RtspTestServer, rtspServerUnavailable } from '../helpers/rtsp-server.ts';
import { until } from '../helpers/wait.ts';

const noRtsp = rtspServerUnavailable();
const MAX_LAG_MS = 500;
const STALL_MS = 2000;
/** Per analysed frame: longer than twice the bound, so every analysis leaves a backlog skip-ahead must cure. */
const BUSY_MS = 1200;
/** Frame delivery after its packet was judged on time, the anchor's drift allowance, timer granularity. */
const MARGIN_MS = 300;
/** The network read timeout is above the stall timeout, so that a frozen camera goes through the stall path. */

let dir: string;
let clip: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fc-lag-'));
  clip = join(dir, 'cam.mp4');
  // 25 fps, a key frame every 25 (1 s), no B-frames, 4 s looped by the server.
  await makeClip(clip, { width: 320, height: 240, fps: 25, seconds: 4, bframes: 0, frame: (i, rgb) => {
    rgb.fill(90);
    fillRect(rgb, 320, (i * 7) % 290, 100, 30, 30, [230, 20, 20]);
  } });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* the main thread is taken, as a synchronous inference run takes it */ }
}

interface Run {
  status: StreamRuntimeStatus;
  /** Frames delivered after the freeze, ms after it. */
  afterFreeze: number[];
  lastFrameAt: number;
  /** (time, state, frames received + skipped) of status reads after the freeze. */
  samples: { t: number; state: string; data: number }[];
  /** The first status read after which no frame arrived and no packet was skipped: an upper bound on the last data. */
  lastDataAt: number;
  states: LiveState[];
  worstLag: number;
  /** The largest lag (by the frame's own clock) of the frames that arrived after the camera froze. */
  lagAfterFreeze: number;
}

describe('ingest under a blocked event loop (GStreamer RTSP server on 127.0.0.1)', { skip: noRtsp }, () => {
  let engine: FaceEngine;
  before(async () => {
    engine = await FaceEngine.create();
  });
  after(async () => {
    await engine?.close();
  });

  /** Streams under load for `loadMs`, freezes the camera, watches status until it is in backoff. */
  async function run(maxLagMs: number, loadMs: number): Promise<Run> {
    const srv = await RtspTestServer.start(clip);
    let slow = false;
    const slowEngine = new Proxy(engine, {
      get(target, prop) {
        if (prop === 'detect') {
          return async (...args: Parameters<FaceEngine['detect']>) => {
            if (slow) busyWait(BUSY_MS);
            return target.detect(...args);
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const rt = new StreamRuntime(slowEngine, srv.url, {
      id: 'cam',
      source: { maxLagMs, stallTimeoutMs: STALL_MS, openTimeoutMs: 4000, backoff: { initialMs: 200, maxMs: 500 } },
      analyzer: { detectEvery: 1 },
    });
    const states: LiveState[] = [];
    rt.on('state', (s) => states.push(s));
    let freezeAt = Infinity;
    let lastFrameAt = 0;
    let worstLag = 0;
    let lagAfterFreeze = 0;
    const afterFreeze: number[] = [];
    // A `frame` listener, as live video has: every frame is seen here, with its lag.
    rt.source.on('frame', (f: LiveVideoFrame) => {
      lastFrameAt = performance.now();
      worstLag = Math.max(worstLag, f.receivedAt - f.capturedAt);
      if (lastFrameAt > freezeAt) {
        afterFreeze.push(lastFrameAt - freezeAt);
        lagAfterFreeze = Math.max(lagAfterFreeze, f.receivedAt - f.capturedAt);
      }
    });
    const samples: Run['samples'] = [];
    try {
      rt.start();
      await until(() => rt.framesAnalysed > 0, 15_000, 'a first analysed frame');
      slow = true;
      const poll = setInterval(() => {
        const s = rt.status();
        samples.push({ t: performance.now(), state: s.state, data: s.framesReceived + s.framesSkipped });
      }, 50);
      let lastDataAt = Infinity;
      let status: StreamRuntimeStatus;
      try {
        await sleep(loadMs);
        status = rt.status();
        // The load ends as the camera freezes, so that a backlog (if any) drains at full speed and shows.
        slow = false;
        freezeAt = performance.now();
        srv.freeze();
        await until(() => samples.some((s) => s.t > freezeAt && s.state === 'backoff'), 30_000, 'backoff after the camera froze');
        // Skipped packets keep the stall clock going (skipping is ours, the camera was alive): the last data is
        // (at the latest) the first read that saw the final count of frames + skips. Read on past its deadline.
        const final = samples[samples.length - 1].data;
        lastDataAt = samples.find((s) => s.data === final)?.t ?? freezeAt;
        await until(() => samples[samples.length - 1].t > lastDataAt + STALL_MS + 300, 10_000, 'reads past the stall deadline');
      } finally {
        clearInterval(poll);
      }
      return { status, afterFreeze, lastFrameAt, samples, lastDataAt, states, worstLag, lagAfterFreeze };
    } finally {
      slow = false;
      await rt.close();
      await srv.stop();
    }
  }

  test('skip-ahead: frames skipped and counted; nothing arrives later than the bound after the camera froze; status goes stalled → backoff on time', async () => {
    const r = await run(MAX_LAG_MS, 8000);
    const late = r.afterFreeze.length ? Math.max(...r.afterFreeze) : 0;
    console.log(`# skip-ahead on: status under load ${JSON.stringify(r.status)}; ${r.afterFreeze.length} frames after the freeze, the last ${late.toFixed(0)} ms after; worst delivered lag ${r.worstLag.toFixed(0)} ms`);
    assert.ok(r.status.framesSkipped > 0, 'it had to skip, and the drops are counted');
    assert.ok(r.worstLag <= MAX_LAG_MS, `every delivered frame within the bound by its own clock (worst ${r.worstLag.toFixed(0)} ms)`);
    assert.ok(late <= MAX_LAG_MS + MARGIN_MS, `no frame arrives more than ${MAX_LAG_MS} + ${MARGIN_MS} ms after the camera froze (last: ${late.toFixed(0)} ms)`);
    assert.ok(r.status.latencyMs >= r.status.processingMs, `end-to-end latency (${r.status.latencyMs.toFixed(0)} ms) includes processing (${r.status.processingMs.toFixed(0)} ms)`);
    assertStatusHonest(r);
  });

  test('control, skip-ahead off: the same load delivers frames seconds behind the camera, and still after it froze', async () => {
    const r = await run(0, 6000);
    const late = r.afterFreeze.length ? Math.max(...r.afterFreeze) : 0;
    console.log(`# skip-ahead off: status under load ${JSON.stringify(r.status)}; ${r.afterFreeze.length} frames after the freeze, the last ${late.toFixed(0)} ms after; worst delivered lag ${r.worstLag.toFixed(0)} ms`);
    assert.equal(r.status.framesSkipped, 0);
    // The backlog by the frames' own clock: delivered seconds after the camera made them. How fast the backlog then
    // drains after the freeze is this machine's speed (0.8 s on one machine, over 1.6 s on others), so what is
    // held after the freeze is by the frames' clock too: they still come, and they are stale.
    assert.ok(r.worstLag > 2 * (MAX_LAG_MS + MARGIN_MS), `backlog: frames delivered up to ${r.worstLag.toFixed(0)} ms after the camera made them`);
    assert.ok(r.worstLag < 60_000, `the lag is the backlog, not a wrong clock (worst ${r.worstLag.toFixed(0)} ms in a run of seconds)`);
    assert.ok(r.afterFreeze.length > 0 && r.lagAfterFreeze > MAX_LAG_MS + MARGIN_MS, `and frames still arrive after the camera froze (${r.afterFreeze.length}, up to ${late.toFixed(0)} ms after), made over ${MAX_LAG_MS} + ${MARGIN_MS} ms before they arrived (${r.lagAfterFreeze.toFixed(0)} ms)`);
    assert.ok(r.status.latencyMs < 60_000, `status latency is the backlog's (${r.status.latencyMs.toFixed(0)} ms), not a wrong clock`);
    assert.ok(r.status.ingestLagMs > MAX_LAG_MS, `and the status says how far behind it was (${r.status.ingestLagMs.toFixed(0)} ms)`);
    assertStatusHonest(r);
  });

  test('a frozen camera is `stalled` when status is read, even if the event loop was blocked past the watchdog', async () => {
    const srv = await RtspTestServer.start(clip);
    const src = new LiveSource(srv.url, { stallTimeoutMs: STALL_MS, openTimeoutMs: 4000 });
    try {
      src.start();
      await src.next(AbortSignal.timeout(15_000));
      await until(() => src.state === 'streaming', 5000, 'streaming');
      srv.freeze();
      busyWait(STALL_MS + 300); // no timer can run: the watchdog has not fired
      const s = src.stats();
      assert.equal(s.state, 'stalled', `state ${s.state} with no frame for ${s.sinceFrameMs.toFixed(0)} ms`);
      assert.ok(s.sinceFrameMs > STALL_MS);
      await until(() => src.state === 'backoff', 5000, 'then a reconnect (backoff)');
    } finally {
      await src.close();
      await srv.stop();
    }
  });
});

/** Status reads after the last data: not `streaming` once the stall timeout has passed; stalled, then backoff. */
function assertStatusHonest(r: Run): void {
  const due = r.samples.filter((s) => s.t > r.lastDataAt + STALL_MS + 1);
  assert.ok(due.length > 0, 'status was read after the stall timeout');
  const lying = due.filter((s) => s.state === 'streaming');
  assert.equal(lying.length, 0, `status said streaming ${lying.length} time(s) with no frame for over ${STALL_MS} ms`);
  const i = r.states.lastIndexOf('stalled');
  assert.ok(i >= 0 && r.states.slice(i).includes('backoff'), `stalled, then backoff: ${r.states.join(' → ')}`);
  const firstOff = r.samples.find((s) => s.state !== 'streaming');
  assert.ok(firstOff && firstOff.t <= r.lastDataAt + STALL_MS + MARGIN_MS, 'left streaming within the stall timeout (plus a poll)');
}
