/**
 * ONNX ModelProto serialisation (field numbers as in onnx/onnx.proto). Only the subset the converter emits:
 * one graph, initializers as raw_data, tensor-typed inputs/outputs with static or symbolic dims.
 */
import { ProtoWriter, littleEndianBytes } from './protobuf.js';

export const IR_VERSION = 8;
export const OPSET = 17;

/** TensorProto.DataType */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export type OnnxAttribute =
  | { name: string; kind: 'int'; value: number }
  | { name: string; kind: 'ints'; value: readonly number[] }
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'floats'; value: readonly number[] }
  | { name: string; kind: 'string'; value: string }
  | { name: string; kind: 'tensor'; value: OnnxTensor };

export const attr = {
  int: (name: string, value: number): OnnxAttribute => ({ name, kind: 'int', value }),
  ints: (name: string, value: readonly number[]): OnnxAttribute => ({ name, kind: 'ints', value }),
  float: (name: string, value: number): OnnxAttribute => ({ name, kind: 'float', value }),
  floats: (name: string, value: readonly number[]): OnnxAttribute => ({ name, kind: 'floats', value }),
  string: (name: string, value: string): OnnxAttribute => ({ name, kind: 'string', value }),
};

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: OnnxAttribute[];
  domain?: string;
}

export interface OnnxTensor {
  name: string;
  dataType: DataTypeCode;
  dims: readonly number[];
  /** Element data; written as little-endian raw_data. */
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
}

/** A dimension: a fixed size, a symbolic name (dim_param), or null for "unknown". */
export type OnnxDim = number | string | null;

export interface OnnxValueInfo {
  name: string;
  elemType: DataTypeCode;
  shape: readonly OnnxDim[];
}

export interface OnnxModel {
  producerName: string;
  producerVersion: string;
  graphName: string;
  docString?: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  metadata?: Record<string, string>;
}

function encodeTensor(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  if (t.dims.length > 0) w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, littleEndianBytes(t.data));
  return w;
}

function encodeAttribute(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, a.name);
  switch (a.kind) {
    case 'int':
      w.int(3, a.value);
      w.int(20, AttrType.INT);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      w.int(20, AttrType.INTS);
      break;
    case 'float':
      w.float(2, a.value);
      w.int(20, AttrType.FLOAT);
      break;
    case 'floats':
      w.packedFloats(7, Float32Array.from(a.value));
      w.int(20, AttrType.FLOATS);
      break;
    case 'string':
      w.string(4, a.value);
      w.int(20, AttrType.STRING);
      break;
    case 'tensor':
      w.message(5, encodeTensor(a.value));
      w.int(20, AttrType.TENSOR);
      break;
  }
  return w;
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, encodeAttribute(a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(1, d);
    else if (typeof d === 'string') dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, v.elemType).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

/** Serialises a model. Initializer data is referenced until the final copy, so it must not change meanwhile. */
export function encodeModel(m: OnnxModel): Uint8Array {
  const g = new ProtoWriter();
  for (const n of m.nodes) g.message(1, encodeNode(n));
  g.string(2, m.graphName);
  for (const t of m.initializers) g.message(5, encodeTensor(t));
  for (const i of m.inputs) g.message(11, encodeValueInfo(i));
  for (const o of m.outputs) g.message(12, encodeValueInfo(o));

  const model = new ProtoWriter();
  model.int(1, IR_VERSION);
  model.string(2, m.producerName);
  model.string(3, m.producerVersion);
  if (m.docString) model.string(6, m.docString);
  model.message(7, g);
  model.message(8, new ProtoWriter().string(1, '').int(2, OPSET));
  for (const [k, v] of Object.entries(m.metadata ?? {})) {
    model.message(14, new ProtoWriter().string(1, k).string(2, v));
  }
  return model.finish();
}
