/**
 * The dashboard in headless Chromium against a real server: express (web/ statically + the REST API over a
 * StreamRegistry) and LiveDataHub on one http.Server on 127.0.0.1:0, one stream run by a real StreamRuntime on
 * a looped synthetic face clip. Checks that the charts draw (canvas pixels not blank, and changing) and that the
 * face count text updates from socket.io; saves a screenshot (FACECAST_SCREENSHOT=path, else the OS temp dir). Browser, hub, registry and server are
 * closed in `finally`; every wait is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { chromium, type Browser } from 'playwright-core';
import { LiveDataHub } from '../../src/broadcast/live-data.ts';
import { annotatedJpeg } from '../../src/broadcast/snapshot.ts';
import { FaceEngine } from '../../src/inference/engine.ts';
import { StreamRuntime } from '../../src/pipeline/stream.ts';
import { streamsApi } from '../../src/server/api.ts';
import { errorHandler } from '../../src/server/http-errors.ts';
import { StreamRegistry, type StreamHandle } from '../../src/server/registry.ts';
import { loadSprites, makeSyntheticClip, measureSprites } from '../helpers/synthetic.ts';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** What RuntimeHandle does, over a runtime the test can reach (RuntimeHandle keeps its runtime private). */
function handle(rt: StreamRuntime): StreamHandle {
  return {
    status() {
      const s = rt.status();
      return { state: s.state === 'closed' ? 'stopped' : s.state, inputFps: s.inputFps, analysedFps: s.analysedFps, outputFps: 0, latencyMs: s.latencyMs, viewers: 0, faces: s.faces, framesReceived: s.framesReceived, framesDropped: s.framesDropped, videoFramesDropped: 0 };
    },
    groups: () => rt.latestRecord?.groups ?? [],
    snapshot: async () => (rt.latestFrame ? annotatedJpeg(rt.latestFrame.image, rt.latestRecord) : undefined),
    update: async () => undefined,
    close: () => rt.close(),
  };
}

/**
 * Runs in the page (a string: the test's tsconfig has no DOM lib): per canvas, how many pixels are drawn and a
 * cheap hash of them.
 */
const READ_CANVASES = `[...document.querySelectorAll('.card .charts canvas')].map((c) => {
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  let hash = 0;
  for (let i = 3; i < data.length; i += 4) {
    if (data[i] > 0) painted++;
    hash = (hash * 31 + data[i - 3] + data[i - 2] * 7 + data[i - 1] * 13 + data[i]) | 0;
  }
  return { name: c.className, painted, hash };
})`;

/** Per canvas (by class): how many pixels are drawn, and a cheap hash of the pixels. */
interface CanvasInfo {
  name: string;
  painted: number;
  hash: number;
}

test('the dashboard draws live charts and updates the face count from socket.io', { timeout: 55_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-dash-'));
  const engine = await FaceEngine.create({ detector: { minScore: 0.3 } });
  const clip = join(dir, 'faces.mp4');
  await makeSyntheticClip(clip, await measureSprites(engine, await loadSprites(110), 110));

  let hub: LiveDataHub | undefined;
  const registry = new StreamRegistry({
    factory: (config) => {
      const rt = new StreamRuntime(engine, clip, { id: config.id });
      hub?.attachStream(config.id, rt); // the wiring the app will do once RuntimeHandle exposes its runtime
      rt.start();
      return handle(rt);
    },
  });
  const app = express();
  app.use(streamsApi(registry));
  app.use(express.static(join(import.meta.dirname, '../../web')));
  app.use(errorHandler);
  const server = createServer(app);
  hub = new LiveDataHub(server, { directory: registry });
  let browser: Browser | undefined;
  try {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    assert.ok(addr && typeof addr === 'object');
    const base = `http://127.0.0.1:${addr.port}`;
    await registry.add({ id: 'lobby', name: 'Lobby (synthetic)', source: clip } as Parameters<StreamRegistry['add']>[0]);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 20_000 });
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base, { timeout: 10_000 });

    const card = page.locator('article.card[data-stream="lobby"]');
    await card.waitFor({ timeout: 5_000 });
    const faces = card.locator('.faces');
    const liveCount = (): Promise<unknown> =>
      page.waitForFunction(`/^[1-9]\\d* faces?$/.test(document.querySelector('.card .faces')?.textContent ?? '')`, undefined, { timeout: 15_000 });
    // faces arrive over socket.io: the text ("0 faces" in the template) shows the live count (the clip has 3 faces)
    await liveCount();
    // and keeps being updated: overwrite it, and the next frames put the count back
    await faces.evaluate((el) => (el.textContent = 'stale'));
    await liveCount();
    // groups come twice a second; let the time series gather a few points
    await page.waitForFunction(`document.querySelectorAll('.card .members li').length > 0 && !/waiting/.test(document.querySelector('.card .scene')?.textContent ?? '')`, undefined, { timeout: 10_000 });

    const read = (): Promise<CanvasInfo[]> => page.evaluate<CanvasInfo[]>(READ_CANVASES);
    const first = await read();
    assert.deepEqual(first.map((c) => c.name), ['c-emotion', 'c-va', 'c-demo', 'c-cohesion', 'c-count']);
    for (const c of first) assert.ok(c.painted > 100, `${c.name} is drawn (${c.painted} painted pixels)`);
    await page.waitForTimeout(2_000);
    const later = await read();
    // the cohesion/face-count lines gain points every groups tick, so their pixels change
    const changed = later.filter((c, i) => c.hash !== first[i].hash).map((c) => c.name);
    assert.ok(changed.includes('c-cohesion') || changed.includes('c-count'), `time series redraw: changed ${changed.join(', ')}`);

    const count = await faces.textContent();
    assert.match(count ?? '', /^[1-9]\d* faces?$/);
    assert.match((await card.locator('.state').textContent()) ?? '', /streaming/);
    assert.deepEqual(errors, [], 'no page errors');
    mkdirSync('docs', { recursive: true });
    // Tests must not modify the checkout: the screenshot goes to a temp file unless a path is asked for.
    await page.screenshot({ path: process.env.FACECAST_SCREENSHOT ?? join(tmpdir(), 'facecast-dashboard.png'), fullPage: true, timeout: 10_000 });
  } finally {
    await browser?.close();
    await hub.close();
    await registry.close();
    await new Promise<void>((r) => server.close(() => r()));
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
