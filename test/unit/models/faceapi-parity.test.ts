/**
 * face-api's expression and age/gender nets: the graphs facecast writes down (src/models/faceapi) and converts to
 * ONNX must compute what face-api's own JavaScript computes (its net classes on TF.js cpu, weights loaded with
 * tf.io.decodeWeights + loadFromWeightMap), on random inputs and on a real face crop. @vladmandic/face-api is a
 * dependency, so this runs everywhere the project is installed; it skips only where the package is absent.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { decodeImage } from '../../../src/ingest/image.js';
import { makeNormaliser, sampleRegion, tensorSize } from '../../../src/inference/preprocess.js';
import { convertTfjsGraph } from '../../../src/models/convert/index.js';
import { loadFaceApiArtifacts, type FaceApiNet } from '../../../src/models/faceapi/index.js';
import { faceApiParity, randomFaceApiInput, type FaceApiInputSet } from '../../../src/models/faceapi/parity.js';

const require = createRequire(import.meta.url);
let pkgDir: string | undefined;
try {
  pkgDir = dirname(require.resolve('@vladmandic/face-api/package.json'));
} catch {
  pkgDir = undefined;
}

const NETS: { net: FaceApiNet; file: string }[] = [
  { net: 'expression', file: 'model/face_expression_model-weights_manifest.json' },
  { net: 'age-gender', file: 'model/age_gender_model-weights_manifest.json' },
];

/** One face of face-api's demo photo (the one `facecast models verify` uses), cropped square to 112×112 RGB 0..255. */
async function faceCrop(dir: string): Promise<Float32Array> {
  const p = join(dir, 'demo/sample6.jpg');
  assert.ok(existsSync(p), `${p} is missing`);
  const img = await decodeImage(readFileSync(p), p);
  const norm = makeNormaliser({ name: 'input', width: 112, height: 112, layout: 'NHWC', colour: 'rgb', range: [0, 255] });
  const out = new Float32Array(tensorSize(norm));
  sampleRegion(img, { cx: 781, cy: 496, width: 241, height: 241, angle: 0, flip: false }, norm, out, 0);
  return out;
}

for (const { net, file } of NETS) {
  test(`face-api ${net}: converted ONNX matches face-api's JS on TF.js`, { skip: pkgDir ? false : '@vladmandic/face-api not installed', timeout: 60_000 }, async (t) => {
    const dir = pkgDir as string;
    const manifest = join(dir, file);
    const result = convertTfjsGraph(await loadFaceApiArtifacts(manifest, net), { modelName: `faceapi-${net}` });
    assert.deepEqual(result.inputs, [{ name: 'input', shape: ['N', 112, 112, 3] }]);
    const outs = result.outputs.map((o) => o.name);
    assert.deepEqual(outs, net === 'expression' ? ['expressions'] : ['age', 'gender']);
    const sets: FaceApiInputSet[] = [
      { input: 'random', data: randomFaceApiInput(2, 7), batch: 2 },
      { input: 'face crop', data: await faceCrop(dir), batch: 1 },
    ];
    const rows = await faceApiParity(manifest, net, result.onnx, sets);
    assert.equal(rows.length, sets.length * outs.length);
    for (const r of rows) t.diagnostic(`${r.input} ${r.output}: max abs ${r.maxAbs.toExponential(2)}, max rel ${r.maxRel.toExponential(2)}`);
    for (const r of rows) {
      assert.ok(r.maxRel < 1e-4, `${r.input} ${r.output}: max relative difference ${r.maxRel}`);
      if (r.argmaxAgree !== undefined) assert.ok(r.argmaxAgree, `${r.input} ${r.output}: arg-max differs`);
    }
  });
}

test('face-api weights manifest: a weight the graph does not read is an error, not ignored', { skip: pkgDir ? false : '@vladmandic/face-api not installed' }, async () => {
  // The expression manifest read as the age/gender net: the graph names weights the manifest lacks, or leaves
  // shipped weights unread; either way the mismatch must surface (here: the converter finds no entry_flow weights).
  const dir = pkgDir as string;
  const a = await loadFaceApiArtifacts(join(dir, NETS[0].file), 'expression');
  assert.ok(a.modelJson.modelTopology.node.some((n) => n.name === 'dense3/conv3/pointwise_filter'));
  await assert.rejects(() => loadFaceApiArtifacts(join(dir, NETS[0].file), 'age-gender'), /weights not used/);
});
