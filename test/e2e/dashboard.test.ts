/**
 * The dashboard in headless Chromium against a real server: express under the real security headers (CSP:
 * no eval, so waits use pageFn) serving web/ statically, the REST API over a StreamRegistry, camera groups, and
 * LiveDataHub on one http.Server on 127.0.0.1:0; one stream with zones run by a real StreamRuntime on a looped
 * synthetic face clip, one idle WHIP-like stream. Checks pixels, not only DOM: the charts draw and change, the
 * zone outlines are in the snapshot over the video and on the zone editor's canvas; and that the group list shows
 * every zone and cluster the API reports, the camera group shows, the idle stream has a placeholder (no broken
 * image), a zone drawn in the editor is saved through the API, a camera is renamed and removed from the page, and
 * no console error occurs. Saves a screenshot (FACECAST_SCREENSHOT=path, else the OS temp dir). Browser, hub,
 * registry and server are closed in `finally`; every wait is bounded.
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
import { errorHandler } from '../../src/core/http-errors.ts';
import { StreamRegistry, type StreamHandle } from '../../src/server/registry.ts';
import { securityHeaders } from '../../src/server/http-security.ts';
import { CameraGroups } from '../../src/cluster/groups.ts';
import { groupsApi } from '../../src/cluster/routes.ts';
import { sceneSummary } from '../../src/pipeline/groups/combine.ts';
import type { StreamConfig } from '../../src/server/config.ts';
import { loadSprites, makeSyntheticClip, measureSprites } from '../helpers/synthetic.ts';
import { pageFn } from '../helpers/page-fn.ts';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** What RuntimeHandle does, over a runtime the test can reach (RuntimeHandle keeps its runtime private). */
function handle(rt: StreamRuntime, config: StreamConfig): StreamHandle {
  let zones = config.zones;
  return {
    status() {
      const s = rt.status();
      return { state: s.state === 'closed' ? 'stopped' : s.state, inputFps: s.inputFps, analysedFps: s.analysedFps, outputFps: 0, latencyMs: s.latencyMs, processingMs: s.processingMs, ingestLagMs: s.ingestLagMs, sinceFrameMs: s.sinceFrameMs, viewers: 0, faces: s.faces, framesReceived: s.framesReceived, framesAnalysed: s.framesAnalysed, framesDropped: s.framesDropped, framesSkipped: s.framesSkipped, videoFramesDropped: 0 };
    },
    groups: () => rt.latestRecord?.groups ?? [],
    snapshot: async () => (rt.latestFrame ? annotatedJpeg(rt.latestFrame.image, rt.latestRecord, 80, { zones }) : undefined),
    update: async (next) => {
      zones = next.zones;
    },
    close: () => rt.close(),
  };
}

/** An idle WHIP publish point: no runtime, no frames (what RuntimeHandle reports before anyone publishes). */
function idleHandle(): StreamHandle {
  return {
    status: () => ({ state: 'idle', inputFps: 0, analysedFps: 0, outputFps: 0, latencyMs: 0, processingMs: 0, ingestLagMs: 0, sinceFrameMs: 0, viewers: 0, faces: 0, framesReceived: 0, framesAnalysed: 0, framesDropped: 0, framesSkipped: 0, videoFramesDropped: 0 }),
    groups: () => [],
    snapshot: async () => undefined,
    update: async () => undefined,
    close: async () => undefined,
  };
}

/** Zone outline colour of the overlays (annotate.ts ZONE_RGB, web/zones.js), loosely: JPEG and scaling blur it. */
const CYAN_TEST = `(d, i) => d[i] < 110 && d[i + 1] > 150 && d[i + 2] > 180`;

/** In the page: cyan pixels of an <img> (drawn to a canvas; same origin) or a <canvas>. */
const CYAN_PIXELS = (selector: string): string => `(() => {
  const el = document.querySelector(${JSON.stringify(selector)});
  if (!el) return -1;
  let data;
  if (el instanceof HTMLCanvasElement) data = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
  else {
    if (!el.naturalWidth) return -1;
    const c = document.createElement('canvas');
    c.width = el.naturalWidth;
    c.height = el.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(el, 0, 0);
    data = ctx.getImageData(0, 0, c.width, c.height).data;
  }
  const cyan = ${CYAN_TEST};
  let n = 0;
  for (let i = 0; i < data.length; i += 4) if (cyan(data, i)) n++;
  return n;
})()`;

/**
 * Runs in the page (a string: the test's tsconfig has no DOM lib): per canvas, how many pixels are drawn and a
 * cheap hash of them.
 */
const READ_CANVASES = `[...document.querySelectorAll('.card[data-stream="lobby"] .charts canvas')].map((c) => {
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

test('the dashboard draws live charts, groups and zones, edits zones and cameras, and shows idle streams', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-dash-'));
  const engine = await FaceEngine.create({ detector: { minScore: 0.3 } });
  const clip = join(dir, 'faces.mp4');
  await makeSyntheticClip(clip, await measureSprites(engine, await loadSprites(110), 110));

  let hub: LiveDataHub | undefined;
  const runtimes = new Map<string, StreamRuntime>();
  const registry = new StreamRegistry({
    factory: (config) => {
      if (config.source === 'whip') return idleHandle();
      const rt = new StreamRuntime(engine, clip, { id: config.id, analyzer: { zones: config.zones } });
      runtimes.set(config.id, rt);
      hub?.attachStream(config.id, rt); // the wiring the app will do once RuntimeHandle exposes its runtime
      rt.start();
      return handle(rt, config);
    },
  });
  const cameraGroups = new CameraGroups([{ id: 'hall', name: 'Hall', streams: ['lobby', 'spare'] }], (id) => {
    const r = runtimes.get(id)?.latestRecord;
    return r ? sceneSummary(r) : undefined;
  });
  const app = express();
  app.use(securityHeaders());
  app.use(streamsApi(registry));
  app.use(groupsApi(cameraGroups));
  app.use(express.static(join(import.meta.dirname, '../../web')));
  app.use(errorHandler);
  const server = createServer(app);
  hub = new LiveDataHub(server, { directory: registry });
  const stopGroups = cameraGroups.broadcast((g) => hub?.io.local.emit('cameraGroups', g));
  let browser: Browser | undefined;
  try {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    assert.ok(addr && typeof addr === 'object');
    const base = `http://127.0.0.1:${addr.port}`;
    const left = { id: 'left', name: 'Left', polygon: [[0.02, 0.05], [0.49, 0.05], [0.49, 0.95], [0.02, 0.95]] };
    const right = { id: 'right', name: 'Right', polygon: [[0.51, 0.05], [0.98, 0.05], [0.98, 0.95], [0.51, 0.95]] };
    await registry.add({ id: 'lobby', name: 'Lobby (synthetic)', source: clip, zones: [left, right] } as unknown as Parameters<StreamRegistry['add']>[0]);
    await registry.add({ id: 'spare', name: 'Spare (WHIP)', source: 'whip' } as Parameters<StreamRegistry['add']>[0]);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 20_000 });
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Console errors too (an invalid `pattern` is one); this test server has no WHEP endpoint, so the live
    // video's 404 is expected: the page then shows snapshots.
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.location().url.includes('/whep/')) errors.push(`console: ${m.text()}`);
    });
    await page.goto(base, { timeout: 10_000 });

    const card = page.locator('article.card[data-stream="lobby"]');
    const wait = (expr: string, timeout = 15_000): Promise<unknown> => page.waitForFunction(pageFn(expr), undefined, { timeout });
    await card.waitFor({ timeout: 5_000 });
    const faces = card.locator('.faces');
    const liveCount = (): Promise<unknown> => wait(`/^[1-9]\\d* faces?$/.test(document.querySelector('.card[data-stream="lobby"] .faces')?.textContent ?? '')`);
    // faces arrive over socket.io: the text ("0 faces" in the template) shows the live count (the clip has 3 faces)
    await liveCount();
    // and keeps being updated: overwrite it, and the next frames put the count back
    await faces.evaluate((el) => (el.textContent = 'stale'));
    await liveCount();
    // groups come twice a second; let the time series gather a few points
    await wait(`document.querySelectorAll('.card[data-stream="lobby"] .members li').length > 0 && !/waiting/.test(document.querySelector('.card[data-stream="lobby"] .scene')?.textContent ?? '')`, 10_000);

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

    // Groups: every zone and cluster the API reports has its row, with a drawn emotion chart.
    await wait(`document.querySelectorAll('.card[data-stream="lobby"] .groups .group[data-kind="zone"]').length === 2`);
    const apiGroups = (await (await fetch(`${base}/api/streams/lobby/groups`)).json()) as { groups: { id: string; kind: string }[] };
    const rows = await card.locator('.groups .group').evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { group: string } }).dataset.group));
    for (const g of apiGroups.groups.filter((x) => x.kind !== 'scene' && x.kind !== 'cluster')) assert.ok(rows.includes(g.id), `group ${g.id} listed (rows: ${rows.join(', ')})`);
    assert.ok((await card.locator('.groups .group b').allTextContents()).some((t) => t === 'zone: Left'), 'zone row labelled');
    const zoneBars = await page.evaluate<number>(`(() => { const c = document.querySelector('.card[data-stream="lobby"] .group canvas.g-emotion'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()`);
    assert.ok(zoneBars > 100, `zone emotion chart drawn (${zoneBars} px)`);
    // The camera group over both streams, with one of its two cameras live.
    await wait(`/Hall/.test(document.querySelector('#camera-groups')?.textContent ?? '') && !document.querySelector('#camera-groups').hidden`);
    assert.match((await page.locator('#camera-groups .group').first().textContent()) ?? '', /1\/2 cameras live/);

    // Zones over the video (server overlay: outlined in the snapshot), in pixels.
    await wait(`${CYAN_PIXELS('.card[data-stream="lobby"] img.snapshot')} > 300`);

    // Zones over clean video (client overlay, web/overlay.js): outlined on its canvas, in pixels. This test server
    // has no WHEP, so the overlay is driven here with the stream's zones and one analysed frame.
    const clientCyan = await page.evaluate<number>(`(async () => {
      const { ClientOverlay } = await import('/overlay.js');
      const video = document.createElement('video');
      const canvas = document.createElement('canvas');
      canvas.style.width = '320px';
      canvas.style.height = '180px';
      document.body.append(video, canvas);
      const o = new ClientOverlay(video, canvas);
      o.setZones(facecast.cards.get('lobby').config.zones);
      o.draw({ frame: 0, time: 0, width: 640, height: 360, faces: [] });
      o.stop();
      const cyan = ${CYAN_TEST};
      const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (cyan(d, i)) n++;
      canvas.remove();
      video.remove();
      return n;
    })()`);
    assert.ok(clientCyan > 300, `client overlay outlines the zones (${clientCyan} cyan px)`);

    // The idle WHIP stream: a placeholder that says why, no broken image, no stale figures.
    const spare = page.locator('article.card[data-stream="spare"]');
    await wait(`/waiting for a publisher/.test(document.querySelector('.card[data-stream="spare"] .media-idle')?.textContent ?? '')`);
    assert.equal(await spare.locator('img.snapshot').isHidden(), true);
    assert.match((await spare.locator('.faces').textContent()) ?? '', /no live data/);

    // The zone editor: the snapshot with the zones on its canvas; a new zone drawn by clicks is saved (PATCH).
    await card.locator('[data-act="zones"]').click();
    await wait(`${CYAN_PIXELS('.card[data-stream="lobby"] .zone-editor canvas')} > 300`);
    await card.locator('input[name="zone-id"]').fill('door');
    await card.locator('input[name="zone-name"]').fill('Door');
    const zc = card.locator('.zone-editor canvas');
    const box = await zc.boundingBox();
    assert.ok(box);
    for (const [fx, fy] of [[0.3, 0.3], [0.7, 0.3], [0.5, 0.7]]) await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
    await card.locator('[data-act="close"]').click();
    await card.locator('[data-act="save"]').click();
    await wait(`/saved 3 zone/.test(document.querySelector('.card[data-stream="lobby"] .zone-result')?.textContent ?? '')`);
    const saved = (await (await fetch(`${base}/api/streams/lobby`)).json()) as { config: { zones: { id: string; name: string; polygon: number[][] }[] } };
    const door = saved.config.zones.find((z) => z.id === 'door');
    assert.ok(door && door.name === 'Door' && door.polygon.length === 3, `zone saved: ${JSON.stringify(saved.config.zones)}`);
    // An invalid zone is refused where the user acted, with the reason.
    for (const [fx, fy] of [[0.1, 0.1], [0.2, 0.2]]) await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
    await card.locator('input[name="zone-id"]').fill('line');
    await card.locator('[data-act="close"]').click();
    assert.match((await card.locator('.zone-result').textContent()) ?? '', /at least 3 points/);
    assert.match((await card.locator('.zone-result').getAttribute('class')) ?? '', /error/);
    await card.locator('[data-act="cancel"]').click();

    // Edit a camera: the name, through PATCH.
    await card.locator('[data-act="edit"]').click();
    await card.locator('form.edit input[name="name"]').fill('Lobby renamed');
    await card.locator('form.edit button:not([type])').click();
    await wait(`document.querySelector('.card[data-stream="lobby"] .name')?.textContent === 'Lobby renamed'`);
    assert.equal(((await (await fetch(`${base}/api/streams/lobby`)).json()) as { name: string }).name, 'Lobby renamed');

    // Remove a camera: a second click confirms; the card goes and the API forgets the stream.
    await spare.locator('[data-act="remove"]').click();
    assert.match((await spare.locator('[data-act="remove"]').textContent()) ?? '', /click again/);
    await spare.locator('[data-act="remove"]').click();
    await wait(`!document.querySelector('.card[data-stream="spare"]')`);
    assert.equal((await fetch(`${base}/api/streams/spare`)).status, 404);

    assert.deepEqual(errors, [], 'no page or console errors');
    // The add form's error is shown by the form, in the error style (Chromium logs the refused request itself).
    await page.locator('#add input[name="id"]').fill('lobby');
    await page.locator('#add input[name="source"]').fill(clip);
    await page.locator('#add button').click();
    await wait(`/already exists/.test(document.getElementById('add-result')?.textContent ?? '')`, 5_000);
    assert.equal(await page.locator('#add-result').getAttribute('class'), 'error');
    assert.deepEqual(errors.filter((e) => !/status of 409/.test(e)), [], 'no other errors');
    mkdirSync('docs', { recursive: true });
    // Tests must not modify the checkout: the screenshot goes to a temp file unless a path is asked for.
    await page.screenshot({ path: process.env.FACECAST_SCREENSHOT ?? join(tmpdir(), 'facecast-dashboard.png'), fullPage: true, timeout: 10_000 });
  } finally {
    stopGroups();
    await browser?.close();
    await hub.close();
    await registry.close();
    await new Promise<void>((r) => server.close(() => r()));
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
