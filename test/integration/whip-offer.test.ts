/**
 * WhipPublisher's answers to offers from a real werift peer (loopback, host candidates only): audio offered
 * alongside video is negotiated away (inactive, port 0), video is received; the answer carries bitrate hints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { WhipPublisher } from '../../src/ingest/whip/publisher.ts';
import { pinStunServer } from '../../src/core/ice.ts';

async function offer(kinds: ('audio' | 'video')[], video = 'video/H264'): Promise<{ sdp: string; close: () => Promise<void> }> {
  const pc = new RTCPeerConnection({
    codecs: { audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })], video: [new RTCRtpCodecParameters({ mimeType: video, clockRate: 90000 })] },
    iceUseIpv4: false, iceUseIpv6: false, iceAdditionalHostAddresses: ['127.0.0.1'],
  });
  for (const k of kinds) pc.addTransceiver(k, { direction: 'sendonly' });
  // werift would otherwise ask Google's public STUN server while gathering: nothing leaves this machine.
  assert.ok(pc.iceTransports.length > 0);
  pinStunServer(pc);
  assert.ok(pc.iceTransports.every((t) => t.connection.stunServer === undefined));
  await pc.setLocalDescription(await pc.createOffer());
  return { sdp: pc.localDescription!.sdp, close: () => pc.close() };
}

test('WHIP answer: audio negotiated away, video recvonly with bitrate hints, loopback candidates only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-whip-offer-'));
  const o = await offer(['audio', 'video']);
  try {
    const { publisher, answerSdp } = await WhipPublisher.create('cam', o.sdp, { dir, webrtc: { hostAddresses: ['127.0.0.1'] } });
    await using _p = publisher;
    const sections = answerSdp.split(/\r\n(?=m=)/);
    const audio = sections.find((s) => s.startsWith('m=audio'));
    const video = sections.find((s) => s.startsWith('m=video'));
    assert.ok(audio && video);
    assert.match(audio, /^m=audio 0 /, 'audio rejected (port 0)');
    assert.match(audio, /a=inactive/);
    assert.match(video, /a=recvonly/);
    assert.match(video, /a=rtpmap:\d+ H264\/90000/);
    assert.match(video, /x-google-min-bitrate=1000;x-google-start-bitrate=2500;x-google-max-bitrate=6000/);
    for (const c of answerSdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'))) assert.match(c, / 127\.0\.0\.1 \d+ typ host/);
  } finally {
    await o.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('WHIP answer: VP8-only video is accepted too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-whip-offer-'));
  const o = await offer(['video'], 'video/VP8');
  try {
    const { publisher, answerSdp } = await WhipPublisher.create('cam', o.sdp, { dir, webrtc: { hostAddresses: ['127.0.0.1'] } });
    await publisher.close();
    await publisher.close(); // idempotent
    assert.match(answerSdp, /a=rtpmap:\d+ VP8\/90000/);
    assert.match(answerSdp, /a=fmtp:\d+ x-google-min-bitrate=/);
  } finally {
    await o.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
