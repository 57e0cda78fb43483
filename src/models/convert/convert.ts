/** Graph walk: TF.js graph model → ONNX ModelProto bytes. */
import { basename } from 'node:path';
import { ModelError } from '../../core/errors.js';
import { Logger } from '../../core/log.js';
import type { OnnxDim, OnnxValueInfo } from './onnx.js';
import { encodeModel } from './onnx.js';
import type { Dim, TVal } from './graph.js';
import { ConvertContext, onnxType, unsupported } from './graph.js';
import { OP_HANDLERS } from './ops.js';
import type { TfNodeDef, TfSignature, TfTensorShape, TfjsArtifacts } from './tfjs.js';
import { attrType, parseInputName, parseShape, validateModelJson } from './tfjs.js';
import type { ConstTensor } from './weights.js';
import { constDtypeOf, decodeInlineTensor, decodeWeights } from './weights.js';

const log = new Logger('Converter');

const CONTROL_FLOW = new Set(['Enter', 'Exit', 'Merge', 'Switch', 'NextIteration', 'LoopCond']);

export interface OnnxIo {
  name: string;
  /** NHWC shapes as the model boundary sees them; the dynamic batch is 'N', other unknown dims '?'. */
  shape: (number | string)[];
}

export interface ConvertOptions {
  modelName?: string;
  /** Make dim 0 of every input symbolic ('N') and rewrite baked batch-1 Reshape constants. Default true. */
  dynamicBatch?: boolean;
}

export interface ConvertResult {
  onnx: Uint8Array;
  inputs: OnnxIo[];
  outputs: OnnxIo[];
  /** TF ops of the converted (reachable) part of the graph. */
  opCounts: Record<string, number>;
  /** ONNX ops emitted, e.g. to see how many layout Transposes were needed. */
  onnxOpCounts: Record<string, number>;
}

interface OutputRef {
  node: string;
  index: number;
  name: string;
}

function dataInputs(node: TfNodeDef): { node: string; index: number }[] {
  const out: { node: string; index: number }[] = [];
  for (const s of node.input ?? []) {
    const r = parseInputName(s);
    if (r) out.push(r);
  }
  return out;
}

/** Nodes needed for `roots`, dependencies first (iterative, so deep graphs cannot overflow the stack). */
function topoOrder(byName: Map<string, TfNodeDef>, roots: string[]): TfNodeDef[] {
  const order: TfNodeDef[] = [];
  const state = new Map<string, 'open' | 'done'>();
  for (const root of roots) {
    if (state.has(root)) continue;
    const stack: { name: string; next: number; deps: string[] }[] = [];
    const push = (name: string, from?: string): void => {
      const node = byName.get(name);
      if (!node) throw new ModelError('E_MODEL_FORMAT', from ? `node "${from}" reads missing node "${name}"` : `output node "${name}" not found`);
      state.set(name, 'open');
      stack.push({ name, next: 0, deps: dataInputs(node).map((d) => d.node) });
    };
    push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.deps.length) {
        const dep = top.deps[top.next++];
        const s = state.get(dep);
        if (s === 'open') {
          // TF while-loops are the only legal cycles; name one of their ops rather than blame the file.
          const loopOp = stack.map((e) => byName.get(e.name) as TfNodeDef).find((n) => CONTROL_FLOW.has(n.op));
          if (loopOp) throw unsupported(loopOp, 'control flow (while loops) is not supported');
          throw new ModelError('E_MODEL_FORMAT', `graph has a cycle through node "${dep}"`);
        }
        if (s === undefined) push(dep, top.name);
      } else {
        state.set(top.name, 'done');
        order.push(byName.get(top.name) as TfNodeDef);
        stack.pop();
      }
    }
  }
  return order;
}

function stripIndex(name: string): string {
  return name.replace(/:0$/, '');
}

function outputRefs(nodes: TfNodeDef[], byName: Map<string, TfNodeDef>, sig: TfSignature | undefined): OutputRef[] {
  const entries = Object.values(sig?.outputs ?? {});
  if (entries.length > 0) {
    return entries.map((e) => {
      const r = parseInputName(e.name);
      if (!r || !byName.has(r.node)) throw new ModelError('E_MODEL_FORMAT', `signature output "${e.name}" names no node`);
      return { ...r, name: stripIndex(e.name) };
    });
  }
  const consumed = new Set<string>();
  for (const n of nodes) for (const d of dataInputs(n)) consumed.add(d.node);
  const sinks = nodes.filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp' && n.op !== 'Placeholder');
  if (sinks.length === 0) throw new ModelError('E_MODEL_FORMAT', 'graph has no outputs');
  return sinks.map((n) => ({ node: n.name, index: 0, name: n.name }));
}

function toOnnxDims(shape: readonly Dim[]): OnnxDim[] {
  return shape.map((d, i) => (d !== null ? d : i === 0 ? 'N' : null));
}

function toIoDims(shape: readonly Dim[]): (number | string)[] {
  return shape.map((d, i) => (d !== null ? d : i === 0 ? 'N' : '?'));
}

export function convertTfjsGraph(a: TfjsArtifacts, opts: ConvertOptions = {}): ConvertResult {
  const where = a.sourcePath ?? opts.modelName ?? 'model';
  const json = validateModelJson(a.modelJson, where);
  const dynamicBatch = opts.dynamicBatch ?? true;
  const weights = decodeWeights(json.weightsManifest, a.weightData);
  const nodes = json.modelTopology.node;
  const byName = new Map<string, TfNodeDef>();
  for (const n of nodes) {
    if (byName.has(n.name)) throw new ModelError('E_MODEL_FORMAT', `duplicate node name "${n.name}"`);
    byName.set(n.name, n);
  }
  const sig = json.userDefinedMetadata?.signature ?? json.signature;
  const outs = outputRefs(nodes, byName, sig);
  const order = topoOrder(byName, outs.map((o) => o.node));

  // Graph inputs: reachable placeholders, in signature order first, then graph order.
  const reachable = order.filter((n) => n.op === 'Placeholder');
  const sigInputs = Object.values(sig?.inputs ?? {});
  const sigOrder = sigInputs.map((e) => parseInputName(e.name)?.node);
  reachable.sort((p, q) => rank(sigOrder.indexOf(p.name)) - rank(sigOrder.indexOf(q.name)));

  const ctx = new ConvertContext({ dynamicBatch });
  for (const p of reachable) ctx.reserve(p.name);
  for (const o of outs) ctx.reserve(o.name);

  const vals = new Map<string, TVal>();
  const opCounts: Record<string, number> = {};
  const inputInfos: OnnxValueInfo[] = [];
  const inputIo: OnnxIo[] = [];
  const placeholderVals = new Map<string, TVal>();

  for (const node of order) {
    opCounts[node.op] = (opCounts[node.op] ?? 0) + 1;
    const ins = dataInputs(node).map((r) => {
      if (r.index !== 0) throw unsupported(byName.get(r.node) as TfNodeDef, `output ${r.index} is read by "${node.name}" (multi-output ops are not supported)`);
      return vals.get(r.node) as TVal;
    });
    let v: TVal;
    if (node.op === 'Const') {
      v = constValue(node, weights);
    } else if (node.op === 'Placeholder') {
      v = placeholderValue(node, sigInputs.find((e) => parseInputName(e.name)?.node === node.name)?.tensorShape, dynamicBatch);
      placeholderVals.set(node.name, v);
    } else {
      const handler = Object.hasOwn(OP_HANDLERS, node.op) ? OP_HANDLERS[node.op] : undefined;
      if (!handler) throw unsupported(node);
      v = handler(ctx, node, ins);
    }
    vals.set(node.name, v);
  }
  for (const p of reachable) {
    const v = placeholderVals.get(p.name) as TVal;
    inputInfos.push({ name: p.name, elemType: onnxType(v.dtype), shape: toOnnxDims(v.shape) });
    inputIo.push({ name: p.name, shape: toIoDims(v.shape) });
  }

  // Outputs get their TF names: rename the producing tensor when possible, else add an Identity.
  const outputInfos: OnnxValueInfo[] = [];
  const outputIo: OnnxIo[] = [];
  const renamed = new Map<string, string>();
  for (const o of outs) {
    const v = vals.get(o.node) as TVal;
    if (o.index !== 0) throw unsupported(byName.get(o.node) as TfNodeDef, `output ${o.index} requested by the signature`);
    const src = ctx.tf(v);
    if (renamed.has(src) || !ctx.isNodeOutput(src)) {
      ctx.nodes.push({ opType: 'Identity', inputs: [renamed.get(src) ?? src], outputs: [o.name], name: `${o.name}__out` });
    } else {
      ctx.renameTensor(src, o.name);
      renamed.set(src, o.name);
    }
    outputInfos.push({ name: o.name, elemType: onnxType(v.dtype), shape: toOnnxDims(v.shape) });
    outputIo.push({ name: o.name, shape: toIoDims(v.shape) });
  }

  const modelName = opts.modelName ?? (a.sourcePath ? basename(a.sourcePath).replace(/\.json$/i, '') : 'tfjs-model');
  const metadata: Record<string, string> = { converter: 'facecast tfjs-graph-to-onnx', layout: 'NHWC at the boundary' };
  if (a.sourcePath) metadata.source = basename(a.sourcePath);
  if (typeof json.convertedBy === 'string') metadata['tfjs.convertedBy'] = json.convertedBy;
  const onnx = encodeModel({
    producerName: 'facecast',
    producerVersion: '1',
    graphName: modelName,
    docString: `Converted from TF.js graph model ${modelName}`,
    nodes: ctx.nodes,
    initializers: ctx.initializers,
    inputs: inputInfos,
    outputs: outputInfos,
    metadata,
  });
  const onnxOpCounts = ctx.onnxOpCounts();
  log.info(
    `converted ${modelName}: ${order.length} TF nodes → ${ctx.nodes.length} ONNX nodes ` +
      `(${onnxOpCounts.Transpose ?? 0} Transpose), ${ctx.initializers.length} initializers, ${onnx.byteLength} bytes`,
  );
  return { onnx, inputs: inputIo, outputs: outputIo, opCounts, onnxOpCounts };
}

function rank(i: number): number {
  return i < 0 ? Number.MAX_SAFE_INTEGER : i;
}

function constValue(node: TfNodeDef, weights: Map<string, ConstTensor>): TVal {
  let k = weights.get(node.name);
  if (!k) {
    const t = node.attr?.value?.tensor;
    if (!t) throw new ModelError('E_MODEL_FORMAT', `Const node "${node.name}" has no value: not in weightsManifest and no inline tensor`);
    k = decodeInlineTensor(t, node.name);
  }
  return { shape: k.shape.slice(), dtype: k.dtype, konst: k, label: node.name };
}

function placeholderValue(node: TfNodeDef, sigShape: TfTensorShape | undefined, dynamicBatch: boolean): TVal {
  const shape = parseShape(node.attr?.shape?.shape) ?? parseShape(sigShape);
  if (!shape) throw unsupported(node, 'input of unknown rank');
  if (dynamicBatch && shape.length > 0) shape[0] = null;
  const t = attrType(node, 'dtype');
  const dtype = constDtypeOf(t);
  if (dtype !== 'float32' && dtype !== 'int32') throw unsupported(node, `input dtype ${t ?? '(none)'}`);
  return { shape, dtype, tf: node.name, label: node.name };
}
