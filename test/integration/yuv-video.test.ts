/**
 * YUV-native live video (issue 12): the encoder takes a drawn yuv420p canvas and makes a decodable IDR at the
 * level of its size; an EncodedBroadcast burns a record's box into the decoded YUV frames of a real clip, scaled
 * to output.width, and what a viewer would get decodes back with the box where it belongs; and with no viewer a
 * stream analysed at 1 fps decodes key frames only, while a viewer is attached every frame.
 * Real x264, real decoding (node-av), a real FaceEngine and RuntimeHandle.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TypedEmitter } from '../../src/core/emitter.ts';
import type { FrameRecord } from '../../src/core/records.ts';
import type { YuvImage } from '../../src/core/types.ts';
import type { LivePacket, LiveVideoFrame } from '../../src/ingest/live.ts';
import { VideoSource } from '../../src/ingest/video.ts';
import { YuvFrameView } from '../../src/ingest/yuv.ts';
import { AVCOL_RANGE_JPEG, AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUVJ420P, type AVPixelFormat } from 'node-av/constants';
import { Frame } from 'node-av/lib';
import { makeClip } from '../../src/ingest/testmedia.ts';
import { LiveEncoder } from '../../src/broadcast/encoder.ts';
import { YuvCanvas } from '../../src/broadcast/yuv.ts';
import { EncodedBroadcast, type BroadcastSink } from '../../src/broadcast/broadcast.ts';
import { strokeRect } from '../../src/broadcast/overlay/draw.ts';
import { rgbToYuv601 } from '../../src/broadcast/overlay/yuv-draw.ts';
import { EMOTION_RGB } from '../../src/broadcast/palette.ts';
import { FaceEngine } from '../../src/inference/engine.ts';
import { RuntimeHandle } from '../../src/server/stream-handle.ts';
import { StreamConfigSchema } from '../../src/server/config.ts';
import { until } from '../helpers/wait.ts';

let dir: string;
let clip: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fc-yuv-'));
  clip = join(dir, 'grey.mp4');
  // 8 s, GOP 1 s, a flat grey frame with a small moving square (so frames differ).
  await makeClip(clip, { width: 640, height: 360, fps: 25, seconds: 8, bframes: 0, frame: (i, rgb) => {
    rgb.fill(120);
    for (let y = 300; y < 340; y++) for (let x = 0; x < 40; x++) rgb.fill(250, (y * 640 + ((x + i * 4) % 640)) * 3, (y * 640 + ((x + i * 4) % 640)) * 3 + 3);
  } });
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** RTP payloads (single NAL units or FU-A fragments) of one access unit → Annex-B. */
function annexB(payloads: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  let fu: Buffer[] = [];
  for (const p of payloads) {
    const type = p[0] & 0x1f;
    if (type !== 28) {
      parts.push(Buffer.from([0, 0, 0, 1]), p);
      continue;
    }
    if (p[1] & 0x80) fu = [Buffer.from([(p[0] & 0xe0) | (p[1] & 0x1f)])];
    fu.push(p.subarray(2));
    if (p[1] & 0x40) parts.push(Buffer.from([0, 0, 0, 1]), ...fu);
  }
  return Buffer.concat(parts);
}

/** Decodes an Annex-B H.264 stream (written to a file) back to yuv420p pictures (copied). */
async function decodeAll(h264: Buffer): Promise<YuvImage[]> {
  const path = join(dir, `out-${Math.random().toString(36).slice(2)}.h264`);
  writeFileSync(path, h264);
  const out: YuvImage[] = [];
  await using src = await VideoSource.open(path, { deliverAll: () => true, rgb: false });
  for await (const f of src.liveFrames()) if (f.yuv) out.push({ ...f.yuv, y: f.yuv.y.slice(), u: f.yuv.u.slice(), v: f.yuv.v.slice() });
  return out;
}

const at = (p: Uint8Array, stride: number, x: number, y: number): number => p[y * stride + x];

/** A viewer that keeps every access unit it is sent. */
class CollectSink implements BroadcastSink {
  connected = true;
  started = false;
  inFlight = 0;
  framesSent = 0;
  framesSkipped = 0;
  firstFrameAt: number | undefined;
  readonly frames: Buffer[][] = [];
  #cur: Buffer[] = [];
  send(payload: Buffer, _rtp: number, marker: boolean): void {
    this.#cur.push(payload);
    if (marker) {
      this.frames.push(this.#cur);
      this.#cur = [];
    }
  }
}

/** A decoded-like frame of `format`, every Y sample `y` and every chroma sample `c`. */
function frameOf(format: AVPixelFormat, w: number, h: number, y: number, c: number): Frame {
  const f = new Frame();
  f.alloc();
  f.width = w;
  f.height = h;
  f.format = format;
  assert.equal(f.getBuffer(), 0);
  const d = f.data!;
  d[0].fill(y);
  d[1].fill(c);
  d[2].fill(c);
  return f;
}

test('YuvFrameView: yuv420p is a zero-copy view; full range, other formats and other sizes become limited-range yuv420p', () => {
  const view = new YuvFrameView();
  try {
    using plain = frameOf(AV_PIX_FMT_YUV420P, 64, 32, 90, 140);
    const v = view.view(plain, 64, 32)!;
    plain.data![0][3] = 17;
    assert.equal(v.y[3], 17, 'the view is the decoder\'s memory');
    assert.equal(view.converted, 0);
    using full = frameOf(AV_PIX_FMT_YUVJ420P, 64, 32, 255, 128);
    const j = view.view(full, 64, 32)!;
    assert.ok(Math.abs(j.y[5 * j.strideY + 5] - 235) <= 1, `full-range white → 235, got ${j.y[5 * j.strideY + 5]}`);
    using flagged = frameOf(AV_PIX_FMT_YUV420P, 64, 32, 0, 128);
    flagged.colorRange = AVCOL_RANGE_JPEG;
    const k = view.view(flagged, 64, 32)!;
    assert.ok(Math.abs(k.y[5 * k.strideY + 5] - 16) <= 1, `yuv420p flagged full range: black → 16, got ${k.y[5 * k.strideY + 5]}`);
    using yuv444 = frameOf(AV_PIX_FMT_YUV444P, 64, 32, 100, 60);
    const m = view.view(yuv444, 128, 32)!; // e.g. 2:1 pixels shown at their display width
    assert.deepEqual([m.width, m.height, m.strideU], [128, 32, 64]);
    assert.ok(Math.abs(m.u[3 * m.strideU + 10] - 60) <= 1 && Math.abs(m.y[m.strideY + 100] - 100) <= 1, 'chroma subsampled, values kept');
    assert.equal(view.converted, 3);
  } finally {
    view.free();
    view.free();
  }
});

test('YuvCanvas.loadFrame copies (same size) or scales (other size) a decoded frame natively, as load() does from its planes', () => {
  using src = frameOf(AV_PIX_FMT_YUV420P, 64, 32, 90, 140);
  src.data![0][5 * src.linesize[0] + 7] = 17;
  const a = new YuvCanvas(64, 32);
  const b = new YuvCanvas(64, 32);
  const half = new YuvCanvas(32, 16);
  const halfRef = new YuvCanvas(32, 16);
  try {
    const pa = a.loadFrame(src);
    const pb = b.load(new YuvFrameView().view(src, 64, 32)!);
    assert.equal(pa.y[5 * pa.strideY + 7], 17);
    // The visible samples (the buffers' padding past each row is not part of the picture).
    const rows = (p: YuvImage, k: 'y' | 'u' | 'v'): number[][] => {
      const [w, h, st] = k === 'y' ? [p.width, p.height, p.strideY] : [p.width >> 1, p.height >> 1, k === 'u' ? p.strideU : p.strideV];
      return Array.from({ length: h }, (_, r) => [...p[k].subarray(r * st, r * st + w)]);
    };
    for (const k of ['y', 'u', 'v'] as const) assert.deepEqual(rows(pa, k), rows(pb, k), `plane ${k}`);
    const ph = half.loadFrame(src);
    const pr = halfRef.load(new YuvFrameView().view(src, 64, 32)!);
    for (const k of ['y', 'u', 'v'] as const) assert.deepEqual(rows(ph, k), rows(pr, k), `scaled plane ${k}`);
    using other = frameOf(AV_PIX_FMT_YUV444P, 64, 32, 90, 140);
    assert.throws(() => a.loadFrame(other), RangeError, 'only yuv420p is copied natively');
  } finally {
    for (const c of [a, b, half, halfRef]) c.free();
  }
});

test('live frames of a yuv420p source carry the decoder frame; their YUV view is made only when read', async () => {
  await using src = await VideoSource.open(clip, { deliverAll: () => true, rgb: false });
  for await (const f of src.liveFrames()) {
    assert.ok(f.native, 'native frame');
    assert.deepEqual([f.native.width, f.native.height], [f.yuv!.width, f.yuv!.height]);
    assert.equal(f.yuv, f.yuv, 'made once');
    break;
  }
});

test('LiveEncoder.encodeFrame: a drawn YUV canvas becomes a decodable IDR with the box in its Y plane; the SPS level follows the size', async () => {
  const canvas = new YuvCanvas(640, 360);
  const enc = await LiveEncoder.open(640, 360, { fps: 25 });
  try {
    const grey = { y: new Uint8Array(640 * 360).fill(100), u: new Uint8Array(320 * 180).fill(128), v: new Uint8Array(320 * 180).fill(128), strideY: 640, strideU: 320, strideV: 320, width: 640, height: 360 };
    const pic = canvas.load(grey);
    strokeRect(pic, 100, 80, 120, 100, 6, [255, 255, 255]);
    const f = await enc.encodeFrame(canvas.frame, 0);
    assert.ok(f?.keyframe, 'the first frame is an IDR');
    assert.deepEqual(f.payloads.slice(0, 2).map((p) => p[0] & 0x1f), [7, 8], 'SPS and PPS first');
    assert.equal(enc.level.name, '3');
    assert.equal(f.payloads[0][3], 30, 'level_idc 30 in the SPS (640×360 at 25 fps)');
    const [dec] = await decodeAll(annexB(f.payloads));
    assert.ok(dec, 'decoded');
    assert.deepEqual([dec.width, dec.height], [640, 360]);
    for (const [x, y] of [[100, 120], [102, 150], [217, 120], [150, 82], [150, 177]]) {
      assert.ok(Math.abs(at(dec.y, dec.strideY, x, y) - 235) < 12, `box edge at ${x},${y}: ${at(dec.y, dec.strideY, x, y)}`);
    }
    for (const [x, y] of [[150, 130], [50, 50], [400, 300]]) assert.ok(Math.abs(at(dec.y, dec.strideY, x, y) - 100) < 8, `no box at ${x},${y}`);
    await assert.rejects(enc.encodeFrame(new YuvCanvas(320, 180).frame, 0.04), RangeError, 'a frame of another size is refused');
  } finally {
    enc.close();
    canvas.free();
    canvas.free(); // idempotent
  }
  const big = await LiveEncoder.open(1920, 1080, { fps: 30 });
  const bigCanvas = new YuvCanvas(1920, 1080);
  try {
    assert.equal(big.level.name, '4');
    const f = await big.encodeFrame(bigCanvas.frame, 0);
    assert.equal(f?.payloads[0][3], 40, 'level_idc 40 for 1080p30 (was 31: non-conformant)');
  } finally {
    big.close();
    bigCanvas.free();
  }
});

test('EncodedBroadcast: decoded YUV frames scaled to output.width, a record\'s box burnt in, decodable by a viewer', async () => {
  const feed = new (class extends TypedEmitter<{ frame: [LiveVideoFrame]; packet: [LivePacket]; record: [FrameRecord] }> {
    emit<K extends 'frame' | 'record'>(k: K, ...a: { frame: [LiveVideoFrame]; packet: [LivePacket]; record: [FrameRecord] }[K]): void {
      this.safeEmit(k, ...a);
    }
  })();
  const b = new EncodedBroadcast('yuv', feed, { width: 320, fps: 25 });
  const sink = new CollectSink();
  b.attach(sink);
  try {
    const rec: FrameRecord = {
      frame: 0, time: 0, width: 640, height: 360, detected: true, groups: [],
      faces: [{ trackId: 1, box: { x: 200, y: 100, w: 160, h: 140 }, score: 0.9, status: 'ok', smoothed: { emotion: { label: 'sad', probs: [0, 0, 0, 0, 1, 0, 0] } } }],
    };
    feed.emit('record', rec);
    await using src = await VideoSource.open(clip, { deliverAll: () => true, rgb: false });
    let n = 0;
    for await (const f of src.liveFrames()) {
      assert.ok(f.native && !f.image, 'the decoder\'s yuv420p frame, no RGB');
      // The native frame (copied and scaled by swscale frame to frame), as live ingest hands it on.
      const native = f.native;
      feed.emit('frame', { index: n, ptsSec: f.ptsSec, receivedAt: performance.now(), capturedAt: performance.now(), width: native.width, height: native.height, native, get yuv() { return f.yuv!; } });
      if (++n >= 10) break;
      await until(() => sink.frames.length + b.framesDropped >= n, 5000, `frame ${n} encoded`);
      await sleep(5);
    }
    await until(() => sink.frames.length >= 5, 5000, 'five frames at the viewer');
    const pics = await decodeAll(Buffer.concat(sink.frames.map(annexB)));
    assert.ok(pics.length >= 5, `${pics.length} frames decode`);
    const p = pics[pics.length - 1];
    assert.deepEqual([p.width, p.height], [320, 180], 'scaled to output.width, aspect kept');
    // The box is at half scale: x 100..180, y 50..120, 2 px thick; its colour is the palette's "sad" in BT.601.
    const [sy, su, sv] = rgbToYuv601(...EMOTION_RGB.sad);
    for (const [x, y] of [[100, 80], [179, 80]]) {
      assert.ok(Math.abs(at(p.y, p.strideY, x, y) - sy) < 15, `box edge luma at ${x},${y}: ${at(p.y, p.strideY, x, y)} vs ${sy}`);
      assert.ok(Math.abs(at(p.u, p.strideU, x >> 1, y >> 1) - su) < 15, `box edge U: ${at(p.u, p.strideU, x >> 1, y >> 1)} vs ${su}`);
      assert.ok(Math.abs(at(p.v, p.strideV, x >> 1, y >> 1) - sv) < 15, `box edge V: ${at(p.v, p.strideV, x >> 1, y >> 1)} vs ${sv}`);
    }
    const [gy] = rgbToYuv601(120, 120, 120);
    assert.ok(Math.abs(at(p.y, p.strideY, 140, 90) - gy) < 8, 'inside the box: the clip');
    assert.ok(b.encodeMsTotal > 0);
  } finally {
    b.close();
  }
});

test('EncodedBroadcast: a burst of frames while the encoder is busy — the latest waits in one slot and is encoded next, the others are dropped and counted', async () => {
  const feed = new (class extends TypedEmitter<{ frame: [LiveVideoFrame]; packet: [LivePacket]; record: [FrameRecord] }> {
    emit<K extends 'frame' | 'record'>(k: K, ...a: { frame: [LiveVideoFrame]; packet: [LivePacket]; record: [FrameRecord] }[K]): void {
      this.safeEmit(k, ...a);
    }
  })();
  const b = new EncodedBroadcast('burst', feed, { fps: 25 });
  const sink = new CollectSink();
  b.attach(sink);
  try {
    await using src = await VideoSource.open(clip, { deliverAll: () => true, rgb: false });
    let n = 0;
    for await (const f of src.liveFrames()) {
      assert.ok(f.yuv);
      // Three frames in one tick: the first is encoded at once, the second waits, the third replaces it. (YUV
      // views only here, no native frame: the other load path.)
      feed.emit('frame', { index: n, ptsSec: f.ptsSec, receivedAt: performance.now(), capturedAt: performance.now(), width: f.yuv.width, height: f.yuv.height, yuv: f.yuv });
      if (++n >= 3) break;
    }
    await until(() => sink.frames.length >= 2, 5000, 'two frames at the viewer');
    await sleep(100);
    assert.equal(sink.frames.length, 2, 'the first and the latest of the burst');
    assert.equal(b.framesDropped, 1, 'the middle one, replaced in the slot');
    assert.equal(b.framesOut, 2);
  } finally {
    b.close();
  }
});

test('no viewer → key frames only at 1 fps analysis; a viewer attached → every frame decoded (as YUV); detached → key frames only again', async () => {
  await using engine = await FaceEngine.create({ detector: { minScore: 0.5 } });
  const h = new RuntimeHandle(engine, StreamConfigSchema.parse({ id: 'lowfps', source: clip, fps: 1 }));
  const b = new EncodedBroadcast('lowfps', h, { fps: 25 });
  try {
    const stats = () => h.viewSource?.decodeStats;
    await until(() => stats()?.keyframeOnly === true, 8000, 'key-frame-only decoding with no viewer');
    assert.equal(h.viewSource?.listenerCount('frame'), 0, 'nothing listens to frames: no YUV view, no RGB off the grid');
    const decoded0 = stats()?.decoded ?? 0;
    const sink = new CollectSink();
    b.attach(sink);
    assert.equal(h.viewSource?.listenerCount('frame'), 1, 'the viewer taps the view source');
    await until(() => stats()?.keyframeOnly === false, 3000, 'every frame decoded while a viewer watches');
    await until(() => sink.frames.length >= 20, 5000, 'video frames at the viewer');
    assert.ok((stats()?.decoded ?? 0) - decoded0 >= 20, 'frames between key frames are decoded');
    b.detach(sink);
    b.close();
    assert.equal(h.viewSource?.listenerCount('frame'), 0, 'the tap is gone with the last listener');
    await until(() => stats()?.keyframeOnly === true, 3000, 'key frames only again');
  } finally {
    b.close();
    await h.close();
  }
});
