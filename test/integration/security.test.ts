/**
 * Security of `facecast serve`, end to end: real server processes on 127.0.0.1, real HTTP (fetch), a real
 * socket.io client. Two servers run side by side on the same still clip of real faces:
 *  - "locked": API and viewer tokens, a CORS origin, default source policy (no loopback, no files);
 *  - "open": no tokens, loopback and files allowed, a tight rate limit, faces blurred, debug logs (so that a
 *    credential in any log line would show).
 * Plus the refusal to start beyond loopback without a token, and the explicit override.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import { makeClip } from '../../src/ingest/testmedia.ts';
import type { FrameSummary } from '../../src/broadcast/protocol.ts';
import { samplePhoto } from '../helpers/photos.ts';
import { serveExit, startServe, type ServeProcess } from '../helpers/serve.ts';

const API = 'api-token-5f2b9c0e7d1a4b3c';
const VIEWER = 'viewer-token-9a8b7c6d5e4f3a2b';
const SECRET = 'Pa55w0rdXyzzy';
const W = 640;
const H = 360;

let dir = '';
let clip = '';
let locked: ServeProcess;
let open: ServeProcess;

/** fetch bounded to 10 s. */
function req(url: string, init: RequestInit & { token?: string; json?: unknown } = {}): Promise<Response> {
  const { token, json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (json !== undefined) headers.set('content-type', 'application/json');
  return fetch(url, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body, signal: AbortSignal.timeout(10_000) });
}

async function code(res: Response): Promise<string> {
  const text = await res.text();
  return (JSON.parse(text) as { error: { code: string } }).error.code;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fc-security-'));
  // A still clip of real faces (every frame the same), so both servers analyse the same picture.
  const photo = await sharp(samplePhoto(6)).resize(Math.round(W * 1.35)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const oy = Math.round((photo.info.height - H) * 0.35);
  clip = join(dir, 'still.mp4');
  await makeClip(clip, {
    width: W, height: H, fps: 10, seconds: 2, gop: 10, bframes: 0, crf: 18,
    frame: (_i, rgb) => {
      for (let y = 0; y < H; y++) rgb.set(photo.data.subarray(((y + oy) * photo.info.width) * 3, ((y + oy) * photo.info.width + W) * 3), y * W * 3);
    },
  });
  const stream = `streams:\n  - { id: cam, source: ${JSON.stringify(clip)} }\n`;
  writeFileSync(join(dir, 'locked.yaml'), `server: { port: 0 }\ndemo: { enabled: false }\n${stream}security:\n  apiTokens: [${API}]\n  viewerTokens: [${VIEWER}]\n  cors: { origins: ['https://allowed.example'] }\n  rateLimit: { burst: 1000, perMinute: 1000 }\n`);
  writeFileSync(join(dir, 'open.yaml'), `server: { port: 0 }\ndemo: { enabled: false }\n${stream}security:\n  rateLimit: { burst: 8, perMinute: 1 }\n  sources: { allowLoopback: true, allowFiles: true }\nprivacy: { blurFaces: true }\n`);
  [locked, open] = await Promise.all([startServe(['--config', join(dir, 'locked.yaml')]), startServe(['--config', join(dir, 'open.yaml')], { FACECAST_LOG: 'debug' })]);
});

after(async () => {
  const codes = await Promise.all([locked?.stop(), open?.stop()]);
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(codes, [0, 0]);
});

test('security headers on every response (page, API, errors); no X-Powered-By', async () => {
  for (const res of [await req(`${locked.base}/`), await req(`${locked.base}/api/streams`, { token: VIEWER }), await req(`${locked.base}/api/streams`), await req(`${locked.base}/nothing`)]) {
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'; script-src 'self'; style-src 'self'.*frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
    assert.equal(res.headers.get('x-powered-by'), null);
    await res.arrayBuffer();
  }
});

test('control API: 401 without or with a wrong token, 403 with a viewer token, 2xx with an API token', async () => {
  const body = { id: 'pub', source: 'whip' };
  const none = await req(`${locked.base}/api/streams`, { method: 'POST', json: body });
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer');
  assert.equal(await code(none), 'E_UNAUTHORIZED');
  const wrong = await req(`${locked.base}/api/streams`, { method: 'POST', json: body, token: 'not-the-token-0000000' });
  assert.equal(wrong.status, 401);
  await wrong.arrayBuffer();
  const viewer = await req(`${locked.base}/api/streams`, { method: 'POST', json: body, token: VIEWER });
  assert.equal(viewer.status, 403);
  assert.equal(await code(viewer), 'E_FORBIDDEN');
  const ok = await req(`${locked.base}/api/streams`, { method: 'POST', json: body, token: API });
  assert.equal(ok.status, 201, await ok.clone().text());
  await ok.arrayBuffer();
  assert.equal((await req(`${locked.base}/api/streams/pub`, { method: 'PATCH', json: { name: 'x' } })).status, 401);
  assert.equal((await req(`${locked.base}/api/streams/pub`, { method: 'DELETE', token: VIEWER })).status, 403);
  assert.equal((await req(`${locked.base}/api/streams/pub`, { method: 'DELETE', token: API })).status, 204);
  // WHIP publishing: API tokens close it too (a publisher to an unknown id would create a stream).
  const whip = await req(`${locked.base}/whip/anything`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
  assert.equal(whip.status, 401);
  await whip.arrayBuffer();
});

test('viewer endpoints: list, stream, groups, snapshot and WHEP need a viewer (or API) token', async () => {
  // Every /api path, whichever router answers it (camera groups, cluster, unknown paths): issue 14 found
  // /api/groups open.
  for (const path of ['/api/streams', '/api/streams/cam', '/api/streams/cam/groups', '/api/streams/cam/snapshot.jpg', '/api/groups', '/api/groups/none', '/api/cluster', '/api/anything']) {
    const none = await req(locked.base + path);
    assert.equal(none.status, 401, path);
    assert.equal(await code(none), 'E_UNAUTHORIZED');
    const wrong = await req(locked.base + path, { token: 'wrong-token-000000000000' });
    assert.equal(wrong.status, 401, path);
    await wrong.arrayBuffer();
  }
  assert.equal((await req(`${locked.base}/api/streams`, { token: VIEWER })).status, 200);
  assert.equal((await req(`${locked.base}/api/streams/cam/groups`, { token: API })).status, 200);
  let snap: Response | undefined;
  for (let i = 0; i < 150; i++) {
    snap = await req(`${locked.base}/api/streams/cam/snapshot.jpg`, { token: VIEWER });
    if (snap.status === 200) break;
    await snap.arrayBuffer();
    await sleep(100);
  }
  assert.equal(snap?.status, 200);
  assert.equal(snap?.headers.get('content-type'), 'image/jpeg');
  await snap?.arrayBuffer();
  // WHEP: refused before the offer is even read; with a token the (bogus) offer is what fails.
  const sdp = { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\nnot an offer\r\n' };
  const whep = await req(`${locked.base}/whep/cam`, sdp);
  assert.equal(whep.status, 401);
  assert.equal(await code(whep), 'E_UNAUTHORIZED');
  const whepOk = await req(`${locked.base}/whep/cam`, { ...sdp, token: VIEWER });
  assert.equal(whepOk.status, 400);
  assert.equal(await code(whepOk), 'E_VALIDATION');
  assert.equal((await req(`${locked.base}/whep/cam/some-session`, { method: 'DELETE' })).status, 401);
});

/** Connects a socket.io client; resolves with the socket or the connect_error message. Bounded (10 s). */
async function connect(base: string, opts: Parameters<typeof io>[1] = {}): Promise<{ socket: Socket; error?: string }> {
  const socket = io(base, { reconnection: false, timeout: 5000, ...opts });
  const error = await Promise.race([
    new Promise<undefined>((r) => socket.once('connect', () => r(undefined))),
    new Promise<string>((r) => socket.once('connect_error', (e: Error) => r(e.message))),
    sleep(10_000).then(() => 'timeout'),
  ]);
  return { socket, error };
}

let boxes: FrameSummary['faces'] = [];

test('socket.io: the handshake needs a viewer token; other origins are refused; with a token data flows', async () => {
  for (const auth of [undefined, { token: 'wrong-token-000000000000' }]) {
    const { socket, error } = await connect(locked.base, auth ? { auth } : {});
    assert.equal(error, 'unauthorized');
    socket.close();
  }
  const evil = await connect(locked.base, { auth: { token: VIEWER }, extraHeaders: { origin: 'https://evil.example' } });
  assert.ok(evil.error, 'a foreign Origin is refused');
  evil.socket.close();
  const { socket, error } = await connect(locked.base, { auth: { token: VIEWER } });
  try {
    assert.equal(error, undefined);
    const faces = new Promise<FrameSummary>((resolve) => socket.on('faces', (id: string, f: FrameSummary) => id === 'cam' && f.faces.length > 0 && resolve(f)));
    const ack = await socket.timeout(5000).emitWithAck('subscribe', 'cam');
    assert.deepEqual(ack, { ok: true });
    const f = await Promise.race([faces, sleep(20_000).then(() => undefined)]);
    assert.ok(f, 'faces arrive');
    boxes = f.faces;
  } finally {
    socket.close();
  }
});

test('CORS: a configured origin gets its preflight and headers, another origin gets neither', async () => {
  const pre = (origin: string) => req(`${locked.base}/api/streams`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
  const ok = await pre('https://allowed.example');
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://allowed.example');
  assert.match(ok.headers.get('access-control-allow-headers') ?? '', /Authorization/);
  const bad = await pre('https://evil.example');
  assert.equal(bad.status, 403);
  assert.equal(bad.headers.get('access-control-allow-origin'), null);
  await bad.arrayBuffer();
  const get = await req(`${locked.base}/api/streams`, { token: VIEWER, headers: { origin: 'https://allowed.example' } });
  assert.equal(get.headers.get('access-control-allow-origin'), 'https://allowed.example');
  await get.arrayBuffer();
  const no = await req(`${locked.base}/api/streams`, { token: VIEWER, headers: { origin: 'https://evil.example' } });
  assert.equal(no.headers.get('access-control-allow-origin'), null);
  await no.arrayBuffer();
});

test('SSRF: by default the API refuses loopback, link-local, names resolving to loopback and files (400 with a code)', async () => {
  const cases: [string, RegExp][] = [
    [`rtsp://admin:${SECRET}@169.254.169.254/latest/meta-data`, /link-local.*allowLinkLocal/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['rtsp://127.0.0.1:8554/cam', /loopback.*allowLoopback/],
    ['rtsp://[::1]:8554/cam', /loopback/],
    ['rtsp://localhost:8554/cam', /loopback/],
    ['http://0.0.0.0:8080/', /unspecified/],
    [clip, /local files.*allowFiles/],
    ['file:///etc/passwd', /local files/],
  ];
  for (const [source, rule] of cases) {
    const res = await req(`${locked.base}/api/streams`, { method: 'POST', json: { id: 'x', source }, token: API });
    const text = await res.text();
    assert.equal(res.status, 400, `${source}: ${text}`);
    const e = (JSON.parse(text) as { error: { code: string; message: string } }).error;
    assert.equal(e.code, 'E_SOURCE_FORBIDDEN');
    assert.match(e.message, rule);
    assert.ok(!text.includes(SECRET), text);
  }
  // "scheme:host" without "//" is not a file path: refused (FFmpeg would open it as a network URL).
  for (const source of ['rtsp:127.0.0.1:8554/cam', 'http:127.0.0.1:8080/', 'tcp://127.0.0.1:8554']) {
    const res = await req(`${locked.base}/api/streams`, { method: 'POST', json: { id: 'x', source }, token: API });
    assert.equal(res.status, 400, source);
    assert.equal(await code(res), 'E_VALIDATION', source);
  }
  // PATCH is checked the same way, detectSource too.
  const patch = await req(`${locked.base}/api/streams/cam`, { method: 'PATCH', json: { detectSource: 'rtsp://127.0.0.1/sub' }, token: API });
  assert.equal(patch.status, 400);
  assert.equal(await code(patch), 'E_SOURCE_FORBIDDEN');
  const list = (await (await req(`${locked.base}/api/streams`, { token: API })).json()) as { streams: { id: string }[] };
  assert.deepEqual(list.streams.map((s) => s.id), ['cam'], 'nothing was added');
});

test('SSRF: what the config allows is accepted; credentials never reach responses, /metrics or the log; rate limit → 429', async () => {
  const port = await closedPort();
  const sources = [`rtsp://viewer:${SECRET}@127.0.0.1:${port}/cam`, `rtsp://localhost:${port}/cam`, `rtsp://[::1]:${port}/cam`, clip];
  const bodies: string[] = [];
  for (const [i, source] of sources.entries()) {
    const res = await req(`${open.base}/api/streams`, { method: 'POST', json: { id: `s${i}`, source } });
    bodies.push(await res.text());
    assert.equal(res.status, 201, bodies.at(-1));
  }
  // The camera with a password fails to connect: its error is reported (redacted) and logged (debug).
  let status = '';
  for (let i = 0; i < 150 && !status.includes('lastError'); i++) {
    status = await (await req(`${open.base}/api/streams/s0`)).text();
    if (!status.includes('lastError')) await sleep(100);
  }
  assert.match(status, /lastError/);
  bodies.push(status, await (await req(`${open.base}/api/streams`)).text(), await (await req(`${open.base}/metrics`)).text());
  for (const b of bodies) assert.ok(!b.includes(SECRET), `leaked: ${b.slice(0, 500)}`);
  assert.match(bodies[0], /rtsp:\/\/\*\*\*@127\.0\.0\.1/);
  assert.ok(!open.stderr().includes(SECRET), 'the password is not in the server log');
  assert.match(open.stderr(), /s0/, 'the log did mention the stream (debug level)');

  // 8 control requests at once, 1 a minute after: the 4 above took 4, so 429 comes within the next 5.
  const results: Response[] = [];
  for (let i = 0; i < 8; i++) results.push(await req(`${open.base}/api/streams/nope`, { method: 'DELETE' }));
  const statuses = results.map((r) => r.status);
  const first = statuses.indexOf(429);
  assert.ok(first >= 0 && first <= 4, `statuses ${statuses}`);
  assert.ok(statuses.slice(first).every((s) => s === 429), `statuses ${statuses}`);
  const limited = results[first];
  assert.ok(Number(limited.headers.get('retry-after')) >= 1, `Retry-After ${limited.headers.get('retry-after')}`);
  assert.equal(await code(limited), 'E_RATE_LIMITED');
  for (const r of results) if (!r.bodyUsed) await r.arrayBuffer();
  // Reads are not limited.
  assert.equal((await req(`${open.base}/api/streams`)).status, 200);
});

/** Mean squared Laplacian of the grey image inside a box (shrunk by 25 % to stay clear of the drawn outline). */
function hfEnergy(grey: Uint8Array, width: number, b: { x: number; y: number; w: number; h: number }): number {
  const x0 = Math.max(1, Math.round(b.x + b.w * 0.25));
  const x1 = Math.min(width - 1, Math.round(b.x + b.w * 0.75));
  const y0 = Math.max(1, Math.round(b.y + b.h * 0.25));
  const y1 = Math.round(b.y + b.h * 0.75);
  let e = 0;
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = y * width + x;
      const l = 4 * grey[i] - grey[i - 1] - grey[i + 1] - grey[i - width] - grey[i + width];
      e += l * l;
      n++;
    }
  }
  return e / Math.max(1, n);
}

test('privacy.blurFaces: the snapshot has far less high-frequency energy inside the face boxes', async () => {
  assert.ok(boxes.length >= 2, `faces on the still: ${boxes.length}`);
  const grab = async (s: ServeProcess, token?: string): Promise<Uint8Array> => {
    for (let i = 0; i < 150; i++) {
      const res = await req(`${s.base}/api/streams/cam/snapshot.jpg`, token ? { token } : {});
      if (res.status === 200) {
        const { data, info } = await sharp(Buffer.from(await res.arrayBuffer())).greyscale().raw().toBuffer({ resolveWithObject: true });
        assert.equal(info.width, W);
        return data;
      }
      await res.arrayBuffer();
      await sleep(100);
    }
    assert.fail('no snapshot');
  };
  // Wait until the blurring server has analysed a frame (before that the whole frame is blurred).
  for (let i = 0; i < 150; i++) {
    const s = (await (await req(`${open.base}/api/streams/cam`)).json()) as { status: { faces: number } };
    if (s.status.faces > 0) break;
    await sleep(100);
  }
  const [plain, blurred] = [await grab(locked, VIEWER), await grab(open)];
  let sharpSum = 0;
  let blurSum = 0;
  for (const f of boxes) {
    sharpSum += hfEnergy(plain, W, f.box);
    blurSum += hfEnergy(blurred, W, f.box);
  }
  assert.ok(blurSum < sharpSum * 0.25, `energy inside faces: blurred ${blurSum.toFixed(1)} vs ${sharpSum.toFixed(1)}`);
  // Away from the faces (the bottom-right corner) the two pictures agree: only faces are blurred.
  const corner = { x: W - 120, y: H - 80, w: 100, h: 60 };
  const outside = boxes.every((f) => f.box.x + f.box.w * 1.4 < corner.x || f.box.y + f.box.h * 1.4 < corner.y);
  if (outside) {
    const a = hfEnergy(plain, W, corner);
    const b = hfEnergy(blurred, W, corner);
    assert.ok(b > a * 0.5, `outside the faces: ${b.toFixed(1)} vs ${a.toFixed(1)}`);
  }
});

test('beyond loopback: refuses to start without an API token (saying why and how), starts with allowInsecure', async () => {
  const refused = await serveExit(['--host', '0.0.0.0', '--port', '0'], { FACECAST_DEMO: 'false' });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /refusing to serve on 0\.0\.0\.0 without an API token: anyone who can reach that address could add, change and delete streams/);
  assert.match(refused.stderr, /FACECAST_API_TOKENS/);
  assert.match(refused.stderr, /FACECAST_ALLOW_INSECURE=true/);
  // The same rule for a separate metrics listener: beyond loopback it needs metrics.token.
  const metrics = await serveExit(['--port', '0'], { FACECAST_DEMO: 'false', FACECAST_METRICS_PORT: '0', FACECAST_METRICS_HOST: '0.0.0.0' });
  assert.equal(metrics.code, 1, metrics.stderr);
  assert.match(metrics.stderr, /refusing to serve metrics on 0\.0\.0\.0 without a metrics token.*FACECAST_METRICS_TOKEN/);
  assert.match(metrics.stderr, /\[E_CONFIG_INVALID\]/);
  const s = await startServe(['--host', '0.0.0.0', '--port', '0'], { FACECAST_DEMO: 'false', FACECAST_ALLOW_INSECURE: 'true' });
  try {
    assert.equal((await req(`${s.base}/healthz`)).status, 200);
    assert.match(s.stderr(), /without API tokens \(security\.allowInsecure\)/);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('a port in use: one coded line (E_LISTEN), no stack trace, exit code 1, the process ends', async () => {
  const port = Number(new URL(open.base).port);
  const r = await serveExit(['--port', String(port)], { FACECAST_DEMO: 'false' });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`facecast: cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): the port is in use.*\\[E_LISTEN\\]`));
  assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /);
  // The metrics listener's port too, and the process still ends (nothing started before it is left running).
  const m = await serveExit(['--port', '0'], { FACECAST_DEMO: 'false', FACECAST_METRICS_PORT: String(port) });
  assert.equal(m.code, 1, m.stderr);
  assert.match(m.stderr, /cannot listen on .*\(EADDRINUSE\).*\[E_LISTEN\]/);
});
