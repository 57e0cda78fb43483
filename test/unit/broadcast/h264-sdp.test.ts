/**
 * Profile negotiation for WHEP answers (src/broadcast/webrtc/h264-sdp.ts, h264.ts): the payload type chosen from a
 * browser-like offer is the one whose profile carries the video sent, with the stream's level when the offer
 * allows level asymmetry; none when no offered profile can carry it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { h264Profile, profileFit } from '../../../src/broadcast/h264.ts';
import { chooseH264, withProfileLevelId } from '../../../src/broadcast/webrtc/h264-sdp.ts';

/** What Chromium offers for H.264 (payload types and fmtp as in its offers), in its order. */
const CHROMIUM = [
  { payloadType: 96, mimeType: 'video/VP8' },
  { payloadType: 102, mimeType: 'video/H264', parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f' },
  { payloadType: 104, mimeType: 'video/H264', parameters: 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f' },
  { payloadType: 106, mimeType: 'video/H264', parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' },
  { payloadType: 108, mimeType: 'video/H264', parameters: 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f' },
  { payloadType: 112, mimeType: 'video/H264', parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f' },
  { payloadType: 116, mimeType: 'video/H264', parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f' },
];

test('h264Profile: profile_idc and constraint flags as WebRTC tells them apart', () => {
  assert.equal(h264Profile('42e01f'), 'constrained-baseline');
  assert.equal(h264Profile('4d401f'), 'main', 'constraint_set1 on main is still main');
  assert.equal(h264Profile('42001f'), 'baseline');
  assert.equal(h264Profile('4d001f'), 'main');
  assert.equal(h264Profile('640c1f'), 'constrained-high');
  assert.equal(h264Profile('640028'), 'high');
  assert.equal(h264Profile('640828'), 'high', 'flags the table lacks: by profile_idc');
  assert.equal(h264Profile('f4001f'), 'high-444');
  assert.equal(h264Profile('zz'), undefined);
  assert.equal(profileFit('constrained-baseline', 'high'), 4);
  assert.equal(profileFit('high', 'constrained-baseline'), -1);
});

test('chooseH264: a High camera goes on the High payload type, with its own level (asymmetry allowed)', () => {
  const c = chooseH264(CHROMIUM, '640028');
  assert.equal(c?.codec.payloadType, 112);
  assert.equal(c?.profileLevelId, '640028');
  assert.equal(withProfileLevelId(c?.codec.parameters, c?.profileLevelId ?? ''), 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640028');
});

test('chooseH264: the constrained-baseline encode prefers the exact profile; Main goes on Main; mode 0 is never chosen', () => {
  assert.deepEqual(chooseH264(CHROMIUM, '42e01f')?.codec.payloadType, 106);
  assert.deepEqual(chooseH264(CHROMIUM, '4d0029')?.codec.payloadType, 116);
  assert.equal(chooseH264(CHROMIUM, '4d0029')?.profileLevelId, '4d0029');
  // Only High offered: a constrained-baseline stream still fits (it is a High stream too).
  assert.equal(chooseH264(CHROMIUM.filter((c) => c.payloadType === 112), '42e01f')?.codec.payloadType, 112);
  // Only packetization-mode 0 of the right profile: nothing (FU-A needs mode 1).
  assert.equal(chooseH264(CHROMIUM.filter((c) => c.payloadType === 104 || c.payloadType === 108), '42e01f'), undefined);
});

test('chooseH264: no offered profile carries the camera → none (the service falls back or refuses)', () => {
  const baselineOnly = CHROMIUM.filter((c) => c.payloadType === 102 || c.payloadType === 106);
  assert.equal(chooseH264(baselineOnly, '640028'), undefined);
  assert.equal(chooseH264(CHROMIUM, '6e0028'), undefined, 'High 10 is offered by no browser here');
  // No level asymmetry: the offer's level is kept.
  const sym = [{ payloadType: 97, mimeType: 'video/H264', parameters: 'packetization-mode=1;profile-level-id=64001f' }];
  assert.equal(chooseH264(sym, '640028')?.profileLevelId, '64001f');
});

test("chooseH264: Debian's Chromium (no 64, but f4 High 4:4:4 Predictive) takes a High camera on f4", () => {
  const debian = [
    ...CHROMIUM.filter((c) => c.payloadType !== 112),
    { payloadType: 41, mimeType: 'video/H264', parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f' },
  ];
  const c = chooseH264(debian, '64001e');
  assert.equal(c?.codec.payloadType, 41);
  assert.equal(c?.profileLevelId, 'f4001e');
  assert.equal(chooseH264(debian, '4d401f')?.codec.payloadType, 116, 'Main still goes on Main');
});
