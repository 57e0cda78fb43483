import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { FaceEngine } from '../../src/inference/engine.ts';
import { OnnxSession } from '../../src/inference/session.ts';
import { loadImage, decodeImage } from '../../src/ingest/image.ts';
import { InputError } from '../../src/core/errors.ts';
import { EMOTIONS, type RgbImage } from '../../src/core/types.ts';
import { ModelStore } from '../../src/models/store.ts';
import { loadManifest, getModel } from '../../src/models/manifest.ts';
import { samplePhoto } from '../helpers/photos.ts';

let engine: FaceEngine;
let sample6: RgbImage;

before(async () => {
  engine = await FaceEngine.create({ classifier: { race: true } });
  sample6 = await loadImage(samplePhoto(6));
});
after(async () => {
  await engine.close();
});

/** Four women stand side by side in sample6; their faces are at these centres (source pixels, by eye). */
const SAMPLE6_FACES = [
  { cx: 350, cy: 640 },
  { cx: 780, cy: 490 },
  { cx: 1265, cy: 460 },
  { cx: 1590, cy: 430 },
];

test('detect() finds the four faces of a group photo, with eye keypoints inside each box', async () => {
  const dets = await engine.detect(sample6);
  assert.equal(dets.length, 4, `found ${dets.length}`);
  for (const f of SAMPLE6_FACES) {
    const d = dets.find((x) => Math.abs(x.box.x + x.box.w / 2 - f.cx) < 80 && Math.abs(x.box.y + x.box.h / 2 - f.cy) < 80);
    assert.ok(d, `no detection near (${f.cx},${f.cy})`);
    assert.ok(d.score > 0.7);
    assert.ok(d.box.w > 150 && d.box.w < 330, `box width ${d.box.w}`);
    const [re, le] = d.keypoints;
    assert.ok(re.x < le.x, "the subject's right eye is on the image's left");
    for (const p of [re, le]) assert.ok(p.x > d.box.x && p.x < d.box.x + d.box.w && p.y > d.box.y && p.y < d.box.y + d.box.h);
  }
});

test('concurrent detect() calls on one engine give the same results as sequential ones, sharing runs', async () => {
  const imgs = await Promise.all([1, 2, 6].map((n) => loadImage(samplePhoto(n as 1 | 2 | 6))));
  const sequential = [];
  for (const img of imgs) sequential.push(await engine.detect(img));
  const batches0 = engine.detector!.batcher.stats.batches;
  const concurrent = await Promise.all(imgs.map((img) => engine.detect(img)));
  assert.deepEqual(concurrent, sequential);
  assert.ok(engine.detector!.batcher.stats.batches - batches0 < imgs.length, 'frames submitted together share a run');
});

test('analyzeImage() classifies every face: emotion distribution, age, gender, descriptor, race when enabled', async () => {
  const r = await engine.analyzeImage(sample6);
  assert.equal(r.path, 'detected');
  assert.equal(r.faces.length, 4);
  for (const f of r.faces) {
    const a = f.attributes;
    assert.equal(a.status, 'ok');
    assert.ok(a.emotion && EMOTIONS.includes(a.emotion.label));
    assert.ok(Math.abs(a.emotion.probs.reduce((s, p) => s + p, 0) - 1) < 1e-4);
    assert.ok(a.age && a.age.years > 12 && a.age.years < 50, `age ${a.age?.years}`);
    assert.ok(a.gender && a.gender.label === 'female', `all four are women; got ${a.gender?.label} (${a.gender?.male})`);
    assert.ok(a.descriptor && a.descriptor.length === 1024);
    assert.ok(a.race);
  }
  // at least two of them smile broadly
  assert.ok(r.faces.filter((f) => f.attributes.emotion?.label === 'happy').length >= 2);
});

async function cropOf(img: string, cx: number, cy: number, side: number, size: number): Promise<RgbImage> {
  const { data, info } = await sharp(img).extract({ left: cx - side / 2, top: cy - side / 2, width: side, height: side }).resize(size, size).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, stride: info.width * 3 };
}

test('a tight face crop (FER-style) is classified whole, and the path says so', async () => {
  // the face fills the image: nothing for the detector to find, but a face for the classifiers
  const crop = await cropOf(samplePhoto(6), 780, 490, 160, 64);
  const none = await engine.analyzeImage(crop);
  assert.equal(none.path, 'none');
  assert.equal(none.faces.length, 0);
  const whole = await engine.analyzeImage(crop, { wholeIfNone: true });
  assert.equal(whole.path, 'whole');
  assert.equal(whole.faces.length, 1);
  assert.equal(whole.faces[0].detection, undefined);
  assert.equal(whole.faces[0].attributes.status, 'ok');
  assert.equal(whole.faces[0].attributes.emotion?.label, 'happy');
});

test('a loose face crop with margin (UTKFace-style) goes through the detector', async () => {
  const crop = await cropOf(samplePhoto(6), 780, 490, 300, 200);
  const r = await engine.analyzeImage(crop, { wholeIfNone: true });
  assert.equal(r.path, 'detected');
  assert.equal(r.faces.length, 1);
  assert.equal(r.faces[0].attributes.gender?.label, 'female');
});

test('faces below minFaceSize are reported as too small, not guessed', async () => {
  const small = await sharp(samplePhoto(6)).resize(240).raw().toBuffer({ resolveWithObject: true });
  const img: RgbImage = { data: new Uint8Array(small.data), width: small.info.width, height: small.info.height, stride: small.info.width * 3 };
  const attrs = await engine.classify(img, [{ box: { x: 10, y: 10, w: 20, h: 20 }, score: 0.9, keypoints: [] }]);
  assert.deepEqual(attrs, [{ status: 'too-small' }]);
});

test('mirror test-time augmentation keeps the predictions of a clear face', async () => {
  const tta = await FaceEngine.create({ classifier: { tta: true }, noDetector: true });
  try {
    const dets = await engine.detect(sample6);
    const plain = await engine.classify(sample6, dets);
    const flipped = await tta.classify(sample6, dets);
    for (let i = 0; i < dets.length; i++) {
      assert.ok(Math.abs((plain[i].age?.years ?? 0) - (flipped[i].age?.years ?? 0)) < 8);
      assert.equal(plain[i].gender?.label, flipped[i].gender?.label);
    }
  } finally {
    await tta.close();
  }
});

test('classify() batches crops from concurrent callers into shared runs', async () => {
  const dets = await engine.detect(sample6);
  const faceres = engine.models.find((m) => m.entry.id === 'faceres');
  assert.ok(faceres);
  const before = { ...faceres.batcher.stats, sizes: [...faceres.batcher.stats.sizes] };
  await Promise.all([engine.classify(sample6, dets), engine.classify(sample6, dets)]);
  const batches = faceres.batcher.stats.batches - before.batches;
  const items = faceres.batcher.stats.items - before.items;
  assert.equal(items, 8);
  assert.ok(batches < items, `${items} crops in ${batches} runs`);
});

test("classify scope 'emotion' runs the emotion models only: the same emotions, no age, gender or descriptor, no faceres run", async () => {
  const dets = await engine.detect(sample6);
  const faceres = engine.models.find((m) => m.entry.id === 'faceres');
  assert.ok(faceres);
  const full = await engine.classify(sample6, dets);
  const items0 = faceres.batcher.stats.items;
  const emo = await engine.classify(sample6, dets, undefined, 'emotion');
  assert.equal(faceres.batcher.stats.items - items0, 0, 'faceres did not run');
  assert.equal(emo.length, dets.length);
  emo.forEach((a, i) => {
    assert.equal(a.status, 'ok');
    assert.equal(a.age, undefined);
    assert.equal(a.gender, undefined);
    assert.equal(a.descriptor, undefined);
    assert.equal(a.emotion?.label, full[i].emotion?.label);
    a.emotion!.probs.forEach((p, k) => assert.ok(Math.abs(p - full[i].emotion!.probs[k]) < 1e-5));
  });
});

test('the same face gives close descriptors from two crops, a different face a distant one', async () => {
  const dets = await engine.detect(sample6);
  const a = await engine.classify(sample6, dets);
  const shifted = dets.map((d) => ({ ...d, box: { ...d.box, x: d.box.x + 6, y: d.box.y - 4 } }));
  const b = await engine.classify(sample6, shifted);
  const cos = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
  const same = cos(a[0].descriptor!, b[0].descriptor!);
  const other = cos(a[0].descriptor!, a[1].descriptor!);
  assert.ok(same > other + 0.1, `same ${same.toFixed(3)} vs other ${other.toFixed(3)}`);
});

test('CUDA is found by trying: without its provider library a CUDA request falls back to the CPU and says why', async () => {
  const store = new ModelStore();
  const r = await store.resolve(getModel(loadManifest(), 'emotion'));
  await using s = await OnnxSession.create('emotion', r.onnxPath, { provider: 'cuda' });
  // onnxruntime-node loads CUDA from libonnxruntime_providers_cuda.so next to its binding (installed only by its
  // CUDA postinstall); where that exists, a CUDA session must be taken instead.
  const { existsSync } = await import('node:fs');
  const { createRequire } = await import('node:module');
  const { dirname, join } = await import('node:path');
  const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
  if (existsSync(join(bin, 'libonnxruntime_providers_cuda.so'))) {
    assert.equal(s.provider, 'cuda', `CUDA library present but not taken: ${s.fallbackReason}`);
    assert.equal(s.fallbackReason, undefined);
    return;
  }
  assert.equal(s.provider, 'cpu');
  // onnxruntime's own reason, not a guess from listSupportedBackends(): here its CUDA provider library is missing.
  assert.match(s.fallbackReason ?? '', /^CUDA execution provider failed: .*ExecutionProvider_Cuda.*Failed to load shared library/);
  await using plain = await OnnxSession.create('emotion', r.onnxPath);
  assert.equal(plain.fallbackReason, undefined, 'no reason when CUDA was not asked for');
});

test('loadImage() errors carry codes: missing, empty and corrupt files', async () => {
  await assert.rejects(loadImage('/nonexistent.jpg'), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT_NOT_FOUND');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'fc-img-'));
  writeFileSync(join(dir, 'empty.jpg'), '');
  writeFileSync(join(dir, 'bad.jpg'), 'not an image at all');
  await assert.rejects(loadImage(join(dir, 'empty.jpg')), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT_UNREADABLE');
  await assert.rejects(loadImage(join(dir, 'bad.jpg')), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT_UNREADABLE');
  await assert.rejects(decodeImage(new Uint8Array([0xff, 0xd8, 0xff])), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT_UNREADABLE');
});

test('a CUDA engine in the worker reports the CPU fallback and its reason to the main thread', async () => {
  const { WorkerEngine } = await import('../../src/inference/worker/client.ts');
  await using w = await WorkerEngine.create({ provider: 'cuda', noDetector: true });
  if (w.provider === 'cuda') return; // a machine with CUDA: covered by the session test above
  assert.equal(w.provider, 'cpu');
  assert.match(w.fallbackReason ?? '', /^CUDA execution provider failed: /);
});

test('engine.close() is idempotent and later calls fail with InvalidStateError', async () => {
  const e = await FaceEngine.create({ noDetector: true });
  await e.close();
  await e.close();
  assert.equal(e.closed, true);
  await assert.rejects(e.classify(sample6, []), (err: unknown) => (err as { code?: string }).code === 'E_INVALID_STATE');
});
