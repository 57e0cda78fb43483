/**
 * RTP → access units (src/ingest/rtsp/rtp-h26x.ts) on real encoder output: libx264 and libx265 (4 slices a frame each, so
 * units hold several NALs) through node-av, packetized here the way cameras do (RFC 6184 / 7798: single
 * NAL, STAP-A / AP for small NALs, FU-A / FU for large ones, marker on the last packet), then depacketized and
 * decoded by FFmpeg. The property the client exists for: a unit comes out on its marker packet, before any packet
 * of the next one. Loss: a lost fragment drops its NAL and flags the unit, a lost marker ends the unit at the next
 * timestamp. Also: digest auth (RFC 2617's worked example) and the RTCP receiver report's loss counters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AV_CODEC_ID_H264, AV_CODEC_ID_HEVC, AV_LOG_ERROR, FF_ENCODER_LIBX264, FF_ENCODER_LIBX265 } from 'node-av/constants';
import { Codec, CodecContext, FFmpegError, Frame, Log, Packet, Rational } from 'node-av/lib';
import { Encoder } from 'node-av/api';
import { H26xDepacketizer, parseRtpHeader, type AccessUnit, type H26xCodec } from '../../../src/ingest/rtsp/rtp-h26x.ts';
import { splitAnnexB } from '../../../src/ingest/rtsp/h26x.ts';
import { yuvFrame } from '../../../src/ingest/testmedia.ts';
import { Authenticator } from '../../../src/ingest/rtsp/auth.ts';
import { ReceiverReports } from '../../../src/ingest/rtsp/rtcp.ts';

Log.setLevel(AV_LOG_ERROR);
const W = 320;
const H = 240;
const MTU = 1200;

/** `n` frames of moving noise from a real encoder: Annex-B access units and their key flags. */
async function encode(codec: H26xCodec, n: number): Promise<{ data: Buffer; key: boolean }[]> {
  const name = codec === 'h264' ? FF_ENCODER_LIBX264 : FF_ENCODER_LIBX265;
  using enc = await Encoder.create(name, {
    gopSize: 10,
    maxBFrames: 0,
    threadCount: 1,
    context: { framerate: new Rational(25, 1) },
    options: codec === 'h264'
      ? { preset: 'ultrafast', x264opts: 'keyint=10:min-keyint=10:scenecut=0:slices=4:log=-1' }
      : { preset: 'ultrafast', crf: 12, 'x265-params': 'keyint=10:min-keyint=10:scenecut=0:slices=4:log-level=none:repeat-headers=1' },
  });
  const out: { data: Buffer; key: boolean }[] = [];
  const drain = async (): Promise<void> => {
    for (let p: Packet | null | undefined = await enc.receive(); p; p = await enc.receive()) {
      out.push({ data: Buffer.from(p.data ?? Buffer.alloc(0)), key: p.isKeyframe });
      p.free();
    }
  };
  let seed = 1;
  for (let i = 0; i < n; i++) {
    using f = yuvFrame(W, H);
    const planes = f.data;
    assert.ok(planes);
    for (const plane of planes.slice(0, 3)) for (let j = 0; j < plane.length; j++) plane[j] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 25;
    f.pts = BigInt(i);
    f.timeBase = new Rational(1, 25);
    await enc.encode(f);
    await drain();
  }
  await enc.flush();
  await drain();
  return out;
}

/** An RTP packet: version 2, the given marker, sequence and timestamp, payload type 96. */
function rtp(payload: Uint8Array, seq: number, ts: number, marker: boolean): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (marker ? 0x80 : 0) | 96;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(0x1234, 8);
  return Buffer.concat([h, payload]);
}

/** RFC 6184 / 7798 non-interleaved packetization of one access unit, as cameras send it. */
function packetize(codec: H26xCodec, au: Buffer, ts: number, seq: { n: number }): Buffer[] {
  const hl = codec === 'h264' ? 1 : 2;
  const payloads: Buffer[] = [];
  let agg: Buffer[] = [];
  const flush = (): void => {
    if (agg.length === 1) payloads.push(agg[0]);
    else if (agg.length > 1) {
      const hdr = codec === 'h264' ? Buffer.from([(agg[0][0] & 0x60) | 24]) : Buffer.from([48 << 1, 1]);
      payloads.push(Buffer.concat([hdr, ...agg.flatMap((n) => [Buffer.from([n.length >> 8, n.length & 0xff]), n])]));
    }
    agg = [];
  };
  for (const nal of splitAnnexB(au).map((n) => Buffer.from(n))) {
    if (nal.length + 3 <= MTU / 4) { // small NALs (parameter sets, SEI) go into aggregation packets
      agg.push(nal);
      continue;
    }
    flush();
    if (nal.length <= MTU) {
      payloads.push(nal);
      continue;
    }
    const type = codec === 'h264' ? nal[0] & 0x1f : (nal[0] >> 1) & 0x3f;
    const ind = codec === 'h264' ? Buffer.from([(nal[0] & 0xe0) | 28]) : Buffer.from([(nal[0] & 0x81) | (49 << 1), nal[1]]);
    for (let off = hl; off < nal.length; off += MTU) {
      const end = Math.min(nal.length, off + MTU);
      const fu = Buffer.from([(off === hl ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type]);
      payloads.push(Buffer.concat([ind, fu, nal.subarray(off, end)]));
    }
  }
  flush();
  return payloads.map((p, i) => rtp(p, seq.n++, ts, i === payloads.length - 1));
}

/** Decodes Annex-B units with FFmpeg's decoder: the frames it outputs. */
function decode(codec: H26xCodec, units: Buffer[]): number {
  const c = Codec.findDecoder(codec === 'h264' ? AV_CODEC_ID_H264 : AV_CODEC_ID_HEVC);
  assert.ok(c);
  const cc = new CodecContext();
  cc.allocContext3(c);
  cc.threadCount = 1;
  FFmpegError.throwIfError(cc.open2Sync(c, null), 'open decoder');
  const pkt = new Packet();
  pkt.alloc();
  const frame = new Frame();
  frame.alloc();
  let frames = 0;
  const take = (): void => {
    while (cc.receiveFrameSync(frame) >= 0) {
      frames++;
      frame.unref();
    }
  };
  for (const u of units) {
    pkt.data = u;
    cc.sendPacketSync(pkt);
    pkt.unref();
    take();
  }
  cc.sendPacketSync(null);
  take();
  pkt.free();
  frame.free();
  cc.freeContext();
  return frames;
}

const nals = (b: Buffer): string[] => splitAnnexB(b).map((n) => Buffer.from(n).toString('hex'));

for (const codec of ['h264', 'h265'] as const) {
  test(`${codec}: every unit comes out on its marker packet, whole, and decodes`, async () => {
    const aus = await encode(codec, 20);
    assert.equal(aus.length, 20);
    const got: AccessUnit[] = [];
    const d = new H26xDepacketizer(codec, (u) => got.push(u));
    const seq = { n: 65530 }; // the sequence number wraps inside the run: no loss may be counted for it
    let fragmented = 0;
    aus.forEach((au, i) => {
      const pkts = packetize(codec, au.data, 1000 + i * 3600, seq);
      fragmented += pkts.length > 1 ? 1 : 0;
      pkts.forEach((p, j) => {
        d.push(p);
        // Not before its last packet, and right at it: the frame is handed on without waiting for the next one.
        assert.equal(got.length, j === pkts.length - 1 ? i + 1 : i, `unit ${i} after packet ${j + 1} of ${pkts.length}`);
      });
      const u = got[i];
      assert.deepEqual(nals(u.data), nals(au.data), `unit ${i} holds the encoder's NAL units`);
      assert.equal(u.keyframe, au.key, `unit ${i} key flag`);
      assert.equal(u.timestamp, 1000 + i * 3600);
      assert.equal(u.corrupt, false);
    });
    assert.ok(fragmented >= 10, 'most units were fragmented (FU) or aggregated');
    if (codec === 'h264') assert.ok(splitAnnexB(aus[1].data).length >= 4, 'x264 wrote 4 slices a frame');
    assert.equal(d.stats.lost, 0);
    assert.equal(decode(codec, got.map((u) => u.data)), 20, 'FFmpeg decodes every unit');
  });

  test(`${codec}: a lost fragment drops its NAL and flags only that unit; a lost marker ends the unit at the next timestamp`, async () => {
    const aus = await encode(codec, 12);
    const got: AccessUnit[] = [];
    const d = new H26xDepacketizer(codec, (u) => got.push(u));
    const seq = { n: 0 };
    const all = aus.map((au, i) => packetize(codec, au.data, i * 3600, seq));
    const victim = all.findIndex((p, i) => i > 1 && i < 8 && p.length >= 3); // a unit with a middle fragment
    assert.ok(all[victim + 2].length >= 2, 'the unit that loses its marker has other packets');
    assert.ok(victim > 0);
    const markerless = victim + 2;
    all.forEach((pkts, i) => pkts.forEach((p, j) => {
      if (i === victim && j === 1) return; // a middle packet lost
      if (i === markerless && j === pkts.length - 1) return; // the marker packet lost
      d.push(p);
    }));
    assert.equal(got.length, 12);
    assert.equal(d.stats.lost, 2);
    assert.equal(d.stats.markerless, 1);
    got.forEach((u, i) => {
      if (i !== victim && i !== markerless) {
        assert.equal(u.corrupt, false, `unit ${i}`);
        assert.deepEqual(nals(u.data), nals(aus[i].data), `unit ${i} intact`);
      }
    });
    assert.equal(got[victim].corrupt, true);
    assert.equal(got[markerless].corrupt, true);
    assert.ok(nals(got[victim].data).length < nals(aus[victim].data).length, 'the broken NAL is not handed over truncated');
    for (const n of nals(got[victim].data)) assert.ok(nals(aus[victim].data).includes(n), 'what remains is whole NAL units');
  });
}

test('RTP header: CSRCs, a header extension and padding are stripped; not RTP v2 is refused', () => {
  const payload = Buffer.from([0x65, 1, 2, 3]);
  const p = Buffer.concat([
    Buffer.from([0x80 | 0x20 | 0x10 | 1, 0x80 | 96, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1]), // P, X, one CSRC, marker
    Buffer.from([0, 0, 0, 2]), // CSRC
    Buffer.from([0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]), // one-byte extension header, one word
    payload,
    Buffer.from([0, 0, 3]), // 3 bytes of padding, count last
  ]);
  const h = parseRtpHeader(p);
  assert.ok(h);
  assert.deepEqual(p.subarray(h.payloadStart, h.payloadEnd), payload);
  assert.equal(h.marker, true);
  assert.equal(h.sequence, 7);
  assert.equal(h.timestamp, 9);
  assert.equal(parseRtpHeader(Buffer.from([0x40, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])), null);
  assert.equal(parseRtpHeader(Buffer.from([0x80, 96, 0])), null);
});

test('digest auth: RFC 2617 §3.5 worked example (qop=auth), then a refused retry', () => {
  const a = new Authenticator({ user: 'Mufasa', pass: 'Circle Of Life' }, '0a4f113b');
  assert.equal(a.header('GET', '/dir/index.html'), null);
  assert.equal(a.accept(['Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"']), true);
  const h = a.header('GET', '/dir/index.html') ?? '';
  assert.match(h, /response="6629fae49393a05397450978507c4ef1"/);
  assert.match(h, /nc=00000001/);
  assert.match(h, /opaque="5ccc069c403ebaf9f0171e9517f40e41"/);
  // A second 401 without stale=true: the password is wrong, and retrying would only lock the account.
  assert.equal(a.accept(['Digest realm="testrealm@host.com", nonce="other"']), false);
  assert.equal(a.accept(['Digest realm="testrealm@host.com", nonce="fresh", stale=true']), true);
  const basic = new Authenticator({ user: 'u', pass: 'p' });
  assert.equal(basic.accept(['Basic realm="cam"']), true);
  assert.equal(basic.header('DESCRIBE', 'rtsp://h/x'), `Basic ${Buffer.from('u:p').toString('base64')}`);
  assert.equal(new Authenticator({ user: 'u', pass: 'p' }).accept(['Negotiate abc']), false);
});

test('RTCP receiver report: cumulative and fractional loss, extended sequence across a wrap', () => {
  const r = new ReceiverReports();
  assert.equal(r.report(), null);
  for (const s of [65533, 65534, 65535, 0, 2, 3]) r.onRtp(rtp(Buffer.alloc(1), s, 0, false)); // 1 lost
  const b = r.report();
  assert.ok(b);
  assert.equal(b[1], 201);
  assert.equal(b.readUInt32BE(8), 0x1234); // the sender's SSRC
  assert.equal(b.readUInt32BE(12) & 0xffffff, 1);
  assert.equal(b[12], Math.floor((1 * 256) / 7));
  assert.equal(b.readUInt32BE(16), 0x10000 + 3);
});
