/**
 * libav's lines through facecast's logger (issue 16): tagged with the stream of the open log scope, mapped to
 * facecast's levels, and rate-limited per kind of message (numbers and addresses blanked).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AV_LOG_ERROR, AV_LOG_WARNING } from 'node-av/constants';
import { ffmpegLogScope, onLine } from '../../../src/ingest/ffmpeg-log.ts';
import { configureLogging } from '../../../src/core/log.ts';

function capture(fn: () => void): string[] {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return lines;
}

test('a libav error is a WARN line of module FFmpeg tagged with the stream of the open scope', () => {
  const lines = capture(() => {
    using _scope = ffmpegLogScope('lobby');
    onLine(AV_LOG_ERROR, 'error while decoding MB 12 7, bytestream -5\n', 1_000_000);
  });
  assert.deepEqual(lines, ['facecast:WARN:FFmpeg [stream lobby] error while decoding MB 12 7, bytestream -5\n']);
});

test('repeats of a kind are held back for 10 s, then counted; warnings are INFO; no scope says so', () => {
  const before = process.env.FACECAST_LOG;
  configureLogging('info'); // the test runner may run quieter
  const lines = capture(() => {
    for (let i = 0; i < 5; i++) onLine(AV_LOG_ERROR, `Connection to tcp://127.0.0.1:${9000 + i} failed: Connection refused`, 2_000_000 + i * 1000);
    onLine(AV_LOG_ERROR, 'Connection to tcp://127.0.0.1:9999 failed: Connection refused', 2_000_000 + 11_000);
    onLine(AV_LOG_WARNING, 'deprecated pixel format used', 2_000_000);
  });
  configureLogging(before);
  assert.equal(lines.length, 3, lines.join(''));
  assert.match(lines[0], /^facecast:WARN:FFmpeg \[stream \?\] Connection to tcp:\/\/127\.0\.0\.1:9000 failed/);
  assert.match(lines[1], /:9999 failed: Connection refused \(and 4 like it in the previous 11 s\)\n$/);
  assert.match(lines[2], /^facecast:INFO:FFmpeg \[stream \?\] deprecated pixel format used/);
});
