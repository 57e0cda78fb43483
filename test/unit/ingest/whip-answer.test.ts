import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mungeAnswer } from '../../../src/ingest/whip/publisher.ts';

const ANSWER = [
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1',
  'm=video 9 UDP/TLS/RTP/SAVPF 102 96', 'a=rtpmap:102 H264/90000', 'a=fmtp:102 packetization-mode=1;profile-level-id=42e01f', 'a=rtpmap:96 VP8/90000', '',
].join('\r\n');

test('mungeAnswer: bitrate hints on every video codec (fmtp added where missing), audio untouched, CRLF kept', () => {
  const out = mungeAnswer(ANSWER, { minKbps: 1000, startKbps: 2500, maxKbps: 6000 });
  const lines = out.split('\r\n');
  const hint = 'x-google-min-bitrate=1000;x-google-start-bitrate=2500;x-google-max-bitrate=6000';
  assert.ok(lines.includes(`a=fmtp:102 packetization-mode=1;profile-level-id=42e01f;${hint}`));
  assert.equal(lines[lines.indexOf('a=rtpmap:96 VP8/90000') + 1], `a=fmtp:96 ${hint}`);
  assert.ok(lines.includes('a=fmtp:111 minptime=10;useinbandfec=1'), 'audio fmtp unchanged');
  assert.equal(out.split('\n').length, ANSWER.split('\n').length + 1, 'one line added, no other change');
  assert.ok(!/[^\r]\n/.test(out), 'CRLF line ends');
});
