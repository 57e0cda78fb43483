/** Element-wise arithmetic, activations, Softmax and MatMul. */
import type { OnnxAttribute } from './onnx.js';
import { attr } from './onnx.js';
import type { ConvertContext, Dim, OpHandler, TVal } from './graph.js';
import { broadcastShapes, expectInputs, formatError, produced, unsupported } from './graph.js';
import type { TfNodeDef } from './tfjs.js';
import { attrBool, attrFloat, attrString, attrStrings } from './tfjs.js';

/** TF's LeakyRelu default; also what TF.js assumes for fused LeakyRelu without the attr. */
const DEFAULT_LEAKY_ALPHA = 0.2;

/**
 * Runs a broadcasting ONNX op. When the result is rank-4 and a run-time operand is already channels-first,
 * the whole op runs channels-first, with constants re-laid out at conversion time; otherwise in TF order.
 */
export function broadcastOp(ctx: ConvertContext, node: TfNodeDef, onnxOp: string, vals: TVal[], attributes?: OnnxAttribute[]): TVal {
  const shape = broadcastShapes(vals.map((v) => v.shape), node);
  const dtype = (vals.find((v) => !v.konst) ?? vals[0]).dtype;
  const useCF = shape.length === 4 && vals.some((v) => ctx.isCF(v));
  const ins = vals.map((v) => (useCF ? ctx.cfOperand(v) : ctx.tf(v)));
  return produced(node, shape, dtype, useCF ? 'cf' : 'tf', ctx.emit(onnxOp, ins, node.name, attributes));
}

/** Applies a unary ONNX op in whatever layout the input already has. */
export function unaryOp(ctx: ConvertContext, node: TfNodeDef, x: TVal, onnxOp: string, extraInputs: string[] = [], attributes?: OnnxAttribute[]): TVal {
  const cf = ctx.isCF(x);
  const input = cf ? ctx.cf(x) : ctx.tf(x);
  return produced(node, x.shape, x.dtype, cf ? 'cf' : 'tf', ctx.emit(onnxOp, [input, ...extraInputs], node.name, attributes));
}

/**
 * Emits a fused activation on an ONNX tensor that is in `form` layout; returns the new tensor name.
 * `alpha` is the Prelu slope (a TF-layout value, broadcast along channels).
 */
export function emitActivation(
  ctx: ConvertContext,
  node: TfNodeDef,
  act: string,
  input: string,
  form: 'tf' | 'cf',
  alpha: TVal | undefined,
  leakyAlpha: number,
): string {
  const base = node.name;
  switch (act) {
    case 'Relu':
      return ctx.emit('Relu', [input], base);
    case 'Relu6':
      return ctx.emit('Clip', [input, ctx.floatScalar(0), ctx.floatScalar(6)], base);
    case 'Elu':
      return ctx.emit('Elu', [input], base, [attr.float('alpha', 1)]);
    case 'Sigmoid':
      return ctx.emit('Sigmoid', [input], base);
    case 'Tanh':
      return ctx.emit('Tanh', [input], base);
    case 'LeakyRelu':
      return ctx.emit('LeakyRelu', [input], base, [attr.float('alpha', leakyAlpha)]);
    case 'Prelu': {
      if (!alpha) throw formatError(node, 'Prelu activation without an alpha argument');
      const slope = form === 'cf' ? ctx.cfOperand(alpha) : ctx.tf(alpha);
      return ctx.emit('PRelu', [input, slope], base);
    }
    default:
      throw unsupported(node, `fused activation ${act}`);
  }
}

export interface FusedParts {
  bias?: TVal;
  activation?: string;
  alpha?: TVal;
  leakyAlpha: number;
}

/**
 * Reads `fused_ops` of _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul. TF.js executes these as
 * [BiasAdd, activation?] with args [bias, prelu-alpha?]; anything else (FusedBatchNorm, …) is refused
 * rather than guessed.
 */
export function fusedParts(node: TfNodeDef, args: TVal[]): FusedParts {
  const ops = attrStrings(node, 'fused_ops') ?? [];
  const leakyAlpha = attrFloat(node, 'leakyrelu_alpha') ?? DEFAULT_LEAKY_ALPHA;
  if (ops.length === 0) return { leakyAlpha };
  if (ops[0] !== 'BiasAdd' || ops.length > 2) throw unsupported(node, `fused_ops [${ops.join(', ')}]`);
  const activation = ops[1];
  const need = activation === 'Prelu' ? 2 : 1;
  if (args.length < need) throw formatError(node, `fused_ops [${ops.join(', ')}] need ${need} extra inputs, got ${args.length}`);
  return { bias: args[0], activation, alpha: activation === 'Prelu' ? args[1] : undefined, leakyAlpha };
}

const BINARY: Record<string, string> = {
  Add: 'Add',
  AddV2: 'Add',
  BiasAdd: 'Add',
  Sub: 'Sub',
  Mul: 'Mul',
  RealDiv: 'Div',
  Div: 'Div',
  Maximum: 'Max',
  Minimum: 'Min',
  Pow: 'Pow',
};

const binary: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 2);
  if (node.op === 'BiasAdd' && (attrString(node, 'data_format') ?? 'NHWC') !== 'NHWC') {
    throw unsupported(node, `data_format ${attrString(node, 'data_format')}`);
  }
  return broadcastOp(ctx, node, BINARY[node.op], inputs);
};

const addN: OpHandler = (ctx, node, inputs) => {
  if (inputs.length === 0) throw formatError(node, 'AddN without inputs');
  return inputs.length === 1 ? inputs[0] : broadcastOp(ctx, node, 'Sum', inputs);
};

const squaredDifference: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 2);
  const d = broadcastOp(ctx, { ...node, name: `${node.name}__diff` }, 'Sub', inputs);
  return unaryOp(ctx, node, d, 'Mul', [d.cf ?? ctx.tf(d)]);
};

const UNARY: Record<string, string> = {
  Relu: 'Relu',
  Sigmoid: 'Sigmoid',
  Tanh: 'Tanh',
  Neg: 'Neg',
  Abs: 'Abs',
  Exp: 'Exp',
  Log: 'Log',
  Sqrt: 'Sqrt',
  Reciprocal: 'Reciprocal',
  Softplus: 'Softplus',
  Floor: 'Floor',
  Ceil: 'Ceil',
};

const unary: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 1);
  return unaryOp(ctx, node, inputs[0], UNARY[node.op]);
};

const relu6: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 1);
  return unaryOp(ctx, node, inputs[0], 'Clip', [ctx.floatScalar(0), ctx.floatScalar(6)]);
};

const elu: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 1);
  return unaryOp(ctx, node, inputs[0], 'Elu', [], [attr.float('alpha', 1)]);
};

const leakyRelu: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 1);
  return unaryOp(ctx, node, inputs[0], 'LeakyRelu', [], [attr.float('alpha', attrFloat(node, 'alpha') ?? DEFAULT_LEAKY_ALPHA)]);
};

const prelu: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 2);
  const [x, alpha] = inputs;
  const cf = ctx.isCF(x);
  const slope = cf ? ctx.cfOperand(alpha) : ctx.tf(alpha);
  return produced(node, x.shape, x.dtype, cf ? 'cf' : 'tf', ctx.emit('PRelu', [cf ? ctx.cf(x) : ctx.tf(x), slope], node.name));
};

const rsqrt: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 1);
  const s = unaryOp(ctx, { ...node, name: `${node.name}__sqrt` }, inputs[0], 'Sqrt');
  return unaryOp(ctx, node, s, 'Reciprocal');
};

const square: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 1);
  const x = inputs[0];
  const t = ctx.isCF(x) ? ctx.cf(x) : ctx.tf(x);
  return unaryOp(ctx, node, x, 'Mul', [t]);
};

/** TF Softmax is over the last axis, which is axis 1 (C) of a channels-first rank-4 tensor. */
const softmax: OpHandler = (ctx, node, inputs) => {
  expectInputs(node, inputs, 1);
  const x = inputs[0];
  const onnxOp = node.op === 'LogSoftmax' ? 'LogSoftmax' : 'Softmax';
  if (ctx.isCF(x)) return produced(node, x.shape, x.dtype, 'cf', ctx.emit(onnxOp, [ctx.cf(x)], node.name, [attr.int('axis', 1)]));
  return produced(node, x.shape, x.dtype, 'tf', ctx.emit(onnxOp, [ctx.tf(x)], node.name, [attr.int('axis', -1)]));
};

/** MatMul and _FusedMatMul as Gemm (bias folded in as C); rank-2 operands only, like TF MatMul. */
const matMul: OpHandler = (ctx, node, inputs) => {
  if (inputs.length < 2) throw formatError(node, 'MatMul needs two inputs');
  const [a, b] = inputs;
  if (a.shape.length !== 2 || b.shape.length !== 2) {
    throw unsupported(node, `operands of rank ${a.shape.length} and ${b.shape.length} (only rank 2 is supported)`);
  }
  const ta = attrBool(node, 'transpose_a') ?? false;
  const tb = attrBool(node, 'transpose_b') ?? false;
  const fused = node.op === '_FusedMatMul' ? fusedParts(node, inputs.slice(2)) : { leakyAlpha: DEFAULT_LEAKY_ALPHA };
  const m: Dim = ta ? a.shape[1] : a.shape[0];
  const n: Dim = tb ? b.shape[0] : b.shape[1];
  const ins = [ctx.tf(a), ctx.tf(b)];
  if (fused.bias) ins.push(ctx.tf(fused.bias));
  const attributes = [];
  if (ta) attributes.push(attr.int('transA', 1));
  if (tb) attributes.push(attr.int('transB', 1));
  const gemmOut = fused.activation ? `${node.name}__gemm` : node.name;
  let out = ctx.emit('Gemm', ins, gemmOut, attributes);
  if (fused.activation) out = emitActivation(ctx, node, fused.activation, out, 'tf', fused.alpha, fused.leakyAlpha);
  return produced(node, [m, n], a.dtype, 'tf', out);
};

export const mathOps: Record<string, OpHandler> = {
  ...Object.fromEntries(Object.keys(BINARY).map((k) => [k, binary])),
  ...Object.fromEntries(Object.keys(UNARY).map((k) => [k, unary])),
  AddN: addN,
  SquaredDifference: squaredDifference,
  Relu6: relu6,
  Elu: elu,
  LeakyRelu: leakyRelu,
  Prelu: prelu,
  Rsqrt: rsqrt,
  Square: square,
  Softmax: softmax,
  LogSoftmax: softmax,
  MatMul: matMul,
  _FusedMatMul: matMul,
};
