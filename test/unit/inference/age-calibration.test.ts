import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ageResult, calibrateAge } from '../../../src/inference/heads.ts';
import { loadManifest, parseManifest } from '../../../src/models/manifest.ts';

const knots = [[0, 0.5], [12, 4.9], [22, 14.5], [28, 24.3], [33, 38.2], [38, 46.4], [45, 59.7], [60, 72.2]] as const;

test('age calibration is monotone, interpolates between knots, extends the end slopes and clamps to 0..100', () => {
  assert.equal(calibrateAge(33, knots), 38.2);
  assert.ok(Math.abs(calibrateAge(30.5, knots) - (24.3 + 38.2) / 2) < 1e-9);
  let prev = -Infinity;
  for (let y = -5; y <= 110; y += 0.5) {
    const c = calibrateAge(y, knots);
    assert.ok(c >= prev && c >= 0 && c <= 100, `at ${y}`);
    prev = c;
  }
  assert.ok(Math.abs(calibrateAge(70, knots) - (72.2 + (10 * 12.5) / 15)) < 1e-9, 'last slope past the end');
  assert.equal(calibrateAge(200, knots), 100);
  assert.equal(ageResult([0, 1, 0], [10, 33, 50], knots).years, 38.2);
  assert.equal(ageResult([0, 1, 0], [10, 33, 50]).years, 33, 'no knots: the expected age as decoded');
});

test('the default manifest calibrates the FaceRes age head', () => {
  const m = loadManifest([]);
  const faceres = m.models.get('faceres');
  assert.ok(faceres && faceres.task === 'face-classification');
  const age = faceres.heads.find((h) => h.head === 'age');
  assert.ok(age && age.head === 'age' && age.calibration && age.calibration.length >= 4);
});

test('a manifest with age calibration knots that go down is rejected', () => {
  const doc = (cal: string): string => `version: 1\nmodels:\n  - id: x\n    task: face-classification\n    licence: MIT\n    source: { type: onnx, path: x.onnx }\n    input: { name: i, width: 8, height: 8, layout: NHWC, colour: rgb, range: [0, 1] }\n    heads:\n      - { head: age, output: a, kind: bins, start: 0.5, step: 1, calibration: ${cal} }\n`;
  assert.doesNotThrow(() => parseManifest(doc('[[0, 1], [20, 15], [40, 60]]'), 'm.yaml'));
  assert.throws(() => parseManifest(doc('[[0, 5], [20, 3]]'), 'm.yaml'), /calibration/);
});
