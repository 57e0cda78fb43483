/**
 * Property tests over everything a client can send to `facecast serve`: random methods, paths, content types and
 * bodies over HTTP (REST, WHEP, WHIP, metrics), and random socket.io events and payloads. The properties: no
 * request gets a 5xx, every error is JSON with a code, the server stays up and keeps answering, and a well-formed
 * client still works afterwards. Seeded (FACECAST_FUZZ_SEED to reproduce a run); sources it invents only ever
 * point at 127.0.0.1 or missing files, so nothing leaves the machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { rng } from '../helpers/rng.ts';
import { startServe } from '../helpers/serve.ts';

const SEED = Number(process.env.FACECAST_FUZZ_SEED ?? 20261122);
const REQUESTS = 400;
const EVENTS = 300;

type Gen<T> = (r: () => number) => T;
const pick = <T,>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: () => number, n: number): number => Math.floor(r() * n);

const weirdStrings = ['', ' ', 'a', 'cam', 'CAM', '..', '../../etc/passwd', '%00', '\u0000', 'é', '🙂', '-', '_x', 'x'.repeat(64), 'y'.repeat(5000), '<script>', '${x}', 'null', '__proto__', 'constructor'];

const str: Gen<string> = (r) => (r() < 0.5 ? pick(r, weirdStrings) : Array.from({ length: int(r, 40) }, () => String.fromCharCode(32 + int(r, 95))).join(''));

const source: Gen<string> = (r) =>
  pick(r, ['rtsp://127.0.0.1:1/x', 'rtsp://user:pw@127.0.0.1:1/x', 'http://127.0.0.1:1/a.m3u8', '/nonexistent/file.mp4', 'file:///nonexistent.mp4', 'ftp://127.0.0.1/x', 'javascript:alert(1)', 'whip', 'rtsp://', 'rtsp://[::1', str(r)]);

/** Random JSON, biased towards things shaped like stream configs and patches. */
function json(r: () => number, depth = 0): unknown {
  const k = r();
  if (depth < 3 && k < 0.35) {
    const o: Record<string, unknown> = {};
    const keys = ['id', 'name', 'source', 'detectSource', 'fps', 'detectEvery', 'zones', 'output', 'enabled', 'rtspTransport', '__proto__', 'constructor', str(r)];
    for (let i = int(r, 6); i > 0; i--) {
      const key = pick(r, keys);
      o[key] = key === 'source' || key === 'detectSource' ? source(r) : key === 'id' && r() < 0.5 ? `f${int(r, 1e6)}` : json(r, depth + 1);
    }
    return o;
  }
  if (depth < 3 && k < 0.45) return Array.from({ length: int(r, 5) }, () => json(r, depth + 1));
  if (k < 0.6) return str(r);
  if (k < 0.75) return pick(r, [0, -1, 1e308, -1e308, 0.5, Number.MAX_SAFE_INTEGER, 65536]);
  if (k < 0.85) return pick(r, [true, false, null]);
  return { polygon: [[0, 0], [1, 0], [int(r, 3), r()]], id: str(r) };
}

function body(r: () => number): { type?: string; data?: string | Buffer } {
  const kind = r();
  const type = pick(r, ['application/json', 'application/json', 'application/sdp', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]);
  if (kind < 0.5) return { type, data: JSON.stringify(json(r)) };
  if (kind < 0.6) return { type, data: '{"id": "x", "source": ' }; // truncated JSON
  if (kind < 0.7) return { type, data: Buffer.from(Array.from({ length: int(r, 2000) }, () => int(r, 256))) };
  if (kind < 0.75) return { type, data: 'x'.repeat(2 * 1024 * 1024) }; // over every body limit
  if (kind < 0.85) return { type, data: `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 ${pick(r, ['H264', 'VP8', 'VP9', 'AV1'])}/90000\r\n${str(r)}\r\n` };
  return { type };
}

function path(r: () => number): string {
  const id = pick(r, ['cam', 'nope', encodeURIComponent(str(r)), str(r).replace(/[/?#]/g, ''), '%2F', '%', '..%2F..']);
  return pick(r, [
    '/api/streams', `/api/streams/${id}`, `/api/streams/${id}/snapshot.jpg`, `/api/streams/${id}/groups`, '/api/streams/cam/groups',
    `/whep/${id}`, `/whep/cam/${id}`, `/whip/${id}`, `/whip/${id}/${id}`, '/healthz', '/readyz', '/metrics', `/${id}`, '/api', '/socket.io/?EIO=4&transport=polling',
  ]);
}

test('fuzz: random HTTP requests and socket.io events never get a 5xx or take the server down', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-fuzz-'));
  const config = join(dir, 'facecast.yaml');
  // No streams: the requests create (and delete) their own, all pointing at 127.0.0.1:1 or missing files.
  // whip.autoCreate: a POST /whip/<any id> reaches stream creation (bad ids and rejected offers must stay 4xx).
  writeFileSync(config, 'server: { host: 127.0.0.1, port: 0 }\nwebrtc: { hostAddresses: [127.0.0.1] }\nwhip: { autoCreate: true }\ndemo: { enabled: false }\nstreams: []\n');
  const server = await startServe(['--config', config], { FACECAST_MODEL_CACHE: join(dir, 'models') });
  const { base } = server;
  const r = rng(SEED);
  const statuses = new Map<number, number>();
  let code: Awaited<ReturnType<typeof server.stop>> | undefined;
  try {
    for (let i = 0; i < REQUESTS; i++) {
      const method = pick(r, ['GET', 'GET', 'POST', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'HEAD']);
      const p = path(r);
      const b = method === 'GET' || method === 'HEAD' ? {} : body(r);
      const headers: Record<string, string> = {};
      if (b.type) headers['content-type'] = b.type;
      // A body declared compressed that is not (or is another encoding): the client's error, never a 500.
      if (b.data !== undefined && r() < 0.1) headers['content-encoding'] = pick(r, ['gzip', 'deflate', 'br', 'x-unknown', 'gzip, gzip']);
      if (r() < 0.1) headers.authorization = pick(r, ['Bearer', 'Bearer x', 'Basic abc', `Bearer ${str(r)}`.replace(/[^\x20-\x7e]/g, '')]);
      const what = `#${i} ${method} ${p.slice(0, 80)} (${b.type ?? 'no type'}, ${b.data?.length ?? 0} B; seed ${SEED})`;
      let res: Response;
      try {
        res = await fetch(base + p, { method, headers, body: b.data, signal: AbortSignal.timeout(10_000) });
      } catch (e) {
        // The server may cut a body it refuses before reading it (413): that is not a failure of the server.
        if ((b.data?.length ?? 0) > 1024 * 1024) continue;
        throw new Error(`${what}: ${String(e)}`, { cause: e });
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) assert.fail(`${what} → ${res.status} ${(await res.text()).slice(0, 300)}`);
      // /socket.io/ is answered by engine.io before express, in socket.io's own error format ({code: 2, …}).
      if (res.status >= 400 && method !== 'HEAD' && !p.startsWith('/socket.io/') && (res.headers.get('content-type') ?? '').includes('json')) {
        const j = (await res.json()) as { error?: { code?: unknown } };
        assert.match(String(j.error?.code), /^E_[A-Z_]+$/, `${what}: an error with a code`);
      } else await res.arrayBuffer();
      if (i % 50 === 49) assert.equal((await fetch(`${base}/healthz`)).status, 200, `alive after ${what}`);
    }

    // Deterministic members of the classes the random walk may miss (issue 14, item 3).
    const offer = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n';
    for (const id of ['Bad_ID', '-x', 'a'.repeat(64), '%E2%82%AC', 'ok-id']) {
      const res = await fetch(`${base}/whip/${id}`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      assert.ok(res.status === 400, `WHIP auto-create, id ${id}, a rejected offer → ${res.status} ${text.slice(0, 200)}`);
    }
    const streams = (await (await fetch(`${base}/api/streams`)).json()) as { streams: { id: string }[] };
    assert.ok(!streams.streams.some((s) => s.id === 'ok-id'), 'a rejected WHIP offer created no stream');
    const gz = await fetch(`${base}/api/streams`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: '{"id":"g","source":"whip"}' });
    assert.equal(gz.status, 400, 'a body declared gzip that is not');
    assert.equal(((await gz.json()) as { error: { code: string } }).error.code, 'E_VALIDATION');
    const dw = await fetch(`${base}/api/streams`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'dw', source: 'rtsp://127.0.0.1:1/x', detectSource: 'whip' }) });
    assert.equal(dw.status, 400, 'detectSource: whip is refused by the API as by the config file');
    await dw.arrayBuffer();

    // socket.io: random events and payloads, then a well-formed subscription must still work.
    const sock = io(base, { transports: ['websocket'], reconnection: false, timeout: 5000 });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('connect_error', reject);
    });
    const acks: unknown[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const event = pick(r, ['subscribe', 'subscribe', 'unsubscribe', str(r) || 'x', 'faces', 'groups', 'streams']);
      const args = Array.from({ length: int(r, 4) }, () => json(r));
      if (r() < 0.5) sock.emit(event, ...args, (a: unknown) => acks.push(a));
      else sock.emit(event, ...args);
    }
    const ok = await new Promise<unknown>((resolve) => sock.timeout(5000).emit('subscribe', 'nope', (err: unknown, a: unknown) => resolve(err ?? a)));
    assert.deepEqual(ok, { ok: false, error: { code: 'E_NOT_FOUND', message: 'stream "nope" not found' } }, 'a valid request after the garbage gets its normal answer');
    for (const a of acks) assert.equal((a as { ok?: boolean })?.ok, false, `junk is refused with an ack, never accepted: ${JSON.stringify(a).slice(0, 200)}`);
    sock.close();
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.doesNotMatch(server.stderr(), /internal server error|Unhandled|uncaught/i, 'no internal error logged');
    console.log(`fuzz: ${REQUESTS} HTTP requests (statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}), ${EVENTS} socket.io events (${acks.length} acks), seed ${SEED}`);
  } finally {
    code = await server.stop();
  }
  // After the finally, not in it: a failed assertion in finally would replace the test's real failure.
  assert.equal(code, 0, `serve exit code; stderr: ${server.stderr().slice(-1500)}`);
});
