/**
 * LiveDataHub against real peers: a real http.Server on 127.0.0.1:0, a real StreamRuntime (real FaceEngine on a
 * looped synthetic face clip) as the record source, and socket.io-client. Every wait is bounded; the runtime,
 * the hub, the clients and the server are closed in `finally`/`after`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { io as connect, type Socket } from 'socket.io-client';
import { LiveDataHub, type StreamDirectory } from '../../src/broadcast/live-data.ts';
import type { ClientToServerEvents, FrameSummary, ServerToClientEvents, StatusPayload } from '../../src/broadcast/protocol.ts';
import type { GroupRecord } from '../../src/core/records.ts';
import { FaceEngine } from '../../src/inference/engine.ts';
import { StreamRuntime } from '../../src/pipeline/stream.ts';
import type { StreamInfo } from '../../src/server/service.ts';
import { loadSprites, makeSyntheticClip, measureSprites } from '../helpers/synthetic.ts';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

let dir: string;
let engine: FaceEngine;
let runtime: StreamRuntime;
let server: HttpServer;
let hub: LiveDataHub;
let base: string;

/** The same status mapping RuntimeHandle does, enough for the hub's directory. */
function info(): StreamInfo {
  const s = runtime.status();
  return {
    id: 'cam0',
    name: 'cam0',
    config: { id: 'cam0', source: 'file:///clip.mp4' } as StreamInfo['config'],
    status: { state: s.state === 'closed' ? 'stopped' : s.state, inputFps: s.inputFps, analysedFps: s.analysedFps, outputFps: 0, latencyMs: s.latencyMs, processingMs: s.processingMs, ingestLagMs: s.ingestLagMs, sinceFrameMs: s.sinceFrameMs, viewers: 0, faces: s.faces, framesReceived: s.framesReceived, framesAnalysed: s.framesAnalysed, framesDropped: s.framesDropped, framesSkipped: s.framesSkipped, videoFramesDropped: 0 },
  };
}
const directory: StreamDirectory = { list: () => [info()], get: (id) => (id === 'cam0' ? info() : undefined) };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fc-livedata-'));
  engine = await FaceEngine.create({ detector: { minScore: 0.3 } });
  const clip = join(dir, 'faces.mp4');
  await makeSyntheticClip(clip, await measureSprites(engine, await loadSprites(110), 110));
  server = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  base = `http://127.0.0.1:${addr.port}`;
  hub = new LiveDataHub(server, { directory });
  runtime = new StreamRuntime(engine, clip, { id: 'cam0' });
  hub.attachStream('cam0', runtime);
  runtime.start();
});

after(async () => {
  await hub?.close();
  await runtime?.close();
  await engine?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

async function client(): Promise<Client> {
  const s: Client = connect(base, { transports: ['websocket'], reconnection: false, timeout: 3000 });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  });
  return s;
}

test('a subscriber gets volatile faces per frame with sane values, groups about twice a second, and status', async () => {
  const s = await client();
  try {
    const frames: FrameSummary[] = [];
    const groups: { at: number; groups: GroupRecord[] }[] = [];
    const statuses: StatusPayload[] = [];
    s.on('faces', (id, f) => id === 'cam0' && frames.push(f));
    s.on('groups', (id, g) => id === 'cam0' && groups.push({ at: performance.now(), groups: g }));
    s.on('status', (p) => statuses.push(p));
    assert.deepEqual(await s.timeout(3000).emitWithAck('subscribe', 'cam0'), { ok: true });
    await sleep(3000);
    assert.ok(frames.length >= 20, `${frames.length} frames in 3 s`);
    // groups are throttled: ~6 in 3 s (+1 sent on subscribe), far fewer than frames
    assert.ok(groups.length >= 4 && groups.length <= 9, `${groups.length} groups in 3 s`);
    assert.ok(groups.length * 2 < frames.length, `${groups.length} groups vs ${frames.length} frames`);
    let withEmotion = 0;
    for (const f of frames) {
      assert.equal(f.width, 640);
      assert.equal(f.height, 360);
      for (const face of f.faces) {
        const b = face.box;
        assert.ok(b.w > 0 && b.h > 0 && b.x >= -2 && b.y >= -2 && b.x + b.w <= f.width + 2 && b.y + b.h <= f.height + 2, `box inside the frame: ${JSON.stringify(b)}`);
        if (!face.emotion) continue;
        withEmotion++;
        const sum = face.emotion.probs.reduce((a, p) => a + p, 0);
        assert.ok(Math.abs(sum - 1) < 0.01, `probs sum ${sum}`);
        assert.equal(face.emotion.probs.length, 7);
      }
    }
    assert.ok(withEmotion > 0, 'some faces carry a smoothed emotion');
    assert.ok(frames.some((f) => f.faces.length >= 2), 'the clip has 3 faces; most frames see at least 2');
    const scene = groups.at(-1)?.groups.find((g) => g.kind === 'scene');
    assert.ok(scene && scene.faceCount >= 1 && scene.cohesion >= 0 && scene.cohesion <= 1);
    assert.ok(statuses.length >= 1 && statuses[0].id === 'cam0', 'status sent on subscribe');
    assert.equal(statuses.at(-1)?.status.state, 'streaming');
  } finally {
    s.disconnect();
  }
});

test('malformed subscribe payloads get error acks or are ignored, and the server keeps working', async () => {
  const s = await client();
  // The typed client would not let us send garbage; the wire does.
  const raw = s as unknown as Socket;
  try {
    const bad = [42, null, { id: 'cam0' }, ['cam0'], '', 'Cam0', 'x'.repeat(5000), '../etc'];
    for (const payload of bad) {
      const r = (await raw.timeout(2000).emitWithAck('subscribe', payload)) as { ok: boolean; error?: { code: string } };
      assert.equal(r.ok, false, `rejected: ${JSON.stringify(payload).slice(0, 40)}`);
      assert.equal(r.error?.code, 'E_VALIDATION');
    }
    // only an ack, no id
    const onlyAck = (await raw.timeout(2000).emitWithAck('subscribe')) as { ok: boolean; error?: { code: string } };
    assert.equal(onlyAck.error?.code, 'E_VALIDATION');
    assert.deepEqual(await s.timeout(2000).emitWithAck('subscribe', 'nope'), { ok: false, error: { code: 'E_NOT_FOUND', message: 'stream "nope" not found' } });
    // no ack: ignored (nothing to answer), and no frames flow to this socket
    let frames = 0;
    s.on('faces', () => frames++);
    raw.emit('subscribe', 'cam0');
    raw.emit('unknown-event', 1, 2, 3);
    await sleep(300);
    assert.equal(frames, 0, 'a subscribe without an ack does nothing');
    assert.ok(s.connected);
    assert.ok(hub.stats().badPayloads >= bad.length + 2);
    // a payload over the hub's size limit: that client is cut off, the others are not
    const big = await client();
    const closed = new Promise<string>((r) => big.once('disconnect', r));
    (big as unknown as Socket).emit('subscribe', 'y'.repeat(100_000), () => undefined);
    const reason = await Promise.race([closed, sleep(3000, 'still connected')]);
    assert.notEqual(reason, 'still connected');
    big.disconnect();
    // the server still serves: this socket subscribes and receives
    assert.deepEqual(await s.timeout(2000).emitWithAck('subscribe', 'cam0'), { ok: true });
    for (let i = 0; i < 100 && frames === 0; i++) await sleep(30);
    assert.ok(frames > 0, 'frames flow after the bad payloads');
  } finally {
    s.disconnect();
  }
});

test('unsubscribe stops the flow; the stream list comes on connect', async () => {
  const s: Client = connect(base, { transports: ['websocket'], reconnection: false, timeout: 3000 });
  try {
    const list = await Promise.race([new Promise<StreamInfo[]>((r) => s.once('streams', r)), sleep(3000, undefined)]);
    assert.ok(list, 'streams on connect');
    assert.deepEqual(list.map((x) => x.id), ['cam0']);
    let frames = 0;
    s.on('faces', () => frames++);
    assert.deepEqual(await s.timeout(2000).emitWithAck('subscribe', 'cam0'), { ok: true });
    for (let i = 0; i < 100 && frames === 0; i++) await sleep(30);
    assert.ok(frames > 0);
    assert.deepEqual(await s.timeout(2000).emitWithAck('unsubscribe', 'cam0'), { ok: true });
    await sleep(100); // frames already on the wire
    const before = frames;
    await sleep(800);
    assert.equal(frames, before, 'no frames after unsubscribe');
  } finally {
    s.disconnect();
  }
});

test('detachStream() stops forwarding; close() is idempotent and disconnects clients', async () => {
  const s = await client();
  try {
    const got: string[] = [];
    s.on('streams', () => got.push('streams'));
    assert.equal(hub.detachStream('cam0'), true);
    assert.equal(hub.detachStream('cam0'), false);
    hub.attachStream('cam0', runtime);
    for (let i = 0; i < 50 && got.length < 2; i++) await sleep(20);
    assert.ok(got.length >= 2, 'streams re-sent on detach and attach');
    const gone = new Promise<string>((r) => s.once('disconnect', r));
    await Promise.all([hub.close(), hub.close()]);
    assert.ok(hub.closed);
    assert.notEqual(await Promise.race([gone, sleep(3000, 'timeout')]), 'timeout');
    assert.throws(() => hub.attachStream('cam0', runtime), /closed/);
  } finally {
    s.disconnect();
  }
});
