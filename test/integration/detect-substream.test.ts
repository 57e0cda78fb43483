/**
 * A camera with a detect substream (as NVRs offer): analysis runs on the low-resolution stream, viewers get the
 * main stream — decoded and drawn on in overlay mode, demuxed only in passthrough mode — with the boxes scaled
 * to it. Real FaceEngine, real clips (the substream is the main clip at half size).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaceEngine } from '../../src/inference/engine.ts';
import { VideoSource } from '../../src/ingest/video.ts';
import { Mp4Writer } from '../../src/broadcast/exports/mp4.ts';
import { RuntimeHandle } from '../../src/server/stream-handle.ts';
import { StreamConfigSchema } from '../../src/server/config.ts';
import type { LivePacket, LiveVideoFrame } from '../../src/ingest/live.ts';
import { loadSprites, makeSyntheticClip, measureSprites } from '../helpers/synthetic.ts';
import { until } from '../helpers/wait.ts';

let dir: string;
let engine: FaceEngine;
let main: string;
let sub: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fc-sub-'));
  engine = await FaceEngine.create({ detector: { minScore: 0.3 } });
  main = join(dir, 'main.mp4');
  sub = join(dir, 'sub.mp4');
  await makeSyntheticClip(main, await measureSprites(engine, await loadSprites(110), 110));
  await using src = await VideoSource.open(main, { maxWidth: 320 });
  const out = await Mp4Writer.open(sub, src.width, src.height, src.fps ?? 25);
  for await (const f of src.frames()) await out.write(f.image, f.ptsSec);
  await out.close();
});

after(async () => {
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('overlay mode: analysis on the 320-px substream, 640-px main frames for the video', async () => {
  const h = new RuntimeHandle(engine, StreamConfigSchema.parse({ id: 'nvr', source: main, detectSource: sub }));
  try {
    const widths = new Set<number>();
    h.on('frame', (f: LiveVideoFrame) => widths.add(f.yuv.width));
    await until(() => (h.latestRecord?.faces.length ?? 0) >= 2, 20000, 'a record with faces');
    await until(() => widths.size > 0, 5000, 'a main-stream frame');
    assert.equal(h.latestRecord?.width, 320, 'the detector ran on the substream');
    assert.deepEqual([...widths], [640], 'viewers get the main stream');
    assert.equal(h.status().state, 'streaming');
  } finally {
    await h.close();
  }
});

test('passthrough mode: the main stream is demuxed only (packets, no decoded frames)', async () => {
  const h = new RuntimeHandle(engine, StreamConfigSchema.parse({ id: 'nvr2', source: main, detectSource: sub, output: { mode: 'passthrough' } }));
  try {
    let frames = 0;
    const packets: LivePacket[] = [];
    h.on('frame', () => frames++);
    const onPacket = (p: LivePacket): void => void packets.push(p);
    h.on('packet', onPacket);
    await until(() => packets.filter((p) => p.keyframe).length >= 2 && (h.latestRecord?.faces.length ?? 0) > 0, 20000, 'two key frames and a record');
    assert.equal(frames, 0, 'nothing decodes the main stream');
    assert.equal(packets[0].connection.codec, 'h264');
    assert.equal(packets[0].connection.width, 640);
    for (let i = 1; i < packets.length; i++) assert.ok(packets[i].ptsSec > packets[0].ptsSec - 1, 'packet times on one timeline');
    assert.equal(h.viewSource?.listenerCount('packet'), 1, 'the handle taps the main stream while someone listens');
    h.off('packet', onPacket);
    assert.equal(h.viewSource?.listenerCount('packet'), 0, 'no listener: the demuxer copies no packets out');
  } finally {
    await h.close();
  }
});
