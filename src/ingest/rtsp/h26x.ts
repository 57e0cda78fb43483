/**
 * H.264 / H.265 bitstream helpers for the RTSP client: Annex-B splitting, NAL types, and just enough of the
 * sequence parameter set to know the displayed size, pixel aspect ratio, frame rate and profile of a stream
 * before (or without) opening a decoder. The SPS arrives in the SDP (sprop-parameter-sets) or in-band, and the
 * cropping window matters: 1080p is coded as 1088 lines, and odd sizes are coded in whole macroblocks / CTBs.
 *
 * Pure functions on bytes; malformed input throws InputError('E_INPUT_INVALID').
 */
import { InputError } from '../../core/errors.js';

export interface SpsInfo {
  /** Displayed width after the conformance/cropping window. */
  width: number;
  height: number;
  /** Pixel aspect ratio from VUI aspect_ratio_idc (incl. 255 = Extended_SAR), 1 when absent/unspecified. */
  sar: number;
  /** Frames per second from VUI timing info when present and sane, else undefined. */
  fps?: number;
  profileIdc: number;
  /** H.264: constraint_set flags byte (the 2nd byte of the SPS payload); H.265: 0. */
  constraints: number;
  levelIdc: number;
}

function invalid(message: string): InputError {
  return new InputError('E_INPUT_INVALID', message);
}

/** MSB-first reader over an RBSP (emulation prevention already removed). Every read is bounds-checked. */
class BitReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly what: string) {}

  readBits(n: number): number {
    if (n === 0) return 0;
    if (this.pos + n > this.buf.length * 8) throw invalid(`${this.what}: truncated (needs ${n} more bits at bit ${this.pos})`);
    // Arithmetic rather than bitwise so 32-bit fields (VUI num_units_in_tick) stay unsigned.
    let v = 0;
    for (let i = 0; i < n; i++, this.pos++) v = v * 2 + ((this.buf[this.pos >> 3] >> (7 - (this.pos & 7))) & 1);
    return v;
  }

  readFlag(): boolean {
    return this.readBits(1) === 1;
  }

  skipBits(n: number): void {
    if (this.pos + n > this.buf.length * 8) throw invalid(`${this.what}: truncated (skips ${n} bits at bit ${this.pos})`);
    this.pos += n;
  }

  readUe(): number {
    let zeros = 0;
    while (this.readBits(1) === 0) {
      // No field in a parameter set needs more than 32 bits; more zeros means garbage, not a huge number.
      if (++zeros > 31) throw invalid(`${this.what}: bad exp-Golomb code at bit ${this.pos}`);
    }
    return 2 ** zeros - 1 + this.readBits(zeros);
  }

  skipUe(count: number): void {
    for (let i = 0; i < count; i++) this.readUe();
  }

  readSe(): number {
    const k = this.readUe();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Removes emulation-prevention bytes (00 00 03 → 00 00) from a NAL unit's payload. Returns the input itself when it has none. */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  let out: Uint8Array | undefined; // allocated at the first emulation byte: most parameter sets have none
  let n = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i];
    if (zeros >= 2 && b === 3) {
      if (!out) {
        out = new Uint8Array(nal.length);
        out.set(nal.subarray(0, i));
        n = i;
      }
      zeros = 0; // the 00 00 were consumed by this 03: a following 00 00 03 needs two new zeros
      continue;
    }
    if (out) out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out ? out.subarray(0, n) : nal;
}

/**
 * Splits an Annex-B byte stream into NAL units (views, start codes stripped, trailing zero bytes trimmed: they
 * are the leading zero of a 4-byte start code or trailing_zero_8bits, never NAL data). Bytes before the first
 * start code are not a NAL unit and are dropped, as are empty units.
 */
export function splitAnnexB(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = -1;
  const push = (end: number): void => {
    if (start < 0) return;
    while (end > start && data[end - 1] === 0) end--;
    if (end > start) out.push(data.subarray(start, end));
  };
  for (let i = 0; i + 2 < data.length; ) {
    if (data[i + 2] > 1) {
      i += 3; // a start code at i, i+1 or i+2 would need this byte to be 00 or 01
      continue;
    }
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      push(i);
      start = i + 3;
      i += 3;
    } else {
      i++;
    }
  }
  push(data.length);
  return out;
}

/** H.264 NAL unit type (low 5 bits of byte 0); -1 for an empty unit. */
export function h264NalType(nal: Uint8Array): number {
  return nal.length > 0 ? nal[0] & 0x1f : -1;
}

/** H.265 NAL unit type ((byte0 >> 1) & 0x3f); -1 for an empty unit. */
export function h265NalType(nal: Uint8Array): number {
  return nal.length > 0 ? (nal[0] >> 1) & 0x3f : -1;
}

/** The RFC 6184 profile-level-id hex string ("42e01f": profile_idc, constraint flags, level_idc) of an H.264 SPS. */
export function profileLevelId(info: SpsInfo): string {
  const hex = (v: number): string => (v & 0xff).toString(16).padStart(2, '0');
  return hex(info.profileIdc) + hex(info.constraints) + hex(info.levelIdc);
}

/** Table E-1 (same in H.264 and H.265); index 0 is "unspecified". */
const SAR_TABLE: readonly (readonly [number, number])[] = [
  [0, 0], [1, 1], [12, 11], [10, 11], [16, 11], [40, 33], [24, 11], [20, 11], [32, 11],
  [80, 33], [18, 11], [15, 11], [64, 33], [160, 99], [4, 3], [3, 2], [2, 1],
];

/** aspect_ratio_info_present_flag has been read as 1: reads aspect_ratio_idc and the extended SAR. */
function readSar(r: BitReader): number {
  const idc = r.readBits(8);
  let w = 0;
  let h = 0;
  if (idc === 255) {
    w = r.readBits(16);
    h = r.readBits(16);
  } else if (idc < SAR_TABLE.length) {
    [w, h] = SAR_TABLE[idc];
  }
  // Unspecified or reserved: square pixels is what every player assumes.
  return w > 0 && h > 0 ? w / h : 1;
}

/** Cameras sometimes write nonsense timing (time_scale 0, or 90 kHz against one tick); treat that as absent. */
function saneFps(fps: number): number | undefined {
  return Number.isFinite(fps) && fps > 0 && fps <= 1000 ? fps : undefined;
}

/** Chroma subsampling (SubWidthC, SubHeightC) for crop/conformance units; 1×1 when there is no chroma array. */
function chromaUnits(chromaFormatIdc: number, separateColourPlane: boolean): [number, number] {
  if (chromaFormatIdc === 0 || separateColourPlane) return [1, 1];
  return [chromaFormatIdc === 3 ? 1 : 2, chromaFormatIdc === 1 ? 2 : 1];
}

const H264_HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** nal: one H.264 SPS NAL unit including its 1-byte NAL header (type 7), no start code. */
export function parseH264Sps(nal: Uint8Array): SpsInfo {
  if (nal.length < 4) throw invalid(`H.264 SPS: ${nal.length} bytes is too short`);
  if (h264NalType(nal) !== 7) throw invalid(`H.264 SPS: NAL type ${h264NalType(nal)}, expected 7`);
  const r = new BitReader(unescapeRbsp(nal.subarray(1)), 'H.264 SPS');
  const profileIdc = r.readBits(8);
  const constraints = r.readBits(8);
  const levelIdc = r.readBits(8);
  r.readUe(); // seq_parameter_set_id
  let chromaFormatIdc = 1; // inferred 4:2:0 for the non-high profiles
  let separateColourPlane = false;
  if (H264_HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.readUe();
    if (chromaFormatIdc > 3) throw invalid(`H.264 SPS: chroma_format_idc ${chromaFormatIdc}`);
    if (chromaFormatIdc === 3) separateColourPlane = r.readFlag();
    r.skipUe(2); // bit_depth_luma_minus8, bit_depth_chroma_minus8
    r.skipBits(1); // qpprime_y_zero_transform_bypass_flag
    if (r.readFlag()) {
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) if (r.readFlag()) skipH264ScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.readUe(); // log2_max_frame_num_minus4
  const pocType = r.readUe();
  if (pocType === 0) {
    r.readUe(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (pocType === 1) {
    r.skipBits(1); // delta_pic_order_always_zero_flag
    r.skipUe(2); // offset_for_non_ref_pic, offset_for_top_to_bottom_field (se(v): same code length as ue(v))
    const cycle = r.readUe();
    if (cycle > 255) throw invalid(`H.264 SPS: num_ref_frames_in_pic_order_cnt_cycle ${cycle}`);
    r.skipUe(cycle); // offset_for_ref_frame[] (se(v))
  } else if (pocType !== 2) {
    throw invalid(`H.264 SPS: pic_order_cnt_type ${pocType}`);
  }
  r.readUe(); // max_num_ref_frames
  r.skipBits(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.readUe() + 1;
  const heightMapUnits = r.readUe() + 1;
  const frameMbsOnly = r.readFlag();
  if (!frameMbsOnly) r.skipBits(1); // mb_adaptive_frame_field_flag
  r.skipBits(1); // direct_8x8_inference_flag
  const fieldFactor = frameMbsOnly ? 1 : 2; // map units are field macroblock pairs when fields may be coded
  let width = widthMbs * 16;
  let height = heightMapUnits * 16 * fieldFactor;
  if (r.readFlag()) {
    const [subW, subH] = chromaUnits(chromaFormatIdc, separateColourPlane);
    width -= subW * (r.readUe() + r.readUe()); // left, right
    height -= subH * fieldFactor * (r.readUe() + r.readUe()); // top, bottom
  }
  if (width <= 0 || height <= 0) throw invalid(`H.264 SPS: cropping leaves ${width}x${height}`);
  const info: SpsInfo = { width, height, sar: 1, profileIdc, constraints, levelIdc };
  if (r.readFlag()) readH264Vui(r, info);
  return info;
}

/** scaling_list(): only the delta_scale codes are read, the matrix itself is not needed. */
function skipH264ScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      next = (last + r.readSe() + 256) % 256;
    }
    // next === 0 means "the rest repeats the last value": no more codes follow for this list.
    if (next !== 0) last = next;
  }
}

function readH264Vui(r: BitReader, info: SpsInfo): void {
  if (r.readFlag()) info.sar = readSar(r);
  if (r.readFlag()) r.skipBits(1); // overscan_appropriate_flag
  if (r.readFlag()) {
    r.skipBits(4); // video_format, video_full_range_flag
    if (r.readFlag()) r.skipBits(24); // colour_primaries, transfer_characteristics, matrix_coefficients
  }
  if (r.readFlag()) r.skipUe(2); // chroma_sample_loc_type_top_field, _bottom_field
  if (r.readFlag()) {
    const units = r.readBits(32);
    const scale = r.readBits(32);
    // A tick is a field period: two ticks per frame.
    const fps = units > 0 ? saneFps(scale / (2 * units)) : undefined;
    if (fps !== undefined) info.fps = fps;
  }
}

/** nal: one H.265 SPS NAL unit including its 2-byte NAL header (type 33), no start code. */
export function parseH265Sps(nal: Uint8Array): SpsInfo {
  if (nal.length < 6) throw invalid(`H.265 SPS: ${nal.length} bytes is too short`);
  if (h265NalType(nal) !== 33) throw invalid(`H.265 SPS: NAL type ${h265NalType(nal)}, expected 33`);
  const r = new BitReader(unescapeRbsp(nal.subarray(2)), 'H.265 SPS');
  r.skipBits(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.readBits(3);
  if (maxSubLayersMinus1 > 6) throw invalid(`H.265 SPS: sps_max_sub_layers_minus1 ${maxSubLayersMinus1}`);
  r.skipBits(1); // sps_temporal_id_nesting_flag
  // profile_tier_level(1, maxSubLayersMinus1)
  r.skipBits(3); // general_profile_space, general_tier_flag
  const profileIdc = r.readBits(5);
  r.skipBits(88 - 8); // compatibility flags, source flags, constraint bits
  const levelIdc = r.readBits(8);
  const profilePresent: boolean[] = [];
  const levelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(r.readFlag());
    levelPresent.push(r.readFlag());
  }
  if (maxSubLayersMinus1 > 0) r.skipBits(2 * (8 - maxSubLayersMinus1)); // reserved_zero_2bits
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent[i]) r.skipBits(88);
    if (levelPresent[i]) r.skipBits(8);
  }
  r.readUe(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.readUe();
  if (chromaFormatIdc > 3) throw invalid(`H.265 SPS: chroma_format_idc ${chromaFormatIdc}`);
  const separateColourPlane = chromaFormatIdc === 3 ? r.readFlag() : false;
  let width = r.readUe();
  let height = r.readUe();
  if (r.readFlag()) {
    const [subW, subH] = chromaUnits(chromaFormatIdc, separateColourPlane);
    width -= subW * (r.readUe() + r.readUe());
    height -= subH * (r.readUe() + r.readUe());
  }
  if (width <= 0 || height <= 0) throw invalid(`H.265 SPS: conformance window leaves ${width}x${height}`);
  const info: SpsInfo = { width, height, sar: 1, profileIdc, constraints: 0, levelIdc };
  try {
    readH265Tail(r, maxSubLayersMinus1, info);
  } catch (e) {
    // The VUI sits behind reference picture sets and scaling lists, where encoder quirks live; the size above
    // is what callers need, so a tail we cannot follow costs the SAR and frame rate, not the stream.
    if (!(e instanceof InputError)) throw e;
    info.sar = 1;
    delete info.fps;
  }
  return info;
}

/** From bit_depth_luma_minus8 to the VUI's timing info (7.3.2.2.1 and E.2.1), filling sar and fps. */
function readH265Tail(r: BitReader, maxSubLayersMinus1: number, info: SpsInfo): void {
  r.skipUe(2); // bit_depth_luma_minus8, bit_depth_chroma_minus8
  const pocLsbBits = r.readUe() + 4;
  if (pocLsbBits > 16) throw invalid(`H.265 SPS: log2_max_pic_order_cnt_lsb ${pocLsbBits}`);
  const orderingAll = r.readFlag();
  for (let i = orderingAll ? 0 : maxSubLayersMinus1; i <= maxSubLayersMinus1; i++) {
    r.skipUe(3); // max_dec_pic_buffering, max_num_reorder, max_latency_increase
  }
  r.skipUe(6); // coding block, transform block sizes and hierarchy depths
  if (r.readFlag() && r.readFlag()) skipH265ScalingListData(r); // scaling_list_enabled, sps_scaling_list_data_present
  r.skipBits(2); // amp_enabled_flag, sample_adaptive_offset_enabled_flag
  if (r.readFlag()) {
    r.skipBits(8); // pcm sample bit depths
    r.skipUe(2); // pcm coding block sizes
    r.skipBits(1); // pcm_loop_filter_disabled_flag
  }
  const numSets = r.readUe();
  if (numSets > 64) throw invalid(`H.265 SPS: num_short_term_ref_pic_sets ${numSets}`);
  const numDeltaPocs: number[] = [];
  for (let i = 0; i < numSets; i++) numDeltaPocs.push(readShortTermRps(r, i, numDeltaPocs));
  if (r.readFlag()) {
    const lt = r.readUe();
    if (lt > 32) throw invalid(`H.265 SPS: num_long_term_ref_pics_sps ${lt}`);
    for (let i = 0; i < lt; i++) r.skipBits(pocLsbBits + 1); // lt_ref_pic_poc_lsb_sps, used_by_curr_pic_lt_sps_flag
  }
  r.skipBits(2); // sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag
  if (!r.readFlag()) return; // vui_parameters_present_flag
  if (r.readFlag()) info.sar = readSar(r);
  if (r.readFlag()) r.skipBits(1); // overscan_appropriate_flag
  if (r.readFlag()) {
    r.skipBits(4); // video_format, video_full_range_flag
    if (r.readFlag()) r.skipBits(24);
  }
  if (r.readFlag()) r.skipUe(2); // chroma sample locations
  r.skipBits(3); // neutral_chroma_indication_flag, field_seq_flag, frame_field_info_present_flag
  if (r.readFlag()) r.skipUe(4); // default display window
  if (r.readFlag()) {
    const units = r.readBits(32);
    const scale = r.readBits(32);
    const fps = units > 0 ? saneFps(scale / units) : undefined;
    if (fps !== undefined) info.fps = fps;
  }
}

/** scaling_list_data() (7.3.4): codes are read and dropped. */
function skipH265ScalingListData(r: BitReader): void {
  for (let sizeId = 0; sizeId < 4; sizeId++) {
    for (let matrixId = 0; matrixId < 6; matrixId += sizeId === 3 ? 3 : 1) {
      if (!r.readFlag()) {
        r.readUe(); // scaling_list_pred_matrix_id_delta
        continue;
      }
      const coefs = Math.min(64, 1 << (4 + (sizeId << 1)));
      if (sizeId > 1) r.readSe(); // scaling_list_dc_coef_minus8
      for (let i = 0; i < coefs; i++) r.readSe();
    }
  }
}

/**
 * st_ref_pic_set(idx) as it appears in an SPS (7.3.7); returns NumDeltaPocs[idx], which the next set's
 * inter-RPS prediction needs to know how many flags to read. Counts every predicted entry, as FFmpeg does.
 */
function readShortTermRps(r: BitReader, idx: number, numDeltaPocs: readonly number[]): number {
  if (idx > 0 && r.readFlag()) {
    // In an SPS delta_idx_minus1 is absent: the reference set is always the previous one.
    r.skipBits(1); // delta_rps_sign
    r.readUe(); // abs_delta_rps_minus1
    let count = 0;
    for (let j = 0; j <= numDeltaPocs[idx - 1]; j++) {
      const used = r.readFlag();
      if (used || r.readFlag()) count++; // use_delta_flag is inferred 1 when used_by_curr_pic_flag is set
    }
    return count;
  }
  const negative = r.readUe();
  const positive = r.readUe();
  if (negative > 16 || positive > 16) throw invalid(`H.265 SPS: short-term RPS with ${negative}+${positive} pictures`);
  for (let i = 0; i < negative + positive; i++) {
    r.readUe(); // delta_poc_sX_minus1
    r.skipBits(1); // used_by_curr_pic_sX_flag
  }
  return negative + positive;
}
