/** H.264 level selection for the live encoder: the lowest level of Table A-1 that the output fits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodedSize, h264Level } from '../../../src/broadcast/encoder.ts';

test('h264Level: the lowest Table A-1 level whose MaxFS and MaxMBPS fit the output size and rate', () => {
  const cases: [number, number, number, string, number][] = [
    [1280, 720, 30, '3.1', 31], // 3600 MB × 30 = 108 000 MB/s: exactly 3.1's limits
    [1280, 720, 25, '3.1', 31],
    [1280, 720, 60, '3.2', 32],
    [1920, 1080, 30, '4', 40], // 120 × 68 = 8160 MB (≤ 8192), 244 800 MB/s (≤ 245 760)
    [1920, 1080, 25, '4', 40],
    [1920, 1080, 60, '4.2', 42],
    [3840, 2160, 30, '5.1', 51], // 32 400 MB: over 5's 22 080
    [3840, 2160, 60, '5.2', 52],
    [7680, 4320, 30, '6', 60],
    [640, 360, 25, '3', 30], // 920 MB × 25 = 23 000 MB/s: over 2.2's 20 250
    [640, 360, 10, '2.2', 22],
    [320, 240, 25, '1.3', 13],
    [176, 144, 15, '1', 10],
  ];
  for (const [w, h, fps, name, idc] of cases) assert.deepEqual(h264Level(w, h, fps), { name, idc }, `${w}×${h}@${fps}`);
});

test('h264Level: a side longer than √(8·MaxFS) macroblocks and the peak bitrate also raise the level', () => {
  // 4096×64 is only 1024 MB a frame (level 3.1 would hold it), but 256 MB across needs 8·MaxFS ≥ 65 536: level 4.
  assert.equal(h264Level(4096, 64, 1).name, '4');
  // 720p30 at 20 Mb/s peak: over 3.1's and 3.2's MaxBR (14 / 20 Mb/s): level 4.1 (50 Mb/s) — 4 has 20 Mb/s too.
  assert.equal(h264Level(1280, 720, 30, 20_000_001).name, '4.1');
  assert.equal(h264Level(1280, 720, 30, 14_000_000).name, '3.1');
  // Beyond every level: the largest (6.2) rather than nothing.
  assert.equal(h264Level(8192, 8192, 120).name, '6.2');
});

test('encodedSize: the output width cap keeps the aspect, never upscales, and gives even sides', () => {
  assert.deepEqual(encodedSize(1920, 1080, 1280), { width: 1280, height: 720 });
  assert.deepEqual(encodedSize(1280, 720), { width: 1280, height: 720 });
  assert.deepEqual(encodedSize(1280, 720, 4000), { width: 1280, height: 720 });
  assert.deepEqual(encodedSize(1281, 721), { width: 1280, height: 720 });
  assert.deepEqual(encodedSize(1920, 1080, 641), { width: 640, height: 360 });
});
