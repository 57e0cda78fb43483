/**
 * SDP parsing and control URL resolution for the RTSP client (src/ingest/rtsp/sdp.ts) on DESCRIBE answers in the
 * shape real servers and cameras send them (GStreamer rtsp-server, Hikvision, Axis, Dahua-style H.265 with
 * audio and metadata, a static-payload MJPEG camera). The sprop parameter sets are real libx264/libx265 headers,
 * so decoding them is checked against the SPS parser too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../src/core/errors.ts';
import { h264NalType, h265NalType, parseH264Sps, parseH265Sps } from '../../../src/ingest/rtsp/h26x.ts';
import { parseSdp, resolveControl, spropParameterSets } from '../../../src/ingest/rtsp/sdp.ts';

// libx264 1920x1080 (preset ultrafast) SPS and PPS; the SPS holds emulation-prevention bytes.
const X264_SPS_HEX = '6742c028da01e0089f961000000300100000030320f1832a';
const X264_SPROP = 'Z0LAKNoB4AiflhAAAAMAEAAAAwMg8YMq,aM4PyA==';
// libx265 1280x720 (preset ultrafast) VPS, SPS, PPS.
const X265 = {
  vps: 'QAEMAf//AWAAAAMAkAAAAwAAAwBdlZQJ',
  sps: 'QgEBAWAAAAMAkAAAAwAAAwBdoAKAgC0WWVlSkwuaAgAAAwACAAADADIQ',
  pps: 'RAHAc8GJ',
};

const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n';
const lf = (lines: string[]): string => lines.join('\n') + '\n';

test('GStreamer rtsp-server: absolute session control, stream=0 media control, LF line ends', () => {
  const sdp = parseSdp(lf([
    'v=0',
    'o=- 1188340656180883 1 IN IP4 127.0.0.1',
    's=Session streamed with GStreamer',
    'i=rtsp-server',
    't=0 0',
    'a=tool:GStreamer',
    'a=type:broadcast',
    'a=range:npt=now-',
    'a=control:rtsp://127.0.0.1:8554/test',
    'm=video 0 RTP/AVP 96',
    'c=IN IP4 0.0.0.0',
    'b=AS:2097',
    'a=rtpmap:96 H264/90000',
    'a=framerate:30',
    `a=fmtp:96 packetization-mode=1;sprop-parameter-sets=${X264_SPROP};profile-level-id=42c028;level-asymmetry-allowed=1`,
    'a=control:stream=0',
    'a=ts-refclk:local',
    'a=mediaclk:sender',
  ]));
  assert.equal(sdp.control, 'rtsp://127.0.0.1:8554/test');
  assert.equal(sdp.media.length, 1);
  const [m] = sdp.media;
  assert.deepEqual({ type: m.type, port: m.port, proto: m.proto, formats: m.formats, control: m.control, framerate: m.framerate }, { type: 'video', port: 0, proto: 'RTP/AVP', formats: [96], control: 'stream=0', framerate: 30 });
  assert.deepEqual(m.rtpmap.get(96), { encoding: 'H264', clockRate: 90000 });
  const fmtp = m.fmtp.get(96);
  assert.deepEqual(fmtp && Object.fromEntries(fmtp), { 'packetization-mode': '1', 'sprop-parameter-sets': X264_SPROP, 'profile-level-id': '42c028', 'level-asymmetry-allowed': '1' });
  assert.equal(resolveControl(sdp.control ?? '', m.control), 'rtsp://127.0.0.1:8554/test/stream=0');

  const sets = spropParameterSets('H264', fmtp);
  assert.deepEqual(sets.map((s) => s.toString('hex')), [X264_SPS_HEX, '68ce0fc8']);
  assert.deepEqual(sets.map(h264NalType), [7, 8]);
  const info = parseH264Sps(sets[0]);
  assert.deepEqual([info.width, info.height, info.fps], [1920, 1080, 25]);
});

test('Hikvision: CRLF, absolute track control, spaces after ";", vendor attributes', () => {
  const sdp = parseSdp(crlf([
    'v=0',
    'o=- 1109162014219182 1109162014219192 IN IP4 192.168.1.64',
    's=Media Presentation',
    'e=NONE',
    'b=AS:5100',
    't=0 0',
    'a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast',
    'm=video 0 RTP/AVP 96',
    'c=IN IP4 0.0.0.0',
    'b=AS:5000',
    'a=recvonly',
    'a=x-dimensions:1920,1080',
    'a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast',
    'a=rtpmap:96 H264/90000',
    `a=fmtp:96 profile-level-id=420029; packetization-mode=1; sprop-parameter-sets=${X264_SPROP}`,
    'a=Media_header:MEDIAINFO=494D4B48010100000400000100000000000000000000000000000000000000000000000000000000;',
    'a=appversion:1.0',
  ]));
  const [m] = sdp.media;
  assert.equal(m.control, 'rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast');
  assert.equal(resolveControl('rtsp://192.168.1.64:554/Streaming/Channels/101/', m.control), m.control);
  const fmtp = m.fmtp.get(96);
  assert.deepEqual(fmtp && [...fmtp.keys()], ['profile-level-id', 'packetization-mode', 'sprop-parameter-sets']);
  assert.equal(fmtp?.get('sprop-parameter-sets'), X264_SPROP);
  assert.equal(spropParameterSets('H264', fmtp).length, 2);
  assert.equal(m.framerate, undefined);
});

test('Axis: a=control:* session, "trackID=1" resolved against Content-Base', () => {
  const sdp = parseSdp(crlf([
    'v=0',
    'o=- 1272886271338811 1272886271338811 IN IP4 192.168.0.90',
    's=Media Presentation',
    'c=IN IP4 0.0.0.0',
    'b=AS:50000',
    't=0 0',
    'a=control:*',
    'a=range:npt=0.000000-',
    'm=video 0 RTP/AVP 96',
    'b=AS:50000',
    'a=framerate:25.0',
    'a=control:trackID=1',
    'a=rtpmap:96 H264/90000',
    'a=fmtp:96 packetization-mode=1; profile-level-id=420029; sprop-parameter-sets=Z0IAH5WoFAFuQA==,aM48gA==',
  ]));
  assert.equal(sdp.control, '*');
  const [m] = sdp.media;
  const contentBase = 'rtsp://192.168.0.90:554/axis-media/media.amp/';
  assert.equal(resolveControl(contentBase, sdp.control), contentBase);
  assert.equal(resolveControl(contentBase, m.control), 'rtsp://192.168.0.90:554/axis-media/media.amp/trackID=1');
  assert.equal(m.framerate, 25);
  const sets = spropParameterSets('H264', m.fmtp.get(96));
  assert.deepEqual(sets.map((s) => s.toString('hex')), ['6742001f95a814016e40', '68ce3c80']);
  const info = parseH264Sps(sets[0]);
  assert.deepEqual([info.width, info.height, info.profileIdc, info.levelIdc], [1280, 720, 66, 31]);
});

test('H.265 camera with audio and ONVIF metadata: pick by type, sprop-vps/sps/pps in that order', () => {
  const sdp = parseSdp(crlf([
    'v=0',
    'o=- 2251938210 2251938210 IN IP4 0.0.0.0',
    's=Media Server',
    'c=IN IP4 0.0.0.0',
    't=0 0',
    'a=control:*',
    'a=packetization-supported:DH',
    'a=rtppayload-supported:DH',
    'a=range:npt=now-',
    'm=video 0 RTP/AVP 98',
    'a=control:trackID=0',
    'a=x-framerate:20',
    'a=rtpmap:98 H265/90000',
    // written sps, pps, vps, as some cameras do: the result must still be VPS, SPS, PPS
    `a=fmtp:98 profile-id=1;sprop-sps=${X265.sps};sprop-pps=${X265.pps};sprop-vps=${X265.vps}`,
    'a=recvonly',
    'm=audio 0 RTP/AVP 97',
    'a=control:trackID=1',
    'a=rtpmap:97 MPEG4-GENERIC/16000/1',
    'a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1408',
    'a=recvonly',
    'm=application 0 RTP/AVP 107',
    'a=control:trackID=4',
    'a=rtpmap:107 vnd.onvif.metadata/90000',
    'a=recvonly',
  ]));
  assert.deepEqual(sdp.media.map((m) => m.type), ['video', 'audio', 'application']);
  const video = sdp.media.find((m) => m.type === 'video');
  const audio = sdp.media.find((m) => m.type === 'audio');
  assert.ok(video && audio);
  assert.deepEqual(video.rtpmap.get(98), { encoding: 'H265', clockRate: 90000 });
  assert.equal(video.framerate, 20);
  assert.deepEqual(audio.rtpmap.get(97), { encoding: 'MPEG4-GENERIC', clockRate: 16000 });
  assert.equal(audio.fmtp.get(97)?.get('mode'), 'AAC-hbr', 'values keep their case');
  assert.deepEqual(sdp.media[2].rtpmap.get(107), { encoding: 'VND.ONVIF.METADATA', clockRate: 90000 });
  assert.equal(resolveControl('rtsp://10.0.0.5/cam/realmonitor?channel=1&subtype=0', audio.control), 'rtsp://10.0.0.5/cam/realmonitor?channel=1&subtype=0/trackID=1');

  const sets = spropParameterSets('H265', video.fmtp.get(98));
  assert.deepEqual(sets.map(h265NalType), [32, 33, 34]);
  assert.deepEqual(sets.map((s) => s.toString('base64')), [X265.vps, X265.sps, X265.pps]);
  const info = parseH265Sps(sets[1]);
  assert.deepEqual([info.width, info.height, info.fps], [1280, 720, 25]);
  assert.deepEqual(spropParameterSets('hevc', video.fmtp.get(98)).length, 3);
  assert.deepEqual(spropParameterSets('H264', video.fmtp.get(98)), [], 'H.264 looks at sprop-parameter-sets only');
});

test('static payload type without rtpmap (MJPEG, PT 26); port/count and non-numeric formats', () => {
  const sdp = parseSdp(lf(['v=0', 's=MJPEG', 'm=video 5000/2 RTP/AVP 26 x-foo', 'a=control:track1']));
  const [m] = sdp.media;
  assert.deepEqual({ port: m.port, formats: m.formats, rtpmap: m.rtpmap.size, fmtp: m.fmtp.size, control: m.control }, { port: 5000, formats: [26], rtpmap: 0, fmtp: 0, control: 'track1' });
  assert.equal(sdp.control, undefined);
  assert.deepEqual(spropParameterSets('H264', m.fmtp.get(26)), []);
});

test('lower-case codec names, bare fmtp parameters, lone CR line ends, stray lines', () => {
  const sdp = parseSdp('v=0\rgarbage\r\rm=video 0 RTP/AVP 96 101\ra=rtpmap:96 h264/90000\ra=fmtp:96 packetization-mode=1 ; Profile-Level-Id=64001F\ra=fmtp:101 0-15\r');
  const [m] = sdp.media;
  assert.deepEqual(m.formats, [96, 101]);
  assert.equal(m.rtpmap.get(96)?.encoding, 'H264');
  assert.equal(m.fmtp.get(96)?.get('profile-level-id'), '64001F');
  assert.equal(m.fmtp.get(96)?.get('packetization-mode'), '1');
  assert.equal(m.fmtp.get(101)?.get('0-15'), '');
});

test('no m= line throws E_INPUT_INVALID', () => {
  for (const text of ['', 'v=0\r\ns=x\r\nt=0 0\r\n', '<html>404</html>']) {
    assert.throws(() => parseSdp(text), (e: unknown) => e instanceof InputError && e.code === 'E_INPUT_INVALID');
  }
});

test('resolveControl follows FFmpeg: "*" and absent give the base, absolute kept, relative appended', () => {
  const base = 'rtsp://cam.local:554/live/main';
  assert.equal(resolveControl(base, undefined), base);
  assert.equal(resolveControl(base, '*'), base);
  assert.equal(resolveControl(base, ''), base);
  assert.equal(resolveControl(base, 'rtsp://other:8554/x/trackID=2'), 'rtsp://other:8554/x/trackID=2');
  assert.equal(resolveControl(base, 'rtsps://cam.local/secure/track0'), 'rtsps://cam.local/secure/track0');
  assert.equal(resolveControl(base, 'RTSP://CAM/track0'), 'RTSP://CAM/track0');
  assert.equal(resolveControl(base, 'trackID=1'), 'rtsp://cam.local:554/live/main/trackID=1');
  assert.equal(resolveControl(`${base}/`, 'trackID=1'), 'rtsp://cam.local:554/live/main/trackID=1');
  assert.equal(resolveControl('rtsp://h/stream?x=1', 'trackID=1'), 'rtsp://h/stream?x=1/trackID=1');
});

test('spropParameterSets: bad base64 skipped, missing padding and URL-safe alphabet accepted', () => {
  const fmtp = new Map([['sprop-parameter-sets', ' Z0IAH5WoFAFuQA , not base64!, aM48gA==,,A, Z-_w ']]);
  assert.deepEqual(spropParameterSets('H264', fmtp).map((b) => b.toString('hex')), ['6742001f95a814016e40', '68ce3c80', '67eff0']);
  assert.deepEqual(spropParameterSets('H264', undefined), []);
  assert.deepEqual(spropParameterSets('H264', new Map()), []);
  assert.deepEqual(spropParameterSets('MP4V-ES', fmtp), []);
});
