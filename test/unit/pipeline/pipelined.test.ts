/**
 * analyzePipelined (decode overlapped with analysis, as `facecast analyze` runs): on a real clip of real faces
 * through the real WorkerEngine, the records are those of the plain sequential loop on the in-process
 * FaceEngine, in frame order; slots are reused; an analysis failure surfaces at its frame and nothing is left
 * running.
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
import { analyzePipelined } from '../../../src/pipeline/pipelined.ts';
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

async function sequential(engine: Engine): Promise<FrameRecord[]> {
  await using src = await VideoSource.open(clip, { letterbox: engine.detectorInputSize });
  const a = new FrameAnalyzer(engine, { fps: FPS });
  const out: FrameRecord[] = [];
  for await (const f of src.frames()) out.push(await a.process(f.index, f.ptsSec, f.image, undefined, f.letterbox));
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
