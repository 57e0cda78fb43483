/**
 * The shared broadcast's key-frame policy and lifecycle (src/broadcast/broadcast.ts, base class Broadcast), with a
 * fake clock and a fake encoder (a natural IDR every GOP, a forced one when takeKeyframe() says so):
 * at most one forced key frame per second per stream, whatever the viewers do; a stuck viewer never makes the
 * others get extra IDRs; a PLI burst gives one IDR; detaching the last sink stops the broadcast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypedEmitter } from '../../../src/core/emitter.ts';
import type { FrameRecord } from '../../../src/core/records.ts';
import type { LiveFrame, LivePacket, LiveConnection } from '../../../src/ingest/live.ts';
import { Broadcast, EncodedBroadcast, MAX_IN_FLIGHT, PassthroughBroadcast, type BroadcastSink } from '../../../src/broadcast/broadcast.ts';

/** 25 fps, natural IDR every 2 s (the LiveEncoder's default GOP). */
const FRAME_MS = 40;
const GOP = 50;

class FakeClock {
  t = 10_000;
  readonly now = (): number => this.t;
}

/** A broadcast whose "encoder" is a frame counter: frame i is an IDR when i % gop == 0 or when one is forced. */
class FakeEncoded extends Broadcast {
  readonly overlay = 'server' as const;
  readonly video = 'encode' as const;
  starts = 0;
  stops = 0;
  frame = 0;
  /** Times (fake clock) of the forced and natural key frames made. */
  readonly forcedAt: number[] = [];
  readonly naturalAt: number[] = [];
  constructor(
    readonly clock: FakeClock,
    readonly packetsPerFrame = 25,
  ) {
    super('cam', { now: clock.now });
  }
  protected start(): void {
    this.starts++;
  }
  protected stop(): void {
    this.stops++;
  }
  /** Makes one frame and advances the clock by one frame time. */
  tick(): void {
    const natural = this.frame % GOP === 0;
    const forced = !natural && this.takeKeyframe();
    if (natural) this.naturalAt.push(this.clock.t);
    if (forced) this.forcedAt.push(this.clock.t);
    this.fanOut({ rtpTimestamp: this.frame * 3600, keyframe: natural || forced, payloads: Array.from({ length: this.packetsPerFrame }, () => Buffer.alloc(4)) });
    this.frame++;
    this.clock.t += FRAME_MS;
  }
}

class Sink implements BroadcastSink {
  connected = true;
  started = false;
  inFlight = 0;
  framesSent = 0;
  framesSkipped = 0;
  firstFrameAt: number | undefined;
  /** Frames received that were key frames (counted at their first packet). */
  keyframes = 0;
  #inFrame = false;
  /** stuck: packets never leave (a dead or very slow link). */
  constructor(public stuck = false) {}
  send(payload: Buffer, _ts: number, marker: boolean): void {
    if (!this.#inFrame && payload.readUInt8(0) === 0xaa) this.keyframes++;
    this.#inFrame = !marker;
    if (this.stuck) this.inFlight++;
  }
  /** The link recovers for a moment: everything in flight leaves. */
  drain(): void {
    this.inFlight = 0;
  }
}

/** Like FakeEncoded, but key-frame payloads are marked so sinks can count the IDRs they received. */
class MarkedEncoded extends FakeEncoded {
  override tick(): void {
    const natural = this.frame % GOP === 0;
    const forced = !natural && this.takeKeyframe();
    if (natural) this.naturalAt.push(this.clock.t);
    if (forced) this.forcedAt.push(this.clock.t);
    const key = natural || forced;
    const payloads = Array.from({ length: this.packetsPerFrame }, () => Buffer.from([key ? 0xaa : 0x55, 0, 0, 0]));
    this.fanOut({ rtpTimestamp: this.frame * 3600, keyframe: key, payloads });
    this.frame++;
    this.clock.t += FRAME_MS;
  }
}

/** Smallest gap between consecutive times, ms. */
function minGap(times: number[]): number {
  let m = Infinity;
  for (let i = 1; i < times.length; i++) m = Math.min(m, times[i] - times[i - 1]);
  return m;
}

test('key frames: a viewer stuck for good forces none; the healthy viewer gets only the natural GOP', () => {
  const clock = new FakeClock();
  const b = new MarkedEncoded(clock);
  const fast = new Sink();
  const stuck = new Sink(true);
  b.attach(fast);
  b.attach(stuck);
  for (let i = 0; i < 250; i++) b.tick(); // 10 s
  assert.ok(stuck.inFlight > MAX_IN_FLIGHT && stuck.framesSkipped > 200, `the stuck viewer is behind and skipping (${stuck.framesSkipped})`);
  assert.equal(b.keyframesForced, 0, 'no key frame forced for a viewer that cannot take one');
  assert.equal(fast.framesSent, 250, 'the healthy viewer got every frame');
  assert.equal(fast.keyframes, b.naturalAt.length, 'and no IDR beyond the natural GOP (5 in 10 s)');
  assert.equal(b.naturalAt.length, 5);
});

test('key frames: a viewer that keeps falling behind and recovering never pushes the forced rate above 1/s', () => {
  const clock = new FakeClock();
  const b = new MarkedEncoded(clock);
  const fast = new Sink();
  const flappy = new Sink(true);
  b.attach(fast);
  b.attach(flappy);
  for (let i = 0; i < 500; i++) {
    // Behind after ~17 frames (25 packets each), drained every 20 frames (800 ms): each time it then waits for a
    // key frame, more often than once a second.
    if (i % 20 === 19) flappy.drain();
    b.tick();
  }
  const seconds = (500 * FRAME_MS) / 1000;
  assert.ok(b.keyframesForced > 0, 'the recovering viewer does get key frames under the throttle');
  assert.ok(b.keyframesForced <= seconds, `forced ${b.keyframesForced} key frames in ${seconds} s`);
  assert.ok(minGap(b.forcedAt) >= 1000, `forced key frames at least 1 s apart (min gap ${minGap(b.forcedAt)} ms)`);
  assert.ok(flappy.framesSent > 0 && flappy.started !== undefined);
  // The healthy viewer sees the natural IDRs plus the throttled forced ones, nothing more.
  assert.equal(fast.keyframes, b.naturalAt.length + b.forcedAt.length);
  assert.ok(fast.keyframes <= b.naturalAt.length + seconds);
});

test('key frames: a PLI burst gives one IDR; a second burst within the second waits for the throttle', () => {
  const clock = new FakeClock();
  const b = new FakeEncoded(clock, 1);
  const s = new Sink();
  b.attach(s);
  for (let i = 0; i < 10; i++) b.tick(); // natural IDR at frame 0, then P frames
  for (let i = 0; i < 20; i++) b.requestKeyframe(); // 20 PLIs at once (many viewers, or one retrying)
  b.tick();
  assert.equal(b.forcedAt.length, 1, 'one forced IDR for the burst');
  assert.equal(b.keyframeRequests, 20);
  assert.equal(b.keyframeRequestsThrottled, 19, 'the other 19 were coalesced');
  const first = b.forcedAt[0];
  for (let i = 0; i < 5; i++) b.requestKeyframe(); // 40 ms later: within the second
  for (let i = 0; i < 30 && b.forcedAt.length === 1; i++) b.tick();
  assert.equal(b.forcedAt.length, 2, 'the pending request is served once the second has passed');
  assert.ok(b.forcedAt[1] - first >= 1000, `second forced IDR ${b.forcedAt[1] - first} ms after the first`);
  for (let i = 0; i < 40; i++) b.tick();
  assert.equal(b.forcedAt.length, 2, 'no request pending: no more forced IDRs');
});

test('key frames: a join is served at once if none was forced within the second, else by the throttle or the GOP', () => {
  const clock = new FakeClock();
  const b = new FakeEncoded(clock, 1);
  b.attach(new Sink());
  for (let i = 0; i < 10; i++) b.tick();
  const late = new Sink();
  b.attach(late); // joins mid-GOP: waits for a key frame, asks for one
  b.tick(); // fan-out sees it waiting → request
  b.tick(); // forced now (nothing forced in the last second)
  assert.equal(late.started, true, 'first frame served at once');
  assert.equal(b.forcedAt.length, 1);
  const other = new Sink();
  clock.t += 200;
  b.attach(other);
  b.tick();
  assert.equal(other.started, false, 'a second join 200 ms later does not get its own IDR at once');
  while (!other.started) b.tick();
  assert.ok(clock.t - FRAME_MS - b.forcedAt[0] >= 1000 || b.naturalAt.length > 1, 'it started at the throttled IDR or the natural one');
  assert.ok(b.keyframesForced <= 2);
});

class Feed extends TypedEmitter<{ frame: [LiveFrame]; packet: [LivePacket]; record: [FrameRecord] }> {
  emitPacket(p: LivePacket): void {
    this.safeEmit('packet', p);
  }
}

test('lifecycle: detaching the last sink stops the broadcast (no listening); a later attach starts it again', () => {
  const feed = new Feed();
  const b = new PassthroughBroadcast('cam', feed);
  const conn: LiveConnection = { codec: 'h264', extradata: null, width: 64, height: 64 };
  const idr = { data: Buffer.from([0, 0, 0, 1, 0x67, 0x64, 0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 1, 2, 3]), ptsSec: 0, keyframe: true, connection: conn };
  const a = new Sink();
  const c = new Sink();
  b.attach(a);
  b.attach(c);
  assert.equal(b.running, true);
  assert.equal(feed.listenerCount('packet'), 1);
  feed.emitPacket(idr);
  assert.equal(b.framesOut, 1);
  assert.equal(b.profileLevelId, '64001f', "the camera's profile, from its in-band SPS");
  b.detach(a);
  assert.equal(feed.listenerCount('packet'), 1, 'one viewer left: still running');
  b.detach(c);
  b.detach(c); // not attached: no-op
  assert.equal(b.running, false);
  assert.equal(feed.listenerCount('packet'), 0, 'the last viewer left: no longer listening');
  feed.emitPacket({ ...idr, ptsSec: 1 });
  assert.equal(b.framesOut, 1);
  b.attach(a);
  assert.equal(feed.listenerCount('packet'), 1, 'attached again: listening again');
  feed.emitPacket({ ...idr, ptsSec: 2 });
  assert.equal(b.framesOut, 2);
  b.close();
  b.close();
  assert.equal(feed.listenerCount('packet'), 0);

  const enc = new EncodedBroadcast('cam', feed, { overlay: false });
  enc.attach(a);
  assert.equal(feed.listenerCount('frame'), 1);
  enc.detach(a);
  assert.equal(feed.listenerCount('frame'), 0, 'an encoded broadcast stops listening to frames too (no encode for nobody)');
  enc.attach(c);
  assert.equal(feed.listenerCount('frame'), 1);
  enc.close();
  assert.equal(feed.listenerCount('frame'), 0);
});
