import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidStateError } from '../../../src/core/errors.ts';
import type { StreamConfig } from '../../../src/server/config.ts';
import { HttpError } from '../../../src/core/http-errors.ts';
import { StreamRegistry } from '../../../src/server/registry.ts';
import type { StreamHandle } from '../../../src/server/registry.ts';
import type { StreamStatus } from '../../../src/server/service.ts';

/** A stream runtime that records what the registry asks of it. */
class FakeHandle implements StreamHandle {
  updates: StreamConfig[] = [];
  closeCalls = 0;
  updateGate: Promise<void> = Promise.resolve();
  failNextUpdate = false;
  lastError: string | undefined;
  constructor(readonly config: StreamConfig) {}
  status(): StreamStatus {
    return { state: 'idle', inputFps: 0, analysedFps: 0, outputFps: 0, latencyMs: 0, processingMs: 0, ingestLagMs: 0, sinceFrameMs: 0, viewers: 0, faces: 0, framesReceived: 0, framesAnalysed: 0, framesDropped: 0, framesSkipped: 0, videoFramesDropped: 0, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }
  groups() {
    return [];
  }
  async snapshot() {
    return undefined;
  }
  async update(config: StreamConfig) {
    await this.updateGate;
    if (this.failNextUpdate) {
      this.failNextUpdate = false;
      throw new Error('runtime refused');
    }
    this.updates.push(config);
  }
  async close() {
    this.closeCalls++;
  }
}

function setup() {
  const handles: FakeHandle[] = [];
  const registry = new StreamRegistry({ factory: (c) => handles[handles.push(new FakeHandle(c)) - 1] });
  return { registry, handles };
}

const cfg = (id: string, extra: Record<string, unknown> = {}) => ({ id, source: `rtsp://admin:pw@10.0.0.1/${id}`, ...extra }) as StreamConfig;

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof HttpError || e instanceof InvalidStateError, String(e));
    assert.equal(e.code, code);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('add() validates, applies defaults, keeps insertion order and redacts sources in infos', async () => {
  await using reg = setup().registry;
  await reg.add(cfg('b'));
  const a = await reg.add(cfg('a', { name: 'Door', detectSource: 'rtsp://x:y@10.0.0.1/sub' }));
  assert.equal(a.name, 'Door');
  assert.equal(a.config.source, 'rtsp://***@10.0.0.1/a');
  assert.equal(a.config.detectSource, 'rtsp://***@10.0.0.1/sub');
  assert.equal(a.config.rtspTransport, 'tcp');
  assert.deepEqual(reg.list().map((s) => s.id), ['b', 'a']);
  assert.equal(reg.get('b')?.name, 'b', 'name defaults to the id');
  await rejectsWith(reg.add(cfg('a')), 'E_CONFLICT');
  await rejectsWith(reg.add({ id: 'c', source: 'rtsp://h/x', bogus: 1 } as unknown as StreamConfig), 'E_VALIDATION', /bogus: unknown key/);
});

test('update() merges top-level keys, null resets to the default, id is immutable, the runtime gets the full config', async () => {
  const { registry: reg, handles } = setup();
  await reg.add(cfg('a', { fps: 5, rtspTransport: 'udp' }));
  const info = await reg.update('a', { name: 'Hall', fps: null, rtspTransport: null });
  assert.equal(info.name, 'Hall');
  assert.equal(info.config.fps, undefined);
  assert.equal(info.config.rtspTransport, 'tcp');
  assert.equal(handles[0].updates.length, 1);
  assert.equal(handles[0].updates[0].source, 'rtsp://admin:pw@10.0.0.1/a', 'the runtime gets the real source');
  await rejectsWith(reg.update('a', { id: 'b' }), 'E_VALIDATION', /id: is immutable/);
  assert.equal((await reg.update('a', { id: 'a' })).id, 'a', 'an unchanged id is accepted');
  await rejectsWith(reg.update('zz', {}), 'E_NOT_FOUND');
  handles[0].failNextUpdate = true;
  await assert.rejects(reg.update('a', { name: 'New' }), /runtime refused/);
  assert.equal(reg.get('a')?.name, 'Hall', 'a refused update leaves the config as it was');
  await reg.close();
});

test('concurrent updates are serialised; remove() waits for the update in flight, fails queued ones, closes once', async () => {
  const { registry: reg, handles } = setup();
  await reg.add(cfg('a'));
  let open!: () => void;
  handles[0].updateGate = new Promise((r) => (open = r));
  const u1 = reg.update('a', { name: 'one' });
  const u2 = reg.update('a', { fps: 3 });
  await Promise.all([u1, u2, (async () => open())()]);
  assert.equal(handles[0].updates[1].name, 'one', 'the second update saw the first');
  assert.equal(handles[0].updates[1].fps, 3);

  handles[0].updateGate = new Promise((r) => (open = r));
  const inFlight = reg.update('a', { name: 'two' });
  await new Promise((r) => setImmediate(r)); // let it reach the runtime
  const queued = reg.update('a', { name: 'three' });
  const rm = reg.remove('a');
  assert.equal(reg.get('a'), undefined, 'gone from the API at once');
  assert.equal(handles[0].closeCalls, 0, 'not closed under a running update');
  open();
  await inFlight;
  await rejectsWith(queued, 'E_NOT_FOUND');
  await rm;
  assert.equal(handles[0].closeCalls, 1);
  assert.deepEqual(handles[0].updates.map((c) => c.name), ['one', 'one', 'two']);
  await rejectsWith(reg.remove('a'), 'E_NOT_FOUND');
  await reg.add(cfg('a'));
  assert.equal(handles.length, 2, 'the id can be added again once removed');
  await reg.close();
});

test('lastError is redacted; groups/snapshot answer per stream', async () => {
  const { registry: reg, handles } = setup();
  await reg.add(cfg('a'));
  handles[0].lastError = 'cannot open rtsp://admin:pw@10.0.0.1/a: 401';
  assert.equal(reg.get('a')?.status.lastError, 'cannot open rtsp://***@10.0.0.1/a: 401');
  assert.deepEqual(reg.groups('a'), []);
  assert.equal(reg.groups('nope'), undefined);
  assert.equal(await reg.snapshot('a'), undefined);
  await rejectsWith(reg.snapshot('nope'), 'E_NOT_FOUND');
  await reg.close();
});

test('close() is idempotent, closes every stream, reports not ready, and refuses new work', async () => {
  const { registry: reg, handles } = setup();
  await reg.add(cfg('a'));
  await reg.add(cfg('b'));
  assert.deepEqual(reg.ready(), { ready: true });
  const p1 = reg.close();
  const p2 = reg.close();
  assert.equal(p1, p2);
  await p1;
  await reg[Symbol.asyncDispose]();
  assert.deepEqual(handles.map((h) => h.closeCalls), [1, 1]);
  assert.equal(reg.closed, true);
  assert.deepEqual(reg.ready(), { ready: false, reason: 'shutting down' });
  assert.deepEqual(reg.list(), []);
  await rejectsWith(reg.add(cfg('c')), 'E_INVALID_STATE');
});

test('readiness comes from the injected probe while open', async () => {
  let loaded = false;
  await using reg = new StreamRegistry({ factory: (c) => new FakeHandle(c), ready: () => (loaded ? { ready: true } : { ready: false, reason: 'models loading' }) });
  assert.deepEqual(reg.ready(), { ready: false, reason: 'models loading' });
  loaded = true;
  assert.equal(reg.ready().ready, true);
  assert.throws(() => new StreamRegistry({} as never), TypeError);
});
