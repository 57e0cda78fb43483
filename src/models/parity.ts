/**
 * Numerical parity between a TF.js graph model (run by TF.js itself, cpu backend) and its ONNX conversion
 * (run by onnxruntime-node) on the same NHWC inputs. TF.js is a devDependency, so it is imported lazily
 * and only this module needs it.
 */
import * as ort from 'onnxruntime-node';
import { ModelError } from '../core/errors.js';
import type { TfjsArtifacts } from './convert/index.js';

type TfCore = typeof import('@tensorflow/tfjs-core');
type GraphModel = import('@tensorflow/tfjs-converter').GraphModel;
type LoadGraphModel = typeof import('@tensorflow/tfjs-converter').loadGraphModel;

interface TfRuntime {
  core: TfCore;
  loadGraphModel: LoadGraphModel;
}

let runtime: Promise<TfRuntime> | undefined;

/**
 * TF.js on its pure-JS cpu backend. The umbrella package is preferred; if it cannot load (e.g. an install
 * where its bundled `long` dependency was not hoisted) the same code is reached through its parts.
 */
export function loadTfjs(): Promise<TfRuntime> {
  runtime ??= (async (): Promise<TfRuntime> => {
    let rt: TfRuntime;
    try {
      const tf = await import('@tensorflow/tfjs');
      rt = { core: tf, loadGraphModel: tf.loadGraphModel };
    } catch (umbrellaError) {
      try {
        const core = await import('@tensorflow/tfjs-core');
        await import('@tensorflow/tfjs-backend-cpu');
        const converter = await import('@tensorflow/tfjs-converter');
        rt = { core, loadGraphModel: converter.loadGraphModel };
      } catch {
        throw new ModelError(
          'E_MODEL_LOAD',
          'parity checks need @tensorflow/tfjs, a devDependency that is not installed (npm install --include=dev)',
          { cause: umbrellaError },
        );
      }
    }
    // Production mode skips TF.js's debug checks and its "install tfjs-node" console banner.
    rt.core.enableProdMode();
    await rt.core.setBackend('cpu');
    await rt.core.ready();
    return rt;
  })();
  return runtime;
}

/** Loads a TF.js graph model from in-memory artifacts. */
export async function loadTfjsGraphModel(a: TfjsArtifacts): Promise<GraphModel> {
  const { core, loadGraphModel } = await loadTfjs();
  const j = a.modelJson;
  const weightData = a.weightData.buffer.slice(a.weightData.byteOffset, a.weightData.byteOffset + a.weightData.byteLength);
  const handler = core.io.fromMemory({
    modelTopology: j.modelTopology,
    weightSpecs: j.weightsManifest.flatMap((g) => g.weights) as import('@tensorflow/tfjs-core').io.WeightsManifestEntry[],
    weightData: weightData as ArrayBuffer,
    format: j.format,
    generatedBy: j.generatedBy,
    convertedBy: j.convertedBy ?? undefined,
    signature: j.signature as object | undefined,
    userDefinedMetadata: j.userDefinedMetadata as object | undefined,
  });
  return loadGraphModel(handler);
}

export interface TensorData {
  data: Float32Array;
  dims: number[];
}

/** Runs the TF.js model on one NHWC input and returns the requested outputs. */
export async function runTfjsModel(model: GraphModel, inputName: string, data: Float32Array, shape: readonly number[], outputNames: string[]): Promise<TensorData[]> {
  const { core } = await loadTfjs();
  const x = core.tensor(data, shape.slice(), 'float32');
  try {
    const res = model.execute({ [inputName]: x }, outputNames);
    const list = Array.isArray(res) ? res : [res];
    const out: TensorData[] = [];
    for (const t of list) {
      out.push({ data: Float32Array.from(t.dataSync()), dims: t.shape.slice() });
      t.dispose();
    }
    return out;
  } finally {
    x.dispose();
  }
}

export function createOnnxSession(onnx: Uint8Array, opts: { intraOpNumThreads?: number } = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(Buffer.from(onnx.buffer, onnx.byteOffset, onnx.byteLength), {
    intraOpNumThreads: opts.intraOpNumThreads ?? 1,
    interOpNumThreads: 1,
  });
}

export async function runOnnxModel(session: ort.InferenceSession, inputName: string, data: Float32Array, shape: readonly number[], outputNames: string[]): Promise<TensorData[]> {
  const res = await session.run({ [inputName]: new ort.Tensor('float32', data, shape.slice()) }, outputNames);
  return outputNames.map((n) => {
    const t = res[n];
    if (t.type !== 'float32') throw new ModelError('E_MODEL_IO_MISMATCH', `ONNX output ${n} is ${t.type}, expected float32`);
    return { data: t.data as Float32Array, dims: t.dims.slice() };
  });
}

export interface OutputParity {
  name: string;
  dims: number[];
  maxAbsDiff: number;
  /** maxAbsDiff relative to the largest |TF.js value| of this output. */
  maxRelDiff: number;
  maxAbsRef: number;
  /** Rows along the last axis look like probability distributions (in [0,1], summing to 1). */
  probability: boolean;
  /** Fraction of rows whose argmax agrees (probability outputs only). */
  argmaxAgreement: number | null;
}

export interface ParityReport {
  samples: number;
  outputs: OutputParity[];
  tfjsMs: number;
  onnxMs: number;
}

function isProbability(t: TensorData): boolean {
  const k = t.dims[t.dims.length - 1];
  if (!(k > 1)) return false;
  for (let r = 0; r < t.data.length; r += k) {
    let sum = 0;
    for (let i = r; i < r + k; i++) {
      const v = t.data[i];
      if (v < -1e-6 || v > 1 + 1e-6) return false;
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) return false;
  }
  return true;
}

function argmaxRows(t: TensorData): number[] {
  const k = t.dims[t.dims.length - 1];
  const out: number[] = [];
  for (let r = 0; r < t.data.length; r += k) {
    let best = r;
    for (let i = r + 1; i < r + k; i++) if (t.data[i] > t.data[best]) best = i;
    out.push(best - r);
  }
  return out;
}

interface Accum {
  maxAbsDiff: number;
  maxAbsRef: number;
  probability: boolean;
  agree: number;
  rows: number;
  dims: number[];
}

/** Folds one (reference, candidate) pair of an output into the running statistics. */
function accumulate(acc: Accum, ref: TensorData, got: TensorData, name: string): void {
  if (ref.data.length !== got.data.length) {
    throw new ModelError('E_MODEL_IO_MISMATCH', `output ${name}: TF.js gives ${JSON.stringify(ref.dims)}, ONNX ${JSON.stringify(got.dims)}`);
  }
  for (let i = 0; i < ref.data.length; i++) {
    const d = Math.abs(ref.data[i] - got.data[i]);
    // NaN must not hide behind a comparison that is always false.
    if (d > acc.maxAbsDiff || Number.isNaN(d)) acc.maxAbsDiff = Number.isNaN(d) ? Infinity : d;
    const a = Math.abs(ref.data[i]);
    if (a > acc.maxAbsRef) acc.maxAbsRef = a;
  }
  acc.dims = ref.dims;
  if (acc.probability && isProbability(ref)) {
    const ra = argmaxRows(ref);
    const ga = argmaxRows(got);
    for (let i = 0; i < ra.length; i++) if (ra[i] === ga[i]) acc.agree++;
    acc.rows += ra.length;
  } else {
    acc.probability = false;
  }
}

/**
 * Runs TF.js and ONNX on every input (each a full NHWC tensor of `shape`) and reports, per output,
 * the worst absolute and relative difference over all inputs.
 */
export async function compareModel(
  artifacts: TfjsArtifacts,
  onnx: Uint8Array | ort.InferenceSession,
  inputs: Float32Array[],
  shape: readonly number[],
  opts: { inputName?: string; outputNames?: string[]; tfjsModel?: GraphModel } = {},
): Promise<ParityReport> {
  const session = onnx instanceof Uint8Array ? await createOnnxSession(onnx) : onnx;
  const model = opts.tfjsModel ?? (await loadTfjsGraphModel(artifacts));
  const inputName = opts.inputName ?? session.inputNames[0];
  const outputNames = opts.outputNames ?? session.outputNames.slice();
  const acc: Accum[] = outputNames.map(() => ({ maxAbsDiff: 0, maxAbsRef: 0, probability: true, agree: 0, rows: 0, dims: [] }));
  let tfjsMs = 0;
  let onnxMs = 0;
  try {
    for (const x of inputs) {
      let t0 = performance.now();
      const ref = await runTfjsModel(model, inputName, x, shape, outputNames);
      tfjsMs += performance.now() - t0;
      t0 = performance.now();
      const got = await runOnnxModel(session, inputName, x, shape, outputNames);
      onnxMs += performance.now() - t0;
      outputNames.forEach((n, i) => accumulate(acc[i], ref[i], got[i], n));
    }
  } finally {
    // Only what this call created is released; callers' model/session stay usable.
    if (!opts.tfjsModel) model.dispose();
    if (onnx instanceof Uint8Array) await session.release();
  }
  return {
    samples: inputs.length,
    tfjsMs,
    onnxMs,
    outputs: outputNames.map((name, i) => {
      const a = acc[i];
      const probability = a.probability && a.rows > 0;
      return {
        name,
        dims: a.dims,
        maxAbsDiff: a.maxAbsDiff,
        maxRelDiff: a.maxAbsRef > 0 ? a.maxAbsDiff / a.maxAbsRef : a.maxAbsDiff,
        maxAbsRef: a.maxAbsRef,
        probability,
        argmaxAgreement: probability ? a.agree / a.rows : null,
      };
    }),
  };
}

/** A compact fixed-width table of parity figures, one row per (model, output). */
export function formatParityTable(rows: { model: string; report: ParityReport }[]): string {
  const lines = [['model', 'output', 'dims', 'max|ref|', 'maxAbsDiff', 'maxRelDiff', 'argmax']];
  for (const { model, report } of rows) {
    for (const o of report.outputs) {
      lines.push([
        model,
        o.name,
        JSON.stringify(o.dims),
        o.maxAbsRef.toPrecision(4),
        o.maxAbsDiff.toExponential(2),
        o.maxRelDiff.toExponential(2),
        o.argmaxAgreement === null ? '-' : `${(o.argmaxAgreement * 100).toFixed(0)}%`,
      ]);
    }
  }
  const widths = lines[0].map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  return lines.map((l) => l.map((cell, c) => cell.padEnd(widths[c])).join('  ')).join('\n');
}
