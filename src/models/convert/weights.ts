/**
 * Decoding of the weightsManifest into typed constants, including TF.js weight quantization
 * (float16, and affine uint8/uint16 where value = q * scale + min), plus Const values inlined in the graph.
 */
import { ModelError } from '../../core/errors.js';
import type { TfTensorProto, WeightManifestEntry, WeightsManifestGroup } from './tfjs.js';
import { hostIsLittleEndian } from './protobuf.js';
import { parseShape } from './tfjs.js';

export type ConstDtype = 'float32' | 'int32' | 'bool';

export interface ConstTensor {
  dtype: ConstDtype;
  shape: number[];
  /** bool is stored as one byte per element (0/1). */
  data: Float32Array | Int32Array | Uint8Array;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const QUANT_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };
const PLAIN_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

function entryByteLength(w: WeightManifestEntry): number {
  const n = sizeOf(w.shape);
  if (w.quantization) {
    const b = QUANT_BYTES[w.quantization.dtype];
    if (b === undefined) {
      throw new ModelError('E_MODEL_FORMAT', `weight "${w.name}": unknown quantization dtype "${w.quantization.dtype}"`);
    }
    return n * b;
  }
  const b = PLAIN_BYTES[w.dtype];
  if (b === undefined) throw new ModelError('E_MODEL_FORMAT', `weight "${w.name}": unsupported dtype "${w.dtype}"`);
  return n * b;
}

/**
 * All weights of the manifest, by name. Unquantized float32/int32 weights that happen to be 4-byte
 * aligned are views into `weightData` (no copy); everything else is decoded into a new array.
 */
export function decodeWeights(manifest: WeightsManifestGroup[], weightData: Uint8Array): Map<string, ConstTensor> {
  const out = new Map<string, ConstTensor>();
  let offset = 0;
  for (const group of manifest) {
    for (const w of group.weights) {
      if (!Array.isArray(w.shape) || w.shape.some((d) => !Number.isInteger(d) || d < 0)) {
        throw new ModelError('E_MODEL_FORMAT', `weight "${w.name}": invalid shape ${JSON.stringify(w.shape)}`);
      }
      const len = entryByteLength(w);
      if (offset + len > weightData.byteLength) {
        throw new ModelError(
          'E_MODEL_FORMAT',
          `weight "${w.name}" needs bytes ${offset}..${offset + len} but the weight data has only ${weightData.byteLength}`,
        );
      }
      out.set(w.name, decodeEntry(w, weightData.subarray(offset, offset + len)));
      offset += len;
    }
  }
  if (offset !== weightData.byteLength) {
    throw new ModelError(
      'E_MODEL_FORMAT',
      `weight data is ${weightData.byteLength} bytes but the manifest describes ${offset} bytes`,
    );
  }
  return out;
}

function decodeEntry(w: WeightManifestEntry, bytes: Uint8Array): ConstTensor {
  const shape = w.shape.slice();
  const n = sizeOf(shape);
  const q = w.quantization;
  if (q) {
    if (q.dtype === 'float16') {
      if (w.dtype !== 'float32') {
        throw new ModelError('E_MODEL_FORMAT', `weight "${w.name}": float16 quantization of ${w.dtype} is not defined`);
      }
      return { dtype: 'float32', shape, data: decodeFloat16(readU16(bytes, n)) };
    }
    const scale = q.scale;
    const min = q.min;
    if (typeof scale !== 'number' || typeof min !== 'number') {
      throw new ModelError('E_MODEL_FORMAT', `weight "${w.name}": ${q.dtype} quantization lacks min/scale`);
    }
    const qv = q.dtype === 'uint8' ? bytes : readU16(bytes, n);
    // Same arithmetic order as tfjs-core's decodeWeights, so the dequantized values are bit-identical.
    if (w.dtype === 'float32') {
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = qv[i] * scale + min;
      return { dtype: 'float32', shape, data: f };
    }
    if (w.dtype === 'int32') {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = Math.round(qv[i] * scale + min);
      return { dtype: 'int32', shape, data: a };
    }
    throw new ModelError('E_MODEL_FORMAT', `weight "${w.name}": ${q.dtype} quantization of ${w.dtype} is not defined`);
  }
  switch (w.dtype) {
    case 'float32':
      return { dtype: 'float32', shape, data: bytes.byteOffset % 4 === 0 ? viewF32(bytes, n) : viewF32(copyBytes(bytes), n) };
    case 'int32':
      return { dtype: 'int32', shape, data: bytes.byteOffset % 4 === 0 ? viewI32(bytes, n) : viewI32(copyBytes(bytes), n) };
    case 'bool':
      return { dtype: 'bool', shape, data: bytes };
    default:
      throw new ModelError('E_MODEL_FORMAT', `weight "${w.name}": unsupported dtype "${w.dtype}"`);
  }
}

/** A fresh, aligned copy (Buffer#slice would return a view, so copy explicitly). */
function copyBytes(b: Uint8Array): Uint8Array {
  const c = new Uint8Array(b.byteLength);
  c.set(b);
  return c;
}

const littleEndian = hostIsLittleEndian;

function viewF32(b: Uint8Array, n: number): Float32Array {
  if (littleEndian) return new Float32Array(b.buffer, b.byteOffset, n);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Float32Array.from({ length: n }, (_, i) => dv.getFloat32(i * 4, true));
}

function viewI32(b: Uint8Array, n: number): Int32Array {
  if (littleEndian) return new Int32Array(b.buffer, b.byteOffset, n);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Int32Array.from({ length: n }, (_, i) => dv.getInt32(i * 4, true));
}

function readU16(b: Uint8Array, n: number): Uint16Array {
  if (littleEndian && b.byteOffset % 2 === 0) return new Uint16Array(b.buffer, b.byteOffset, n);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = b[2 * i] | (b[2 * i + 1] << 8);
  return out;
}

/** Exact IEEE 754 half → single conversion (subnormals, inf and NaN included). */
export function decodeFloat16(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < h.length; i++) {
    const v = h[i];
    const sign = (v & 0x8000) << 16;
    const exp = (v >> 10) & 0x1f;
    let mant = v & 0x3ff;
    if (exp === 0x1f) {
      bits[i] = sign | 0x7f800000 | (mant << 13);
    } else if (exp !== 0) {
      bits[i] = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant === 0) {
      bits[i] = sign;
    } else {
      // Subnormal half: normalise the mantissa into a normal single.
      let e = 113;
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      bits[i] = sign | (e << 23) | ((mant & 0x3ff) << 13);
    }
  }
  return out;
}

const DT_TO_CONST: Record<string, ConstDtype> = {
  DT_FLOAT: 'float32',
  DT_HALF: 'float32',
  DT_DOUBLE: 'float32',
  DT_INT32: 'int32',
  DT_INT64: 'int32',
  DT_INT16: 'int32',
  DT_INT8: 'int32',
  DT_UINT8: 'int32',
  DT_BOOL: 'bool',
};

/** Maps a TF DataType name to the dtype the converter computes in (TF.js narrows int64 to int32, etc.). */
export function constDtypeOf(tfType: string | undefined): ConstDtype | undefined {
  return tfType === undefined ? undefined : DT_TO_CONST[tfType];
}

/** Value of a Const node whose tensor is written inline in the graph (attr.value.tensor). */
export function decodeInlineTensor(t: TfTensorProto, nodeName: string): ConstTensor {
  const dtype = constDtypeOf(t.dtype);
  const shape = parseShape(t.tensorShape);
  if (!dtype || !shape || shape.some((d) => d === null)) {
    throw new ModelError('E_MODEL_FORMAT', `Const "${nodeName}": unsupported inline tensor (${t.dtype ?? 'no dtype'})`);
  }
  const dims = shape as number[];
  const n = sizeOf(dims);
  const alloc = (): Float32Array | Int32Array | Uint8Array =>
    dtype === 'float32' ? new Float32Array(n) : dtype === 'int32' ? new Int32Array(n) : new Uint8Array(n);
  const data = alloc();
  if (t.tensorContent !== undefined) {
    const raw = Buffer.from(t.tensorContent, 'base64');
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const width = t.dtype === 'DT_DOUBLE' || t.dtype === 'DT_INT64' ? 8 : t.dtype === 'DT_HALF' || t.dtype === 'DT_INT16' ? 2 : t.dtype === 'DT_FLOAT' || t.dtype === 'DT_INT32' ? 4 : 1;
    if (raw.byteLength !== n * width) {
      throw new ModelError('E_MODEL_FORMAT', `Const "${nodeName}": tensorContent is ${raw.byteLength} bytes, expected ${n * width}`);
    }
    for (let i = 0; i < n; i++) {
      const o = i * width;
      switch (t.dtype) {
        case 'DT_FLOAT': data[i] = dv.getFloat32(o, true); break;
        case 'DT_DOUBLE': data[i] = dv.getFloat64(o, true); break;
        case 'DT_HALF': data[i] = decodeFloat16(Uint16Array.of(dv.getUint16(o, true)))[0]; break;
        case 'DT_INT32': data[i] = dv.getInt32(o, true); break;
        case 'DT_INT64': data[i] = Number(dv.getBigInt64(o, true)); break;
        case 'DT_INT16': data[i] = dv.getInt16(o, true); break;
        case 'DT_INT8': data[i] = dv.getInt8(o); break;
        default: data[i] = dv.getUint8(o); break;
      }
    }
    return { dtype, shape: dims, data };
  }
  const list: (number | string | boolean)[] | undefined =
    t.floatVal ?? t.doubleVal ?? t.intVal ?? t.int64Val ?? t.boolVal ?? t.halfVal;
  const vals = (list ?? []).map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : Number(v)));
  const halfBits = t.halfVal !== undefined && t.floatVal === undefined;
  const conv = (v: number): number => (halfBits ? decodeFloat16(Uint16Array.of(v))[0] : v);
  if (vals.length === 0 && n > 0) {
    // TF omits the value list entirely for all-zero tensors.
    return { dtype, shape: dims, data };
  }
  if (vals.length > n) {
    throw new ModelError('E_MODEL_FORMAT', `Const "${nodeName}": ${vals.length} values for ${n} elements`);
  }
  // A shorter list repeats its last element to fill the tensor (TensorProto convention).
  for (let i = 0; i < n; i++) data[i] = conv(vals[Math.min(i, vals.length - 1)]);
  return { dtype, shape: dims, data };
}
