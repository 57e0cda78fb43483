/**
 * The product path end to end, with real components only: a GStreamer RTSP server plays a clip of real face
 * crops → `facecast serve` (a config file naming the camera) → headless Chromium opens the dashboard, which plays
 * the annotated stream over WHEP, while a socket.io client receives the stream's faces and groups.
 * Loopback only (the server offers 127.0.0.1 host candidates; no ICE servers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';
import { io } from 'socket.io-client';
import { FaceEngine } from '../../src/inference/engine.ts';
import { RtspTestServer, rtspServerUnavailable } from '../helpers/rtsp-server.ts';
import { loadSprites, makeSyntheticClip, measureSprites } from '../helpers/synthetic.ts';
import { startServe } from '../helpers/serve.ts';
import { pageFn } from '../helpers/page-fn.ts';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'];

test('RTSP camera → facecast serve → annotated WebRTC video in Chromium and faces over socket.io', async () => {
  const missing = rtspServerUnavailable();
  assert.equal(missing, undefined, `the RTSP test server needs Debian's GStreamer packages (.ci/run installs them): ${missing}`);
  const dir = mkdtempSync(join(tmpdir(), 'fc-e2e-'));
  const clip = join(dir, 'faces.mp4');
  {
    await using engine = await FaceEngine.create();
    await makeSyntheticClip(clip, await measureSprites(engine, await loadSprites(110), 110));
  }
  await using rtsp = await RtspTestServer.start(clip);
  const config = join(dir, 'facecast.yaml');
  writeFileSync(config, `server: { host: 127.0.0.1, port: 0 }\nwebrtc: { hostAddresses: [127.0.0.1] }\ndemo: { enabled: false }\nstreams:\n  - id: cam\n    name: Test camera\n    source: ${rtsp.url}\n`);

  const server = await startServe(['--config', config], { FACECAST_MODEL_CACHE: join(dir, 'models') });
  const { base } = server;
  const stderr = server.stderr;
  let browser: Browser | undefined;
  let code: Awaited<ReturnType<typeof server.stop>> | undefined;
  try {
    // socket.io: faces of the camera arrive with sane values
    const live = io(base, { transports: ['websocket'], reconnection: false });
    const faces: { faces: { box: { x: number; y: number; w: number; h: number }; emotion: { probs: number[] } | null }[]; width: number; height: number }[] = [];
    live.on('faces', (_id: string, f: (typeof faces)[number]) => faces.push(f));
    await new Promise<void>((resolve, reject) => {
      live.on('connect', () => live.emit('subscribe', 'cam', (r: { ok: boolean }) => (r.ok ? resolve() : reject(new Error(JSON.stringify(r))))));
      live.on('connect_error', reject);
    });
    for (let i = 0; i < 200 && !faces.some((f) => f.faces.length >= 3 && f.faces.every((x) => x.emotion)); i++) await sleep(100);
    live.close();
    const withFaces = faces.filter((f) => f.faces.length >= 3 && f.faces.every((x) => x.emotion));
    assert.ok(withFaces.length > 0, `no frame with 3 classified faces among ${faces.length}; stderr: ${stderr().slice(-1500)}`);
    for (const f of withFaces) {
      assert.deepEqual([f.width, f.height], [640, 360]);
      for (const x of f.faces) {
        assert.ok(x.box.x > -5 && x.box.y > -5 && x.box.x + x.box.w < 645 && x.box.y + x.box.h < 365);
        assert.ok(Math.abs(x.emotion!.probs.reduce((a, b) => a + b, 0) - 1) < 0.01);
      }
    }

    // Chromium: the dashboard plays the camera over WHEP; its pixels change
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base);
    await page.waitForFunction(pageFn('(() => { const v = document.querySelector("video.live"); return !!v && !v.hidden && v.videoWidth > 0; })()'), null, { timeout: 20_000 });
    const hash = (): Promise<string> =>
      page.evaluate(`(() => {
        const v = document.querySelector('video.live');
        const c = document.createElement('canvas');
        c.width = v.videoWidth; c.height = v.videoHeight;
        const g = c.getContext('2d');
        g.drawImage(v, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data;
        let h = 0;
        for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]) >>> 0;
        return c.width + 'x' + c.height + ':' + h;
      })()`) as Promise<string>;
    const a = await hash();
    await sleep(700);
    const b = await hash();
    assert.match(a, /^640x360:/);
    assert.notEqual(a, b, 'the video is moving');
    const status = (await (await fetch(`${base}/api/streams/cam`)).json()) as { status: { state: string; viewers: number; faces: number } };
    assert.equal(status.status.state, 'streaming');
    assert.equal(status.status.viewers, 1);

    // The overlay toggle: clean video (the camera's H.264 passed through) with the boxes drawn by the page,
    // each displayed frame paired with its own analysis through the RTP timestamp.
    await page.check('input[type=radio][value=client]');
    await page.waitForFunction(pageFn(`(() => {
      const c = globalThis.facecast.cards.get('cam');
      return c.mode === 'client' && c.overlay && !c.overlay.canvas.hidden && c.overlay.drawn && c.overlay.drawn.faces.length >= 3 && c.overlay.paired > 5;
    })()`), null, { timeout: 20_000 });
    const drawn = await page.evaluate(`(() => {
      const o = globalThis.facecast.cards.get('cam').overlay;
      const f = o.drawn;
      const c = o.canvas;
      const s = Math.min(c.width / f.width, c.height / f.height);
      const ox = (c.width - f.width * s) / 2, oy = (c.height - f.height * s) / 2;
      const g = c.getContext('2d');
      // Alpha on each face's box edge (left edge, mid-height) and in its middle (must stay see-through).
      const edges = f.faces.map((x) => g.getImageData(Math.round(ox + x.box.x * s), Math.round(oy + (x.box.y + x.box.h / 2) * s), 1, 1).data[3]);
      const inside = f.faces.map((x) => g.getImageData(Math.round(ox + (x.box.x + x.box.w / 2) * s), Math.round(oy + (x.box.y + x.box.h / 2) * s), 1, 1).data[3]);
      return { edges, inside, paired: o.paired, unpaired: o.unpaired };
    })()`) as { edges: number[]; inside: number[]; paired: number; unpaired: number };
    assert.ok(drawn.edges.every((a) => a > 0), `a box is drawn around every face: ${JSON.stringify(drawn)}`);
    assert.ok(drawn.inside.every((a) => a === 0), `faces are not covered: ${JSON.stringify(drawn)}`);
    assert.ok(drawn.paired > drawn.unpaired, `displayed frames paired with their analysis: ${JSON.stringify(drawn)}`);
    const cam = (await (await fetch(`${base}/api/streams/cam`)).json()) as { status: { viewers: number; outputFps: number } };
    assert.equal(cam.status.viewers, 1, 'the server-overlay session was ended by the switch');
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    code = await server.stop();
  }
  // After the finally, not in it: a failed assertion in finally would replace the test's real failure.
  assert.equal(code, 0, `serve exit code; stderr: ${stderr().slice(-1500)}`);
});
