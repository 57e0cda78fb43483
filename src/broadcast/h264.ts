/**
 * H.264 bitstream plumbing for WebRTC: Annex-B and AVCC (MP4) access units → NAL units, parameter sets taken from
 * the container's extradata, and RFC 6184 packetisation (packetization-mode 1: single NAL unit packets, FU-A for
 * NAL units larger than the MTU; no STAP-A).
 *
 * Used by the shared encode (x264 emits Annex-B) and by passthrough (the camera's own packets: Annex-B from RTSP,
 * length-prefixed from MP4 files). A WebRTC viewer can only start at an IDR that carries SPS/PPS; many cameras
 * send them once, out of band (SDP sprop-parameter-sets → extradata), so {@link H264Framer} puts them in front
 * of every IDR that lacks them.
 */

/** Payload bytes per RTP packet: leaves room for RTP/SRTP/UDP/IP headers and extensions under a 1500 MTU. */
export const RTP_MAX_PAYLOAD = 1200;

export const NAL_IDR = 5;
export const NAL_SPS = 7;
export const NAL_PPS = 8;

/** NAL units of an Annex-B byte stream, start codes removed (subarrays of `buf`, no copies). */
export function splitAnnexB(buf: Uint8Array): Buffer[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Buffer[] = [];
  let start = -1;
  let i = 0;
  while (i + 2 < b.length) {
    if (b[i] === 0 && b[i + 1] === 0 && b[i + 2] === 1) {
      if (start >= 0) out.push(trimZeros(b.subarray(start, i)));
      i += 3;
      start = i;
    } else i++;
  }
  if (start >= 0 && start < b.length) out.push(b.subarray(start));
  else if (start < 0 && b.length > 0) out.push(b); // no start code: treat as one NAL unit
  return out.filter((n) => n.length > 0);
}

/** Drops the trailing zero bytes that belong to the next 4-byte start code. */
function trimZeros(nal: Buffer): Buffer {
  let end = nal.length;
  while (end > 0 && nal[end - 1] === 0) end--;
  return nal.subarray(0, end);
}

/** NAL units of a length-prefixed (AVCC) access unit; a length running past the end stops the walk. */
export function splitAvcc(buf: Uint8Array, lengthSize: number): Buffer[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Buffer[] = [];
  let off = 0;
  while (off + lengthSize <= b.length) {
    let len = 0;
    for (let i = 0; i < lengthSize; i++) len = len * 256 + b[off + i];
    off += lengthSize;
    if (len === 0) continue;
    if (off + len > b.length) break;
    out.push(b.subarray(off, off + len));
    off += len;
  }
  return out;
}

export interface AvcConfig {
  /** Bytes of the NAL length prefix in AVCC packets (1, 2 or 4). */
  lengthSize: number;
  sps: Buffer[];
  pps: Buffer[];
}

/** Parses an AVCDecoderConfigurationRecord (ISO 14496-15 `avcC`), or undefined when `buf` is not one. */
export function parseAvcC(buf: Uint8Array): AvcConfig | undefined {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 7 || b[0] !== 1) return undefined;
  const lengthSize = (b[4] & 3) + 1;
  const sps: Buffer[] = [];
  const pps: Buffer[] = [];
  let off = 5;
  const read = (count: number, into: Buffer[]): boolean => {
    for (let i = 0; i < count; i++) {
      if (off + 2 > b.length) return false;
      const len = b.readUInt16BE(off);
      off += 2;
      if (off + len > b.length) return false;
      into.push(b.subarray(off, off + len));
      off += len;
    }
    return true;
  };
  if (!read(b[off++] & 0x1f, sps)) return undefined;
  if (off >= b.length || !read(b[off++], pps)) return undefined;
  return { lengthSize, sps, pps };
}

/** RFC 6184 profile-level-id (6 hex digits) of an SPS NAL unit: profile_idc, constraint flags, level_idc. */
export function profileLevelId(sps: Uint8Array): string | undefined {
  if (sps.length < 4 || (sps[0] & 0x1f) !== NAL_SPS) return undefined;
  return [sps[1], sps[2], sps[3]].map((v) => v.toString(16).padStart(2, '0')).join('');
}

/** H.264 profiles as WebRTC signalling tells them apart (profile_idc plus constraint flags). */
export type H264Profile = 'constrained-baseline' | 'baseline' | 'main' | 'extended' | 'constrained-high' | 'high' | 'high-10' | 'high-422' | 'high-444';

/** libwebrtc's classification (h264_profile_level_id.cc): profile_idc, constraint-flag bit pattern ('x': any). */
const PROFILE_PATTERNS: readonly [idc: number, pattern: string, profile: H264Profile][] = [
  [0x42, 'x1xx0000', 'constrained-baseline'],
  [0x4d, '1xxx0000', 'constrained-baseline'],
  [0x58, '11xx0000', 'constrained-baseline'],
  [0x42, 'x0xx0000', 'baseline'],
  [0x58, '10xx0000', 'baseline'],
  [0x4d, '0x0x0000', 'main'],
  [0x64, '00000000', 'high'],
  [0x64, '00001100', 'constrained-high'],
];
/** What profile_idc alone says, for constraint flags the table does not list (cameras set odd ones). */
const BY_IDC: Readonly<Record<number, H264Profile>> = { 0x42: 'baseline', 0x4d: 'main', 0x58: 'extended', 0x64: 'high', 0x6e: 'high-10', 0x7a: 'high-422', 0xf4: 'high-444' };

function matches(bits: number, pattern: string): boolean {
  for (let i = 0; i < 8; i++) {
    const want = pattern[i];
    if (want !== 'x' && ((bits >> (7 - i)) & 1) !== Number(want)) return false;
  }
  return true;
}

/** The profile of an RFC 6184 profile-level-id (6 hex digits), or undefined when it is not one. */
export function h264Profile(plid: string): H264Profile | undefined {
  if (!/^[0-9a-f]{6}$/i.test(plid)) return undefined;
  const idc = parseInt(plid.slice(0, 2), 16);
  const flags = parseInt(plid.slice(2, 4), 16);
  for (const [i, pattern, profile] of PROFILE_PATTERNS) if (i === idc && matches(flags, pattern)) return profile;
  return BY_IDC[idc];
}

/**
 * Profiles whose decoders take a stream of the key's profile, narrowest first (after the profile itself). H.264's
 * profiles nest (Annex A): constrained baseline ⊂ main ⊂ high ⊂ high 10 ⊂ high 4:2:2 ⊂ high 4:4:4 predictive, and
 * constrained baseline ⊂ baseline, constrained high ⊂ high. The wide end matters: Debian's Chromium offers no
 * `64` (High) payload type but does offer `f4` (High 4:4:4 Predictive), whose decoders take High streams.
 */
const HIGHS: readonly H264Profile[] = ['high', 'high-10', 'high-422', 'high-444'];
const CARRIERS: Readonly<Record<H264Profile, readonly H264Profile[]>> = {
  'constrained-baseline': ['constrained-baseline', 'baseline', 'main', 'constrained-high', ...HIGHS],
  baseline: ['baseline', 'extended'],
  main: ['main', ...HIGHS],
  extended: ['extended'],
  'constrained-high': ['constrained-high', ...HIGHS],
  high: HIGHS,
  'high-10': HIGHS.slice(1),
  'high-422': HIGHS.slice(2),
  'high-444': HIGHS.slice(3),
};

/** How well a receiver signalled as `offered` fits a stream of profile `stream`: 0 exact, 1.. a wider profile, -1 cannot decode it. */
export function profileFit(stream: H264Profile, offered: H264Profile): number {
  return CARRIERS[stream].indexOf(offered);
}

/**
 * Turns a stream's demuxed H.264 packets into NAL unit lists ready for packetisation. The packet format
 * (Annex-B or AVCC) comes from the extradata: an avcC record means length-prefixed packets.
 */
export class H264Framer {
  readonly #avcc: AvcConfig | undefined;
  #sps: Buffer[];
  #pps: Buffer[];

  constructor(extradata: Uint8Array | null | undefined) {
    this.#avcc = extradata ? parseAvcC(extradata) : undefined;
    if (this.#avcc) {
      this.#sps = this.#avcc.sps.map((n) => Buffer.from(n));
      this.#pps = this.#avcc.pps.map((n) => Buffer.from(n));
    } else {
      const nalus = extradata && extradata.length > 0 ? splitAnnexB(extradata) : [];
      this.#sps = nalus.filter((n) => (n[0] & 0x1f) === NAL_SPS).map((n) => Buffer.from(n));
      this.#pps = nalus.filter((n) => (n[0] & 0x1f) === NAL_PPS).map((n) => Buffer.from(n));
    }
  }

  /** profile-level-id of the current SPS, when one is known. */
  get profileLevelId(): string | undefined {
    return this.#sps[0] ? profileLevelId(this.#sps[0]) : undefined;
  }

  /**
   * NAL units of one access unit (subarrays of `data`, valid as long as it is), with the known SPS/PPS in front
   * of an IDR that carries none. In-band parameter sets replace the remembered ones (a camera may change them).
   */
  nalus(data: Uint8Array): Buffer[] {
    const nalus = this.#avcc ? splitAvcc(data, this.#avcc.lengthSize) : splitAnnexB(data);
    let idr = false;
    let hasSps = false;
    let hasPps = false;
    for (const n of nalus) {
      const t = n[0] & 0x1f;
      if (t === NAL_IDR) idr = true;
      else if (t === NAL_SPS) {
        if (!hasSps) this.#sps = [];
        hasSps = true;
        this.#sps.push(Buffer.from(n));
      } else if (t === NAL_PPS) {
        if (!hasPps) this.#pps = [];
        hasPps = true;
        this.#pps.push(Buffer.from(n));
      }
    }
    if (!idr || (hasSps && hasPps)) return nalus;
    return [...(hasSps ? [] : this.#sps), ...(hasPps ? [] : this.#pps), ...nalus];
  }
}

/** RFC 6184 packetization-mode 1 payloads of one access unit: single NAL unit packets, or FU-A fragments. */
export function packetizeH264(nalus: Buffer[], maxPayload = RTP_MAX_PAYLOAD): Buffer[] {
  const out: Buffer[] = [];
  for (const nal of nalus) {
    // AUD (9), SEI (6) and filler (12) carry nothing a WebRTC decoder needs (camera SEI can be kilobytes).
    const type = nal[0] & 0x1f;
    if (type === 9 || type === 12 || type === 6) continue;
    if (nal.length <= maxPayload) {
      out.push(nal);
      continue;
    }
    const indicator = (nal[0] & 0xe0) | 28; // F and NRI of the NAL, type FU-A
    const body = nal.subarray(1);
    const step = maxPayload - 2;
    for (let off = 0; off < body.length; off += step) {
      const first = off === 0;
      const last = off + step >= body.length;
      const header = (first ? 0x80 : 0) | (last ? 0x40 : 0) | type;
      out.push(Buffer.concat([Buffer.from([indicator, header]), body.subarray(off, off + step)]));
    }
  }
  return out;
}
