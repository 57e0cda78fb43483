/**
 * RTP → H.264 / H.265 access units (RFC 6184, RFC 7798), ended on the RTP marker bit.
 *
 * Why this exists: FFmpeg's RTSP demuxer hands each NAL unit to the H.264 parser, which learns that an access
 * unit has ended only when the next one begins, so every frame reached the decoder one frame period late (39 ms
 * at 25 fps, 100 ms at 10 fps: bench/results/rtsp-demux.md). The sender already says where a frame ends: the
 * marker bit is set on its last packet. Ending the unit there is what go2rtc and MediaMTX do.
 *
 * A unit also ends when the RTP timestamp changes without a marker (the marker packet was lost), so a lost
 * marker costs one frame of delay, never a merged frame. Sequence gaps mark the unit corrupt (the decoder
 * conceals; a fragmented NAL missing pieces is dropped whole rather than handed over truncated).
 *
 * Output is Annex-B (4-byte start codes before each NAL), which FFmpeg's decoders and our passthrough take.
 * Allocation: one Buffer per access unit (the NAL payloads are collected as views of the RTP packets, which are
 * views of the socket's chunks, and concatenated once at the end of the unit).
 */

const START = Buffer.from([0, 0, 0, 1]);
/** A unit larger than this is refused (corrupt stream or a hostile sender): 8K intra frames stay well below. */
const MAX_UNIT_BYTES = 32 * 1024 * 1024;

export type H26xCodec = 'h264' | 'h265';

export interface AccessUnit {
  /** Annex-B NAL units of one picture. */
  data: Buffer;
  /** The RTP timestamp (32-bit, 90 kHz for video). */
  timestamp: number;
  /** Holds an IDR picture (H.264 type 5; H.265 IRAP types 16–21). */
  keyframe: boolean;
  /** Packets were lost inside it (or before it, since the last unit). */
  corrupt: boolean;
  /** The NAL unit types it holds, in order (parameter-set discovery without re-splitting). */
  nalTypes: number[];
}

/** The fields of an RTP header the depacketizer needs (RFC 3550 §5.1). */
export interface RtpHeader {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  /** Offset and end of the payload in the packet (CSRCs, header extension and padding removed). */
  payloadStart: number;
  payloadEnd: number;
}

/** Parses an RTP header; null for what is not RTP version 2 or is truncated. */
export function parseRtpHeader(p: Uint8Array): RtpHeader | null {
  if (p.length < 12 || p[0] >> 6 !== 2) return null;
  const cc = p[0] & 0x0f;
  let start = 12 + 4 * cc;
  if (p[0] & 0x10) { // header extension: 16-bit profile, 16-bit length in 32-bit words
    if (p.length < start + 4) return null;
    start += 4 + 4 * ((p[start + 2] << 8) | p[start + 3]);
  }
  let end = p.length;
  if (p[0] & 0x20) end -= p[p.length - 1]; // padding: its count is the last byte
  if (end < start) return null;
  return {
    marker: (p[1] & 0x80) !== 0,
    payloadType: p[1] & 0x7f,
    sequence: (p[2] << 8) | p[3],
    timestamp: ((p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7]) >>> 0,
    ssrc: ((p[8] << 24) | (p[9] << 16) | (p[10] << 8) | p[11]) >>> 0,
    payloadStart: start,
    payloadEnd: end,
  };
}

export interface DepacketizerStats { packets: number; units: number; lost: number; droppedNals: number; markerless: number }

export class H26xDepacketizer {
  readonly stats: DepacketizerStats = { packets: 0, units: 0, lost: 0, droppedNals: 0, markerless: 0 };
  private readonly h265: boolean;
  private chunks: Uint8Array[] = [];
  private bytes = 0;
  private types: number[] = [];
  private ts = -1;
  private key = false;
  private corrupt = false;
  private expected = -1;
  /** A fragmented NAL in progress: its chunks are in `chunks` from this index; -1: none. */
  private fragFrom = -1;
  /** Pieces of a fragmented NAL were lost: its remaining fragments are skipped up to the next start. */
  private fragBroken = false;

  constructor(codec: H26xCodec, private readonly onUnit: (unit: AccessUnit) => void) {
    this.h265 = codec === 'h265';
  }

  /** One RTP packet (the whole packet, header included). */
  push(packet: Uint8Array): void {
    const h = parseRtpHeader(packet);
    if (!h) return;
    this.stats.packets++;
    if (this.expected >= 0 && h.sequence !== this.expected) {
      const gap = (h.sequence - this.expected) & 0xffff;
      if (gap > 0x8000) return; // late duplicate or reordered packet from before: TCP never reorders, drop it
      this.stats.lost += gap;
      this.corrupt = true;
      this.abortFragment();
    }
    this.expected = (h.sequence + 1) & 0xffff;
    if (this.ts !== -1 && h.timestamp !== this.ts && this.chunks.length > 0) {
      this.stats.markerless++;
      this.emit(); // the previous unit's marker packet was lost
    }
    this.ts = h.timestamp;
    const payload = packet.subarray(h.payloadStart, h.payloadEnd);
    if (payload.length > 0) {
      if (this.h265) this.payload265(payload);
      else this.payload264(payload);
    }
    if (h.marker) this.emit();
  }

  /** Drops a unit in progress (a new connection, a flush). */
  reset(): void {
    this.chunks = [];
    this.bytes = 0;
    this.types = [];
    this.key = false;
    this.corrupt = false;
    this.fragFrom = -1;
    this.fragBroken = false;
    this.ts = -1;
    this.expected = -1;
  }

  private payload264(p: Uint8Array): void {
    const type = p[0] & 0x1f;
    if (type >= 1 && type <= 23) return this.nal(p, type);
    if (type === 24) return this.aggregate(p, 1); // STAP-A
    if (type === 28) { // FU-A: indicator, header (S E R type), fragment
      if (p.length < 2) return;
      const nalType = p[1] & 0x1f;
      return this.fragment(p[1] & 0x80, p[1] & 0x40, Uint8Array.of((p[0] & 0xe0) | nalType), p.subarray(2), nalType);
    }
    this.stats.droppedNals++; // STAP-B, MTAP, FU-B: interleaved mode only, which is never negotiated (SETUP asks for mode 0/1)
  }

  private payload265(p: Uint8Array): void {
    if (p.length < 2) return;
    const type = (p[0] >> 1) & 0x3f;
    if (type < 48) return this.nal(p, type);
    if (type === 48) return this.aggregate(p, 2); // AP
    if (type === 49) { // FU: 2-byte payload header, FU header (S E type6), fragment
      if (p.length < 3) return;
      const nalType = p[2] & 0x3f;
      return this.fragment(p[2] & 0x80, p[2] & 0x40, Uint8Array.of((p[0] & 0x81) | (nalType << 1), p[1]), p.subarray(3), nalType);
    }
    this.stats.droppedNals++; // PACI (50) and reserved types
  }

  /** STAP-A / AP: after the payload header, NAL units each preceded by a 16-bit size. */
  private aggregate(p: Uint8Array, headerLen: number): void {
    let i = headerLen;
    while (i + 2 <= p.length) {
      const n = (p[i] << 8) | p[i + 1];
      i += 2;
      if (n === 0 || i + n > p.length) {
        this.stats.droppedNals++;
        this.corrupt = true;
        return;
      }
      const nal = p.subarray(i, i + n);
      this.nal(nal, this.h265 ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f);
      i += n;
    }
  }

  private fragment(start: number, end: number, header: Uint8Array, body: Uint8Array, nalType: number): void {
    if (start) {
      if (this.fragFrom >= 0) this.abortFragment(); // a start without the previous NAL's end: that one is broken
      this.fragBroken = false;
      this.fragFrom = this.chunks.length;
      this.add(START);
      this.add(header);
      this.noteType(nalType);
    } else if (this.fragFrom < 0) {
      if (!this.fragBroken) this.stats.droppedNals++;
      this.fragBroken = true; // its start was lost: skip to the next start
      this.corrupt = true;
      return;
    }
    this.add(body);
    if (end) this.fragFrom = -1;
  }

  private nal(nal: Uint8Array, type: number): void {
    if (this.fragFrom >= 0) this.abortFragment(); // a whole NAL inside a fragmented one: the fragment lost its end
    this.add(START);
    this.add(nal);
    this.noteType(type);
  }

  private noteType(type: number): void {
    this.types.push(type);
    if (this.isKey(type)) this.key = true;
  }

  private isKey(type: number): boolean {
    return this.h265 ? type >= 16 && type <= 21 : type === 5;
  }

  private add(c: Uint8Array): void {
    this.chunks.push(c);
    this.bytes += c.length;
  }

  /** Removes a fragmented NAL in progress from the unit (see `fragBroken`). */
  private abortFragment(): void {
    if (this.fragFrom < 0) return;
    for (let i = this.fragFrom; i < this.chunks.length; i++) this.bytes -= this.chunks[i].length;
    this.chunks.length = this.fragFrom;
    this.types.pop();
    this.key = this.types.some((t) => this.isKey(t));
    this.fragFrom = -1;
    this.fragBroken = true;
    this.corrupt = true;
    this.stats.droppedNals++;
  }

  private emit(): void {
    if (this.fragFrom >= 0) this.abortFragment(); // the unit ended inside a fragmented NAL
    if (this.chunks.length > 0 && this.bytes <= MAX_UNIT_BYTES) {
      this.stats.units++;
      this.onUnit({ data: Buffer.concat(this.chunks, this.bytes), timestamp: this.ts, keyframe: this.key, corrupt: this.corrupt, nalTypes: this.types });
      this.corrupt = false; // a loss counts against the unit it fell in (or the next one when between units)
    }
    this.chunks = [];
    this.bytes = 0;
    this.types = [];
    this.key = false;
    this.fragBroken = false;
  }
}
