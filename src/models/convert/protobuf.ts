/**
 * Minimal protobuf wire-format encoder: just what the ONNX writer needs (varints, fixed32 floats,
 * length-delimited strings/bytes/sub-messages, packed repeated scalars).
 *
 * A message is kept as a list of chunks rather than one growing buffer, so that nesting a sub-message
 * or appending a large weight blob never copies it: the bytes are copied exactly once, by `finish()`.
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Blobs above this size are referenced, not copied into the scratch buffer. */
const ADOPT_THRESHOLD = 64;

export const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const textEncoder = new TextEncoder();

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private chunksLength = 0;
  private scratch = new Uint8Array(256);
  private pos = 0;

  /** Encoded size so far, in bytes. */
  get length(): number {
    return this.chunksLength + this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.scratch.length) return;
    this.flushScratch();
    if (n > this.scratch.length) this.scratch = new Uint8Array(Math.max(n, 256));
  }

  private flushScratch(): void {
    if (this.pos === 0) return;
    this.chunks.push(this.scratch.subarray(0, this.pos));
    this.chunksLength += this.pos;
    // The old scratch is now owned by `chunks`; start a fresh one rather than overwrite it.
    this.scratch = new Uint8Array(this.scratch.length);
    this.pos = 0;
  }

  /** Unsigned or signed integer as a varint; negative values use the 10-byte two's complement form (int64/int32/enum). */
  varint(value: number | bigint): this {
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) throw new RangeError(`varint: ${value} is not an integer`);
      if (value >= 0 && value <= Number.MAX_SAFE_INTEGER) {
        this.ensure(10);
        let v = value;
        while (v >= 0x80) {
          this.scratch[this.pos++] = (v % 0x80) | 0x80;
          v = Math.floor(v / 0x80);
        }
        this.scratch[this.pos++] = v;
        return this;
      }
      value = BigInt(value);
    }
    let v = BigInt.asUintN(64, value);
    this.ensure(10);
    while (v >= 0x80n) {
      this.scratch[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.scratch[this.pos++] = Number(v);
    return this;
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** int32 / int64 / uint64 / enum / bool field (wire type 0). */
  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    return this.varint(value);
  }

  /** float field (wire type 5, little-endian IEEE 754 single). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    this.ensure(4);
    new DataView(this.scratch.buffer, this.scratch.byteOffset + this.pos, 4).setFloat32(0, value, true);
    this.pos += 4;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** bytes field; large blobs are referenced, so the caller must not mutate `data` before `finish()`. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(data.byteLength);
    this.raw(data);
    return this;
  }

  /** Embedded message field: the sub-writer's chunks are adopted, not copied. Do not reuse `sub` afterwards. */
  message(field: number, sub: ProtoWriter): this {
    this.tag(field, WIRE_LEN);
    this.varint(sub.length);
    sub.flushScratch();
    this.flushScratch();
    for (const c of sub.chunks) this.chunks.push(c);
    this.chunksLength += sub.chunksLength;
    return this;
  }

  /** Packed repeated int64/int32 field. */
  packedInts(field: number, values: ArrayLike<number>): this {
    const body = new ProtoWriter();
    for (let i = 0; i < values.length; i++) body.varint(values[i]);
    return this.message(field, body);
  }

  /** Packed repeated float field. */
  packedFloats(field: number, values: Float32Array): this {
    return this.bytes(field, littleEndianBytes(values));
  }

  private raw(data: Uint8Array): void {
    if (data.byteLength <= ADOPT_THRESHOLD) {
      this.ensure(data.byteLength);
      this.scratch.set(data, this.pos);
      this.pos += data.byteLength;
      return;
    }
    this.flushScratch();
    this.chunks.push(data);
    this.chunksLength += data.byteLength;
  }

  /** Concatenates everything into one buffer (the single copy of the payload). */
  finish(): Uint8Array {
    this.flushScratch();
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.chunksLength);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.byteLength;
    }
    return out;
  }
}

type NumericArray = Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;

/**
 * Little-endian bytes of a typed array. On little-endian hosts (all that Node ships for) this is a view,
 * not a copy; big-endian hosts get a byte-swapped copy so that ONNX raw_data stays well-formed.
 */
export function littleEndianBytes(a: NumericArray): Uint8Array {
  const view = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (hostIsLittleEndian || a.BYTES_PER_ELEMENT === 1) return view;
  const out = new Uint8Array(view.length);
  const w = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < view.length; i += w) for (let j = 0; j < w; j++) out[i + j] = view[i + w - 1 - j];
  return out;
}
