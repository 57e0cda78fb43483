/**
 * Viewers that leave without a DELETE are released, end to end with real components only: a GStreamer RTSP
 * camera → `facecast serve` → (1) the dashboard in headless Chromium, whose tab is then closed; (2) a werift viewer
 * in its own process (test/helpers/werift-viewer.ts), then SIGKILLed. Each time `facecast_viewers{transport="whep"}`
 * must be back to 0 within 15 s, the session counted under a lifecycle reason, and the encode stopped (the encode
 * stage's count in /metrics stops growing, outputFps 0). Loopback only; every wait is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';
import { fillRect, makeClip } from '../../src/ingest/testmedia.ts';
import { RtspTestServer, rtspServerUnavailable } from '../helpers/rtsp-server.ts';
import { startServe } from '../helpers/serve.ts';
import { pageFn } from '../helpers/page-fn.ts';
import { untilValue } from '../helpers/wait.ts';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'];

/** The value of one series in an exposition text (0 when absent). */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

test('viewers gone without DELETE (tab closed, process killed) are released within 15 s and the encode stops', { timeout: 180_000 }, async () => {
  assert.equal(rtspServerUnavailable(), undefined, 'the RTSP test server needs Debian GStreamer packages (.ci/run installs them)');
  const dir = mkdtempSync(join(tmpdir(), 'fc-viewers-'));
  const clip = join(dir, 'cam.mp4');
  await makeClip(clip, { width: 320, height: 180, fps: 25, seconds: 2, gop: 25, bframes: 0, frame: (i, rgb) => {
    rgb.fill(90);
    fillRect(rgb, 320, (i * 7) % 280, 60, 40, 40, [220, 40, 40]);
  } });
  await using cam = await RtspTestServer.start(clip);
  const config = join(dir, 'facecast.yaml');
  writeFileSync(config, `server: { host: 127.0.0.1, port: 0 }\nwebrtc: { hostAddresses: [127.0.0.1] }\ndemo: { enabled: false }\nstreams:\n  - { id: cam, source: "${cam.url}", fps: 5 }\n`);
  const server = await startServe(['--config', config], { FACECAST_MODEL_CACHE: join(dir, 'models') });
  const { base } = server;
  const metrics = async (): Promise<string> => (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const viewers = async (): Promise<number> => sample(await metrics(), 'facecast_viewers', 'stream="cam",transport="whep"');
  const closedGone = async (): Promise<number> => {
    const m = await metrics();
    return ['peer-timeout', 'dtls-closed', 'dtls-failed', 'ice-disconnected', 'connection-failed', 'connection-closed'].reduce((n, r) => n + sample(m, 'facecast_whep_sessions_closed_total', `reason="${r}"`), 0);
  };
  const encodes = async (): Promise<number> => sample(await metrics(), 'facecast_stage_duration_seconds_count', 'stage="encode"');
  const outputFps = async (): Promise<number> => ((await (await fetch(`${base}/api/streams/cam`, { signal: AbortSignal.timeout(5000) })).json()) as { status: { outputFps: number } }).status.outputFps;
  /** Released within 15 s, counted, and no more encoding: returns how long the release took. */
  const released = async (gone0: number, what: string): Promise<number> => {
    const t0 = performance.now();
    await untilValue(async () => (await viewers()) === 0, 15_000, `${what}: facecast_viewers{transport="whep"} back to 0`);
    const ms = performance.now() - t0;
    assert.equal(await closedGone(), gone0 + 1, `${what}: counted under a lifecycle reason`);
    await sleep(1500); // the fps meter covers the last second
    const e0 = await encodes();
    await sleep(1000);
    assert.equal(await encodes(), e0, `${what}: no encode for nobody`);
    assert.equal(await outputFps(), 0);
    return ms;
  };
  let browser: Browser | undefined;
  let code: Awaited<ReturnType<typeof server.stop>> | undefined;
  try {
    await untilValue(async () => ((await (await fetch(`${base}/api/streams/cam`)).json()) as { status: { state: string } }).status.state === 'streaming', 20_000, 'the camera streaming');

    // (1) The dashboard plays the camera; its tab is closed.
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const joinedAt = performance.now();
    await page.goto(base);
    await page.waitForFunction(pageFn('(() => { const v = document.querySelector("video.live"); return !!v && !v.hidden && v.videoWidth > 0; })()'), null, { timeout: 20_000 });
    assert.equal(await viewers(), 1);
    assert.ok((await outputFps()) > 0, 'encoding for the viewer');
    // The viewer started at once (it plays above); key frames forced for it stay within the throttle (≤ 1/s). Not
    // asserted ≥ 1: when its DTLS completes before the new encoder's first IDR, that IDR serves the join unforced
    // (the join rule itself is unit-tested: test/unit/broadcast/keyframes.test.ts).
    const forced = sample(await metrics(), 'facecast_keyframes_forced_total', 'stream="cam"');
    assert.ok(forced <= 1 + (performance.now() - joinedAt) / 1000, `key frames forced within the throttle: ${forced}`);
    const gone0 = await closedGone();
    await page.close();
    const tabMs = await released(gone0, 'closed tab');

    // (2) A werift viewer in its own process, SIGKILLed: nothing more on the wire, not even a DTLS alert.
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../helpers/werift-viewer.ts'), `${base}/whep/cam`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
    let killMs = 0;
    try {
      await untilValue(async () => /MEDIA \d+/.test(out) || child.exitCode !== null, 20_000, 'the werift viewer to receive video');
      assert.match(out, /MEDIA \d+/, `the werift viewer receives video (stderr: ${err})`);
      assert.equal(await viewers(), 1);
      const gone1 = await closedGone();
      child.kill('SIGKILL');
      await exited;
      killMs = await released(gone1, 'killed werift viewer');
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    console.log(`viewer-lifecycle: closed tab released after ${tabMs.toFixed(0)} ms, killed werift viewer after ${killMs.toFixed(0)} ms`);
  } finally {
    await browser?.close();
    code = await server.stop();
  }
  assert.equal(code, 0, `serve exit code; stderr: ${server.stderr().slice(-1500)}`);
});
