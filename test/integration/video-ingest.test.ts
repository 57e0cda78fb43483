/**
 * Video ingest (src/ingest/video.ts) on clips made by src/ingest/testmedia.ts: order, timestamps, sampling,
 * scaling, pixel content, error codes, close and abort. Each frame encodes its index in binary as a row of big
 * black/white blocks, so a test can read back which source frame it got.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Log } from 'node-av/lib';
import { AV_LOG_FATAL } from 'node-av/constants';
import { fillRect, makeClip } from '../../src/ingest/testmedia.js';
import { VideoSource, copyFrame, type VideoFrame } from '../../src/ingest/video.js';
import type { RgbImage } from '../../src/core/types.js';

const W = 320;
const H = 240;
const FPS = 25;
const SECONDS = 3;
const N = FPS * SECONDS;
const BITS = 7; // 75 frames < 128
const BLOCK = 40;

/** Index bits as blocks along y = 20..60; a red square moving along y = 150 makes P-frames non-trivial. */
function draw(i: number, rgb: Uint8Array): void {
  rgb.fill(90);
  for (let b = 0; b < BITS; b++) {
    const v = (i >> b) & 1 ? 255 : 0;
    fillRect(rgb, W, 10 + b * (BLOCK + 4), 20, BLOCK, BLOCK, [v, v, v]);
  }
  fillRect(rgb, W, (i * 3) % (W - 30), 150, 30, 30, [230, 20, 20]);
}

/** Reads the index back from block centres (any scale: positions are relative to the image width). */
function readIndex(img: RgbImage): number {
  const s = img.width / W;
  let n = 0;
  for (let b = 0; b < BITS; b++) {
    const x = Math.round((10 + b * (BLOCK + 4) + BLOCK / 2) * s);
    const y = Math.round((20 + BLOCK / 2) * s);
    const o = y * img.stride + x * 3;
    if (img.data[o] + img.data[o + 1] + img.data[o + 2] > 3 * 128) n |= 1 << b;
  }
  return n;
}

async function collect(src: VideoSource): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const f of src.frames()) out.push(copyFrame(f));
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `no code: ${String(e)}`;
  }
  return 'no error';
}

let dir = '';
let mp4 = '';
let ts = '';
let shortGop = '';

before(async () => {
  Log.setLevel(AV_LOG_FATAL); // the error cases make FFmpeg print warnings; the assertions say what matters
  dir = await mkdtemp(join(tmpdir(), 'facecast-video-'));
  mp4 = join(dir, 'clip.mp4');
  ts = join(dir, 'clip.ts');
  shortGop = join(dir, 'gop5.mp4');
  await makeClip(mp4, { width: W, height: H, fps: FPS, seconds: SECONDS, frame: draw });
  await makeClip(ts, { width: W, height: H, fps: FPS, seconds: SECONDS, frame: draw });
  await makeClip(shortGop, { width: W, height: H, fps: FPS, seconds: SECONDS, frame: draw, gop: 5 });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('VideoSource', () => {
  test('metadata of an mp4', async () => {
    await using src = await VideoSource.open(mp4);
    assert.equal(src.codec, 'h264');
    assert.deepEqual([src.sourceWidth, src.sourceHeight, src.width, src.height], [W, H, W, H]);
    assert.equal(src.fps, FPS);
    assert.ok(src.durationSec !== undefined && Math.abs(src.durationSec - SECONDS) < 0.05, `duration ${src.durationSec}`);
    assert.equal(src.frameCount, N);
  });

  for (const kind of ['mp4', 'ts'] as const) {
    test(`every frame of the ${kind}, in order, with the right pixels and timestamps`, async () => {
      await using src = await VideoSource.open(kind === 'mp4' ? mp4 : ts);
      const frames = await collect(src);
      assert.equal(frames.length, N);
      frames.forEach((f, i) => {
        assert.equal(f.index, i);
        assert.ok(Math.abs(f.ptsSec - i / FPS) < 1e-6, `frame ${i} at ${f.ptsSec}`);
        assert.equal(readIndex(f.image), i, `pixels of frame ${i}`);
        assert.deepEqual([f.image.width, f.image.height, f.image.stride, f.image.data.length], [W, H, W * 3, W * H * 3]);
      });
      assert.deepEqual(src.stats, { packets: N, decoded: N, delivered: N, keyframeOnly: false });
    });
  }

  test('fps: 5 takes every 5th frame (GOP 1 s: all frames decoded, few converted)', async () => {
    await using src = await VideoSource.open(mp4, { fps: 5 });
    const frames = await collect(src);
    assert.ok(Math.abs(frames.length - 15) <= 1, `${frames.length} frames`);
    frames.forEach((f, k) => {
      assert.ok(Math.abs(f.ptsSec - k / 5) <= 1 / FPS + 1e-6, `sample ${k} at ${f.ptsSec}`);
      assert.equal(readIndex(f.image), f.index);
    });
    assert.equal(src.stats.keyframeOnly, false);
  });

  test('fps: 5 on a 5-frame GOP decodes only the key frames it delivers', async () => {
    await using src = await VideoSource.open(shortGop, { fps: 5 });
    const frames = await collect(src);
    assert.ok(Math.abs(frames.length - 15) <= 1, `${frames.length} frames`);
    frames.forEach((f, k) => {
      assert.ok(Math.abs(f.ptsSec - k / 5) <= 1 / FPS + 1e-6, `sample ${k} at ${f.ptsSec}`);
      assert.equal(readIndex(f.image), f.index);
    });
    assert.equal(src.stats.keyframeOnly, true);
    // The first two GOPs are decoded in full to learn the GOP; after that, one decode per sample.
    assert.ok(src.stats.decoded <= 2 * 5 + frames.length, `decoded ${src.stats.decoded}`);
  });

  test("sampling: 'exact' decodes everything and gives the same frames", async () => {
    await using src = await VideoSource.open(shortGop, { fps: 5, sampling: 'exact' });
    const frames = await collect(src);
    assert.deepEqual(frames.map((f) => f.index), Array.from({ length: 15 }, (_, k) => k * 5));
    assert.equal(src.stats.decoded, N);
  });

  test('maxWidth downscales with the aspect kept', async () => {
    await using src = await VideoSource.open(mp4, { maxWidth: 160, fps: 2 });
    assert.deepEqual([src.width, src.height], [160, 120]);
    const frames = await collect(src);
    assert.ok(frames.length >= 5);
    for (const f of frames) {
      assert.deepEqual([f.image.width, f.image.height, f.image.data.length], [160, 120, 160 * 120 * 3]);
      assert.equal(readIndex(f.image), f.index);
    }
    await using big = await VideoSource.open(mp4, { maxWidth: 1000 });
    assert.deepEqual([big.width, big.height], [W, H], 'never upscales');
  });

  test('the image buffer is reused; copyFrame detaches it', async () => {
    await using src = await VideoSource.open(mp4);
    const it = src.frames()[Symbol.asyncIterator]();
    const a = (await it.next()).value as VideoFrame;
    const kept = copyFrame(a);
    const b = (await it.next()).value as VideoFrame;
    assert.equal(a.image.data, b.image.data);
    assert.equal(readIndex(kept.image), 0);
    assert.equal(readIndex(b.image), 1);
    await it.return?.();
  });

  test('ring: frames rotate through N shared buffers (RGB and letterbox), each intact until N more are delivered', async () => {
    const RING = 4;
    await using src = await VideoSource.open(mp4, { letterbox: 64 });
    src.useRing(RING);
    assert.equal(src.ringLength, RING);
    const held: VideoFrame[] = [];
    const images = new Set<ArrayBufferLike>();
    const boxes = new Set<ArrayBufferLike>();
    let n = 0;
    for await (const f of src.frames()) {
      assert.ok(f.image.data.buffer instanceof SharedArrayBuffer, 'RGB in shared memory (a worker reads it in place)');
      assert.ok(f.letterbox?.data.buffer instanceof SharedArrayBuffer, 'letterbox in shared memory');
      images.add(f.image.data.buffer);
      boxes.add(f.letterbox.data.buffer);
      held.push(f);
      if (held.length > RING - 1) held.shift();
      // every frame still held (the last RING - 1 before this one, and this one) shows its own index
      for (const h of held) assert.equal(readIndex(h.image), h.index, `frame ${h.index} intact at delivery ${f.index}`);
      if (++n === 12) break;
    }
    assert.equal(images.size, RING, 'RING RGB buffers, reused in turn');
    assert.equal(boxes.size, RING, 'RING letterbox buffers');
    // the same pixels as the one-buffer path
    await using plain = await VideoSource.open(mp4, { letterbox: 64 });
    await using ringed = await VideoSource.open(mp4, { letterbox: 64 });
    ringed.useRing(3);
    const a = plain.frames()[Symbol.asyncIterator]();
    const b = ringed.frames()[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) {
      const [fa, fb] = [(await a.next()).value as VideoFrame, (await b.next()).value as VideoFrame];
      assert.ok(Buffer.from(fa.image.data).equals(Buffer.from(fb.image.data)), `frame ${i}: same RGB`);
      assert.ok(Buffer.from(fa.letterbox!.data).equals(Buffer.from(fb.letterbox!.data)), `frame ${i}: same letterbox`);
    }
    await a.return?.();
    await b.return?.();
    assert.throws(() => ringed.useRing(2), /after frames\(\) started/);
    assert.throws(() => plain.useRing(0), RangeError);
  });

  test('http URLs go through the same code', async () => {
    const bytes = await readFile(mp4);
    const server: Server = createServer((req, res) => {
      const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const end = m && m[2] ? Number(m[2]) : bytes.length - 1;
      res.writeHead(m ? 206 : 200, { 'content-type': 'video/mp4', 'accept-ranges': 'bytes', 'content-length': end - start + 1, ...(m ? { 'content-range': `bytes ${start}-${end}/${bytes.length}` } : {}) });
      res.end(bytes.subarray(start, end + 1));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await using src = await VideoSource.open(`http://127.0.0.1:${(server.address() as AddressInfo).port}/clip.mp4`, { fps: 5 });
      const frames = await collect(src);
      assert.ok(Math.abs(frames.length - 15) <= 1, `${frames.length} frames`);
      for (const f of frames) assert.equal(readIndex(f.image), f.index);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('a network stream that stalls mid-way ends with an error that says where', async () => {
    const bytes = await readFile(ts);
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp2t' }); // no length: a live stream
      res.write(bytes.subarray(0, 188 * Math.floor(bytes.length / 188 / 2))); // then silence
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await using src = await VideoSource.open(`http://127.0.0.1:${(server.address() as AddressInfo).port}/live.ts`, { timeoutMs: 400 });
      let n = 0;
      await assert.rejects(
        (async () => {
          for await (const _ of src.frames()) n++;
        })(),
        (e: Error & { code?: string }) => e.code === 'E_INPUT_UNREADABLE' && /read failed after frame \d+ \(t=[\d.]+ s\)/.test(e.message),
      );
      assert.ok(n > 5 && n < N, `${n} frames before the stall`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('an AbortSignal interrupts a network open that hangs', async () => {
    const server: Server = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const ac = new AbortController();
      const t0 = performance.now();
      setTimeout(() => ac.abort(), 100);
      assert.equal(await codeOf(VideoSource.open(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x.mp4`, { signal: ac.signal })), 'E_ABORTED');
      assert.ok(performance.now() - t0 < 3000, 'well before the 10 s network timeout');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  describe('errors', () => {
    test('missing file', async () => {
      assert.equal(await codeOf(VideoSource.open(join(dir, 'nope.mp4'))), 'E_INPUT_NOT_FOUND');
    });
    test('a huge resolution is refused at open, before any frame buffer is made', async () => {
      const p = join(dir, 'huge.y4m');
      // A y4m header claiming 9000×5000 (45 Mpx, 67 MB per frame) and a few bytes of "frame".
      await writeFile(p, Buffer.concat([Buffer.from('YUV4MPEG2 W9000 H5000 F25:1 Ip A1:1 C420jpeg\nFRAME\n'), Buffer.alloc(64)]));
      await assert.rejects(VideoSource.open(p), (e: Error & { code?: string }) => e.code === 'E_INPUT_INVALID' && /9000×5000 is too large/.test(e.message));
    });
    test('empty file', async () => {
      const p = join(dir, 'empty.mp4');
      await writeFile(p, '');
      assert.equal(await codeOf(VideoSource.open(p)), 'E_INPUT_UNREADABLE');
    });
    test('text file', async () => {
      const p = join(dir, 'notes.mp4');
      await writeFile(p, 'this is a text file, not a video\n'.repeat(50));
      await assert.rejects(VideoSource.open(p), (e: Error & { code?: string }) => e.code === 'E_INPUT_UNREADABLE' && e.message.includes(p) && /invalid data/i.test(e.message));
    });
    test('a JPEG given as a video', async () => {
      const p = join(dir, 'photo.jpg');
      const { default: sharp } = await import('sharp');
      await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toFile(p);
      await assert.rejects(VideoSource.open(p), (e: Error & { code?: string }) => e.code === 'E_INPUT_UNREADABLE' && /not a video/.test(e.message));
    });
    test('mp4 cut in half (no moov atom)', async () => {
      const bytes = await readFile(mp4);
      const p = join(dir, 'half.mp4');
      await writeFile(p, bytes.subarray(0, bytes.length >> 1));
      assert.equal(await codeOf(VideoSource.open(p)), 'E_INPUT_UNREADABLE');
    });
    test('ts cut in half: the frames before the cut, then the end', async () => {
      const bytes = await readFile(ts);
      const p = join(dir, 'half.ts');
      await writeFile(p, bytes.subarray(0, bytes.length >> 1));
      await using src = await VideoSource.open(p);
      const frames = await collect(src);
      assert.ok(frames.length > 10 && frames.length < N, `${frames.length} frames`);
      frames.forEach((f, i) => assert.equal(readIndex(f.image), i));
    });
    test('faststart mp4 cut in half: the frames before the cut, then an error that says where', async () => {
      const whole = join(dir, 'faststart.mp4');
      await makeClip(whole, { width: W, height: H, fps: FPS, seconds: SECONDS, frame: draw, faststart: true });
      const bytes = await readFile(whole);
      const p = join(dir, 'faststart-half.mp4');
      await writeFile(p, bytes.subarray(0, Math.round(bytes.length * 0.6)));
      await using src = await VideoSource.open(p);
      const frames: VideoFrame[] = [];
      await assert.rejects(
        (async () => {
          for await (const f of src.frames()) frames.push(copyFrame(f));
        })(),
        (e: Error & { code?: string }) => e.code === 'E_INPUT_UNREADABLE' && e.message.includes(p) && /after frame \d+ \(t=[\d.]+ s\)/.test(e.message),
      );
      assert.ok(frames.length > 0 && frames.length < N, `${frames.length} frames`);
      frames.forEach((f, i) => assert.equal(readIndex(f.image), i));
    });
    test('unsupported scheme', async () => {
      assert.equal(await codeOf(VideoSource.open('ftp://example.com/a.mp4')), 'E_INPUT_INVALID');
    });
    test('a directory', async () => {
      assert.equal(await codeOf(VideoSource.open(dir)), 'E_INPUT_INVALID');
    });
  });

  test('close() during iteration ends it cleanly', async () => {
    const src = await VideoSource.open(mp4);
    let n = 0;
    for await (const f of src.frames()) {
      assert.equal(f.index, n);
      if (++n === 10) await src.close();
    }
    assert.equal(n, 10);
    await src.close(); // idempotent
  });

  test('an AbortSignal aborts', async () => {
    const ac = new AbortController();
    await using src = await VideoSource.open(mp4, { signal: ac.signal });
    let n = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of src.frames()) if (++n === 5) ac.abort();
      })(),
      (e: Error & { code?: string }) => e.code === 'E_ABORTED',
    );
    assert.equal(n, 5);
    assert.equal(await codeOf(VideoSource.open(mp4, { signal: ac.signal })), 'E_ABORTED');
  });
});
