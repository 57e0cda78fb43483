/**
 * A camera that freezes, end to end: a GStreamer RTSP camera → `facecast serve` (ingest.stallTimeoutMs 2 s) → the
 * dashboard in headless Chromium. When the camera freezes (SIGSTOP: its TCP connection stays open, nothing
 * comes), the API says `stalled` within the stall timeout of the last frame and the card writes it over the
 * video ("stalled — no frame for N s"), then "reconnecting" during the backoff; `facecast_stream_state` agrees.
 * Loopback only; every wait bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { fillRect, makeClip } from '../../src/ingest/testmedia.ts';
import { RtspTestServer, rtspServerUnavailable } from '../helpers/rtsp-server.ts';
import { startServe } from '../helpers/serve.ts';
import { untilValue } from '../helpers/wait.ts';

const STALL_MS = 2000;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns'];

interface Status { state: string; sinceFrameMs: number; ingestLagMs: number; latencyMs: number; processingMs: number; framesSkipped: number }

test('a frozen camera: the API says stalled on time, the dashboard writes it over the video, then reconnecting', { skip: rtspServerUnavailable(), timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-stall-'));
  const clip = join(dir, 'cam.mp4');
  await makeClip(clip, { width: 320, height: 180, fps: 25, seconds: 2, gop: 25, bframes: 0, frame: (i, rgb) => {
    rgb.fill(90);
    fillRect(rgb, 320, (i * 7) % 280, 60, 40, 40, [220, 40, 40]);
  } });
  const cam = await RtspTestServer.start(clip);
  const config = join(dir, 'facecast.yaml');
  writeFileSync(config, [
    'server: { host: 127.0.0.1, port: 0 }', 'webrtc: { hostAddresses: [127.0.0.1] }', 'demo: { enabled: false }',
    `ingest: { maxLagMs: 500, stallTimeoutMs: ${STALL_MS} }`, 'streams:',
    `  - { id: cam, name: Door, source: "${cam.url}", fps: 10 }`,
    '',
  ].join('\n'));
  const server = await startServe(['--config', config], { FACECAST_MODEL_CACHE: join(dir, 'models') });
  const status = async (): Promise<Status> => ((await (await fetch(`${server.base}/api/streams/cam`, { signal: AbortSignal.timeout(5000) })).json()) as { status: Status }).status;
  let browser: Browser | undefined;
  try {
    const live = await untilValue(async () => {
      const s = await status();
      return s.state === 'streaming' && s.latencyMs > 0 ? s : undefined;
    }, 30_000, 'the camera streaming and analysed');
    assert.ok(live.latencyMs >= live.processingMs, `latency from the camera's time (${live.latencyMs.toFixed(1)} ms) includes processing (${live.processingMs.toFixed(1)} ms)`);
    assert.ok(live.ingestLagMs >= 0 && live.ingestLagMs <= 500, `an idle server keeps up: ingest lag ${live.ingestLagMs.toFixed(1)} ms`);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 20_000 });
    const page = await browser.newPage({ viewport: { width: 900, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.base, { timeout: 10_000 });
    const card = page.locator('article.card[data-stream="cam"]');
    await card.locator('.state').filter({ hasText: /streaming .*lag \d+ ms · latency \d+ ms/ }).waitFor({ timeout: 15_000 });
    assert.equal(await card.locator('.media-state').isVisible(), false, 'no notice over live video');

    cam.freeze();
    const frozenAt = performance.now();
    // The API: stalled once the stall timeout has passed since the last frame (the server computes it when asked).
    const stalled = await untilValue(async () => {
      const s = await status();
      return s.state !== 'streaming' ? s : undefined;
    }, 15_000, 'the stream to leave streaming');
    const leftAfter = performance.now() - frozenAt;
    assert.equal(stalled.state, 'stalled', `stalled first, not ${stalled.state}`);
    assert.ok(stalled.sinceFrameMs >= STALL_MS, `no frame for ${stalled.sinceFrameMs.toFixed(0)} ms`);
    // Data buffered before the freeze may still arrive for up to maxLagMs; polling adds up to 100 ms per request.
    assert.ok(leftAfter <= STALL_MS + 500 + 1000, `left streaming ${leftAfter.toFixed(0)} ms after the freeze`);

    const notice = card.locator('.media-state');
    await notice.filter({ hasText: /^(stalled|reconnecting) — no frame for \d+ s$/ }).waitFor({ timeout: 5000 });
    await notice.filter({ hasText: /^reconnecting — no frame for \d+ s$/ }).waitFor({ timeout: 15_000 });
    const text = (await notice.textContent()) ?? '';
    const n = Number(/for (\d+) s/.exec(text)?.[1]);
    assert.ok(n >= STALL_MS / 1000, `the count says how long: "${text}"`);
    assert.ok(await notice.isVisible(), 'written over the video');
    const box = await notice.boundingBox();
    const media = await card.locator('.media').boundingBox();
    assert.ok(box && media && box.width === media.width && box.height === media.height, 'covers the whole picture');

    const metrics = await (await fetch(`${server.base}/metrics`)).text();
    assert.match(metrics, /facecast_stream_state\{stream="cam",state="(backoff|connecting)"\} 1/);
    assert.match(metrics, /facecast_ingest_lag_seconds\{stream="cam"\} /);
    assert.match(metrics, /facecast_frames_dropped_total\{stream="cam",stage="ingest"\} /);
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await server.stop();
    await cam.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
