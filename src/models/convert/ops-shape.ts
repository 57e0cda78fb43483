/** Shape and data-movement ops: Reshape, Squeeze, ExpandDims, Concat, Pad, reductions, Transpose, StridedSlice, Identity. */
import { attr } from './onnx.js';
import type { Dim, OpHandler, TVal } from './graph.js';
import {
  CF_POS,
  TO_CF,
  cfDropKeepsTfOrder,
  constInts,
  expectInputs,
  formatError,
  normAxes,
  produced,
  unsupported,
} from './graph.js';
import type { TfNodeDef } from './tfjs.js';
import { attrBool, attrInt, attrInts, attrString } from './tfjs.js';

function product(ds: readonly Dim[]): number | null {
  let p = 1;
  for (const d of ds) {
    if (d === null) return null;
    p *= d;
  }
  return p;
}

/** Output shape of an ONNX Reshape (0 = copy the input dim, -1 = inferred). */
function reshapeShape(node: TfNodeDef, inShape: Dim[], target: number[]): Dim[] {
  const out: Dim[] = target.map((t, i) => (t === 0 ? inShape[i] : t));
  const hole = target.indexOf(-1);
  if (hole < 0) return out;
  const rest = product(out.filter((_, i) => i !== hole));
  const total = product(inShape);
  if (total !== null && rest !== null) {
    if (rest === 0 || total % rest !== 0) throw formatError(node, `cannot reshape ${JSON.stringify(inShape)} to ${JSON.stringify(target)}`);
    out[hole] = total / rest;
  } else if (inShape[0] === null && out[0] === null && target[0] === 0) {
    // Only the batch is unknown and it is carried over as-is, so the hole is static.
    const inRest = product(inShape.slice(1));
    const outRest = product(out.slice(1).filter((_, i) => i + 1 !== hole));
    out[hole] = inRest !== null && outRest ? inRest / outRest : null;
  } else {
    out[hole] = null;
  }
  return out;
}

/**
 * Reshape runs on the TF-ordered tensor so elements keep TF order. With a dynamic batch, a baked batch
 * of 1 in the shape constant becomes 0 (ONNX: copy the input's dim), when the input dim 0 is the batch.
 */
const reshape: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 2);
  const [x, s] = inputs;
  const target = constInts(s, node, 'shape');
  if (target.includes(0)) throw unsupported(node, 'zero-sized dimension in target shape');
  if (ctx.dynamicBatch && x.shape.length > 0 && x.shape[0] === null && target.length > 0 && target[0] === 1) target[0] = 0;
  const shape = reshapeShape(node, x.shape, target);
  const out = ctx.emit('Reshape', [ctx.tf(x), ctx.int64s(`${node.name}__shape`, target)], node.name);
  return produced(node, shape, x.dtype, 'tf', out);
};

const squeeze: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 1);
  const x = inputs[0];
  const rank = x.shape.length;
  let axes = attrInts(node, 'squeeze_dims') ?? attrInts(node, 'axis') ?? [];
  axes = axes.length === 0 ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes(axes, rank, node);
  for (const a of axes) if (x.shape[a] !== 1 && x.shape[a] !== null) throw formatError(node, `cannot squeeze axis ${a} of ${JSON.stringify(x.shape)}`);
  const shape = x.shape.filter((_, i) => !axes.includes(i));
  if (axes.length === 0) return x;
  const cf = ctx.isCF(x) && cfDropKeepsTfOrder(axes);
  const onnxAxes = cf ? axes.map((a) => CF_POS[a]) : axes;
  const out = ctx.emit('Squeeze', [cf ? ctx.cf(x) : ctx.tf(x), ctx.int64s(`${node.name}__axes`, onnxAxes)], node.name);
  return produced(node, shape, x.dtype, 'tf', out);
};

const expandDims: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 2);
  const [x, a] = inputs;
  const axisArr = constInts(a, node, 'axis');
  if (axisArr.length !== 1) throw formatError(node, `axis must be a scalar, got ${axisArr.length} values`);
  const axis = normAxes(axisArr, x.shape.length + 1, node)[0];
  const shape = [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)];
  const out = ctx.emit('Unsqueeze', [ctx.tf(x), ctx.int64s(`${node.name}__axes`, [axis])], node.name);
  return produced(node, shape, x.dtype, 'tf', out);
};

/** ConcatV2 (values…, axis) and Concat (axis, values…); the channel axis maps to 1 when channels-first. */
const concat: OpHandler = (ctx, node, inputs) => {
  if (inputs.length < 2) throw formatError(node, 'concat needs values and an axis');
  const v2 = node.op === 'ConcatV2';
  const values = v2 ? inputs.slice(0, -1) : inputs.slice(1);
  const axisVal = v2 ? inputs[inputs.length - 1] : inputs[0];
  const rank = values[0].shape.length;
  if (values.some((v) => v.shape.length !== rank)) throw formatError(node, 'concat of tensors with different ranks');
  const axis = normAxes(constInts(axisVal, node, 'axis'), rank, node)[0];
  if (values.length === 1) return values[0];
  const shape = values[0].shape.slice();
  shape[axis] = values.reduce<Dim>((acc, v) => (acc === null || v.shape[axis] === null ? null : acc + (v.shape[axis] as number)), 0);
  const cf = rank === 4 && values.some((v) => ctx.isCF(v));
  const ins = values.map((v) => (cf ? ctx.cf(v) : ctx.tf(v)));
  const out = ctx.emit('Concat', ins, node.name, [attr.int('axis', cf ? CF_POS[axis] : axis)]);
  return produced(node, shape, values[0].dtype, cf ? 'cf' : 'tf', out);
};

/** Pad / PadV2 / MirrorPad; paddings are re-ordered to NCHW when the input is channels-first. */
const pad: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 2, node.op === 'PadV2' ? 3 : 2);
  const x = inputs[0];
  const rank = x.shape.length;
  const p = constInts(inputs[1], node, 'paddings');
  if (p.length !== rank * 2) throw formatError(node, `paddings has ${p.length} values for rank ${rank}`);
  if (p.some((v) => v < 0)) throw unsupported(node, 'negative paddings');
  let mode = 'constant';
  if (node.op === 'MirrorPad') {
    const m = (attrString(node, 'mode') ?? '').toUpperCase();
    if (m !== 'REFLECT') throw unsupported(node, `mode ${m || '(none)'} (ONNX has no SYMMETRIC mirror padding)`);
    mode = 'reflect';
  }
  const cf = rank === 4 && ctx.isCF(x);
  const order: readonly number[] = cf ? TO_CF : x.shape.map((_, i) => i);
  const pads = [...order.map((a) => p[2 * a]), ...order.map((a) => p[2 * a + 1])];
  const shape = x.shape.map((d, i) => (d === null ? null : d + p[2 * i] + p[2 * i + 1]));
  const ins = [cf ? ctx.cf(x) : ctx.tf(x), ctx.int64s(`${node.name}__pads`, pads)];
  if (node.op === 'PadV2' && inputs[2]) {
    const c = inputs[2];
    if (c.shape.length !== 0 && !(c.shape.length === 1 && c.shape[0] === 1)) throw unsupported(node, 'non-scalar constant_values');
    if (c.konst && c.konst.data[0] !== 0) {
      ins.push(c.shape.length === 0 ? ctx.tf(c) : ctx.floatScalar(c.konst.data[0]));
    } else if (!c.konst) {
      throw unsupported(node, 'constant_values must be a constant');
    }
  }
  const attributes = mode === 'constant' ? [] : [attr.string('mode', mode)];
  const out = ctx.emit('Pad', ins, node.name, attributes);
  return produced(node, shape, x.dtype, cf ? 'cf' : 'tf', out);
};

const REDUCE: Record<string, string> = { Mean: 'ReduceMean', Max: 'ReduceMax', Min: 'ReduceMin', Sum: 'ReduceSum', Prod: 'ReduceProd' };

/**
 * Reductions. On a channels-first input the NHWC axes are remapped (global pooling over [1,2] becomes
 * [2,3]) as long as the surviving axes come out in TF order; otherwise the input is transposed back first.
 */
const reduce: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 2);
  const [x, a] = inputs;
  const rank = x.shape.length;
  const axes = [...new Set(normAxes(constInts(a, node, 'reduction_indices'), rank, node))].sort((p, q) => p - q);
  const keep = attrBool(node, 'keep_dims') ?? false;
  // TF reduces nothing for an empty axis list, whereas ONNX would reduce everything.
  if (axes.length === 0) return x;
  const shape = keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  const cf = ctx.isCF(x) && (keep || cfDropKeepsTfOrder(axes));
  const onnxAxes = (cf ? axes.map((ax) => CF_POS[ax]) : axes).sort((p, q) => p - q);
  const onnxOp = REDUCE[node.op];
  const keepAttr = attr.int('keepdims', keep ? 1 : 0);
  const input = cf ? ctx.cf(x) : ctx.tf(x);
  const out =
    onnxOp === 'ReduceSum'
      ? ctx.emit(onnxOp, [input, ctx.int64s(`${node.name}__axes`, onnxAxes)], node.name, [keepAttr])
      : ctx.emit(onnxOp, [input], node.name, [attr.ints('axes', onnxAxes), keepAttr]);
  return produced(node, shape, x.dtype, cf && keep ? 'cf' : 'tf', out);
};

const transpose: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 2);
  const [x, p] = inputs;
  const perm = normAxes(constInts(p, node, 'perm'), x.shape.length, node);
  if (perm.length !== x.shape.length) throw formatError(node, `perm ${JSON.stringify(perm)} does not match rank ${x.shape.length}`);
  const out = ctx.emit('Transpose', [ctx.tf(x)], node.name, [attr.ints('perm', perm)]);
  return produced(node, perm.map((i) => x.shape[i]), x.dtype, 'tf', out);
};

const BIG = 2 ** 31 - 1;

/**
 * StridedSlice with constant begin/end/strides, begin/end/shrink masks (SSR-Net reads `x[:, k]` this way);
 * ellipsis and new-axis masks are not supported. ONNX Slice on the TF-ordered tensor, then Squeeze for the
 * shrunk axes.
 */
const stridedSlice: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 4);
  const [x, bv, ev, sv] = inputs;
  const begin = constInts(bv, node, 'begin');
  const end = constInts(ev, node, 'end');
  const strides = constInts(sv, node, 'strides');
  const mask = (name: string): number => attrInt(node, name) ?? 0;
  if (mask('ellipsis_mask') !== 0 || mask('new_axis_mask') !== 0) throw unsupported(node, 'ellipsis_mask / new_axis_mask');
  const rank = x.shape.length;
  if (begin.length !== end.length || begin.length !== strides.length || begin.length > rank) throw formatError(node, 'begin, end and strides must have one value per sliced axis');
  const [bm, em, sm] = [mask('begin_mask'), mask('end_mask'), mask('shrink_axis_mask')];
  const starts: number[] = [];
  const ends: number[] = [];
  const shape: Dim[] = x.shape.slice();
  const shrunk: number[] = [];
  for (let i = 0; i < begin.length; i++) {
    const st = strides[i];
    if (st === 0) throw formatError(node, 'stride 0');
    const d = x.shape[i];
    let b = bm & (1 << i) ? (st > 0 ? 0 : BIG) : begin[i];
    let e = em & (1 << i) ? (st > 0 ? BIG : -BIG) : end[i];
    if (sm & (1 << i)) {
      // one element at `begin` (a negative index counts from the end)
      b = begin[i];
      e = b === -1 ? BIG : b + 1;
      if (st !== 1) throw unsupported(node, 'shrink_axis_mask with a stride other than 1');
      shrunk.push(i);
    }
    starts.push(b);
    ends.push(e);
    if (d !== null) {
      const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v < 0 ? v + d : v));
      const n = st > 0 ? Math.ceil((clamp(e, 0, d) - clamp(b, 0, d)) / st) : Math.ceil((clamp(e, -1, d - 1) - clamp(b, -1, d - 1)) / st);
      shape[i] = Math.max(0, n);
    }
  }
  const axes = begin.map((_, i) => i);
  let out = ctx.emit('Slice', [ctx.tf(x), ctx.int64s(`${node.name}__starts`, starts), ctx.int64s(`${node.name}__ends`, ends), ctx.int64s(`${node.name}__axes`, axes), ctx.int64s(`${node.name}__steps`, strides)], shrunk.length ? `${node.name}__slice` : node.name);
  if (shrunk.length) out = ctx.emit('Squeeze', [out, ctx.int64s(`${node.name}__squeeze`, shrunk)], node.name);
  return produced(node, shape.filter((_, i) => !shrunk.includes(i)), x.dtype, 'tf', out);
};

/** Pass-through ops alias their input: no ONNX node at all. */
const identity: OpHandler = (_ctx, node, inputs) => {
  if (inputs.length < 1) throw formatError(node, 'identity without input');
  return inputs[0] satisfies TVal;
};

export const shapeOps: Record<string, OpHandler> = {
  Reshape: reshape,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  ConcatV2: concat,
  Concat: concat,
  Pad: pad,
  PadV2: pad,
  MirrorPad: pad,
  Mean: reduce,
  Max: reduce,
  Min: reduce,
  Sum: reduce,
  Prod: reduce,
  Transpose: transpose,
  StridedSlice: stridedSlice,
  Identity: identity,
  StopGradient: identity,
  Snapshot: identity,
};
