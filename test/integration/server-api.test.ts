/**
 * The REST API over real HTTP on 127.0.0.1 (port 0), with the real StreamRegistry and a stream runtime faked
 * here (state 'idle', no frames): what is tested is the HTTP layer and the bookkeeping, not the video pipeline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApiApp } from '../../src/server/api.ts';
import type { ApiOptions } from '../../src/server/api.ts';
import type { StreamConfig } from '../../src/server/config.ts';
import { StreamRegistry } from '../../src/server/registry.ts';
import type { StreamHandle } from '../../src/server/registry.ts';
import type { Readiness } from '../../src/server/service.ts';

const SECRET = 's3cr3t-pw';

function idleHandle(_config: StreamConfig): StreamHandle {
  return {
    status: () => ({ state: 'idle', inputFps: 0, analysedFps: 0, outputFps: 0, latencyMs: 0, processingMs: 0, ingestLagMs: 0, sinceFrameMs: 0, viewers: 0, faces: 0, framesReceived: 0, framesAnalysed: 0, framesDropped: 0, framesSkipped: 0, videoFramesDropped: 0 }),
    groups: () => [],
    snapshot: async () => undefined,
    update: async () => {},
    close: async () => {},
  };
}

interface Harness extends AsyncDisposable {
  url: string;
  registry: StreamRegistry;
  /** fetch with a 5 s bound, so a hung server fails the test instead of stalling the suite. */
  req(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
}

async function startServer(opts: { ready?: () => Readiness; api?: ApiOptions } = {}): Promise<Harness> {
  const registry = new StreamRegistry({ factory: idleHandle, ready: opts.ready });
  const app = createApiApp(registry, opts.api);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    registry,
    req: (path, init = {}) => {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(url + path, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body, signal: AbortSignal.timeout(5000) });
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections(); // keep-alive sockets from fetch would otherwise hold close() open
      await new Promise<void>((r) => server.close(() => r()));
      await registry.close();
    },
  };
}

async function errorOf(res: Response, status: number, code: string): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  assert.equal(body.error.code, code, text);
  return body.error.message;
}

const lobby = { id: 'lobby', name: 'Lobby camera', source: `rtsp://admin:${SECRET}@10.0.0.5/main`, detectSource: `rtsp://admin:${SECRET}@10.0.0.5/sub`, fps: 5 };

test('create → list → get → patch → delete round trip', async () => {
  await using h = await startServer();
  const created = await h.req('/api/streams', { method: 'POST', json: lobby });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('location'), '/api/streams/lobby');
  const info = (await created.json()) as { id: string; name: string; config: Record<string, unknown>; status: { state: string } };
  assert.equal(info.id, 'lobby');
  assert.equal(info.name, 'Lobby camera');
  assert.equal(info.config.source, 'rtsp://***@10.0.0.5/main');
  assert.equal(info.config.rtspTransport, 'tcp');
  assert.equal(info.status.state, 'idle');

  await h.req('/api/streams', { method: 'POST', json: { id: 'door', source: '/videos/door.mp4' } });
  const list = (await (await h.req('/api/streams')).json()) as { streams: { id: string }[] };
  assert.deepEqual(list.streams.map((s) => s.id), ['lobby', 'door']);

  const got = await h.req('/api/streams/lobby');
  assert.equal(got.status, 200);
  assert.deepEqual(await got.json(), info);

  const patched = await h.req('/api/streams/lobby', { method: 'PATCH', json: { name: 'Hall', fps: null, zones: [{ id: 'desk', polygon: [[0, 0], [1, 0], [1, 1]] }] } });
  assert.equal(patched.status, 200);
  const p = (await patched.json()) as typeof info;
  assert.equal(p.name, 'Hall');
  assert.equal(p.config.fps, undefined);
  assert.deepEqual(p.config.zones, [{ id: 'desk', name: 'desk', polygon: [[0, 0], [1, 0], [1, 1]] }]);
  assert.equal(p.config.source, 'rtsp://***@10.0.0.5/main', 'unpatched keys kept');

  const groups = await h.req('/api/streams/lobby/groups');
  assert.deepEqual(await groups.json(), { groups: [] });

  const del = await h.req('/api/streams/lobby', { method: 'DELETE' });
  assert.equal(del.status, 204);
  assert.equal(await del.text(), '');
  await errorOf(await h.req('/api/streams/lobby'), 404, 'E_NOT_FOUND');
  assert.deepEqual(((await (await h.req('/api/streams')).json()) as { streams: { id: string }[] }).streams.map((s) => s.id), ['door']);
});

test('409 on a duplicate id; 404 on unknown streams and routes', async () => {
  await using h = await startServer();
  await h.req('/api/streams', { method: 'POST', json: lobby });
  assert.match(await errorOf(await h.req('/api/streams', { method: 'POST', json: lobby }), 409, 'E_CONFLICT'), /"lobby" already exists/);
  await errorOf(await h.req('/api/streams/nope'), 404, 'E_NOT_FOUND');
  await errorOf(await h.req('/api/streams/nope', { method: 'PATCH', json: { name: 'x' } }), 404, 'E_NOT_FOUND');
  await errorOf(await h.req('/api/streams/nope', { method: 'DELETE' }), 404, 'E_NOT_FOUND');
  await errorOf(await h.req('/api/streams/nope/groups'), 404, 'E_NOT_FOUND');
  await errorOf(await h.req('/api/streams/nope/snapshot.jpg'), 404, 'E_NOT_FOUND');
  await errorOf(await h.req('/api/nothing-here'), 404, 'E_NOT_FOUND');
});

test('400 for invalid bodies, naming the field; id is immutable', async () => {
  await using h = await startServer();
  const post = (json: unknown) => h.req('/api/streams', { method: 'POST', json });
  assert.match(await errorOf(await post({ id: 'a', source: 'ftp://x/y' }), 400, 'E_VALIDATION'), /source: unsupported scheme "ftp:"/);
  assert.match(await errorOf(await post({ id: 'Bad Id', source: 'a.mp4' }), 400, 'E_VALIDATION'), /id: must be/);
  assert.match(await errorOf(await post({ id: 'a', source: 'a.mp4', fsp: 5 }), 400, 'E_VALIDATION'), /fsp: unknown key/);
  assert.match(await errorOf(await post({ id: 'a', source: 'a.mp4', zones: [{ id: 'z', polygon: [[0, 0], [1, 1]] }] }), 400, 'E_VALIDATION'), /zones: zone "z": polygon needs at least 3 points/);
  assert.match(await errorOf(await post([1, 2]), 400, 'E_VALIDATION'), /expected a JSON object/);
  assert.match(await errorOf(await h.req('/api/streams', { method: 'POST' }), 400, 'E_VALIDATION'), /expected a JSON object/);
  await post({ id: 'a', source: 'a.mp4' });
  const patch = (json: unknown) => h.req('/api/streams/a', { method: 'PATCH', json });
  assert.match(await errorOf(await patch({ detectEvery: 0 }), 400, 'E_VALIDATION'), /detectEvery: /);
  assert.match(await errorOf(await patch({ id: 'b' }), 400, 'E_VALIDATION'), /id: is immutable/);
  assert.match(await errorOf(await patch({ output: { mode: 'overlay', height: 3 } }), 400, 'E_VALIDATION'), /output\.height: unknown key/);
});

test('400 malformed JSON, 413 oversized body, 415 wrong content type', async () => {
  await using h = await startServer({ api: { bodyLimit: 1024 } });
  const raw = (body: string, type = 'application/json') => h.req('/api/streams', { method: 'POST', headers: { 'content-type': type }, body });
  assert.match(await errorOf(await raw('{"id": "a", '), 400, 'E_VALIDATION'), /malformed JSON body/);
  assert.match(await errorOf(await raw(JSON.stringify({ id: 'a', source: 'a.mp4', name: 'x'.repeat(2000) })), 413, 'E_PAYLOAD_TOO_LARGE'), /limit 1024 bytes/);
  assert.match(await errorOf(await raw('id=a&source=a.mp4', 'application/x-www-form-urlencoded'), 415, 'E_UNSUPPORTED_MEDIA_TYPE'), /application\/json/);
  await errorOf(await raw('{"id":"a","source":"a.mp4"}', 'text/plain'), 415, 'E_UNSUPPORTED_MEDIA_TYPE');
  assert.equal((await raw('{"id":"a","source":"a.mp4"}', 'application/json; charset=utf-8')).status, 201);
  assert.equal((await h.req('/api/streams/a', { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: '{"name":"A"}' })).status, 200);
});

test('credentials never appear in any response', async () => {
  await using h = await startServer();
  const bodies: string[] = [];
  const keep = async (r: Response) => bodies.push(await r.text());
  await keep(await h.req('/api/streams', { method: 'POST', json: lobby }));
  await keep(await h.req('/api/streams'));
  await keep(await h.req('/api/streams/lobby'));
  await keep(await h.req('/api/streams/lobby', { method: 'PATCH', json: { source: `rtsps://viewer:${SECRET}@cam.local/x?token=${SECRET}` } }));
  await keep(await h.req('/api/streams', { method: 'POST', json: { ...lobby, id: 'other', fps: -1 } }));
  await keep(await h.req('/api/streams', { method: 'POST', json: lobby }));
  assert.equal(bodies.length, 6);
  for (const b of bodies) assert.ok(!b.includes(SECRET), `leaked in ${b}`);
  assert.match(bodies[3], /rtsps:\/\/\*\*\*@cam\.local\/x\?token=\*\*\*/);
});

test('healthz, readyz and snapshot 503 before the first frame', async () => {
  let ready: Readiness = { ready: false, reason: 'models loading' };
  await using h = await startServer({ ready: () => ready });
  const health = await h.req('/healthz');
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const notReady = await h.req('/readyz');
  assert.equal(notReady.status, 503);
  assert.deepEqual(await notReady.json(), { status: 'unavailable', reason: 'models loading' });
  ready = { ready: true };
  const isReady = await h.req('/readyz');
  assert.equal(isReady.status, 200);
  assert.deepEqual(await isReady.json(), { status: 'ready' });

  await h.req('/api/streams', { method: 'POST', json: lobby });
  assert.match(await errorOf(await h.req('/api/streams/lobby/snapshot.jpg'), 503, 'E_UNAVAILABLE'), /no frame yet/);

  await h.registry.close();
  const closing = await h.req('/readyz');
  assert.equal(closing.status, 503);
  assert.deepEqual(await closing.json(), { status: 'unavailable', reason: 'shutting down' });
});

test('snapshot bytes are served as image/jpeg, and unexpected errors are a generic 500', async () => {
  const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
  const registry = new StreamRegistry({
    factory: (c) => ({ ...idleHandle(c), snapshot: async () => jpeg, groups: () => {
        if (c.id === 'boom') throw new Error(`internal detail at rtsp://u:${SECRET}@h`);
        return [];
      },
    }),
  });
  const app = createApiApp(registry);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await registry.add({ id: 'cam', source: 'a.mp4' } as StreamConfig);
    await registry.add({ id: 'boom', source: 'b.mp4' } as StreamConfig);
    const res = await fetch(`${url}/api/streams/cam/snapshot.jpg`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), jpeg);
    const err = await fetch(`${url}/api/streams/boom/groups`, { signal: AbortSignal.timeout(5000) });
    const text = await err.text();
    assert.equal(err.status, 500);
    assert.deepEqual(JSON.parse(text), { error: { code: 'E_INTERNAL', message: 'internal server error' } });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await registry.close();
  }
});
