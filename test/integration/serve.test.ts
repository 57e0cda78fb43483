import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServe } from '../helpers/serve.ts';

interface StreamsBody {
  streams: { id: string; status: { state: string; faces: number; framesReceived: number; inputFps: number } }[];
}

test('facecast serve: with no streams configured the demo stream runs, is analysed and served; SIGTERM exits 0', async () => {
  const cache = mkdtempSync(join(tmpdir(), 'fc-serve-'));
  const server = await startServe(['--port', '0'], { FACECAST_MODEL_CACHE: cache });
  const { base } = server;
  try {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);

    // the demo stream is analysed: faces appear within a few seconds
    let demo: StreamsBody['streams'][number] | undefined;
    for (let i = 0; i < 100; i++) {
      const body = (await (await fetch(`${base}/api/streams`)).json()) as StreamsBody;
      demo = body.streams.find((s) => s.id === 'demo');
      if (demo && demo.status.state === 'streaming' && demo.status.faces > 0 && demo.status.inputFps >= 20) break;
      await sleep(100);
    }
    assert.ok(demo, 'a demo stream exists');
    assert.equal(demo.status.state, 'streaming');
    assert.ok(demo.status.faces >= 2, `faces ${demo.status.faces}`);
    assert.ok(demo.status.inputFps > 15 && demo.status.inputFps < 35, `input ${demo.status.inputFps} fps (the clip plays in real time at 25)`);

    const snap = await fetch(`${base}/api/streams/demo/snapshot.jpg`);
    assert.equal(snap.status, 200);
    assert.equal(snap.headers.get('content-type'), 'image/jpeg');
    const jpeg = new Uint8Array(await snap.arrayBuffer());
    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);

    const groups = (await (await fetch(`${base}/api/streams/demo/groups`)).json()) as { groups: { kind: string; faceCount: number; emotion: number[]; cohesion: number }[] };
    const scene = groups.groups.find((g) => g.kind === 'scene');
    assert.ok(scene && scene.faceCount >= 2);
    assert.ok(Math.abs(scene.emotion.reduce((a, b) => a + b, 0) - 1) < 1e-3);
    assert.ok(scene.cohesion >= 0 && scene.cohesion <= 1);

    // Prometheus metrics on the main port by default, without a token
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    assert.match(text, /^facecast_stream_up\{stream="demo"\} 1$/m);
    assert.match(text, /^facecast_group_emotion_ratio\{stream="demo",group="scene",emotion="happy"\} /m);
    assert.match(text, /^facecast_frame_latency_seconds_count\{stream="demo"\} [1-9]/m);

    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>facecast<\/title>/);
  } finally {
    const code = await server.stop();
    assert.equal(code, 0, `exit code after SIGTERM; stderr: ${server.stderr().slice(-2000)}`);
  }
});
