/** Convolutions and pooling: NHWC in TF, run channels-first in ONNX. */
import type { OnnxAttribute } from './onnx.js';
import { attr } from './onnx.js';
import type { Dim, OpHandler, TVal } from './graph.js';
import { formatError, produced, transposeData, unsupported } from './graph.js';
import { emitActivation, fusedParts } from './ops-math.js';
import type { TfNodeDef } from './tfjs.js';
import { attrInts, attrString } from './tfjs.js';

interface Window {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
}

/** ONNX pads [top, left, bottom, right], or auto_pad when SAME meets an unknown spatial size. */
type Pads = { pads: [number, number, number, number] } | { autoPad: 'SAME_UPPER' };

/**
 * TF padding → explicit ONNX pads. SAME puts the odd pixel at the end (bottom/right), which is what
 * ONNX SAME_UPPER does too; we prefer explicit pads so the graph does not depend on auto_pad support.
 */
export function computePads(node: TfNodeDef, inH: Dim, inW: Dim, w: Window): Pads {
  const padding = (attrString(node, 'padding') ?? 'VALID').toUpperCase();
  if (padding === 'VALID') return { pads: [0, 0, 0, 0] };
  if (padding === 'EXPLICIT') {
    const p = attrInts(node, 'explicit_paddings') ?? [];
    if (p.length !== 8) throw formatError(node, `explicit_paddings has ${p.length} values, expected 8`);
    if (p[0] || p[1] || p[6] || p[7]) throw unsupported(node, 'explicit padding on batch or channel axes');
    return { pads: [p[2], p[4], p[3], p[5]] };
  }
  if (padding !== 'SAME') throw unsupported(node, `padding ${padding}`);
  if (inH === null || inW === null) return { autoPad: 'SAME_UPPER' };
  const total = (inSize: number, k: number, s: number, d: number): number =>
    Math.max((Math.ceil(inSize / s) - 1) * s + (k - 1) * d + 1 - inSize, 0);
  const th = total(inH, w.kernel[0], w.strides[0], w.dilations[0]);
  const tw = total(inW, w.kernel[1], w.strides[1], w.dilations[1]);
  const top = Math.floor(th / 2);
  const left = Math.floor(tw / 2);
  return { pads: [top, left, th - top, tw - left] };
}

function outDim(inSize: Dim, k: number, s: number, d: number, before: number, after: number, same: boolean): Dim {
  if (inSize === null) return null;
  if (same) return Math.ceil(inSize / s);
  return Math.floor((inSize + before + after - (k - 1) * d - 1) / s) + 1;
}

function windowAttrs(w: Window, p: Pads): OnnxAttribute[] {
  const a = [attr.ints('kernel_shape', w.kernel), attr.ints('strides', w.strides)];
  if ('pads' in p) a.push(attr.ints('pads', p.pads));
  else a.push(attr.string('auto_pad', p.autoPad));
  return a;
}

function spatialOut(node: TfNodeDef, x: TVal, w: Window, p: Pads): [Dim, Dim] {
  const same = !('pads' in p);
  const pads = 'pads' in p ? p.pads : [0, 0, 0, 0];
  const oh = outDim(x.shape[1], w.kernel[0], w.strides[0], w.dilations[0], pads[0], pads[2], same);
  const ow = outDim(x.shape[2], w.kernel[1], w.strides[1], w.dilations[1], pads[1], pads[3], same);
  if ((oh !== null && oh <= 0) || (ow !== null && ow <= 0)) throw formatError(node, `window larger than input ${JSON.stringify(x.shape)}`);
  return [oh, ow];
}

function checkNHWC(node: TfNodeDef, x: TVal): void {
  const fmt = attrString(node, 'data_format') ?? 'NHWC';
  if (fmt !== 'NHWC') throw unsupported(node, `data_format ${fmt}`);
  if (x.shape.length !== 4) throw formatError(node, `input has rank ${x.shape.length}, expected 4`);
}

function pair(node: TfNodeDef, name: string): [number, number] {
  const v = attrInts(node, name) ?? [1, 1, 1, 1];
  if (v.length !== 4 || v[0] !== 1 || v[3] !== 1) throw unsupported(node, `${name} ${JSON.stringify(v)} (only spatial values are supported)`);
  return [v[1], v[2]];
}

/** Conv2D, _FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2dNative. */
const conv: OpHandler = (ctx, node, inputs) => {
  if (inputs.length < 2) throw formatError(node, 'convolution needs input and filter');
  const [x, filter] = inputs;
  checkNHWC(node, x);
  const depthwise = node.op === 'DepthwiseConv2dNative' || node.op === 'FusedDepthwiseConv2dNative';
  const fused = node.op.startsWith('_Fused') || node.op.startsWith('Fused') ? fusedParts(node, inputs.slice(2)) : undefined;
  const k = filter.konst;
  if (!k) throw unsupported(node, 'filter is not a constant');
  if (k.dtype !== 'float32' || k.shape.length !== 4) throw formatError(node, `filter must be a rank-4 float tensor, got ${k.dtype} ${JSON.stringify(k.shape)}`);
  const [kh, kw, fin, fout] = k.shape;
  const cin = x.shape[3];
  const w: Window = { kernel: [kh, kw], strides: pair(node, 'strides'), dilations: pair(node, 'dilations') };

  let weight: string;
  let group: number;
  let cout: number;
  if (depthwise) {
    // TF output channel c*M+m reads input channel c with filter[..., c, m]; ONNX grouped conv with
    // group=Cin and weights [Cin*M, 1, KH, KW] orders its outputs the same way.
    if (cin !== null && cin !== fin) throw formatError(node, `input has ${cin} channels, depthwise filter expects ${fin}`);
    group = fin;
    cout = fin * fout;
    weight = ctx.constVariant(k, 'dw-oihw', `${filter.label}__oihw`, () => ({
      dims: [fin * fout, 1, kh, kw],
      data: transposeData(k.data, [kh, kw, fin * fout], [2, 0, 1]),
    }));
  } else {
    if (cin !== null && cin % fin !== 0) throw formatError(node, `input has ${cin} channels, filter expects ${fin}`);
    group = cin === null ? 1 : cin / fin;
    cout = fout;
    weight = ctx.constVariant(k, 'oihw', `${filter.label}__oihw`, () => ({
      dims: [fout, fin, kh, kw],
      data: transposeData(k.data, [kh, kw, fin, fout], [3, 2, 0, 1]),
    }));
  }

  const p = computePads(node, x.shape[1], x.shape[2], w);
  const [oh, ow] = spatialOut(node, x, w, p);
  const attributes = [...windowAttrs(w, p), attr.ints('dilations', w.dilations), attr.int('group', group)];
  const ins = [ctx.cf(x), weight];
  if (fused?.bias) {
    if (fused.bias.shape.length !== 1) throw formatError(node, `bias has shape ${JSON.stringify(fused.bias.shape)}, expected [${cout}]`);
    ins.push(ctx.tf(fused.bias));
  }
  const act = fused?.activation;
  let out = ctx.emit('Conv', ins, act ? `${node.name}__conv` : node.name, attributes);
  if (act && fused) out = emitActivation(ctx, node, act, out, 'cf', fused.alpha, fused.leakyAlpha);
  return produced(node, [x.shape[0], oh, ow, cout], x.dtype, 'cf', out);
};

/** MaxPool / AvgPool. TF's SAME average excludes the padding, as ONNX count_include_pad=0 does. */
const pool: OpHandler = (ctx, node, inputs) => {
  if (inputs.length !== 1) throw formatError(node, `expected 1 input, got ${inputs.length}`);
  const x = inputs[0];
  checkNHWC(node, x);
  const w: Window = { kernel: pair(node, 'ksize'), strides: pair(node, 'strides'), dilations: [1, 1] };
  const p = computePads(node, x.shape[1], x.shape[2], w);
  const [oh, ow] = spatialOut(node, x, w, p);
  const attributes = windowAttrs(w, p);
  const onnxOp = node.op === 'MaxPool' ? 'MaxPool' : 'AveragePool';
  if (onnxOp === 'AveragePool') attributes.push(attr.int('count_include_pad', 0));
  const out = ctx.emit(onnxOp, [ctx.cf(x)], node.name, attributes);
  return produced(node, [x.shape[0], oh, ow, x.shape[3]], x.dtype, 'cf', out);
};

export const convOps: Record<string, OpHandler> = {
  Conv2D: conv,
  _FusedConv2D: conv,
  DepthwiseConv2dNative: conv,
  FusedDepthwiseConv2dNative: conv,
  MaxPool: pool,
  AvgPool: pool,
};
