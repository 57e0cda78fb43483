/** The RTP playout-delay extension's payload, and the `webrtc.playoutDelayMs` setting that chooses it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePlayoutDelay, encodePlayoutDelay, PLAYOUT_DELAY_MAX_MS } from '../../../src/broadcast/webrtc/playout-delay.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { loadConfig } from '../../../src/server/config.ts';

test('encodePlayoutDelay: MIN and MAX as 12-bit counts of 10 ms, big-endian in 3 bytes', () => {
  assert.deepEqual([...encodePlayoutDelay(0, 0)], [0, 0, 0]);
  // 100 ms = 10 units = 0x00a; 400 ms = 40 units = 0x028 → 00 a0 28
  assert.deepEqual([...encodePlayoutDelay(100, 400)], [0x00, 0xa0, 0x28]);
  assert.deepEqual([...encodePlayoutDelay(PLAYOUT_DELAY_MAX_MS, PLAYOUT_DELAY_MAX_MS)], [0xff, 0xff, 0xff]);
  assert.deepEqual([...encodePlayoutDelay(0, 1234)], [0x00, 0x00, 0x7b], '1234 ms rounds to 123 units');
  for (const [min, max] of [[0, 0], [0, 10], [30, 2000], [0, PLAYOUT_DELAY_MAX_MS], [40950, 40950]] as const) {
    assert.deepEqual(decodePlayoutDelay(encodePlayoutDelay(min, max)), { minMs: min, maxMs: max });
  }
  assert.throws(() => encodePlayoutDelay(-10, 0), RangeError);
  assert.throws(() => encodePlayoutDelay(50, 40), RangeError, 'min above max');
  assert.throws(() => encodePlayoutDelay(0, PLAYOUT_DELAY_MAX_MS + 10), RangeError);
  assert.throws(() => decodePlayoutDelay(new Uint8Array(2)), RangeError);
});

test('webrtc.playoutDelayMs: null (off) by default, a number of ms turns it on, out-of-range values are refused', () => {
  assert.equal(loadConfig({ env: {} }).webrtc.playoutDelayMs, null);
  assert.equal(loadConfig({ env: { FACECAST_PLAYOUT_DELAY_MS: 'null' } }).webrtc.playoutDelayMs, null);
  assert.equal(loadConfig({ env: { FACECAST_PLAYOUT_DELAY_MS: '0' } }).webrtc.playoutDelayMs, 0);
  assert.equal(loadConfig({ env: { FACECAST_PLAYOUT_DELAY_MS: '200' } }).webrtc.playoutDelayMs, 200);
  for (const bad of ['-1', '40960', '1.5', '"0"']) {
    assert.throws(() => loadConfig({ env: { FACECAST_PLAYOUT_DELAY_MS: bad } }), (e: unknown) => e instanceof ConfigError && /webrtc\.playoutDelayMs/.test(e.message), bad);
  }
});
