/**
 * Test helpers: build small TF.js graph models in memory (model.json object + weight bytes, as
 * tensorflowjs_converter writes them) and check the ONNX conversion against TF.js itself.
 */
import assert from 'node:assert/strict';
import type { TfjsArtifacts, TfNodeDef, WeightManifestEntry } from '../../../src/models/convert/index.js';
import { convertTfjsGraph } from '../../../src/models/convert/index.js';
import type { ConvertOptions, ConvertResult } from '../../../src/models/convert/index.js';
import type { TfAttrValue, TfSignature } from '../../../src/models/convert/tfjs.js';
import type { ParityReport } from '../../../src/models/parity.js';
import { compareModel } from '../../../src/models/parity.js';
export { rng } from '../../helpers/rng.ts';
import { rng } from '../../helpers/rng.ts';

export function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** Attribute values in model.json's JSON encoding (int64 as strings, strings as base64). */
export const A = {
  ints: (v: number[]): TfAttrValue => ({ list: { i: v.map(String) } }),
  s: (v: string): TfAttrValue => ({ s: b64(v) }),
  strs: (v: string[]): TfAttrValue => ({ list: { s: v.map(b64) } }),
  b: (v: boolean): TfAttrValue => ({ b: v }),
  f: (v: number): TfAttrValue => ({ f: v }),
  i: (v: number): TfAttrValue => ({ i: String(v) }),
  T: { type: 'DT_FLOAT' } as TfAttrValue,
};

/** Conv/pool attrs as TF writes them: strides/dilations/ksize as NHWC 4-lists. */
export function convAttrs(o: { stride?: number; padding?: 'SAME' | 'VALID' | 'EXPLICIT'; dilation?: number; explicit?: number[] }): Record<string, TfAttrValue> {
  const s = o.stride ?? 1;
  const d = o.dilation ?? 1;
  const a: Record<string, TfAttrValue> = {
    T: A.T,
    strides: A.ints([1, s, s, 1]),
    dilations: A.ints([1, d, d, 1]),
    padding: A.s(o.padding ?? 'SAME'),
    data_format: A.s('NHWC'),
    explicit_paddings: o.explicit ? A.ints(o.explicit) : { list: {} },
  };
  return a;
}

export function fusedAttrs(ops: string[], numArgs: number, base: Record<string, TfAttrValue>): Record<string, TfAttrValue> {
  return { ...base, fused_ops: A.strs(ops), num_args: A.i(numArgs), epsilon: A.f(0) };
}


export function randomArray(n: number, r: () => number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => lo + r() * (hi - lo));
}

/** float32 → IEEE half bits (round-half-up is fine here: both sides decode the same bits). */
export function toHalf(v: number): number {
  const x = new Uint32Array(Float32Array.of(v).buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >> (1 - exp);
    return sign | ((m + 0x1000) >> 13);
  }
  if (exp >= 31) return sign | 0x7c00;
  return (sign | (exp << 10) | (mant >> 13)) + ((mant & 0x1000) ? 1 : 0);
}

export type Quant = 'float16' | 'uint8' | 'uint16' | 'uint16-scale-first';

export class GraphBuilder {
  readonly nodes: TfNodeDef[] = [];
  private readonly weights: WeightManifestEntry[] = [];
  private readonly chunks: Uint8Array[] = [];
  private readonly inputs: { name: string; shape: number[] }[] = [];
  readonly r: () => number;

  constructor(seed = 1) {
    this.r = rng(seed);
  }

  input(name: string, shape: number[]): string {
    this.inputs.push({ name, shape });
    this.nodes.push({
      name,
      op: 'Placeholder',
      attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: shape.map((s) => ({ size: String(s) })) } } },
    });
    return name;
  }

  /** A float Const stored in the weights manifest, optionally quantized the way tfjs-converter does it. */
  constF(name: string, shape: number[], values?: ArrayLike<number>, quant?: Quant): string {
    const n = shape.reduce((p, q) => p * q, 1);
    const v = values ? Float32Array.from(values) : randomArray(n, this.r);
    assert.equal(v.length, n, `const ${name}: ${v.length} values for shape ${JSON.stringify(shape)}`);
    const entry: WeightManifestEntry = { name, shape, dtype: 'float32' };
    if (quant === 'float16') {
      entry.quantization = { dtype: 'float16', original_dtype: 'float32' };
      this.chunks.push(new Uint8Array(Uint16Array.from(v, toHalf).buffer));
    } else if (quant) {
      const bits = quant === 'uint8' ? 8 : 16;
      let min = Math.min(...v);
      const max = Math.max(...v);
      if (max === min) min -= 1;
      const scale = (max - min) / (2 ** bits - 1);
      const q = v.map((x) => Math.round((x - min) / scale));
      entry.quantization =
        quant === 'uint16-scale-first' ? { dtype: 'uint16', scale, min, original_dtype: 'float32' } : { dtype: bits === 8 ? 'uint8' : 'uint16', min, scale, original_dtype: 'float32' };
      this.chunks.push(bits === 8 ? Uint8Array.from(q) : new Uint8Array(Uint16Array.from(q).buffer));
    } else {
      this.chunks.push(new Uint8Array(v.buffer));
    }
    this.weights.push(entry);
    this.nodes.push(constNode(name, 'DT_FLOAT', shape));
    return name;
  }

  constI(name: string, shape: number[], values: number[]): string {
    this.weights.push({ name, shape, dtype: 'int32' });
    this.chunks.push(new Uint8Array(Int32Array.from(values).buffer));
    this.nodes.push(constNode(name, 'DT_INT32', shape));
    return name;
  }

  op(name: string, op: string, inputs: string[], attr: Record<string, TfAttrValue> = {}): string {
    this.nodes.push({ name, op, input: inputs, attr: { T: A.T, ...attr } });
    return name;
  }

  /** Artifacts with the given outputs; the signature goes top-level (like faceres) or into userDefinedMetadata. */
  build(outputs: string[], where: 'signature' | 'userDefinedMetadata' | 'none' = 'signature'): TfjsArtifacts {
    const total = this.chunks.reduce((s, c) => s + c.byteLength, 0);
    const weightData = new Uint8Array(total);
    let off = 0;
    for (const c of this.chunks) {
      weightData.set(c, off);
      off += c.byteLength;
    }
    const signature: TfSignature = {
      inputs: Object.fromEntries(this.inputs.map((i) => [`${i.name}:0`, { name: `${i.name}:0`, dtype: 'DT_FLOAT' }])),
      outputs: Object.fromEntries(outputs.map((o) => [`${o}:0`, { name: `${o}:0`, dtype: 'DT_FLOAT' }])),
    };
    return {
      modelJson: {
        format: 'graph-model',
        generatedBy: 'test',
        convertedBy: 'test harness',
        modelTopology: { node: structuredClone(this.nodes), versions: {} },
        weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: structuredClone(this.weights) }],
        ...(where === 'signature' ? { signature } : where === 'userDefinedMetadata' ? { userDefinedMetadata: { signature } } : {}),
      },
      weightData,
    };
  }
}

function constNode(name: string, dtype: string, shape: number[]): TfNodeDef {
  return {
    name,
    op: 'Const',
    attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: shape.map((s) => ({ size: String(s) })) } } } },
  };
}

export interface ParityCheck {
  report: ParityReport;
  result: ConvertResult;
}

/**
 * Converts, runs TF.js and onnxruntime on `samples` random inputs, and asserts every output agrees to
 * `tol` relative to the output's magnitude (absolute for values of magnitude ≤ 1).
 */
export async function checkParity(
  a: TfjsArtifacts,
  inputShape: number[],
  o: {
    tol?: number;
    samples?: number;
    range?: [number, number];
    seed?: number;
    convert?: ConvertOptions;
    /** Run this (equivalent) graph in TF.js instead, where TF.js itself mis-executes `a`. */
    reference?: TfjsArtifacts;
  } = {},
): Promise<ParityCheck> {
  const result = convertTfjsGraph(a, o.convert);
  const r = rng(o.seed ?? 7);
  const n = inputShape.reduce((p, q) => p * q, 1);
  const [lo, hi] = o.range ?? [-1, 1];
  const inputs = Array.from({ length: o.samples ?? 2 }, () => randomArray(n, r, lo, hi));
  const report = await compareModel(o.reference ?? a, result.onnx, inputs, inputShape);
  const tol = o.tol ?? 1e-4;
  for (const out of report.outputs) {
    assert.ok(
      out.maxAbsDiff <= tol * Math.max(1, out.maxAbsRef),
      `output ${out.name}: max abs diff ${out.maxAbsDiff} (max |ref| ${out.maxAbsRef}) exceeds ${tol}`,
    );
    assert.ok(out.maxAbsRef > 0 || out.dims.length === 0, `output ${out.name} is all zeros: the test would prove nothing`);
  }
  return { report, result };
}
