/**
 * The H.264/H.265 SPS parser and Annex-B helpers (src/ingest/rtsp/h26x.ts) against real encoder output: libx264
 * and libx265 (through node-av) are opened with global headers at sizes that need cropping, with a frame rate and
 * a SAR, and their SPS must come back as what the encoder was told. Syntax x264/x265 never write (SPS scaling
 * lists, POC type 1, separate colour planes, H.265 inter-RPS prediction, PCM, long-term refs) is covered by
 * SPSs assembled bit by bit here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Codec, CodecContext, Dictionary, FFmpegError, Log, Rational } from 'node-av/lib';
import {
  AV_CODEC_FLAG_GLOBAL_HEADER, AV_CODEC_FLAG_INTERLACED_DCT, AV_LOG_ERROR, AV_PIX_FMT_GRAY8, AV_PIX_FMT_YUV420P,
  AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUV444P, FF_ENCODER_LIBX264, FF_ENCODER_LIBX265,
} from 'node-av/constants';
import type { AVCodecFlag, AVPixelFormat } from 'node-av/constants';
import { InputError } from '../../../src/core/errors.ts';
import {
  h264NalType, h265NalType, parseH264Sps, parseH265Sps, profileLevelId, splitAnnexB, unescapeRbsp,
} from '../../../src/ingest/rtsp/h26x.ts';

Log.setLevel(AV_LOG_ERROR); // x264 prints its option line at info level on every open

interface EncOpts {
  width: number;
  height: number;
  pix?: AVPixelFormat;
  fps?: [number, number];
  sar?: [number, number];
  interlaced?: boolean;
  options?: Record<string, string>;
}

/** Opens the encoder with GLOBAL_HEADER and returns its extradata (Annex-B parameter sets); no frame is encoded. */
async function headers(name: typeof FF_ENCODER_LIBX264 | typeof FF_ENCODER_LIBX265, o: EncOpts): Promise<Buffer> {
  const codec = Codec.findEncoderByName(name);
  assert.ok(codec, `${name} is in node-av`);
  const ctx = new CodecContext();
  ctx.allocContext3(codec);
  try {
    const [num, den] = o.fps ?? [25, 1];
    ctx.width = o.width;
    ctx.height = o.height;
    ctx.pixelFormat = o.pix ?? AV_PIX_FMT_YUV420P;
    ctx.timeBase = new Rational(den, num);
    ctx.framerate = new Rational(num, den);
    if (o.sar) ctx.sampleAspectRatio = new Rational(o.sar[0], o.sar[1]);
    ctx.threadCount = 1;
    ctx.flags = (AV_CODEC_FLAG_GLOBAL_HEADER | (o.interlaced ? AV_CODEC_FLAG_INTERLACED_DCT : 0)) as AVCodecFlag;
    const quiet = name === FF_ENCODER_LIBX264 ? { x264opts: 'log=-1' } : { 'x265-params': 'log-level=none' };
    FFmpegError.throwIfError(await ctx.open2(codec, Dictionary.fromObject({ preset: 'ultrafast', ...quiet, ...o.options })), `open ${name}`);
    const extra = ctx.extraData;
    assert.ok(extra && extra.length > 0, 'encoder produced global headers');
    return Buffer.from(extra);
  } finally {
    ctx.freeContext();
  }
}

async function x264Sps(o: EncOpts): Promise<Uint8Array> {
  const sps = splitAnnexB(await headers(FF_ENCODER_LIBX264, o)).find((n) => h264NalType(n) === 7);
  assert.ok(sps, 'extradata holds an SPS');
  return sps;
}

async function x265Sps(o: EncOpts): Promise<Uint8Array> {
  const nals = splitAnnexB(await headers(FF_ENCODER_LIBX265, o));
  assert.deepEqual(nals.slice(0, 3).map(h265NalType), [32, 33, 34], 'VPS, SPS, PPS');
  return nals[1];
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function assertInvalid(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof InputError && e.code === 'E_INPUT_INVALID');
}

// ---- H.264 from libx264 ----

const h264Cases: { name: string; o: EncOpts; profile: number; sar?: number; fps?: number }[] = [
  { name: '1280x720 baseline', o: { width: 1280, height: 720, options: { profile: 'baseline' } }, profile: 66 },
  { name: '1920x1080 high (coded 1088), SAR 4:3, 29.97 fps', o: { width: 1920, height: 1080, sar: [4, 3], fps: [30000, 1001], options: { preset: 'medium', profile: 'high' } }, profile: 100, sar: 4 / 3, fps: 30000 / 1001 },
  { name: '854x480 main, SAR 40:33', o: { width: 854, height: 480, sar: [40, 33], options: { preset: 'medium', profile: 'main' } }, profile: 77, sar: 40 / 33 },
  { name: '322x242 high', o: { width: 322, height: 242, fps: [30, 1], options: { preset: 'medium' } }, profile: 100, fps: 30 },
  { name: '321x241 4:4:4, extended SAR 7:5', o: { width: 321, height: 241, pix: AV_PIX_FMT_YUV444P, sar: [7, 5] }, profile: 244, sar: 7 / 5 },
  { name: '322x241 4:2:2', o: { width: 322, height: 241, pix: AV_PIX_FMT_YUV422P }, profile: 122 },
  { name: '322x242 high 10', o: { width: 322, height: 242, pix: AV_PIX_FMT_YUV420P10LE }, profile: 110 },
  { name: '321x241 gray (4:0:0)', o: { width: 321, height: 241, pix: AV_PIX_FMT_GRAY8 }, profile: 100 },
  { name: '720x576 interlaced', o: { width: 720, height: 576, interlaced: true, options: { preset: 'medium' } }, profile: 100 },
  { name: '1920x1080 interlaced (field MB pairs, crop unit 4)', o: { width: 1920, height: 1080, interlaced: true, sar: [4, 3] }, profile: 77, sar: 4 / 3 },
];

for (const c of h264Cases) {
  test(`H.264 SPS from libx264: ${c.name}`, async () => {
    const nal = await x264Sps(c.o);
    const info = parseH264Sps(nal);
    assert.equal(info.width, c.o.width);
    assert.equal(info.height, c.o.height);
    assert.equal(info.profileIdc, c.profile);
    assert.ok(Math.abs(info.sar - (c.sar ?? 1)) < 1e-9, `sar ${info.sar}`);
    assert.ok(info.fps !== undefined && Math.abs(info.fps - (c.fps ?? 25)) < 1e-6, `fps ${info.fps}`);
    assert.equal(profileLevelId(info), hex(nal.subarray(1, 4)));
  });
}

test('profileLevelId: baseline is 42…, high is 64…', async () => {
  const base = profileLevelId(parseH264Sps(await x264Sps({ width: 640, height: 360, options: { profile: 'baseline' } })));
  const high = profileLevelId(parseH264Sps(await x264Sps({ width: 1920, height: 1080, options: { preset: 'medium' } })));
  assert.match(base, /^42[0-9a-f]{4}$/);
  assert.match(high, /^64[0-9a-f]{4}$/);
  assert.equal(profileLevelId({ width: 1, height: 1, sar: 1, profileIdc: 0x42, constraints: 0xe0, levelIdc: 0x1f }), '42e01f');
});

test('H.264: truncated or wrong SPS throws E_INPUT_INVALID', async () => {
  const nal = await x264Sps({ width: 1920, height: 1080, sar: [4, 3] });
  for (const len of [0, 3, 5, 8]) assertInvalid(() => parseH264Sps(nal.subarray(0, len)));
  assertInvalid(() => parseH264Sps(Uint8Array.from([0x68, 0xce, 0x3c, 0x80]))); // a PPS
  // All-zero payload: the exp-Golomb prefix never ends.
  assertInvalid(() => parseH264Sps(Uint8Array.from([0x67, 0x42, 0, 0x1f, 0, 0, 0, 0, 0, 0])));
});

// ---- H.265 from libx265 ----

const h265Cases: { name: string; o: EncOpts; profile: number; sar?: number; fps?: number }[] = [
  { name: '1280x720', o: { width: 1280, height: 720 }, profile: 1 },
  { name: '1920x1080, SAR 4:3, 29.97 fps', o: { width: 1920, height: 1080, sar: [4, 3], fps: [30000, 1001] }, profile: 1, sar: 4 / 3, fps: 30000 / 1001 },
  { name: '322x242', o: { width: 322, height: 242, fps: [30, 1], options: { preset: 'medium' } }, profile: 1, fps: 30 },
  { name: '321x241 4:4:4, extended SAR 7:5', o: { width: 321, height: 241, pix: AV_PIX_FMT_YUV444P, sar: [7, 5] }, profile: 4, sar: 7 / 5 },
  { name: '854x480 main 10, 3 temporal sub-layers', o: { width: 854, height: 480, pix: AV_PIX_FMT_YUV420P10LE, options: { 'x265-params': 'log-level=none:temporal-layers=3' } }, profile: 2 },
  { name: '640x360 with scaling lists', o: { width: 640, height: 360, options: { 'x265-params': 'log-level=none:scaling-list=default' } }, profile: 1 },
];

for (const c of h265Cases) {
  test(`H.265 SPS from libx265: ${c.name}`, async () => {
    const info = parseH265Sps(await x265Sps(c.o));
    assert.equal(info.width, c.o.width);
    assert.equal(info.height, c.o.height);
    assert.equal(info.profileIdc, c.profile);
    assert.equal(info.constraints, 0);
    assert.ok(info.levelIdc > 0 && info.levelIdc % 3 === 0, `level ${info.levelIdc} is 30 × level`);
    assert.ok(Math.abs(info.sar - (c.sar ?? 1)) < 1e-9, `sar ${info.sar}`);
    assert.ok(info.fps !== undefined && Math.abs(info.fps - (c.fps ?? 25)) < 1e-6, `fps ${info.fps}`);
  });
}

test('H.265: truncation up to the conformance window throws; after it only sar and fps are lost', async () => {
  const nal = await x265Sps({ width: 1920, height: 1080, sar: [4, 3] });
  for (const len of [0, 2, 5, 12, 16]) assertInvalid(() => parseH265Sps(nal.subarray(0, len)));
  const cut = parseH265Sps(nal.subarray(0, nal.length - 12));
  assert.deepEqual([cut.width, cut.height, cut.sar, cut.fps], [1920, 1080, 1, undefined]);
  assertInvalid(() => parseH265Sps(Uint8Array.from([0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01]))); // a VPS
});

// ---- syntax the encoders above never write ----

/** Writes an RBSP MSB first, then escapes it into a NAL payload the way an encoder must. */
class BitWriter {
  private bits: number[] = [];
  u(n: number, v: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(v / 2 ** i) % 2);
    return this;
  }
  ue(v: number): this {
    const len = Math.floor(Math.log2(v + 1));
    return this.u(len, 0).u(len + 1, v + 1);
  }
  se(v: number): this {
    return this.ue(v > 0 ? 2 * v - 1 : -2 * v);
  }
  nal(header: number[]): Uint8Array {
    const bits = [...this.bits, 1];
    while (bits.length % 8) bits.push(0);
    const out = [...header];
    let zeros = 0;
    for (let i = 0; i < bits.length; i += 8) {
      const b = bits.slice(i, i + 8).reduce((a, x) => a * 2 + x, 0);
      if (zeros >= 2 && b <= 3) {
        out.push(3);
        zeros = 0;
      }
      out.push(b);
      zeros = b === 0 ? zeros + 1 : 0;
    }
    return Uint8Array.from(out);
  }
}

test('H.264 SPS: scaling lists, POC type 1, separate colour planes, every VUI block', () => {
  const w = new BitWriter().u(8, 244).u(8, 0).u(8, 40).ue(0);
  w.ue(3).u(1, 1).ue(2).ue(2).u(1, 0); // 4:4:4 as separate planes, 10-bit
  w.u(1, 1); // seq_scaling_matrix_present_flag: 12 lists for 4:4:4
  for (let i = 0; i < 12; i++) {
    w.u(1, i % 3 === 0 ? 0 : 1);
    if (i % 3 === 0) continue;
    const size = i < 6 ? 16 : 64;
    if (i === 4) w.se(-8); // nextScale 0 at once: "use the default list", one code only
    else for (let j = 0; j < size; j++) w.se(j % 2 ? 5 : -3);
  }
  w.ue(0).ue(1).u(1, 0).se(-2).se(3).ue(3).se(1).se(-1).se(7); // frame num; POC type 1 with 3 offsets
  w.ue(4).u(1, 0).ue(119).ue(33).u(1, 0).u(1, 1).u(1, 1); // 1920 x 34 field-pair rows, interlaced
  w.u(1, 1).ue(1).ue(2).ue(0).ue(4); // crop: unit 1 horizontally (no chroma array), 2 vertically
  w.u(1, 1).u(1, 1).u(8, 255).u(16, 64).u(16, 45); // VUI: extended SAR 64:45
  w.u(1, 1).u(1, 1).u(1, 1).u(3, 5).u(1, 0).u(1, 1).u(8, 1).u(8, 1).u(8, 1); // overscan, signal type, colour
  w.u(1, 1).ue(1).ue(1).u(1, 1).u(32, 1001).u(32, 120000).u(1, 1); // chroma loc, timing: 59.94 fps
  const nal = w.nal([0x67]);
  const info = parseH264Sps(nal);
  assert.deepEqual(info, { width: 1917, height: 1080, sar: 64 / 45, fps: 120000 / 2002, profileIdc: 244, constraints: 0, levelIdc: 40 });
  assertInvalid(() => parseH264Sps(nal.subarray(0, 40)));
});

test('H.264 SPS: insane VUI timing and unspecified SAR are ignored', () => {
  const w = new BitWriter().u(8, 66).u(8, 0xc0).u(8, 30).ue(0).ue(0).ue(2).ue(1).u(1, 0).ue(39).ue(29).u(1, 1).u(1, 1).u(1, 0);
  w.u(1, 1).u(1, 1).u(8, 0).u(1, 0).u(1, 0).u(1, 0).u(1, 1).u(32, 0).u(32, 50).u(1, 0);
  const info = parseH264Sps(w.nal([0x67]));
  assert.deepEqual(info, { width: 640, height: 480, sar: 1, profileIdc: 66, constraints: 0xc0, levelIdc: 30 });
  assert.equal(profileLevelId(info), '42c01e');
});

test('H.265 SPS: sub-layer PTL, scaling list data, PCM, inter-RPS prediction, long-term refs, VUI timing', () => {
  const w = new BitWriter().u(4, 0).u(3, 2).u(1, 1); // two extra sub-layers
  w.u(3, 0).u(5, 1).u(32, 0x60000000).u(48, 0).u(8, 123); // general PTL (88 bits) + level 4.1
  w.u(2, 0b11).u(2, 0b01).u(2 * 6, 0).u(88, 0).u(8, 120).u(8, 90); // sub-layer flags, padding, sub-layer PTLs
  w.ue(0).ue(1).ue(1916).ue(1080).u(1, 1).ue(0).ue(1).ue(0).ue(4); // 1916x1080 less 2 right, 8 bottom (4:2:0 units)
  w.ue(0).ue(0).ue(4).u(1, 1); // 8-bit, POC lsb 8 bits, ordering info for all 3 sub-layers
  for (let i = 0; i < 3; i++) w.ue(4).ue(2).ue(0);
  w.ue(0).ue(3).ue(0).ue(3).ue(1).ue(1);
  w.u(1, 1).u(1, 1); // scaling list data present
  for (let sizeId = 0; sizeId < 4; sizeId++) {
    for (let m = 0; m < 6; m += sizeId === 3 ? 3 : 1) {
      if (m === 1) {
        w.u(1, 0).ue(1);
        continue;
      }
      w.u(1, 1);
      if (sizeId > 1) w.se(8);
      for (let i = 0; i < Math.min(64, 1 << (4 + (sizeId << 1))); i++) w.se(i % 2 ? 1 : -1);
    }
  }
  w.u(1, 1).u(1, 1).u(1, 1).u(4, 7).u(4, 7).ue(0).ue(2).u(1, 0); // amp, sao, PCM
  w.ue(3); // three short-term RPSs
  w.ue(2).ue(1).ue(0).u(1, 1).ue(1).u(1, 1).ue(0).u(1, 0); // set 0: 2 negative, 1 positive
  w.u(1, 1).u(1, 0).ue(0).u(1, 1).u(1, 0).u(1, 1).u(1, 0).u(1, 0).u(1, 1); // set 1 predicted: 4 flags, 3 kept
  w.u(1, 1).u(1, 1).ue(1).u(1, 1).u(1, 1).u(1, 0).u(1, 0).u(1, 1); // set 2 predicted from set 1: 4 entries
  w.u(1, 1).ue(2).u(8, 17).u(1, 1).u(8, 200).u(1, 0); // two long-term ref POCs
  w.u(1, 1).u(1, 1).u(1, 1); // temporal MVP, strong intra smoothing, VUI
  w.u(1, 1).u(8, 14).u(1, 0).u(1, 1).u(3, 5).u(1, 1).u(1, 0).u(1, 1).ue(0).ue(0).u(3, 0); // SAR 4:3
  w.u(1, 1).ue(0).ue(0).ue(0).ue(0).u(1, 1).u(32, 1).u(32, 50).u(1, 0); // display window, 50 fps
  const info = parseH265Sps(w.nal([0x42, 0x01]));
  assert.deepEqual(info, { width: 1914, height: 1072, sar: 4 / 3, fps: 50, profileIdc: 1, constraints: 0, levelIdc: 123 });
});

// ---- Annex-B and RBSP ----

test('splitAnnexB: 3- and 4-byte start codes, trailing zeros, leading garbage, empty units', () => {
  const data = Uint8Array.from([0xff, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0, 0, 1, 0x65, 0, 0, 2, 9, 0, 0]);
  const nals = splitAnnexB(data);
  assert.deepEqual(nals.map((n) => [...n]), [[0x67, 1, 2], [0x68, 3], [0x65, 0, 0, 2, 9]]);
  assert.equal(nals[0].buffer, data.buffer, 'views, not copies');
  assert.deepEqual(splitAnnexB(Uint8Array.from([0x67, 1, 2])), []);
  assert.deepEqual(splitAnnexB(new Uint8Array(0)), []);
  assert.deepEqual(splitAnnexB(Uint8Array.from([0, 0, 1])), []);
  assert.deepEqual(h264NalType(Uint8Array.from([0x65])), 5);
  assert.deepEqual(h265NalType(Uint8Array.from([0x26, 0x01])), 19);
});

test('unescapeRbsp removes 00 00 03 emulation bytes only', () => {
  const plain = Uint8Array.from([1, 2, 3, 0, 3]);
  assert.equal(unescapeRbsp(plain), plain);
  assert.deepEqual([...unescapeRbsp(Uint8Array.from([0x67, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3, 0, 3, 0, 0, 3]))], [0x67, 0, 0, 1, 0, 0, 0, 0, 0, 3, 0, 0]);
  // x264's SPS for 1080p carries 00 00 03 in its VUI: the parse above only works if it is removed.
  const escaped = new BitWriter().u(32, 0).u(8, 1).nal([0x67]);
  assert.deepEqual([...escaped], [0x67, 0, 0, 3, 0, 0, 3, 1, 0x80]);
  assert.deepEqual([...unescapeRbsp(escaped)], [0x67, 0, 0, 0, 0, 1, 0x80]);
});
