/**
 * Cluster faults where they hurt (issue 14, item 8): two `facecast serve` instances, a real Redis, two cameras.
 * Redis is frozen (SIGSTOP) past a lease, then an instance is frozen (SIGSTOP) and later resumed (SIGCONT). What
 * counts is observed from outside, by socket.io viewers on both instances — never the instances' own reports:
 *  - no camera ever has two producers at once: each runtime emits one increasing series of frame times, so
 *    two series of one camera whose arrival intervals overlap are a double run;
 *  - a frozen instance's camera reaches the viewers again from the other instance within lease + 2 s;
 *  - the resumed instance publishes nothing for the camera it lost (the lease fence is checked per record).
 * Bounded: about a minute.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { io as connectIo, type Socket } from 'socket.io-client';
import { ensureDemoClip } from '../../src/server/demo.ts';
import type { ClientToServerEvents, ServerToClientEvents } from '../../src/broadcast/protocol.ts';
import { startServe, type ServeProcess } from '../helpers/serve.ts';
import { RedisServer } from '../helpers/redis.ts';
import { freePort } from '../helpers/process.ts';
import { until, untilValue } from '../helpers/wait.ts';

const CAMERAS = ['cam1', 'cam2'];
const LEASE_MS = 3000;
const RENEW_MS = 500;
/** Overlap of two producers' arrival intervals tolerated (events in flight through the Redis adapter), ms. */
const OVERLAP_SLACK_MS = 250;

interface Seen {
  cam: string;
  at: number;
  time: number;
  frame: number;
}

/** One producer's series: increasing frame times. */
interface Series {
  firstAt: number;
  lastAt: number;
  lastTime: number;
  n: number;
}

/** Splits a camera's events (deduplicated, by arrival) into producer series; returns the overlapping pairs. */
function doubleRuns(events: readonly Seen[]): string[] {
  const out: string[] = [];
  for (const cam of CAMERAS) {
    // The two viewers get each emission once each (Redis adapter): the same frame and time arriving within a
    // second is one emission. (Each runtime starts its timeline at 0, so frame numbers recur across runtimes.)
    const unique: Seen[] = [];
    const last = new Map<string, number>();
    for (const e of events.filter((x) => x.cam === cam).sort((a, b) => a.at - b.at)) {
      const key = `${e.frame}:${e.time}`;
      const prev = last.get(key);
      if (prev !== undefined && e.at - prev < 1000) continue;
      last.set(key, e.at);
      unique.push(e);
    }
    const series: Series[] = [];
    for (const e of unique) {
      // The series this continues: a later frame time (at most 3 s on) of a series heard from in the last 2 s;
      // of several, the one heard from last.
      let best: Series | undefined;
      for (const s of series) if (e.time > s.lastTime && e.time - s.lastTime < 3 && e.at - s.lastAt < 2000 && (!best || s.lastAt > best.lastAt)) best = s;
      if (best) {
        best.lastAt = e.at;
        best.lastTime = e.time;
        best.n++;
      } else series.push({ firstAt: e.at, lastAt: e.at, lastTime: e.time, n: 1 });
    }
    const real = series.filter((s) => s.n >= 2); // a lone event is not a producer
    for (let i = 0; i < real.length; i++) {
      for (let j = i + 1; j < real.length; j++) {
        const overlap = Math.min(real[i].lastAt, real[j].lastAt) - Math.max(real[i].firstAt, real[j].firstAt);
        if (overlap > OVERLAP_SLACK_MS) out.push(`${cam}: two producers for ${overlap.toFixed(0)} ms`);
      }
    }
  }
  return out;
}

test('cluster faults: Redis frozen past a lease, an instance frozen and resumed — never two producers of a camera, failover ≤ lease + 2 s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-cluster-faults-'));
  const clip = await ensureDemoClip();
  const redis = await RedisServer.start();
  const servers: ServeProcess[] = [];
  const sockets: Socket<ServerToClientEvents, ClientToServerEvents>[] = [];
  const events: Seen[] = [];
  let frozen: ServeProcess | undefined;
  let redisFrozen = false;
  let codes: (number | null | 'timeout')[] = [];
  let report = '';
  try {
    const ports = await Promise.all([freePort(), freePort()]);
    servers.push(
      ...(await Promise.all(
        ports.map((port, i) => {
          const file = join(dir, `fc-${i}.json`);
          writeFileSync(file, JSON.stringify({
            server: { port },
            demo: { enabled: false },
            cluster: { redisUrl: redis.url, instanceId: `fc-${i}`, advertiseUrl: `http://127.0.0.1:${port}`, leaseMs: LEASE_MS, renewMs: RENEW_MS },
            streams: CAMERAS.map((id) => ({ id, source: clip, fps: 4 })),
          }));
          return startServe(['--config', file]);
        }),
      )),
    );
    const view = async (i: number): Promise<{ local: string[] }> => (await (await fetch(`${servers[i].base}/api/cluster`, { signal: AbortSignal.timeout(2000) })).json()) as { local: string[] };
    await untilValue(async () => {
      const vs = await Promise.all([view(0), view(1)]).catch(() => undefined);
      return vs?.every((v) => v.local.length === 1);
    }, 30_000, 'one camera per instance');

    // Viewers on both instances, subscribed to both cameras.
    for (const s of servers) {
      const sock: Socket<ServerToClientEvents, ClientToServerEvents> = connectIo(s.base, { transports: ['websocket'], reconnection: true, reconnectionDelay: 200 });
      sock.on('faces', (cam, f) => events.push({ cam, at: performance.now(), time: f.time, frame: f.frame }));
      sockets.push(sock);
      await until(() => sock.connected, 10_000, 'socket.io connected');
      for (const cam of CAMERAS) assert.deepEqual(await sock.timeout(5000).emitWithAck('subscribe', cam), { ok: true });
    }
    const lastAt = (cam: string): number => Math.max(-Infinity, ...events.filter((e) => e.cam === cam).map((e) => e.at));
    await until(() => CAMERAS.every((c) => lastAt(c) > performance.now() - 1000), 15_000, 'both cameras reach the viewers');

    // 1. Redis frozen for longer than a lease: every instance fences its streams; then they come back.
    const tFreeze = performance.now();
    redis.signal('SIGSTOP');
    redisFrozen = true;
    await sleep(LEASE_MS + 2000);
    redis.signal('SIGCONT');
    redisFrozen = false;
    const tRedis = performance.now();
    await until(() => CAMERAS.every((c) => lastAt(c) > tRedis + 200), 15_000, 'both cameras again after Redis came back').catch(async (e: unknown) => {
      const vs = await Promise.all([view(0), view(1)]).catch(() => undefined);
      throw new Error(`${String(e)}; instances run ${JSON.stringify(vs?.map((v) => v.local))}; last events ${JSON.stringify(CAMERAS.map((c) => (performance.now() - lastAt(c)).toFixed(0)))} ms ago; logs:\n${servers.map((x) => x.stderr().slice(-1500)).join('\n---\n')}`);
    });
    // Nobody can prove a lease while Redis is away: after the fence deadline (2/3 of a lease, plus a renewal
    // period and delivery) no camera publishes until Redis is back.
    const fencedFrom = tFreeze + (LEASE_MS * 2) / 3 + RENEW_MS + 500;
    const duringFreeze = events.filter((e) => e.at > fencedFrom && e.at < tRedis);
    // Back = a restarted runtime's first frames (late deliveries of old emissions from Redis's backlog are not).
    await until(() => CAMERAS.every((c) => events.some((e) => e.cam === c && e.at > tRedis && e.frame < 3)), 15_000, 'both cameras restarted after Redis came back');
    const redisRecoveryMs = Math.max(...CAMERAS.map((c) => (events.find((e) => e.cam === c && e.at > tRedis && e.frame < 3)?.at ?? NaN) - tRedis));

    // 2. Freeze the owner of cam1 (chosen by what it says; judged by what the viewers see).
    const owner = (await view(0)).local.includes('cam1') ? 0 : 1;
    const other = 1 - owner;
    await sleep(1000);
    frozen = servers[owner];
    const t0 = performance.now();
    frozen.signal('SIGSTOP');
    const lastTimeBefore = Math.max(...events.filter((e) => e.cam === 'cam1' && e.at <= t0).map((e) => e.time));
    // The new producer's first record: a cam1 event on the other instance's viewer that does not continue the
    // frozen series (its time is not just after the last one seen).
    const firstNew = await untilValue(async () => events.find((e) => e.cam === 'cam1' && e.at > t0 && !(e.time > lastTimeBefore && e.time - lastTimeBefore < 3)), LEASE_MS + 10_000, 'cam1 from the other instance');
    const failoverMs = firstNew.at - t0;
    await sleep(2000);
    // 3. Resume it: it must not publish cam1 (its lease is gone), only at most its other camera.
    frozen.signal('SIGCONT');
    frozen = undefined;
    await sleep(4000);
    report = `cluster-faults: Redis frozen ${LEASE_MS + 2000} ms → ${duringFreeze.length} frames published after the fence deadline, cameras back ${redisRecoveryMs.toFixed(0)} ms after it returned; instance fc-${owner} frozen → cam1 from fc-${other} after ${failoverMs.toFixed(0)} ms (lease ${LEASE_MS} ms), then resumed for 4 s; ${events.length} events seen`;
    process.stderr.write(report + '\n');
    if (process.env.FACECAST_DUMP_EVENTS) writeFileSync(process.env.FACECAST_DUMP_EVENTS, JSON.stringify({ t0, events }));
    assert.deepEqual(duringFreeze.map((e) => `${e.cam}@${(e.at - tFreeze).toFixed(0)}ms`), [], 'nothing published while no lease can be proven');
    assert.ok(failoverMs <= LEASE_MS + 2000, `failover ${failoverMs.toFixed(0)} ms ≤ lease + 2 s`);
    // Includes the resumed instance: a frame of the camera it lost would be a second series overlapping the new one.
    assert.deepEqual(doubleRuns(events), [], 'never two producers of one camera at once, as the viewers saw it');
  } finally {
    if (redisFrozen) redis.signal('SIGCONT');
    frozen?.signal('SIGCONT');
    for (const s of sockets) s.disconnect();
    codes = await Promise.all(servers.map((s) => s.stop()));
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  }
  // After the finally, not in it: a failed assertion in finally would replace the test's real failure.
  codes.forEach((c, i) => assert.equal(c, 0, `instance ${i} exit code; stderr: ${servers[i]?.stderr().slice(-1500)}`));
});
