/**
 * The emotion head's `fuse` (log-probability fusion of the emotion model with a second emotion model): the
 * arithmetic, the manifest checks, which models run, and the classifier's use of it (with stub models).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelError } from '../../../src/core/errors.ts';
import { EMOTIONS } from '../../../src/core/types.ts';
import { FaceClassifier, type ClassifierModel } from '../../../src/inference/classify.ts';
import { emotionProbs, fuseEmotionProbs } from '../../../src/inference/heads.ts';
import { loadManifest, type ClassificationModelEntry, type HeadSpec } from '../../../src/models/manifest.ts';

type EmotionSpec = Extract<HeadSpec, { head: 'emotion' }>;
const isManifestError = (re: RegExp) => (e: unknown) => e instanceof ModelError && e.code === 'E_MANIFEST_INVALID' && re.test(e.message);

function writeManifest(body: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'fc-fuse-')), 'm.yaml');
  writeFileSync(f, body);
  return f;
}

const ENTRY = (id: string, heads: string): string =>
  `  - id: ${id}\n    task: face-classification\n    licence: MIT\n    source: { type: onnx, path: ./${id}.onnx }\n    input: { name: i, width: 48, height: 48, layout: NHWC, colour: grey, range: [0, 1] }\n    heads: ${heads}\n`;

test('fuseEmotionProbs: weight 0 and 1 return either reading, the bias is in the head’s label order', () => {
  const spec: EmotionSpec = { head: 'emotion', output: 'o', activation: 'none', labels: [...EMOTIONS], fuse: { model: 'b', weight: 0 } };
  const own = [0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1];
  const other = [0.05, 0.05, 0.05, 0.05, 0.05, 0.7, 0.05];
  fuseEmotionProbs(spec, own, other).forEach((p, i) => assert.ok(Math.abs(p - own[i]) < 1e-9));
  fuseEmotionProbs({ ...spec, fuse: { model: 'b', weight: 1 } }, own, other).forEach((p, i) => assert.ok(Math.abs(p - other[i]) < 1e-9));
  // equal weights: the geometric mean, renormalised; happy (0.4·0.05) loses to surprise (0.1·0.7)
  const half = fuseEmotionProbs({ ...spec, fuse: { model: 'b', weight: 0.5 } }, own, other);
  assert.equal(EMOTIONS[half.indexOf(Math.max(...half))], 'surprise');
  assert.ok(Math.abs(half.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  // a head whose labels are in another order: its bias follows that order, not the canonical one
  const reordered: EmotionSpec = { ...spec, labels: ['neutral', 'happy', 'sad', 'angry', 'fear', 'disgust', 'surprise'], fuse: { model: 'b', weight: 0, bias: [0, 5, 0, 0, 0, 0, 0] } };
  const biased = fuseEmotionProbs(reordered, own, other);
  assert.equal(EMOTIONS[biased.indexOf(Math.max(...biased))], 'happy');
  assert.ok(biased[EMOTIONS.indexOf('happy')] > 0.9);
});

test('manifest: fuse.model must be a classifier with an emotion head, not itself, and bias must fit the labels', () => {
  const head = (fuse: string): string => `[{ head: emotion, output: o, labels: [happy, sad], fuse: ${fuse} }]`;
  const other = ENTRY('other', '[{ head: emotion, output: p, labels: [sad, happy] }]');
  const good = writeManifest(`version: 1\nmodels:\n${ENTRY('a', head('{ model: other, weight: 0.5, bias: [0.1, 0] }'))}${other}`);
  const m = loadManifest([good]);
  const h = (m.models.get('a') as ClassificationModelEntry).heads[0];
  assert.ok(h.head === 'emotion' && h.fuse?.model === 'other' && h.fuse.weight === 0.5);
  assert.throws(() => loadManifest([writeManifest(`version: 1\nmodels:\n${ENTRY('a', head('{ model: nobody, weight: 0.5 }'))}`)]), isManifestError(/unknown model "nobody"/));
  assert.throws(() => loadManifest([writeManifest(`version: 1\nmodels:\n${ENTRY('a', head('{ model: faceres, weight: 0.5 }'))}`)]), isManifestError(/no emotion head/));
  assert.throws(() => loadManifest([writeManifest(`version: 1\nmodels:\n${ENTRY('a', head('{ model: a, weight: 0.5 }'))}`)]), isManifestError(/itself/));
  assert.throws(() => loadManifest([writeManifest(`version: 1\nmodels:\n${ENTRY('a', head('{ model: other, weight: 0.5, bias: [1] }'))}${other}`)]), isManifestError(/fuse\.bias has 1 values/));
  assert.throws(() => loadManifest([writeManifest(`version: 1\nmodels:\n${ENTRY('a', head('{ model: other, weight: 1.5 }'))}${other}`)]), isManifestError(/weight/));
});

test('the fused model runs only when the emotion head fuses, and the classifier fuses its output', async () => {
  const m = loadManifest([]);
  const emotion = m.models.get('emotion') as ClassificationModelEntry;
  const partner = m.models.get('faceapi-expression') as ClassificationModelEntry;
  assert.ok(partner, 'faceapi-expression is in the default manifest');
  const defaultHead = emotion.heads[0] as EmotionSpec;
  assert.equal(defaultHead.fuse?.model, 'faceapi-expression', 'the default emotion head fuses face-api\'s expression net');
  assert.deepEqual(FaceClassifier.headsFor({ emotion, emotionFuse: partner }, { race: false, descriptor: false }).get('faceapi-expression')?.map((h) => h.head), ['emotion']);
  // the same head without its fuse: the partner is not run
  const { fuse: _fuse, ...eh } = defaultHead;
  const plain: ClassificationModelEntry = { ...emotion, heads: [eh] };
  assert.equal(FaceClassifier.headsFor({ emotion: plain, emotionFuse: partner }, { race: false, descriptor: false }).has('faceapi-expression'), false, 'no fuse, no partner run');
  const fusing: ClassificationModelEntry = { ...emotion, heads: [{ ...eh, fuse: { model: 'faceapi-expression', weight: 0.5 } }] };
  assert.deepEqual(FaceClassifier.headsFor({ emotion: fusing, emotionFuse: partner }, { race: false, descriptor: false }).get('faceapi-expression')?.map((h) => h.head), ['emotion']);

  // stub models: the emotion model says happy, the partner says surprise more strongly
  const ph = partner.heads[0] as EmotionSpec;
  // (the default calibration favours surprise by 2.3 in log-probability over happy, so happy must lead clearly)
  const rawOwn = Float32Array.from(eh.labels.map((l) => (l === 'happy' ? 0.8 : l === 'surprise' ? 0.02 : 0.18 / 5)));
  const rawOther = Float32Array.from(ph.labels.map((l) => (l === 'surprise' ? 0.9 : l === 'happy' ? 0.05 : 0.05 / 5)));
  const stub = (entry: ClassificationModelEntry, output: string, raw: Float32Array): ClassifierModel =>
    ({ entry, classify: async () => new Map([[output, raw]]) }) as unknown as ClassifierModel;
  const img = { width: 64, height: 64, stride: 64 * 3, data: new Uint8Array(64 * 64 * 3) } as unknown as Parameters<FaceClassifier['classifyOne']>[0];
  const opts = { descriptor: false, minFaceSize: 0 };
  const alone = await new FaceClassifier({ emotion: stub(plain, eh.output, rawOwn) }, opts).classifyOne(img, {});
  assert.equal(alone.emotion?.label, 'happy');
  const fused = await new FaceClassifier({ emotion: stub(fusing, eh.output, rawOwn), emotionFuse: stub(partner, ph.output, rawOther) }, opts).classifyOne(img, {});
  assert.equal(fused.emotion?.label, 'surprise');
  const want = fuseEmotionProbs(fusing.heads[0] as EmotionSpec, emotionProbs(eh, rawOwn), emotionProbs(ph, rawOther));
  fused.emotion!.probs.forEach((p, i) => assert.ok(Math.abs(p - want[i]) < 1e-12));
  // a partner bound without a fuse on the head is ignored
  const unfused = await new FaceClassifier({ emotion: stub(plain, eh.output, rawOwn), emotionFuse: stub(partner, ph.output, rawOther) }, opts).classifyOne(img, {});
  assert.equal(unfused.emotion?.label, 'happy');
});
