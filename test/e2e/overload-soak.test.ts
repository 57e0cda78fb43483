/**
 * Overload and a short soak: more demo-clip cameras (640×360, 25 fps, every frame analysed) than two cores can
 * analyse, in one `facecast serve`, for about a minute. Frames are dropped and counted (never queued), latency
 * stays bounded, the server keeps answering, and memory and file descriptors stay flat after warm-up.
 * bench/soak.ts runs the same for 30 minutes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDemoClip } from '../../src/server/demo.ts';
import { startServe } from '../helpers/serve.ts';
import { soak, summarise } from '../../bench/soak-lib.ts';

const STREAMS = 10;
const SECONDS = 65;
const WARMUP = 30;

test(`overload: ${STREAMS} cameras on this machine for ${SECONDS} s — drops counted, latency bounded, memory flat`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-soak-'));
  const clip = await ensureDemoClip(join(dir, 'models'));
  const config = join(dir, 'facecast.yaml');
  const streams = Array.from({ length: STREAMS }, (_, i) => `  - { id: cam${i}, source: "${clip}" }`);
  writeFileSync(config, ['server: { host: 127.0.0.1, port: 0 }', 'demo: { enabled: false }', 'streams:', ...streams, ''].join('\n'));
  const server = await startServe(['--config', config], { FACECAST_MODEL_CACHE: join(dir, 'models') });
  try {
    const samples = await soak(server.base, SECONDS, 3);
    const s = summarise(samples, WARMUP);
    const last = samples[samples.length - 1];
    console.log(`overload-soak: ${JSON.stringify({ ...s, analysedFps: Math.round(last.analysedFps), receivedPerSec: Math.round(last.received / last.t) })}`);
    // Overloaded: analysis cannot take every frame; the rest are dropped at the mailbox and counted.
    assert.ok(s.dropRatio > 0.05, `frames dropped and counted (${(s.dropRatio * 100).toFixed(1)} %)`);
    assert.ok(last.analysedFps > STREAMS, `every camera still analysed (${last.analysedFps.toFixed(0)} frames/s in all)`);
    // Bounded: a dropped frame never waits, so latency stays near one analysis, not a growing queue.
    assert.ok(s.latencyMs.max < 2000, `latency bounded (max ${s.latencyMs.max.toFixed(0)} ms)`);
    assert.ok(s.healthMsMax < 1000, `the server keeps answering (/healthz ≤ ${s.healthMsMax.toFixed(0)} ms)`);
    // Flat after warm-up: no queue or leak grows with time.
    assert.ok(s.rssMb.slopeMbPerMin < 30, `RSS flat (${s.rssMb.first.toFixed(0)} → ${s.rssMb.last.toFixed(0)} MB, ${s.rssMb.slopeMbPerMin.toFixed(1)} MB/min)`);
    assert.ok(s.heapMb.slopeMbPerMin < 15, `heap flat (${s.heapMb.first.toFixed(0)} → ${s.heapMb.last.toFixed(0)} MB, ${s.heapMb.slopeMbPerMin.toFixed(1)} MB/min)`);
    assert.ok(s.fds.last - s.fds.first <= 5, `file descriptors flat (${s.fds.first} → ${s.fds.last})`);
  } finally {
    const code = await server.stop();
    assert.equal(code, 0, `serve exit code; stderr: ${server.stderr().slice(-1500)}`);
  }
});
