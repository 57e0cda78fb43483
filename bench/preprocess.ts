/**
 * The JS crop sampler (src/inference/preprocess.ts sampleRegion), per crop, for the default classifiers' inputs:
 * a face crop wholly inside a 720p frame and one over its top edge, at ~1× (one tap per pixel) and ~2× the
 * model's input (2×2 supersampling), rotated 0.1 rad as aligned crops are. It runs in the inference worker for
 * every classified face and every model, so it is part of every classification's cost.
 *   node --import tsx bench/preprocess.ts
 * Writes bench/results/preprocess.json and preprocess.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeNormaliser, sampleRegion, tensorSize, type Region } from '../src/inference/preprocess.js';
import type { InputSpec } from '../src/models/manifest.js';
import { cpuModel } from './lib.js';

const W = 1280;
const H = 720;
const data = new Uint8Array(W * H * 3);
for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
const img = { data, width: W, height: H, stride: W * 3 };
// the default manifest's classifier inputs (models/manifest.yaml)
const inputs: Record<string, InputSpec> = {
  'faceres 224 rgb': { name: 'x', width: 224, height: 224, layout: 'NHWC', colour: 'rgb', range: [0, 255] },
  'faceapi-expression 112 rgb': { name: 'x', width: 112, height: 112, layout: 'NHWC', colour: 'rgb', range: [0, 255] },
  'emotion 64 grey': { name: 'x', width: 64, height: 64, layout: 'NHWC', colour: 'grey', range: [-1, 1] },
};
const crops: [string, (side: number) => Region][] = [
  ['inside, ~1×', (s) => ({ cx: 600, cy: 360, width: s * 1.004, height: s * 1.004, angle: 0.1, flip: false })],
  ['over the edge, ~1×', (s) => ({ cx: 600, cy: s * 0.27, width: s * 1.004, height: s * 1.004, angle: 0.1, flip: false })],
  ['inside, ~2×', (s) => ({ cx: 600, cy: 360, width: s * 2.01, height: s * 2.01, angle: 0.1, flip: false })],
  ['over the edge, ~2×', (s) => ({ cx: 600, cy: s * 0.45, width: s * 2.01, height: s * 2.01, angle: 0.1, flip: false })],
];
// Interleaved, as the worker runs them (every model's crops of each face in turn): timing one input after another
// lets V8 tune the sampler for the first one only, which misstates the others.
const cases = Object.entries(inputs).flatMap(([name, spec]) => {
  const norm = makeNormaliser(spec);
  const dst = new Float32Array(tensorSize(norm));
  return crops.map(([label, make]) => ({ name, label, norm, dst, region: make(spec.width), times: [] as number[] }));
});
for (let rep = 0; rep < 20; rep++) for (const c of cases) sampleRegion(img, c.region, c.norm, c.dst, 0);
for (let rep = 0; rep < 200; rep++) {
  for (const c of cases) {
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) sampleRegion(img, c.region, c.norm, c.dst, 0);
    c.times.push((performance.now() - t0) / 5);
  }
}
const rows = cases.map((c) => {
  c.times.sort((a, b) => a - b);
  return { input: c.name, crop: c.label, ms: Math.round(c.times[c.times.length >> 1] * 1000) / 1000 };
});
const r = { date: new Date().toISOString(), machine: { cpu: cpuModel(), node: process.version }, rows };
const out = join(dirname(new URL(import.meta.url).pathname), 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'preprocess.json'), JSON.stringify(r, null, 1) + '\n');
const md = `# Crop sampler cost per crop (${r.date})

Machine: ${r.machine.cpu}; Node ${r.machine.node}. sampleRegion from a 1280×720 RGB frame into each default classifier's input, rotated 0.1 rad; all crops interleaved, median of 200 × 5 crops, ms.

Command: \`node --import tsx bench/preprocess.ts\`

| model input | ${crops.map(([l]) => l).join(' | ')} |
|---|${crops.map(() => '---|').join('')}
${Object.keys(inputs).map((name) => `| ${name} | ${rows.filter((x) => x.input === name).map((x) => x.ms.toFixed(3)).join(' | ')} |`).join('\n')}
`;
writeFileSync(join(out, 'preprocess.md'), md);
process.stdout.write(md);
