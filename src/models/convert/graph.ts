/**
 * Conversion state: the ONNX graph being built, tensor naming, constants, and the layout bookkeeping.
 *
 * Layout strategy: every TF tensor keeps its *logical* TF shape (NHWC for images). Physically it may exist
 * in the ONNX graph in TF order (`tf`), in channels-first order (`cf`, rank-4 only), or both. Conv and
 * pooling consume and produce `cf`; shape-sensitive ops (Reshape, outputs, …) ask for `tf`. Asking for a
 * form the value lacks inserts one Transpose, cached on the value, so each tensor is transposed at most
 * once per direction. Constants are transposed at conversion time instead.
 */
import { ModelError } from '../../core/errors.js';
import type { DataTypeCode, OnnxAttribute, OnnxNode, OnnxTensor } from './onnx.js';
import { DataType, attr } from './onnx.js';
import type { TfNodeDef } from './tfjs.js';
import type { ConstDtype, ConstTensor } from './weights.js';

/** A dimension of a logical shape: static size, or null when only known at run time (the batch). */
export type Dim = number | null;

export interface TVal {
  /** Logical TF shape (NHWC for rank-4 tensors). */
  shape: Dim[];
  dtype: ConstDtype;
  /** ONNX tensor holding the value in TF element order. */
  tf?: string;
  /** ONNX tensor holding a rank-4 value as NCHW. */
  cf?: string;
  /** Compile-time value (Const nodes). */
  konst?: ConstTensor;
  /** Base for names derived from this value. */
  label: string;
}

/** NHWC → NCHW permutation, and its inverse. */
export const TO_CF = [0, 3, 1, 2] as const;
export const TO_TF = [0, 2, 3, 1] as const;
/** Position inside an NCHW tensor of NHWC axis a. */
export const CF_POS = [0, 2, 3, 1] as const;

export function onnxType(d: ConstDtype): DataTypeCode {
  return d === 'float32' ? DataType.FLOAT : d === 'int32' ? DataType.INT32 : DataType.BOOL;
}

type Typed = Float32Array | Int32Array | Uint8Array;

/** Copy of `data` (row-major with `shape`) permuted by `perm`. */
export function transposeData<T extends Typed>(data: T, shape: readonly number[], perm: readonly number[]): T {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const stridesByOut = perm.map((p) => inStrides[p]);
  const Ctor = data.constructor as new (n: number) => T;
  const out = new Ctor(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < data.length; o++) {
    out[o] = data[src];
    // Odometer increment over the output index, tracking the matching input offset.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += stridesByOut[d];
      if (idx[d] < outShape[d]) break;
      src -= stridesByOut[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** NumPy-style broadcast of logical shapes; null (run-time) dims win over 1. */
export function broadcastShapes(shapes: Dim[][], node: TfNodeDef): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i];
      if (v === undefined || v === 1) continue;
      if (d === 1) d = v;
      else if (v !== null && d !== null && v !== d) {
        throw new ModelError('E_MODEL_FORMAT', `node "${node.name}": shapes ${shapes.map((x) => JSON.stringify(x)).join(' and ')} do not broadcast`);
      } else if (d === null) d = v;
    }
    out.push(d);
  }
  return out;
}

export function unsupported(node: TfNodeDef, detail?: string): ModelError {
  return new ModelError('E_MODEL_UNSUPPORTED_OP', `unsupported TF op "${node.op}" at node "${node.name}"${detail ? `: ${detail}` : ''}`);
}

export function formatError(node: TfNodeDef, detail: string): ModelError {
  return new ModelError('E_MODEL_FORMAT', `node "${node.name}" (${node.op}): ${detail}`);
}

export class ConvertContext {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly dynamicBatch: boolean;
  private readonly tensorNames = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private readonly variants = new WeakMap<ConstTensor, Map<string, string>>();
  private readonly shared = new Map<string, string>();
  private readonly cfBroadcast = new WeakMap<TVal, string>();

  constructor(opts: { dynamicBatch: boolean }) {
    this.dynamicBatch = opts.dynamicBatch;
  }

  /** Claims a tensor name (graph inputs/outputs) so that no internal tensor takes it. */
  reserve(name: string): void {
    this.tensorNames.add(name);
  }

  fresh(base: string): string {
    return uniqueIn(this.tensorNames, base);
  }

  /** Appends a single-output node; returns the output tensor name. */
  emit(opType: string, inputs: string[], outBase: string, attributes?: OnnxAttribute[]): string {
    const out = this.fresh(outBase);
    const node: OnnxNode = { opType, inputs, outputs: [out], name: uniqueIn(this.nodeNames, outBase) };
    if (attributes && attributes.length > 0) node.attributes = attributes;
    this.nodes.push(node);
    return out;
  }

  addInitializer(base: string, dataType: DataTypeCode, dims: readonly number[], data: OnnxTensor['data']): string {
    const name = this.fresh(base);
    this.initializers.push({ name, dataType, dims: dims.slice(), data });
    return name;
  }

  int64s(base: string, values: readonly number[]): string {
    return this.addInitializer(base, DataType.INT64, [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
  }

  /** A float scalar shared by every node that needs the same value (Clip bounds and the like). */
  floatScalar(value: number): string {
    const key = `f:${value}`;
    let name = this.shared.get(key);
    if (!name) {
      name = this.addInitializer(`const_${String(value).replace(/[^0-9a-z]/gi, '_')}`, DataType.FLOAT, [], Float32Array.of(value));
      this.shared.set(key, name);
    }
    return name;
  }

  /** Initializer derived from a constant, built once per (constant, variant). */
  constVariant(k: ConstTensor, variant: string, base: string, make: () => { dims: number[]; data: Typed }): string {
    let m = this.variants.get(k);
    if (!m) this.variants.set(k, (m = new Map()));
    let name = m.get(variant);
    if (!name) {
      const { dims, data } = make();
      name = this.addInitializer(base, onnxType(k.dtype), dims, data);
      m.set(variant, name);
    }
    return name;
  }

  /** The value in TF element order. */
  tf(v: TVal): string {
    if (v.tf) return v.tf;
    if (v.konst) {
      const k = v.konst;
      v.tf = this.constVariant(k, 'tf', v.label, () => ({ dims: k.shape, data: k.data }));
      return v.tf;
    }
    if (v.cf) {
      v.tf = this.emit('Transpose', [v.cf], `${v.label}__nhwc`, [attr.ints('perm', TO_TF)]);
      return v.tf;
    }
    throw new Error(`converter bug: value ${v.label} has no ONNX tensor`);
  }

  /** A rank-4 value as NCHW. */
  cf(v: TVal): string {
    if (v.cf) return v.cf;
    if (v.shape.length !== 4) throw new Error(`converter bug: cf() of rank-${v.shape.length} value ${v.label}`);
    if (v.konst) {
      const k = v.konst;
      v.cf = this.constVariant(k, 'cf', `${v.label}__nchw`, () => ({
        dims: TO_CF.map((p) => k.shape[p]),
        data: transposeData(k.data, k.shape, TO_CF),
      }));
      return v.cf;
    }
    v.cf = this.emit('Transpose', [this.tf(v)], `${v.label}__nchw`, [attr.ints('perm', TO_CF)]);
    return v.cf;
  }

  /** True when the value already lives channels-first (so ops on it should stay channels-first). */
  isCF(v: TVal): boolean {
    return v.cf !== undefined && v.shape.length === 4 && !v.konst;
  }

  /**
   * An operand of a broadcasting op whose result is rank-4 NCHW: the operand is right-aligned to NHWC
   * rank 4 (as TF broadcasting does) and then permuted, e.g. a per-channel [C] becomes [1,C,1,1].
   */
  cfOperand(v: TVal): string {
    const r = v.shape.length;
    if (r === 4) return this.cf(v);
    if (v.shape.every((d) => d === 1)) return this.tf(v);
    const cached = this.cfBroadcast.get(v);
    if (cached) return cached;
    const aligned = [...new Array<number>(4 - r).fill(1), ...v.shape];
    let name: string;
    if (v.konst) {
      const k = v.konst;
      const dims4 = aligned as number[];
      name = this.constVariant(k, 'cf-bcast', `${v.label}__nchw`, () => ({
        dims: TO_CF.map((p) => dims4[p]),
        data: transposeData(k.data, dims4, TO_CF),
      }));
    } else {
      const axes = this.int64s(`${v.label}__axes`, Array.from({ length: 4 - r }, (_, i) => i));
      const u = this.emit('Unsqueeze', [this.tf(v), axes], `${v.label}__4d`);
      name = this.emit('Transpose', [u], `${v.label}__4d_nchw`, [attr.ints('perm', TO_CF)]);
    }
    this.cfBroadcast.set(v, name);
    return name;
  }

  /** Renames a node-produced tensor everywhere (used to give graph outputs their TF names). */
  renameTensor(from: string, to: string): void {
    for (const n of this.nodes) {
      for (let i = 0; i < n.inputs.length; i++) if (n.inputs[i] === from) n.inputs[i] = to;
      for (let i = 0; i < n.outputs.length; i++) if (n.outputs[i] === from) n.outputs[i] = to;
    }
  }

  isNodeOutput(name: string): boolean {
    return this.nodes.some((n) => n.outputs.includes(name));
  }

  onnxOpCounts(): Record<string, number> {
    const c: Record<string, number> = {};
    for (const n of this.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
    return c;
  }
}

function uniqueIn(set: Set<string>, base: string): string {
  let name = base;
  for (let i = 1; set.has(name); i++) name = `${base}_${i}`;
  set.add(name);
  return name;
}

/** Normalises possibly negative axes against a rank, rejecting out-of-range ones. */
export function normAxes(axes: readonly number[], rank: number, node: TfNodeDef): number[] {
  return axes.map((a) => {
    const n = a < 0 ? a + rank : a;
    if (n < 0 || n >= rank) throw formatError(node, `axis ${a} out of range for rank ${rank}`);
    return n;
  });
}

/**
 * After dropping `removed` NHWC axes from an NCHW tensor, do the remaining axes sit in TF order?
 * (E.g. dropping H and W leaves [N,C] in both layouts, so a global pool needs no transpose.)
 */
export function cfDropKeepsTfOrder(removed: readonly number[]): boolean {
  const kept = TO_CF.filter((a) => !removed.includes(a));
  return kept.every((a, i) => i === 0 || kept[i - 1] < a);
}

/** Integer values of a compile-time constant input (shapes, axes, paddings). */
export function constInts(v: TVal | undefined, node: TfNodeDef, what: string): number[] {
  if (!v?.konst) throw unsupported(node, `${what} must be a constant`);
  return Array.from(v.konst.data, (x) => Math.round(x));
}

/** Converts one TF node; `inputs` are its data inputs (control inputs dropped), in order. */
export type OpHandler = (ctx: ConvertContext, node: TfNodeDef, inputs: TVal[]) => TVal;

/** Result value carrying a fresh ONNX tensor in the given form. */
export function produced(node: TfNodeDef, shape: Dim[], dtype: ConstDtype, form: 'tf' | 'cf', name: string): TVal {
  return form === 'cf' ? { shape, dtype, cf: name, label: node.name } : { shape, dtype, tf: name, label: node.name };
}

export function expectInputs(node: TfNodeDef, inputs: TVal[], min: number, max = min): void {
  if (inputs.length < min || inputs.length > max) {
    throw formatError(node, `expected ${min === max ? min : `${min}..${max}`} inputs, got ${inputs.length}`);
  }
}
