/**
 * Per-face classification cost of engine configurations, for the levers' cost rule (issue 15: no lever over +20 %
 * per-face time unless it gains ≥ 2 points). Shared by eval/levers-extra.ts and eval/gender-extra.ts, which differ
 * only in how their command lines name the configurations.
 */
import { FaceEngine, type EngineOptions } from '../src/inference/engine.js';
import { loadImage } from '../src/ingest/image.js';

/**
 * Process CPU ms per classified face for each configuration: median of 10 rounds × 20 classifications of the first
 * face the first configuration detects in the image (COST_IMAGE or a face-api demo photo), rounds interleaved.
 */
export async function perFaceCpuMs(configs: { name: string; options: EngineOptions }[]): Promise<Record<string, number>> {
  const img = await loadImage(process.env.COST_IMAGE ?? 'node_modules/@vladmandic/face-api/demo/sample1.jpg');
  const runs: { name: string; engine: FaceEngine; ms: number[] }[] = [];
  try {
    for (const c of configs) runs.push({ name: c.name, engine: await FaceEngine.create({ warmup: 3, ...c.options }), ms: [] });
    const dets = await runs[0].engine.detect(img);
    if (dets.length === 0) throw new Error('no face in the cost image');
    for (let round = 0; round < 10; round++) {
      for (const r of runs) {
        // CPU time, not wall time: on a loaded machine the wall clock measures the other processes
        const t0 = process.cpuUsage();
        for (let i = 0; i < 20; i++) await r.engine.classify(img, [dets[0]]);
        const d = process.cpuUsage(t0);
        r.ms.push((d.user + d.system) / 1e3 / 20);
      }
    }
    return Object.fromEntries(runs.map((r) => [r.name, [...r.ms].sort((a, b) => a - b)[Math.floor(r.ms.length / 2)]]));
  } finally {
    for (const r of runs) await r.engine.close();
  }
}
