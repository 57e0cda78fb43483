/**
 * A slow viewer loses only its own frames: the shared broadcast never waits for a sink; a sink with too many
 * packets in flight skips frames and restarts at a key frame, the others get every frame.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypedEmitter } from '../../../src/core/emitter.ts';
import type { FrameRecord } from '../../../src/core/records.ts';
import type { LiveFrame, LivePacket, LiveConnection } from '../../../src/ingest/live.ts';
import { PassthroughBroadcast, type BroadcastSink } from '../../../src/broadcast/broadcast.ts';

class Feed extends TypedEmitter<{ frame: [LiveFrame]; packet: [LivePacket]; record: [FrameRecord] }> {
  emitPacket(p: LivePacket): void {
    this.safeEmit('packet', p);
  }
}

class Sink implements BroadcastSink {
  connected = true;
  started = false;
  inFlight = 0;
  framesSent = 0;
  framesSkipped = 0;
  firstFrameAt: number | undefined;
  packets = 0;
  /** A slow link: packets never leave. */
  constructor(readonly stuck = false) {}
  send(): void {
    this.packets++;
    if (this.stuck) this.inFlight++;
  }
}

test('fan-out: a stuck viewer skips frames (and waits for a key frame), the others get every frame', () => {
  const feed = new Feed();
  const b = new PassthroughBroadcast('cam', feed);
  const fast = new Sink();
  const slow = new Sink(true);
  b.attach(fast);
  b.attach(slow);
  const conn: LiveConnection = { codec: 'h264', extradata: null, width: 64, height: 64 };
  const big = Buffer.alloc(30_000, 0x11); // ~25 FU-A packets per frame
  let frames = 0;
  for (let i = 0; i < 100; i++) {
    const key = i % 25 === 0;
    const nal = Buffer.concat([Buffer.from([0, 0, 0, 1, key ? 0x65 : 0x41]), big]);
    feed.emitPacket({ data: nal, ptsSec: i / 25, keyframe: key, connection: conn });
    frames++;
  }
  assert.equal(fast.framesSent, frames, 'the healthy viewer got every frame');
  assert.equal(fast.framesSkipped, 0);
  assert.ok(slow.inFlight > 400 && slow.inFlight < 500, `the stuck viewer stopped being fed soon after 400 packets in flight (${slow.inFlight})`);
  assert.ok(slow.framesSkipped > 50, `and skips its frames (${slow.framesSkipped})`);
  assert.equal(slow.started, false, 'it restarts only at a key frame once it drains');
  b.close();
  b.close();
  assert.equal(feed.listenerCount('packet'), 0, 'closed: no longer listening');
});
