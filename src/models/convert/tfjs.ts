/**
 * The TF.js graph-model format (model.json + binary weight shards) as written by tensorflowjs_converter,
 * loading it from disk, and typed access to node attributes (which are JSON-encoded TF AttrValue protos:
 * int64s arrive as strings, strings as base64).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ModelError } from '../../core/errors.js';

export interface TfTensorShape {
  dim?: { size?: string | number; name?: string }[];
  unknownRank?: boolean;
}

/** A TensorProto in JSON form (only used for Const values inlined in the graph). */
export interface TfTensorProto {
  dtype?: string;
  tensorShape?: TfTensorShape;
  /** base64 of the little-endian element bytes */
  tensorContent?: string;
  floatVal?: number[];
  doubleVal?: number[];
  intVal?: (number | string)[];
  int64Val?: (number | string)[];
  boolVal?: boolean[];
  halfVal?: (number | string)[];
}

export interface TfAttrValue {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: TfTensorShape;
  tensor?: TfTensorProto;
  list?: {
    s?: string[];
    i?: (string | number)[];
    f?: number[];
    b?: boolean[];
    type?: string[];
    shape?: TfTensorShape[];
  };
  func?: { name?: string };
}

export interface TfNodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttrValue>;
  device?: string;
}

export interface TfTensorInfo {
  name: string;
  dtype?: string;
  tensorShape?: TfTensorShape;
}

export interface TfSignature {
  inputs?: Record<string, TfTensorInfo>;
  outputs?: Record<string, TfTensorInfo>;
  methodName?: string;
}

export type WeightDtype = 'float32' | 'int32' | 'bool' | 'string' | 'complex64';

export interface WeightQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  min?: number;
  scale?: number;
  original_dtype?: string;
}

export interface WeightManifestEntry {
  name: string;
  shape: number[];
  dtype: WeightDtype;
  quantization?: WeightQuantization;
  group?: string;
}

export interface WeightsManifestGroup {
  paths: string[];
  weights: WeightManifestEntry[];
}

export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: { node: TfNodeDef[]; library?: unknown; versions?: unknown };
  weightsManifest: WeightsManifestGroup[];
  signature?: TfSignature;
  userDefinedMetadata?: { signature?: TfSignature } & Record<string, unknown>;
  modelInitializer?: unknown;
}

export interface TfjsArtifacts {
  modelJson: TfjsModelJson;
  /** Concatenation of all weight shards, in manifest order (groups, then paths within a group). */
  weightData: Uint8Array;
  sourcePath?: string;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Structural check of the parts the converter relies on; throws E_MODEL_FORMAT naming what is wrong. */
export function validateModelJson(x: unknown, where: string): TfjsModelJson {
  if (!isRecord(x)) throw new ModelError('E_MODEL_FORMAT', `${where}: model.json is not an object`);
  const topo = x.modelTopology;
  if (!isRecord(topo) || !Array.isArray(topo.node)) {
    throw new ModelError('E_MODEL_FORMAT', `${where}: modelTopology.node is missing (not a TF.js graph model?)`);
  }
  if (x.format !== undefined && x.format !== 'graph-model') {
    throw new ModelError('E_MODEL_FORMAT', `${where}: format is "${String(x.format)}", expected "graph-model"`);
  }
  for (const n of topo.node) {
    if (!isRecord(n) || typeof n.name !== 'string' || typeof n.op !== 'string') {
      throw new ModelError('E_MODEL_FORMAT', `${where}: a node lacks a name or op`);
    }
  }
  const wm = x.weightsManifest ?? [];
  if (!Array.isArray(wm)) throw new ModelError('E_MODEL_FORMAT', `${where}: weightsManifest is not an array`);
  for (const g of wm) {
    if (!isRecord(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new ModelError('E_MODEL_FORMAT', `${where}: weightsManifest group lacks paths or weights`);
    }
  }
  // Checked structurally above; the remaining fields are validated where they are used.
  return { ...(x as unknown as TfjsModelJson), weightsManifest: wm as WeightsManifestGroup[] };
}

/** Reads model.json and its shards (resolved relative to model.json) into memory. */
export async function loadTfjsArtifacts(modelJsonPath: string): Promise<TfjsArtifacts> {
  let text: string;
  try {
    text = await readFile(modelJsonPath, 'utf8');
  } catch (e) {
    throw new ModelError('E_MODEL_SOURCE_MISSING', `cannot read TF.js model ${modelJsonPath}`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ModelError('E_MODEL_FORMAT', `${modelJsonPath}: invalid JSON`, { cause: e });
  }
  const modelJson = validateModelJson(parsed, modelJsonPath);
  const weightData = await readWeightShards(modelJson.weightsManifest, modelJsonPath);
  return { modelJson, weightData, sourcePath: modelJsonPath };
}

/**
 * The weight shards a weights manifest lists (paths relative to `jsonPath`, the model.json or face-api's bare
 * weights manifest), read and concatenated in manifest order: the buffer decodeWeights slices.
 */
export async function readWeightShards(groups: readonly { paths: readonly string[] }[], jsonPath: string): Promise<Uint8Array> {
  const dir = dirname(jsonPath);
  const shards: Uint8Array[] = [];
  for (const group of groups) {
    for (const p of group.paths) {
      const file = resolve(dir, decodeURIComponent(p));
      try {
        const buf = await readFile(file);
        shards.push(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
      } catch (e) {
        throw new ModelError('E_MODEL_SOURCE_MISSING', `${jsonPath}: weight shard ${p} not readable`, { cause: e });
      }
    }
  }
  return shards.length === 1 ? shards[0] : concatBytes(shards);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Attribute access

function decodeBase64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

export function attrString(node: TfNodeDef, name: string): string | undefined {
  const a = node.attr?.[name];
  return a?.s === undefined ? undefined : decodeBase64(a.s);
}

export function attrInt(node: TfNodeDef, name: string): number | undefined {
  const a = node.attr?.[name];
  if (a?.i === undefined) return undefined;
  return typeof a.i === 'number' ? a.i : Number.parseInt(a.i, 10);
}

export function attrFloat(node: TfNodeDef, name: string): number | undefined {
  const a = node.attr?.[name];
  if (a?.f !== undefined) return a.f;
  if (a?.i !== undefined) return typeof a.i === 'number' ? a.i : Number.parseInt(a.i, 10);
  return undefined;
}

export function attrBool(node: TfNodeDef, name: string): boolean | undefined {
  return node.attr?.[name]?.b;
}

export function attrInts(node: TfNodeDef, name: string): number[] | undefined {
  const l = node.attr?.[name]?.list;
  if (!l) return undefined;
  return (l.i ?? []).map((v) => (typeof v === 'number' ? v : Number.parseInt(v, 10)));
}

export function attrStrings(node: TfNodeDef, name: string): string[] | undefined {
  const l = node.attr?.[name]?.list;
  if (!l) return undefined;
  return (l.s ?? []).map(decodeBase64);
}

export function attrType(node: TfNodeDef, name: string): string | undefined {
  return node.attr?.[name]?.type;
}

/** Dims of a TensorShapeProto; -1 (unknown) becomes null. undefined when the rank is unknown. */
export function parseShape(s: TfTensorShape | undefined): (number | null)[] | undefined {
  if (!s || s.unknownRank) return undefined;
  return (s.dim ?? []).map((d) => {
    const v = typeof d.size === 'number' ? d.size : Number.parseInt(d.size ?? '-1', 10);
    return v < 0 ? null : v;
  });
}

/** "node:1" → ["node", 1]; "^node" (control dependency) → undefined. */
export function parseInputName(s: string): { node: string; index: number } | undefined {
  if (s.startsWith('^')) return undefined;
  const m = /^(.*):(\d+)$/.exec(s);
  return m ? { node: m[1], index: Number(m[2]) } : { node: s, index: 0 };
}
