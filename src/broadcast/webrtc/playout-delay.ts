/**
 * The RTP playout-delay header extension (http://www.webrtc.org/experiments/rtp-hdrext/playout-delay): the sender
 * bounds how long the receiver may hold frames in its jitter buffer before rendering them. Without it Chromium
 * sizes its buffer from its own jitter estimate, which our key frames (several times a P frame's size, so they
 * arrive spread out) inflate: the live bench measured 22–55 ms between a frame's arrival in Chromium and its
 * display (bench/results/live.md). With a maximum of 0 Chromium renders each frame as soon as it is decoded
 * (its "low-latency renderer"), and a jittery network shows as uneven motion instead of as latency.
 * `webrtc.playoutDelayMs` sets the maximum; `null` (the default, see below) sends no extension.
 *
 * Wire format (3 bytes): MIN and MAX, 12 bits each, in units of 10 ms.
 */
export const PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';

/**
 * Default of webrtc.playoutDelayMs: none sent, the browser decides. Measured back to back in headless Chromium
 * (bench/results/live-latency-playout-*.md): a maximum of 0 did not lower the median (overlay camera → display
 * 84–86 ms p50 against 81 ms without), and only trimmed the tail of received → displayed (p95 34 against 36–42 ms);
 * there the remaining ~25 ms from receipt to display is the compositor, not the jitter buffer.
 */
export const DEFAULT_PLAYOUT_DELAY_MS = null;

/** The extension's largest value, ms (12 bits of 10 ms). */
export const PLAYOUT_DELAY_MAX_MS = 0xfff * 10;

/** The extension's 3 payload bytes for a delay between `minMs` and `maxMs` (rounded to 10 ms). */
export function encodePlayoutDelay(minMs: number, maxMs: number): Buffer {
  if (!(minMs >= 0 && maxMs >= minMs && maxMs <= PLAYOUT_DELAY_MAX_MS)) throw new RangeError(`playout delay must satisfy 0 <= min <= max <= ${PLAYOUT_DELAY_MAX_MS} ms (got ${minMs}, ${maxMs})`);
  const min = Math.round(minMs / 10);
  const max = Math.round(maxMs / 10);
  return Buffer.from([min >> 4, ((min & 0xf) << 4) | (max >> 8), max & 0xff]);
}

/** The inverse of encodePlayoutDelay, ms. */
export function decodePlayoutDelay(b: Uint8Array): { minMs: number; maxMs: number } {
  if (b.length !== 3) throw new RangeError(`a playout-delay extension is 3 bytes (got ${b.length})`);
  return { minMs: ((b[0] << 4) | (b[1] >> 4)) * 10, maxMs: (((b[1] & 0xf) << 8) | b[2]) * 10 };
}
