/**
 * analyzePipelined (decode overlapped with analysis, as `facecast analyze` runs): on a real clip of real faces
 * through the real WorkerEngine, and through SplitEngine over a VideoSource ring (analyzeSource, what analyze
 * runs), the records are those of the plain sequential loop on the in-process FaceEngine, in frame order, with
 * each frame's pixels intact at its turn; slots are reused or not needed; an analysis failure surfaces at its
 * frame, a decode failure after the frames before it, and nothing is left running.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { FaceEngine } from '../../../src/inference/engine.ts';
import { WorkerEngine } from '../../../src/inference/worker/client.ts';
import { VideoSource } from '../../../src/ingest/video.ts';
import { makeClip } from '../../../src/ingest/testmedia.ts';
import { FrameAnalyzer } from '../../../src/pipeline/analyzer.ts';
import { analyzePipelined, analyzeSource } from '../../../src/pipeline/pipelined.ts';
import { SplitEngine } from '../../../src/inference/split.ts';
import type { VideoFrame } from '../../../src/ingest/video.ts';
import type { Engine } from '../../../src/inference/api.ts';
import type { FrameRecord } from '../../../src/core/records.ts';
import { samplePhoto } from '../../helpers/photos.ts';

const W = 960;
const H = 540;
const FPS = 25;
let dir: string;
let clip: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fc-pipelined-'));
  clip = join(dir, 'pan.mp4');
  const p = await sharp(samplePhoto(6)).resize(W * 1.25).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const oy = Math.max(0, Math.round((p.info.height - H) / 3));
  await makeClip(clip, {
    width: W,
    height: H,
    fps: FPS,
    seconds: 1.6,
    frame: (i, rgb) => {
      const ox = Math.round((i / 40) * (p.info.width - W));
      for (let y = 0; y < H; y++) rgb.set(p.data.subarray(((y + oy) * p.info.width + ox) * 3, ((y + oy) * p.info.width + ox + W) * 3), y * W * 3);
    },
  });
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A cheap fingerprint of a frame's pixels (every 97th byte). */
function sum(img: { data: Uint8Array }): number {
  let s = 0;
  for (let i = 0; i < img.data.length; i += 97) s = (s * 31 + img.data[i]) | 0;
  return s;
}

async function sequential(engine: Engine, sums?: number[]): Promise<FrameRecord[]> {
  await using src = await VideoSource.open(clip, { letterbox: engine.detectorInputSize });
  const a = new FrameAnalyzer(engine, { fps: FPS });
  const out: FrameRecord[] = [];
  for await (const f of src.frames()) {
    sums?.push(sum(f.image));
    out.push(await a.process(f.index, f.ptsSec, f.image, undefined, f.letterbox));
  }
  return out;
}

test('analyzePipelined on the WorkerEngine gives the sequential in-process records, in order, with frames valid at their turn', async () => {
  await using local = await FaceEngine.create({ detector: { minScore: 0.3 } });
  const expected = await sequential(local);
  await using remote = await WorkerEngine.create({ detector: { minScore: 0.3 } });
  await using src = await VideoSource.open(clip, { letterbox: remote.detectorInputSize });
  const analyzer = new FrameAnalyzer(remote, { fps: FPS });
  const got: FrameRecord[] = [];
  const buffers = new Set<ArrayBufferLike>();
  const copied0 = remote.copiedBytes;
  for await (const { frame, record } of analyzePipelined(src.frames(), analyzer, { depth: 2 })) {
    assert.equal(frame.index, record.frame, 'the frame yielded is the one the record describes');
    assert.equal(frame.image.width, W);
    buffers.add(frame.image.data.buffer);
    got.push(record);
  }
  assert.equal(got.length, expected.length);
  assert.ok(expected.some((r) => r.faces.length >= 3), 'the clip has faces');
  assert.deepEqual(got.map((r) => r.frame), expected.map((r) => r.frame), 'frame order');
  assert.deepEqual(got, expected, 'same records as the sequential loop');
  assert.ok(buffers.size <= 4, `slots are reused (${buffers.size} buffers for ${got.length} frames)`);
  assert.equal(remote.copiedBytes - copied0, 0, 'the slots are shared memory: the engine copies nothing more');
});

test('analyzePipelined: an analysis failure is thrown at its frame and nothing keeps running after it', async () => {
  const remote = await WorkerEngine.create({ detector: { minScore: 0.3 } });
  await using src = await VideoSource.open(clip, { letterbox: remote.detectorInputSize });
  const analyzer = new FrameAnalyzer(remote, { fps: FPS });
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of analyzePipelined(src.frames(), analyzer)) {
        if (++seen === 3) void remote.close(); // the engine goes away under the loop: the next analysis fails
      }
    })(),
    (e: unknown) => (e as { code?: string }).code === 'E_INVALID_STATE',
  );
  assert.ok(seen >= 3 && seen < 40, `stopped at the failing frame (saw ${seen})`);
  assert.equal(remote.pendingCalls, 0, 'no call left in flight');
});

test('analyzeSource on SplitEngine (as facecast analyze runs): the sequential records, frames used in place in the source ring', async () => {
  const sums: number[] = [];
  await using local = await FaceEngine.create({ detector: { minScore: 0.3 } });
  const expected = await sequential(local, sums);
  await using split = await SplitEngine.create({ detector: { minScore: 0.3 }, classifierThreads: 2 });
  assert.equal(split.detector.batchers.length, 1, 'the detection worker loads the detector only');
  assert.deepEqual(split.batchers.map((b) => b.name), [split.detector.batchers[0].name, ...split.classifier.batchers.slice(1).map((b) => b.name)]);
  await using src = await VideoSource.open(clip, { letterbox: split.detectorInputSize });
  const analyzer = new FrameAnalyzer(split, { fps: FPS });
  const got: FrameRecord[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for await (const { frame, record } of analyzeSource(src, analyzer, split.detectorInputSize)) {
    assert.equal(frame.index, record.frame);
    assert.equal(sum(frame.image), sums[frame.index], `frame ${frame.index}: its own pixels at its turn (not overwritten by the frames decoded ahead)`);
    buffers.add(frame.image.data.buffer);
    got.push(record);
  }
  assert.equal(src.ringLength, analyzer.detectEvery + 4, 'ring = depth (detection period + 2) + 2');
  assert.equal(buffers.size, src.ringLength, 'the frames are the ring buffers themselves');
  assert.equal(split.detector.copiedBytes + split.classifier.copiedBytes, 0, 'nothing copied for the workers');
  assert.ok(split.detector.sharedCalls > 0 && split.classifier.sharedCalls > 0, 'both workers ran');
  assert.deepEqual(got, expected, 'same records as the sequential loop');
  await split.close();
  await split.close(); // idempotent
  assert.equal(split.closed, true);
});

test('analyzePipelined: a decode failure comes after the records of the frames decoded before it', async () => {
  await using remote = await WorkerEngine.create({ detector: { minScore: 0.3 } });
  await using src = await VideoSource.open(clip, { letterbox: remote.detectorInputSize });
  async function* breaking(): AsyncGenerator<VideoFrame> {
    let n = 0;
    for await (const f of src.frames()) {
      if (n++ === 7) throw Object.assign(new Error('broken packet'), { code: 'E_INPUT_BROKEN' });
      yield f;
    }
  }
  const analyzer = new FrameAnalyzer(remote, { fps: FPS });
  const seen: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const { record } of analyzePipelined(breaking(), analyzer, { depth: 4 })) seen.push(record.frame);
    })(),
    (e: unknown) => (e as { code?: string }).code === 'E_INPUT_BROKEN',
  );
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6], 'every frame before the failure was analysed and yielded, in order');
  assert.equal(remote.pendingCalls, 0, 'no call left in flight');
});
