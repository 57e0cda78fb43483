import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H264Framer, RTP_MAX_PAYLOAD, packetizeH264, parseAvcC, profileLevelId, splitAnnexB, splitAvcc } from '../../../src/broadcast/h264.ts';

const SPS = Buffer.from([0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9]);
const PPS = Buffer.from([0x68, 0xeb, 0xe3, 0xcb]);
const IDR = Buffer.from([0x65, 0x88, 0x84, 0x00, 0x33]);
const P = Buffer.from([0x41, 0x9a, 0x22]);

const annexB = (...nalus: Buffer[]) => Buffer.concat(nalus.flatMap((n, i) => [Buffer.from(i % 2 ? [0, 0, 1] : [0, 0, 0, 1]), n]));
const avcc = (...nalus: Buffer[]) => Buffer.concat(nalus.flatMap((n) => [Buffer.from([0, 0, (n.length >> 8) & 255, n.length & 255]), n]));
function avcC(sps: Buffer, pps: Buffer): Buffer {
  return Buffer.concat([Buffer.from([1, sps[1], sps[2], sps[3], 0xff, 0xe1, 0, sps.length]), sps, Buffer.from([1, 0, pps.length]), pps]);
}

test('splitAnnexB: 3- and 4-byte start codes, no trailing zeros of the next start code', () => {
  assert.deepEqual(splitAnnexB(annexB(SPS, PPS, IDR)), [SPS, PPS, IDR]);
  assert.deepEqual(splitAnnexB(IDR), [IDR], 'no start code: one NAL unit');
  assert.deepEqual(splitAnnexB(Buffer.alloc(0)), []);
});

test('splitAvcc: length-prefixed NAL units; a length past the end stops the walk', () => {
  assert.deepEqual(splitAvcc(avcc(SPS, IDR), 4), [SPS, IDR]);
  const broken = Buffer.concat([avcc(P), Buffer.from([0, 0, 1, 0, 0x41])]);
  assert.deepEqual(splitAvcc(broken, 4), [P]);
});

test('parseAvcC and profileLevelId read an MP4 decoder configuration record', () => {
  const c = parseAvcC(avcC(SPS, PPS));
  assert.ok(c);
  assert.equal(c.lengthSize, 4);
  assert.deepEqual(c.sps, [SPS]);
  assert.deepEqual(c.pps, [PPS]);
  assert.equal(profileLevelId(SPS), '64001f');
  assert.equal(parseAvcC(annexB(SPS, PPS)), undefined, 'Annex-B extradata is not an avcC record');
  assert.equal(parseAvcC(Buffer.from([1, 2, 3])), undefined, 'truncated');
});

test('H264Framer: out-of-band SPS/PPS go in front of an IDR that lacks them, not in front of other frames', () => {
  const mp4 = new H264Framer(avcC(SPS, PPS));
  assert.equal(mp4.profileLevelId, '64001f');
  assert.deepEqual(mp4.nalus(avcc(IDR)), [SPS, PPS, IDR]);
  assert.deepEqual(mp4.nalus(avcc(P)), [P]);
  const rtsp = new H264Framer(annexB(SPS, PPS));
  assert.deepEqual(rtsp.nalus(annexB(IDR)), [SPS, PPS, IDR]);
  assert.deepEqual(rtsp.nalus(annexB(SPS, PPS, IDR)), [SPS, PPS, IDR], 'in-band parameter sets are not doubled');
  // In-band parameter sets replace the remembered ones (a camera that changes resolution).
  const sps2 = Buffer.from([0x67, 0x42, 0xc0, 0x1e, 0x01]);
  rtsp.nalus(annexB(sps2, PPS, IDR));
  assert.deepEqual(rtsp.nalus(annexB(IDR)), [sps2, PPS, IDR]);
  assert.deepEqual(new H264Framer(null).nalus(annexB(IDR)), [IDR], 'nothing known: the IDR as it is');
});

test('packetizeH264: small NAL units whole, large ones as FU-A with start/end bits; AUD/SEI/filler dropped', () => {
  const big = Buffer.alloc(3000, 0xab);
  big[0] = 0x65;
  const aud = Buffer.from([0x09, 0xf0]);
  const sei = Buffer.from([0x06, 0x05, 0x01]);
  const out = packetizeH264([aud, sei, SPS, big]);
  assert.deepEqual(out[0], SPS);
  const fus = out.slice(1);
  assert.equal(fus.length, Math.ceil((big.length - 1) / (RTP_MAX_PAYLOAD - 2)));
  for (const f of fus) {
    assert.ok(f.length <= RTP_MAX_PAYLOAD);
    assert.equal(f[0], (0x65 & 0xe0) | 28, 'FU indicator keeps F/NRI, type 28');
    assert.equal(f[1] & 0x1f, 5, 'FU header carries the NAL type');
  }
  assert.equal(fus[0][1] & 0xc0, 0x80, 'start bit on the first');
  assert.equal(fus.at(-1)![1] & 0xc0, 0x40, 'end bit on the last');
  assert.equal(fus.slice(1, -1).every((f) => (f[1] & 0xc0) === 0), true);
  // Reassembly gives the NAL unit back.
  const body = Buffer.concat(fus.map((f) => f.subarray(2)));
  assert.deepEqual(Buffer.concat([Buffer.from([0x65]), body]), big);
});
