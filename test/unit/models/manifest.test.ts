import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifest, parseManifest } from '../../../src/models/manifest.ts';
import { ModelError } from '../../../src/core/errors.ts';

test('the default manifest loads and assigns every role', () => {
  const m = loadManifest([]);
  assert.equal(m.roles.detector, 'blazeface-back');
  assert.equal(m.roles.emotion, 'emotion');
  assert.equal(m.roles.ageGender, 'faceres');
  assert.equal(m.roles.race, 'gear');
  for (const id of ['blazeface-back', 'emotion', 'faceres', 'gear']) assert.ok(m.models.has(id));
});

const isManifestError = (re: RegExp) => (e: unknown) => e instanceof ModelError && e.code === 'E_MANIFEST_INVALID' && re.test(e.message);

test('unknown keys are rejected with the path of the key', () => {
  const text = 'version: 1\nmodels:\n  - id: x\n    task: face-classification\n    licence: MIT\n    source: { type: onnx, path: x.onnx }\n    input: { name: i, width: 64, height: 64, layout: NHWC, colour: grey, range: [0, 1] }\n    heads: [{ head: emotion, output: o, labels: [happy, sad] }]\n    colour: red\n';
  assert.throws(() => parseManifest(text, 'm.yaml'), isManifestError(/models\.0/));
});

test('labels outside the canonical sets are rejected', () => {
  const text = 'version: 1\nmodels:\n  - id: x\n    task: face-classification\n    licence: MIT\n    source: { type: onnx, path: x.onnx }\n    input: { name: i, width: 64, height: 64, layout: NHWC, colour: grey, range: [0, 1] }\n    heads: [{ head: emotion, output: o, labels: [happy, contempt] }]\n';
  assert.throws(() => parseManifest(text, 'm.yaml'), isManifestError(/labels/));
});

test('a user manifest adds an ONNX model and a role can point at it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-manifest-'));
  const f = join(dir, 'mine.yaml');
  writeFileSync(f, 'version: 1\nroles: { emotion: my-emotion }\nmodels:\n  - id: my-emotion\n    task: face-classification\n    licence: MIT\n    source: { type: onnx, path: ./emo.onnx }\n    input: { name: input, width: 48, height: 48, layout: NCHW, colour: grey, range: [0, 1] }\n    crop: { scale: 1.1 }\n    heads: [{ head: emotion, output: probs, activation: softmax, labels: [neutral, happy, surprise, sad, angry, disgust, fear] }]\n');
  const m = loadManifest([f]);
  assert.equal(m.roles.emotion, 'my-emotion');
  const e = m.models.get('my-emotion');
  assert.ok(e && e.task === 'face-classification');
  assert.equal(e.baseDir, dir);
  assert.equal(e.crop.scale, 1.1);
  assert.equal(e.crop.align, true, 'defaults fill in');
});

test('a role naming a missing model, or a model without the needed head, is an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-manifest-'));
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, 'version: 1\nroles: { emotion: nope }\n');
  assert.throws(() => loadManifest([f]), isManifestError(/unknown model "nope"/));
  writeFileSync(f, 'version: 1\nroles: { ageGender: emotion }\n');
  assert.throws(() => loadManifest([f]), isManifestError(/needs a "age" head/));
  writeFileSync(f, 'version: 1\nroles: { detector: emotion }\n');
  assert.throws(() => loadManifest([f]), isManifestError(/face-detection/));
});

test('invalid YAML and a missing file are clear errors', () => {
  assert.throws(() => parseManifest('version: [1', 'x.yaml'), isManifestError(/not valid YAML/));
  assert.throws(() => loadManifest(['/nonexistent/manifest.yaml']), isManifestError(/does not exist/));
});
