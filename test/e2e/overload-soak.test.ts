/**
 * Overload and a short soak: more demo-clip cameras (640×360, 25 fps, every frame analysed) than two cores can
 * analyse, in one `facecast serve`, until its memory settles and then 30 s more (one to four minutes). Frames are
 * dropped and counted (never queued), latency stays bounded, the server keeps answering, and memory and file
 * descriptors stay flat after warm-up.
 * bench/soak.ts runs the same for 30 minutes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDemoClip } from '../../src/server/demo.ts';
import { startServe } from '../helpers/serve.ts';
import { soakSettled, summarise } from '../../bench/soak-lib.ts';

const STREAMS = 10;
/**
 * Warm-up lasts until RSS spans < SETTLE_MB over SETTLE_SEC (at most MAX_WARMUP s), then MEASURE s are judged.
 * 30 s, not 15: with glibc's malloc, ten decoders' arenas grow for ~100 s (650 → 870 MB here) and can pause on
 * the way for 15 s, which read as settled and put the rest of the growth into the judged window.
 */
const SETTLE_SEC = 30;
const SETTLE_MB = 12;
const MAX_WARMUP = 180;
const MEASURE = 30;

test(`overload: ${STREAMS} cameras on this machine until memory settles, then ${MEASURE} s — drops counted, latency bounded, memory flat`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-soak-'));
  const clip = await ensureDemoClip(join(dir, 'models'));
  const config = join(dir, 'facecast.yaml');
  const streams = Array.from({ length: STREAMS }, (_, i) => `  - { id: cam${i}, source: "${clip}" }`);
  writeFileSync(config, ['server: { host: 127.0.0.1, port: 0 }', 'demo: { enabled: false }', 'streams:', ...streams, ''].join('\n'));
  // The models converted at install (the default cache): a fresh cache would convert them at start, inside the
  // window that is meant to be warm-up, and the conversion's memory would read as growth.
  const server = await startServe(['--config', config]);
  let code: Awaited<ReturnType<typeof server.stop>> | undefined;
  try {
    const { samples, settledAt } = await soakSettled(server.base, { everySec: 3, settleSec: SETTLE_SEC, settleMb: SETTLE_MB, maxWarmupSec: MAX_WARMUP, measureSec: MEASURE });
    const rssSeries = samples.map((x) => `${x.t.toFixed(0)}:${x.rssMb.toFixed(0)}`).join(' ');
    console.log(`# RSS t:MB ${rssSeries}; settled at ${settledAt?.toFixed(0) ?? 'never'} s`);
    // A process whose memory never stops growing under a steady load is leaking, whatever the machine's speed.
    assert.ok(settledAt !== undefined, `RSS settles within ${MAX_WARMUP} s (t:MB ${rssSeries})`);
    const s = summarise(samples, settledAt);
    const last = samples[samples.length - 1];
    console.log(`overload-soak: ${JSON.stringify({ settledAt, ...s, analysedFps: Math.round(last.analysedFps), receivedPerSec: Math.round(last.received / last.t), rss: rssSeries })}`);
    // Every received frame is analysed or dropped at the mailbox and counted, never queued: the two shares add
    // up to about 1 whatever this machine's speed (a fast machine may drop nothing; a slow one drops most).
    const after = samples.filter((x) => x.t >= settledAt);
    const receivedPerSec = (after[after.length - 1].received - after[0].received) / Math.max(1, after[after.length - 1].t - after[0].t);
    const analysedShare = after.reduce((a, x) => a + x.analysedFps, 0) / after.length / Math.max(1, receivedPerSec);
    assert.ok(Math.abs(s.dropRatio + analysedShare - 1) < 0.3, `frames accounted: ${(analysedShare * 100).toFixed(1)} % analysed + ${(s.dropRatio * 100).toFixed(1)} % dropped`);
    const perCamera = last.analysedByStream.map((n, i) => n - after[0].analysedByStream[i]);
    assert.ok(Math.min(...perCamera) > 0, `every camera still analysed (frames per camera in the window: ${perCamera.join(', ')}; ${last.analysedFps.toFixed(0)} frames/s in all)`);
    // Bounded: a dropped frame never waits, so latency stays near one analysis, not a growing queue.
    assert.ok(s.latencyMs.max < 2000, `latency bounded (max ${s.latencyMs.max.toFixed(0)} ms)`);
    assert.ok(s.healthMsMax < 1000, `the server keeps answering (/healthz ≤ ${s.healthMsMax.toFixed(0)} ms)`);
    // Flat after warm-up: no queue or leak grows with time.
    assert.ok(s.rssMb.slopeMbPerMin < 30, `RSS flat (${s.rssMb.first.toFixed(0)} → ${s.rssMb.last.toFixed(0)} MB, ${s.rssMb.slopeMbPerMin.toFixed(1)} MB/min; t:MB ${rssSeries})`);
    assert.ok(s.heapMb.slopeMbPerMin < 15, `heap flat (${s.heapMb.first.toFixed(0)} → ${s.heapMb.last.toFixed(0)} MB, ${s.heapMb.slopeMbPerMin.toFixed(1)} MB/min)`);
    assert.ok(s.fds.last - s.fds.first <= 5, `file descriptors flat (${s.fds.first} → ${s.fds.last})`);
  } finally {
    code = await server.stop();
  }
  // After the finally, not in it: a failed assertion in finally would replace the test's real failure.
  assert.equal(code, 0, `serve exit code; stderr: ${server.stderr().slice(-1500)}`);
});
