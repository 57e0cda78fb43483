/**
 * WebRTC ingest end to end, real components only: headless Chromium with a fake camera (a y4m made here from an
 * npm-shipped group photo) goes live on /publish.html over WHIP → `facecast serve` decodes and analyses it like a
 * camera → a second page plays the annotated stream over WHEP and a socket.io client receives the faces. Then
 * the publisher leaves (the stream goes idle, the viewer stays) and comes back (the viewer sees it resume).
 * Bad offers get a clear 4xx and the server carries on. Loopback only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { io } from 'socket.io-client';
import { makeY4m } from '../helpers/y4m.ts';
import { startServe } from '../helpers/serve.ts';
import { pageFn } from '../helpers/page-fn.ts';
import { untilValue } from '../helpers/wait.ts';

const TOKEN = 'test-publish-token-0123456789';
const BASE_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'];

const OFFER_HEAD = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

test('WHIP: a Chromium webcam goes live, viewers get annotated video and faces; leaving and coming back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-whip-'));
  const y4m = join(dir, 'camera.y4m');
  await makeY4m(y4m, { width: 1280, height: 720, fps: 25, frames: 25 });
  const config = join(dir, 'facecast.yaml');
  writeFileSync(config, `server: { host: 127.0.0.1, port: 0 }\nwebrtc: { hostAddresses: [127.0.0.1] }\ndemo: { enabled: false }\nwhip: { tokens: [${TOKEN}] }\nstreams:\n  - { id: desk, name: Desk webcam, source: whip }\n`);
  const server = await startServe(['--config', config], { FACECAST_MODEL_CACHE: join(dir, 'models'), FACECAST_LOG: process.env.FACECAST_LOG ?? 'warn' });
  const { base } = server;
  let publisher: Browser | undefined;
  let viewer: Browser | undefined;
  let exit: Awaited<ReturnType<typeof server.stop>> | undefined;
  try {
    const status = async () => ((await (await fetch(`${base}/api/streams/desk`)).json()) as { status: { state: string; viewers: number; inputFps: number } }).status;
    assert.equal((await status()).state, 'idle', 'a WHIP stream is idle until someone publishes');

    // Bad offers: each a clear 4xx with a code, nothing else affected.
    const post = (body: string, headers: Record<string, string> = {}) => fetch(`${base}/whip/desk`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${TOKEN}`, ...headers }, body, signal: AbortSignal.timeout(5000) });
    const code = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;
    let r = await post(`${OFFER_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n`, { Authorization: 'Bearer wrong' });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    assert.equal(await code(r), 'E_UNAUTHORIZED');
    r = await fetch(`${base}/whip/desk`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n' });
    assert.equal(r.status, 401, 'no token');
    r = await post('this is not sdp');
    assert.equal(r.status, 400);
    assert.equal(await code(r), 'E_VALIDATION');
    r = await post(`${OFFER_HEAD}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n`);
    assert.equal(r.status, 400, 'no video');
    r = await post(`${OFFER_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 VP9/90000\r\n`);
    assert.equal(r.status, 400, 'VP9 only');
    assert.equal(await code(r), 'E_UNSUPPORTED_CODEC');
    r = await post(`${OFFER_HEAD}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n`, { 'Content-Type': 'text/plain' });
    assert.equal(r.status, 415);
    r = await post('v=0\r\n' + 'a=x\r\n'.repeat(20000));
    assert.equal(r.status, 413, 'oversized body');
    r = await fetch(`${base}/whip/desk/nosuch`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 404);
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'the server carries on');
    assert.equal((await status()).state, 'idle');

    // The publisher: Chromium's fake camera plays the y4m; /publish.html goes live with it.
    publisher = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...BASE_ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`] });
    const pub = await publisher.newPage();
    const pubErrors: string[] = [];
    pub.on('pageerror', (e) => pubErrors.push(e.message));
    await pub.goto(`${base}/publish.html`);
    await pub.fill('input[name=stream]', 'desk');
    await pub.fill('input[name=token]', TOKEN);
    const t0 = performance.now();
    await pub.click('#start');
    await pub.waitForFunction(pageFn('globalThis.facecastLive.publishing && globalThis.facecastLive.playing'), null, { timeout: 30_000 }).catch(async (e: unknown) => {
      const page = await pub.evaluate(`({ result: document.getElementById('result').textContent, live: globalThis.facecastLive })`);
      throw new Error(`the publish page did not go live: ${JSON.stringify(page)}; status ${JSON.stringify(await status())}; stderr: ${server.stderr().slice(-2000)}`, { cause: e });
    });
    const liveMs = performance.now() - t0;

    // socket.io: faces of the published stream
    const sock = io(base, { transports: ['websocket'], reconnection: false });
    const frames: { width: number; height: number; faces: { emotion: unknown }[] }[] = [];
    sock.on('faces', (id: string, f: (typeof frames)[number]) => {
      if (id === 'desk') frames.push(f);
    });
    await new Promise<void>((resolve, reject) => {
      sock.on('connect', () => sock.emit('subscribe', 'desk', (a: { ok: boolean }) => (a.ok ? resolve() : reject(new Error(JSON.stringify(a))))));
      sock.on('connect_error', reject);
    });
    await untilValue(async () => frames.some((f) => f.faces.length >= 2 && f.faces.every((x) => x.emotion)), 30_000, 'classified faces from the published camera');
    const f = frames.at(-1)!;
    // Asked for 720p bitrate in the answer: Chromium sends the camera's 1280×720, not its 640×360 fallback.
    assert.ok(f.width >= 960, `published at ${f.width}×${f.height}`);

    // A second page (another browser) plays the annotated stream over WHEP.
    viewer = await chromium.launch({ executablePath: '/usr/bin/chromium', args: BASE_ARGS });
    const view = await viewer.newPage();
    await view.goto(`${base}/`);
    await view.evaluate(`(async () => {
      const { playWhep } = await import('/whep.js');
      const v = document.createElement('video');
      v.id = 'probe'; v.muted = true; v.autoplay = true; document.body.append(v);
      window.probe = await playWhep(v, '/whep/desk?overlay=server');
    })()`);
    const playing = (): Promise<boolean> => view.evaluate(`document.getElementById('probe').videoWidth > 0`) as Promise<boolean>;
    await untilValue(playing, 20_000, 'the viewer to play');
    const frameHash = (): Promise<number> =>
      view.evaluate(`(() => {
        const v = document.getElementById('probe');
        const c = document.createElement('canvas'); c.width = 160; c.height = 90;
        const g = c.getContext('2d'); g.drawImage(v, 0, 0, 160, 90);
        const d = g.getImageData(0, 0, 160, 90).data; let h = 0;
        for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) >>> 0;
        return h;
      })()`) as Promise<number>;
    // Moving: a later frame differs (polled, bounded; a loaded machine may hold a frame for a while).
    const h1 = await frameHash();
    await untilValue(async () => (await frameHash()) !== h1, 15_000, "the viewer's video to move");
    const s1 = await status();
    assert.equal(s1.state, 'streaming');
    assert.ok(s1.viewers >= 2, `the publish page and the probe watch (${s1.viewers})`);

    // The publisher leaves: the stream goes idle, the viewers stay attached.
    await pub.click('#stop');
    await untilValue(async () => (await status()).state === 'idle', 10_000, 'the stream to go idle');
    assert.ok((await status()).viewers >= 1, 'viewers stay attached while nobody publishes');
    // … and comes back: the viewer's video resumes.
    await pub.click('#start');
    await untilValue(async () => (await status()).state === 'streaming', 20_000, 'the stream to stream again');
    const h2 = await frameHash();
    await untilValue(async () => (await frameHash()) !== h2, 20_000, 'the viewer\'s video to resume');
    sock.close();
    assert.deepEqual(pubErrors, []);
    console.log(`whip: live (publish + first annotated frame) in ${liveMs.toFixed(0)} ms, published ${f.width}×${f.height}, ${frames.length} face frames`);
  } finally {
    await publisher?.close();
    await viewer?.close();
    exit = await server.stop();
  }
  // After the finally, not in it: a failed assertion in finally would replace the test's real failure.
  assert.equal(exit, 0, `serve exit code; stderr: ${server.stderr().slice(-2000)}`);
});
