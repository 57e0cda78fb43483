/**
 * WorkerEngine against the real models in a real worker thread: same results as the in-process FaceEngine,
 * coded errors across the thread boundary, frames shared rather than copied, abort, close, and a worker that
 * dies (exit or uncaught exception) → pending calls get E_ENGINE_CRASHED, the worker restarts, later calls work.
 * Every wait is bounded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FaceEngine } from '../../../src/inference/engine.ts';
import { WorkerEngine } from '../../../src/inference/worker/client.ts';
import { loadImage } from '../../../src/ingest/image.ts';
import { FacecastError, InvalidStateError } from '../../../src/core/errors.ts';
import type { Detection, FaceAttributes, RgbImage } from '../../../src/core/types.ts';
import { samplePhoto } from '../../helpers/photos.ts';
import { until } from '../../helpers/wait.ts';

let local: FaceEngine;
let remote: WorkerEngine;
let photo: RgbImage;

before(async () => {
  [local, remote, photo] = await Promise.all([FaceEngine.create(), WorkerEngine.create({ allowCrash: true, backoffMs: 50 }), loadImage(samplePhoto(6))]);
});
after(async () => {
  await Promise.all([local?.close(), remote?.close()]);
});

function shared(img: RgbImage): RgbImage {
  const data = new Uint8Array(new SharedArrayBuffer(img.data.byteLength));
  data.set(img.data);
  return { ...img, data };
}

function assertClose(a: number, b: number, what: string, tol = 1e-4): void {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
}

function assertSameDetections(a: readonly Detection[], b: readonly Detection[]): void {
  assert.equal(a.length, b.length);
  a.forEach((d, i) => {
    const e = b[i];
    assertClose(d.score, e.score, `score ${i}`);
    for (const k of ['x', 'y', 'w', 'h'] as const) assertClose(d.box[k], e.box[k], `box.${k} ${i}`, 1e-3);
    d.keypoints.forEach((p, j) => assertClose(p.x, e.keypoints[j].x, `keypoint ${i}.${j}`, 1e-3));
  });
}

function assertSameAttributes(a: FaceAttributes, b: FaceAttributes): void {
  assert.equal(a.status, b.status);
  assert.equal(a.emotion?.label, b.emotion?.label);
  (a.emotion?.probs ?? []).forEach((v, k) => assertClose(v, b.emotion!.probs[k], `emotion ${k}`));
  assertClose(a.age!.years, b.age!.years, 'age', 1e-3);
  assertClose(a.gender!.male, b.gender!.male, 'P(male)');
  assert.ok(a.descriptor instanceof Float32Array && b.descriptor);
  assert.equal(a.descriptor.length, b.descriptor.length);
  a.descriptor.forEach((v, i) => assertClose(v, b.descriptor![i], `descriptor[${i}]`));
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof FacecastError, `a coded error, got ${String(e)}`);
    return e.code;
  }
  assert.fail('expected a rejection');
}

test('WorkerEngine gives the in-process FaceEngine results: detections and attributes within float tolerance', async () => {
  assert.equal(remote.detectorInputSize, local.detectorInputSize);
  const [dl, dr] = await Promise.all([local.detect(photo), remote.detect(photo)]);
  assert.equal(dr.length, 4);
  assertSameDetections(dr, dl);
  const [al, ar] = await Promise.all([local.classify(photo, dl), remote.classify(photo, dl)]);
  assert.equal(ar.length, al.length);
  ar.forEach((a, i) => assertSameAttributes(a, al[i]));
  const [el, er] = await Promise.all([local.classify(photo, dl, undefined, 'emotion'), remote.classify(photo, dl, undefined, 'emotion')]);
  er.forEach((a, i) => {
    assert.equal(a.emotion?.label, el[i].emotion?.label);
    (a.emotion?.probs ?? []).forEach((v, k) => assertClose(v, el[i].emotion!.probs[k], `emotion ${k}`));
    assert.equal(a.age, undefined, 'the scope crosses the thread boundary');
    assert.equal(a.descriptor, undefined);
  });
  const [il, ir] = await Promise.all([local.analyzeImage(photo, { wholeIfNone: true }), remote.analyzeImage(photo, { wholeIfNone: true })]);
  assert.equal(ir.path, il.path);
  ir.faces.forEach((f, i) => assertSameAttributes(f.attributes, il.faces[i].attributes));
});

test('a SharedArrayBuffer frame is sent in place (0 bytes copied); a plain buffer is copied once', async () => {
  const sab = shared(photo);
  const copied0 = remote.copiedBytes;
  const shared0 = remote.sharedCalls;
  const dets = await remote.detect(sab);
  await remote.classify(sab, dets);
  assert.equal(remote.copiedBytes - copied0, 0, 'no copy of shared memory');
  assert.equal(remote.sharedCalls - shared0, 2);
  await remote.detect(photo);
  assert.equal(remote.copiedBytes - copied0, photo.data.byteLength, 'one copy of the plain frame');
});

test('batcher stats reach the client (metrics read them synchronously)', async () => {
  await remote.detect(photo);
  await until(() => (remote.batchers[0]?.stats.items ?? 0) > 0, 5000, 'batcher stats from the worker');
  assert.equal(remote.batchers.length, local.batchers.length);
  assert.deepEqual(remote.batchers.map((b) => b.name), local.batchers.map((b) => b.name));
});

test('coded errors cross the thread: start failures keep their code, a detector-less engine refuses detect()', async () => {
  await assert.rejects(WorkerEngine.create({ roles: { detector: 'no-such-model' } }), (e: unknown) => e instanceof FacecastError && e.name === 'ModelError' && e.code === 'E_MODEL_NOT_FOUND');
  await using noDet = await WorkerEngine.create({ noDetector: true });
  assert.equal(noDet.detectorInputSize, undefined);
  await assert.rejects(noDet.detect(photo), (e: unknown) => e instanceof InvalidStateError && /without a detector/.test(e.message));
  // The same engine still works for what it has.
  const [attrs] = await noDet.classify(photo, [{ box: { x: 250, y: 520, w: 220, h: 240 }, score: 1, keypoints: [] }]);
  assert.equal(attrs.status, 'ok');
});

test('abort rejects at once with E_ABORTED, tells the worker, and the buffers come back', async () => {
  const ctl = new AbortController();
  const p = remote.detect(photo, ctl.signal);
  ctl.abort();
  assert.equal(await codeOf(p), 'E_ABORTED');
  assert.equal(await codeOf(remote.detect(photo, AbortSignal.abort())), 'E_ABORTED');
  await until(() => remote.pendingCalls === 0, 5000, 'the worker to answer the cancelled call');
  assert.equal((await remote.detect(photo)).length, 4, 'the engine goes on after an abort');
});

for (const how of ['exit', 'throw'] as const) {
  test(`worker crash (${how}): pending calls reject with E_ENGINE_CRASHED, it restarts, calls made meanwhile wait and succeed`, async () => {
    const restarts0 = remote.restarts;
    const pending = [remote.detect(photo), remote.detect(shared(photo))];
    await remote.crashForTests(how);
    const codes = await Promise.all(pending.map(codeOf));
    assert.deepEqual(codes, ['E_ENGINE_CRASHED', 'E_ENGINE_CRASHED']);
    assert.equal(remote.running, false, 'readiness reports the restart');
    // Made while the worker is down: waits for the restart (bounded by restartWaitMs) and then works.
    const dets = await remote.detect(photo);
    assert.equal(dets.length, 4);
    assert.equal(remote.restarts, restarts0 + 1);
    assert.equal(remote.running, true);
    assert.equal(remote.pendingCalls, 0);
  });
}

test('a call made while the worker restarts waits at most restartWaitMs, then rejects with E_ENGINE_CRASHED', async () => {
  await using e = await WorkerEngine.create({ allowCrash: true, noDetector: true, backoffMs: 1500, restartWaitMs: 100 });
  const face = [{ box: { x: 250, y: 520, w: 220, h: 240 }, score: 1, keypoints: [] }];
  await e.crashForTests('exit');
  await until(() => !e.running, 5000, 'the worker to die');
  assert.equal(await codeOf(e.classify(photo, face)), 'E_ENGINE_CRASHED');
  assert.equal(e.running, false, 'rejected at its 100 ms bound, before the restart (1.5 s backoff) brought a worker');
  await until(() => e.running, 20_000, 'the restart');
  assert.equal((await e.classify(photo, face))[0].status, 'ok');
});

test('close() is idempotent, rejects pending calls and later calls with InvalidStateError, ends the worker', async () => {
  const e = await WorkerEngine.create();
  const pending = e.detect(photo);
  const closing = e.close();
  assert.equal(await codeOf(pending), 'E_INVALID_STATE');
  await Promise.all([closing, e.close()]);
  assert.equal(e.closed, true);
  await assert.rejects(e.detect(photo), InvalidStateError);
  await assert.rejects(e.classify(photo, []), InvalidStateError);
  await e[Symbol.asyncDispose]();
});
