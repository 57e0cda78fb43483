import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServe } from '../helpers/serve.ts';

interface StreamsBody {
  streams: { id: string; status: { state: string; faces: number; framesReceived: number; framesAnalysed: number; framesDropped: number; inputFps: number } }[];
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
    // framesAnalysed counts analysed frames: at most those received, and each received frame is analysed or dropped.
    const { framesReceived: got, framesAnalysed: analysed, framesDropped: dropped } = demo.status;
    assert.ok(analysed > 0 && analysed <= got && analysed + dropped >= got - 2, `analysed ${analysed}, dropped ${dropped} of ${got} received`);

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

test('facecast serve refuses a bad config file or a model that does not load: exit 1, a coded message naming the problem', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'fc-serve-bad-'));
  const run = (config: string) => {
    const f = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, config);
    return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--config', f], { encoding: 'utf8', env: { ...process.env, FACECAST_LOG: 'warn' }, timeout: 60_000 });
  };
  let r = run('server: { port: 8080, colour: blue }\n');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /server\.colour/);
  assert.match(r.stderr, /E_CONFIG_INVALID/);
  r = run('streams:\n  - { id: a, source: rtsp://x\n');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /line \d+/, 'a YAML error says where');
  // A user model whose ONNX file is missing: named in the error, nothing served.
  const manifest = join(dir, 'mine.yaml');
  writeFileSync(manifest, 'version: 1\nroles: { emotion: mine }\nmodels:\n  - id: mine\n    task: face-classification\n    licence: MIT\n    source: { type: onnx, path: missing.onnx }\n    input: { name: i, width: 64, height: 64, layout: NHWC, colour: grey, range: [0, 1] }\n    heads: [{ head: emotion, output: o, labels: [angry, disgust, fear, happy, sad, surprise, neutral] }]\n');
  r = run(`server: { port: 0 }\ninference: { manifests: [${manifest}] }\n`);
  assert.equal(r.status, 1, `exit code; stderr: ${r.stderr.slice(-500)}`);
  assert.match(r.stderr, /mine/);
  assert.match(r.stderr, /E_MODEL_[A-Z_]+|E_MANIFEST_INVALID/);
  assert.doesNotMatch(r.stderr, /serving http/);
});
