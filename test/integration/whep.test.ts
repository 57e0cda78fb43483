/**
 * WHEP end to end: a real RuntimeHandle (StreamRuntime + FaceEngine on a looped synthetic face clip) →
 * WhepService (annotate + x264, or the clip's own H.264 passed through) → headless Chromium playing through
 * web/whep.js. Loopback only: the server offers a 127.0.0.1 host
 * candidate and no STUN server, Chromium is given no ICE servers. Every wait is bounded; the browser, the HTTP
 * server, the service and the runtime are closed in `finally`/`after`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import express from 'express';
import { RTCPeerConnection, RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters } from 'werift';
import { chromium } from 'playwright-core';
import { FaceEngine } from '../../src/inference/engine.ts';
import { LiveEncoder, RTP_MAX_PAYLOAD } from '../../src/broadcast/encoder.ts';
import { EncodedBroadcast, PassthroughBroadcast } from '../../src/broadcast/broadcast.ts';
import { RuntimeHandle } from '../../src/server/stream-handle.ts';
import { StreamConfigSchema } from '../../src/server/config.ts';
import { WhepService } from '../../src/broadcast/webrtc/whep.ts';
import { whepRouter } from '../../src/broadcast/webrtc/routes.ts';
import { errorHandler } from '../../src/core/http-errors.ts';
import { h264Profile } from '../../src/broadcast/h264.ts';
import { loadSprites, makeSyntheticClip, measureSprites } from '../helpers/synthetic.ts';
import { until } from '../helpers/wait.ts';
import { icePeerConfig, pinStunServer } from '../../src/core/ice.ts';
import { PLAYOUT_DELAY_URI, decodePlayoutDelay } from '../../src/broadcast/webrtc/playout-delay.ts';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'];

const PAGE = `<!doctype html><meta charset="utf-8"><video id="v" muted playsinline autoplay></video><canvas id="c"></canvas>`;

let dir: string;
let engine: FaceEngine;
let handle: RuntimeHandle;
/** A Main-profile clip (x264 profile=main), analysed at 2 fps: only its passthrough video matters. */
let mainHandle: RuntimeHandle;
let service: WhepService;
let server: Server;
let base: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fc-whep-'));
  engine = await FaceEngine.create({ detector: { minScore: 0.3 } });
  const clip = join(dir, 'faces.mp4');
  const sprites = await measureSprites(engine, await loadSprites(110), 110);
  await makeSyntheticClip(clip, sprites);
  const mainClip = join(dir, 'faces-main.mp4');
  // Without B-frames, like a camera's stream (WebRTC receivers expect decode order = display order).
  await makeSyntheticClip(mainClip, sprites, { profile: 'main', bframes: 0 });
  handle = new RuntimeHandle(engine, StreamConfigSchema.parse({ id: 'cam0', source: clip }), { video: () => service.videoStatus('cam0') });
  mainHandle = new RuntimeHandle(engine, StreamConfigSchema.parse({ id: 'cam1', source: mainClip, fps: 2 }), { video: () => service.videoStatus('cam1') });
  await until(() => (handle.latestRecord?.faces.length ?? 0) > 0, 20000, 'a record with faces');
  service = new WhepService({ lookup: (id) => (id === 'cam0' ? handle : id === 'cam1' ? mainHandle : undefined), webrtc: { iceServers: [], hostAddresses: ['127.0.0.1'] } });
  const app = express();
  app.get('/test.html', (_req, res) => res.type('html').send(PAGE));
  app.use(express.static(join(import.meta.dirname, '../../web')));
  app.use(whepRouter(service));
  app.use(errorHandler);
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await service?.close();
  await service?.close(); // idempotent
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await handle?.close();
  await mainHandle?.close();
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('LiveEncoder: IDR on request, RTP payloads within the MTU, FU-A for large NAL units', async () => {
  const enc = await LiveEncoder.open(320, 240, { fps: 25 });
  try {
    const img = { data: new Uint8Array(320 * 240 * 3), width: 320, height: 240, stride: 960 };
    const keys: number[] = [];
    let fua = 0;
    for (let i = 0; i < 12; i++) {
      for (let k = 0; k < img.data.length; k++) img.data[k] = (k * 7 + i * 13) & 255;
      if (i === 6) enc.requestKeyframe();
      const f = await enc.encode(img, i / 25);
      assert.ok(f, `frame ${i} encoded`);
      if (f.keyframe) keys.push(i);
      assert.equal(f.rtpTimestamp, i * 3600);
      for (const p of f.payloads) {
        assert.ok(p.length <= RTP_MAX_PAYLOAD);
        if ((p[0] & 0x1f) === 28) fua++;
      }
      if (f.keyframe) assert.deepEqual(f.payloads.slice(0, 2).map((p) => p[0] & 0x1f), [7, 8], 'SPS and PPS lead every IDR');
    }
    assert.deepEqual(keys, [0, 6], 'the first frame and the requested one are IDRs, no others');
    assert.ok(fua > 0, 'noisy frames are fragmented');
  } finally {
    enc.close();
    enc.close();
  }
});

test('WHEP errors: wrong content type 415, garbage SDP 400, no usable H.264 400 E_UNSUPPORTED_CODEC, unknown stream 404, unknown session 404', async () => {
  const post = (path: string, body: string, type = 'application/sdp') => fetch(base + path, { method: 'POST', headers: { 'Content-Type': type }, body, signal: AbortSignal.timeout(5000) });
  let r = await post('/whep/cam0', '{}', 'application/json');
  assert.equal(r.status, 415);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'E_UNSUPPORTED_MEDIA_TYPE');
  r = await post('/whep/cam0', 'this is not sdp');
  assert.equal(r.status, 400);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'E_VALIDATION');
  r = await post('/whep/cam0', 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n');
  assert.equal(r.status, 400, 'no video m-line');
  r = await post('/whep/nope', 'v=0\r\n');
  assert.equal(r.status, 404);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'E_NOT_FOUND');
  // A valid offer whose only H.264 is packetization-mode 0 (no FU-A): no payload type can carry the video.
  const offerer = new RTCPeerConnection({ codecs: { video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, parameters: 'packetization-mode=0;profile-level-id=42e01f' })] }, headerExtensions: { video: [] }, iceServers: [] });
  offerer.addTransceiver('video', { direction: 'recvonly' });
  const mode0 = (await offerer.createOffer()).sdp;
  await offerer.close();
  r = await post('/whep/cam0', mode0);
  assert.equal(r.status, 400);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'E_UNSUPPORTED_CODEC');
  r = await fetch(`${base}/whep/cam0/nosuch`, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 404);
  assert.equal(service.viewerCount('cam0'), 0);
});

test('Chromium plays the annotated stream over WHEP; DELETE ends the session', async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 15000 });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(`${base}/test.html`);
    const t0 = performance.now();
    // The answer (checked in the page) must carry only the loopback host candidate: no srflx, no public STUN.
    // Browser code is passed as strings: this project's TypeScript has no DOM lib.
    const answer = await page.evaluate<string>(`(async () => {
      const { playWhep } = await import('/whep.js');
      window.player = await playWhep(document.getElementById('v'), '/whep/cam0');
      return window.player.pc.remoteDescription?.sdp ?? '';
    })()`);
    const answerMs = performance.now() - t0;
    const candidates = answer.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));
    assert.ok(candidates.length > 0, 'the answer carries candidates');
    for (const c of candidates) assert.match(c, / 127\.0\.0\.1 \d+ typ host/, `only the loopback host candidate: ${c}`);
    assert.match(answer, /H264\/90000/);
    // webrtc.playoutDelayMs defaults to null: no playout-delay extension in the answer (Chromium offers one).
    assert.doesNotMatch(answer, /playout-delay/);
    assert.ok(answerMs < 4000, `answer in ${answerMs.toFixed(0)} ms (werift's public-STUN wait would be ~5 s)`);
    assert.equal(service.viewerCount('cam0'), 1);

    await page.waitForFunction(`document.getElementById('v').videoWidth > 0`, undefined, { timeout: 15000 });
    const firstFrameMs = performance.now() - t0;
    const size = await page.evaluate<{ w: number; h: number }>(`(() => {
      const v = document.getElementById('v');
      return { w: v.videoWidth, h: v.videoHeight };
    })()`);
    assert.deepEqual(size, { w: 640, h: 360 });

    // Draws the current video frame; returns a hash of every pixel and the mean luma of a strip inside the
    // burnt-in group panel (top-left, drawn at (8,8) with 55 % black) above where any face sprite can be.
    const grab = () =>
      page.evaluate<{ hash: number; panelLuma: number }>(`(() => {
        const v = document.getElementById('v');
        const c = document.getElementById('c');
        c.width = v.videoWidth;
        c.height = v.videoHeight;
        const ctx = c.getContext('2d', { willReadFrequently: true });
        ctx.drawImage(v, 0, 0);
        const px = ctx.getImageData(0, 0, c.width, c.height).data;
        let h = 2166136261;
        for (let i = 0; i < px.length; i += 4) h = Math.imul(h ^ (px[i] + 3 * px[i + 1] + 7 * px[i + 2]), 16777619);
        const strip = ctx.getImageData(12, 12, 60, 14).data;
        const lumas = [];
        for (let i = 0; i < strip.length; i += 4) lumas.push(0.299 * strip[i] + 0.587 * strip[i + 1] + 0.114 * strip[i + 2]);
        lumas.sort((x, y) => x - y);
        // Median: the panel's white text covers a minority of the strip.
        return { hash: h >>> 0, panelLuma: lumas[lumas.length >> 1] };
      })()`);
    const a = await grab();
    await sleep(500);
    const b = await grab();
    assert.notEqual(a.hash, b.hash, 'the picture changes over time (frames keep decoding)');
    // The raw clip's background there is ~[62..70, 70, 81..83] (luma ≈ 69); the panel darkens it to ≈ 31. Without
    // the overlay this strip cannot be this dark.
    assert.ok(b.panelLuma < 45, `group panel burnt in (strip luma ${b.panelLuma.toFixed(1)}, background ≈ 69)`);

    const bc = service.broadcast('cam0', 'server');
    assert.ok(bc instanceof EncodedBroadcast && bc.framesOut > 0);
    assert.equal(handle.status().viewers, 1);
    const encodeMs = bc.encodeMsTotal / bc.framesOut;
    console.log(`whep: answer ${answerMs.toFixed(0)} ms, first frame ${firstFrameMs.toFixed(0)} ms, encode ${encodeMs.toFixed(2)} ms/frame over ${bc.framesOut} frames (dropped ${bc.framesDropped}), panel luma ${b.panelLuma.toFixed(1)}`);

    await page.evaluate(`window.player.stop()`);
    await until(() => service.viewerCount('cam0') === 0, 5000, 'the viewer count to drop to 0');
    assert.equal(service.broadcast('cam0'), undefined, 'no viewers: no encode');
  } finally {
    await browser.close();
  }
});

test('passthrough: ?overlay=client forwards the clip\'s own H.264 (no burnt overlay), on the records\' clock', async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 15000 });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(`${base}/test.html`);
    const answer = await page.evaluate<string>(`(async () => {
      const { playWhep } = await import('/whep.js');
      window.player = await playWhep(document.getElementById('v'), '/whep/cam0?overlay=client');
      return window.player.pc.remoteDescription?.sdp ?? '';
    })()`);
    // The clip is x264's default High profile: the answer names a payload type of a profile that contains High
    // (64 where the browser offers it; Debian's Chromium offers f4, High 4:4:4 Predictive, and no 64), not 42e01f.
    const video = answer.slice(answer.indexOf('m=video'));
    const fmtps = video.split(/\r?\n/).filter((l) => l.startsWith('a=fmtp:') && /profile-level-id/.test(l));
    assert.equal(fmtps.length, 1, `one H.264 payload type in the answer: ${fmtps.join(' | ')}`);
    const plid = /profile-level-id=([0-9a-f]{6})/i.exec(fmtps[0])?.[1] ?? '';
    await page.waitForFunction(`document.getElementById('v').videoWidth > 0`, undefined, { timeout: 15000 });
    // One displayed frame: its RTP timestamp (requestVideoFrameCallback metadata) and the panel strip's luma.
    const shown = await page.evaluate<{ rtp: number | null; panelLuma: number; w: number; h: number }>(`new Promise((resolve) => {
      const v = document.getElementById('v');
      v.requestVideoFrameCallback((_now, meta) => {
        const c = document.getElementById('c');
        c.width = v.videoWidth;
        c.height = v.videoHeight;
        const ctx = c.getContext('2d', { willReadFrequently: true });
        ctx.drawImage(v, 0, 0);
        const strip = ctx.getImageData(12, 12, 60, 14).data;
        const lumas = [];
        for (let i = 0; i < strip.length; i += 4) lumas.push(0.299 * strip[i] + 0.587 * strip[i + 1] + 0.114 * strip[i + 2]);
        lumas.sort((x, y) => x - y);
        resolve({ rtp: meta.rtpTimestamp ?? null, panelLuma: lumas[lumas.length >> 1], w: v.videoWidth, h: v.videoHeight });
      });
    })`);
    const decoded = () => page.evaluate<number>(`document.getElementById('v').getVideoPlaybackQuality().totalVideoFrames`);
    const d0 = await decoded();
    await sleep(1000);
    // Not asserted: this clip has B-frames, which Chromium's WebRTC receiver handles poorly (docs/live-video.md).
    console.log(`whep: passthrough of the High + B-frames clip: ${(await decoded()) - d0} frames decoded in 1 s`);
    const bc = service.broadcast('cam0', 'client');
    assert.ok(bc instanceof PassthroughBroadcast, 'an H.264 source is passed through, not re-encoded');
    assert.equal(bc.profileLevelId?.slice(0, 2), '64', 'the clip is High profile');
    assert.equal(plid.slice(4), bc.profileLevelId?.slice(4), "the camera's level (the offer allows level asymmetry)");
    assert.ok(['high', 'high-10', 'high-422', 'high-444'].includes(h264Profile(plid) ?? ''), `a High-capable payload type (${plid}), not constrained baseline`);
    assert.ok(bc.framesOut > 0);
    assert.equal(service.broadcast('cam0', 'server'), undefined, 'no server-overlay encode runs for this viewer');
    // The clip's own frames: the background there (luma ≈ 69) is not darkened by a burnt-in panel.
    assert.ok(shown.panelLuma > 55, `no overlay in the pixels (strip luma ${shown.panelLuma.toFixed(1)})`);
    assert.deepEqual({ w: shown.w, h: shown.h }, { w: handle.latestRecord?.width, h: handle.latestRecord?.height });
    // RTP time = 90 kHz × the source timeline, the clock of the records' `time`: the page can pair them.
    assert.ok(shown.rtp !== null, 'Chromium reports the RTP timestamp of the displayed frame');
    const recTime = handle.latestRecord?.time ?? NaN;
    assert.ok(Math.abs(shown.rtp / 90000 - recTime) < 2, `displayed frame at ${(shown.rtp / 90000).toFixed(2)} s, latest record at ${recTime.toFixed(2)} s`);
    await page.evaluate(`window.player.stop()`);
    await until(() => service.viewerCount('cam0') === 0, 5000, 'the viewer count to drop to 0');
  } finally {
    await browser.close();
  }
});

/** Waits until the session count of a non-DELETE reason went up, and returns which reason. */
function goneReason(before: Record<string, number>): string | undefined {
  return Object.entries(service.sessionsClosed).find(([r, n]) => r !== 'delete' && n > (before[r] ?? 0))?.[0];
}

test('a Chromium tab closed without DELETE: the viewer is dropped within 15 s and the encode stops', async () => {
  // A viewer of an earlier failed test, left without DELETE, is itself dropped within the same bound.
  await until(() => service.viewerCount('cam0') === 0, 15000, 'earlier viewers to be gone');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 15000 });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(`${base}/test.html`);
    await page.evaluate(`(async () => {
      const { playWhep } = await import('/whep.js');
      window.player = await playWhep(document.getElementById('v'), '/whep/cam0');
    })()`);
    await page.waitForFunction(`document.getElementById('v').videoWidth > 0`, undefined, { timeout: 15000 });
    const bc = service.broadcast('cam0', 'server');
    assert.ok(bc instanceof EncodedBroadcast && bc.running && bc.framesOut > 0);
    assert.equal(handle.status().viewers, 1);
    const before = { ...service.sessionsClosed };
    await page.close(); // no DELETE: the tab just goes
    const ms = await until(() => service.viewerCount('cam0') === 0, 15000, 'the closed tab\'s viewer to be dropped');
    console.log(`whep: closed tab dropped after ${ms.toFixed(0)} ms (${goneReason(before)})`);
    assert.ok(goneReason(before), `counted under a lifecycle reason: ${JSON.stringify(service.sessionsClosed)}`);
    assert.equal(handle.status().viewers, 0);
    assert.equal(service.broadcast('cam0', 'server'), undefined, 'no viewers: no broadcast');
    assert.ok(bc.closed && !bc.running, 'the broadcast is closed (its encoder with it)');
    const frames = bc.framesOut;
    await sleep(1000);
    assert.equal(bc.framesOut, frames, 'no frame encoded for nobody');
  } finally {
    await browser.close();
  }
});

test('a werift viewer process SIGKILLed: the viewer is dropped within 15 s (no RTCP/STUN from the peer)', async () => {
  await until(() => service.viewerCount('cam0') === 0, 15000, 'earlier viewers to be gone');
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../helpers/werift-viewer.ts'), `${base}/whep/cam0`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
  const exited = once(child, 'exit');
  try {
    await until(() => /MEDIA \d+/.test(out) || child.exitCode !== null, 20000, `the werift viewer to receive media (stderr: ${err})`);
    assert.match(out, /MEDIA \d+/, `the werift viewer receives video (stderr: ${err})`);
    assert.equal(service.viewerCount('cam0'), 1);
    const bc = service.broadcast('cam0', 'server');
    assert.ok(bc instanceof EncodedBroadcast && bc.running);
    const before = { ...service.sessionsClosed };
    child.kill('SIGKILL');
    await exited;
    const ms = await until(() => service.viewerCount('cam0') === 0, 15000, 'the killed viewer to be dropped');
    console.log(`whep: killed werift viewer dropped after ${ms.toFixed(0)} ms (${goneReason(before)})`);
    assert.ok(goneReason(before), `counted under a lifecycle reason: ${JSON.stringify(service.sessionsClosed)}`);
    assert.ok(bc.closed, 'its broadcast closed with it');
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
});

test('passthrough to a viewer that offers baseline first: packets carry the payload type the answer names (High), and arrive', async () => {
  const ice = { iceServers: [], hostAddresses: ['127.0.0.1'] };
  const h264 = (plid: string): RTCRtpCodecParameters =>
    new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }], parameters: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${plid}` });
  const pc = new RTCPeerConnection({ codecs: { video: [h264('42e01f'), h264('64001f')] }, headerExtensions: { video: [] }, ...icePeerConfig(ice) });
  const pts: number[] = [];
  try {
    const tr = pc.addTransceiver('video', { direction: 'recvonly' });
    tr.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => void pts.push(rtp.header.payloadType)));
    const offer = await pc.createOffer();
    pinStunServer(pc, ice);
    await pc.setLocalDescription(offer);
    const res = await fetch(`${base}/whep/cam0?overlay=client`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription?.sdp ?? '' });
    const answer = await res.text();
    assert.equal(res.status, 201, answer);
    const answered = [...answer.matchAll(/^a=rtpmap:(\d+) H264\/90000/gm)].map((m) => Number(m[1]));
    assert.equal(answered.length, 1, 'one H.264 payload type in the answer');
    assert.match(answer, new RegExp(`a=fmtp:${answered[0]} .*profile-level-id=64`), 'the High payload type (the clip is High profile)');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    // Before the fix werift stamped the offer's first payload type (baseline) on every packet: none arrived.
    await until(() => pts.length >= 20, 15000, 'passthrough packets at the viewer');
    assert.deepEqual([...new Set(pts)], answered, 'every packet carries the answered payload type');
  } finally {
    await pc.close();
  }
});

test('passthrough of a Main-profile camera: the answer names the offer\'s Main payload type (4d…), and Chromium plays it', async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 15000 });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(`${base}/test.html`);
    const answer = await page.evaluate<string>(`(async () => {
      const { playWhep } = await import('/whep.js');
      window.player = await playWhep(document.getElementById('v'), '/whep/cam1?overlay=client');
      return window.player.pc.remoteDescription?.sdp ?? '';
    })()`);
    const plids = [...answer.matchAll(/profile-level-id=([0-9a-f]{6})/gi)].map((m) => m[1]);
    assert.equal(plids.length, 1, `one H.264 payload type: ${plids.join(', ')}`);
    assert.match(plids[0], /^4d/, `Main profile in the answer (${plids[0]})`);
    const bc = service.broadcast('cam1', 'client');
    assert.ok(bc instanceof PassthroughBroadcast);
    await page.waitForFunction(`document.getElementById('v').videoWidth > 0`, undefined, { timeout: 15000 });
    assert.equal(bc.profileLevelId?.slice(0, 2), '4d', 'the camera is Main profile');
    const frameCount = () => page.evaluate<number>(`document.getElementById('v').getVideoPlaybackQuality().totalVideoFrames`);
    const a = await frameCount();
    await sleep(1000);
    const b = await frameCount();
    assert.ok(b > a, `Chromium keeps decoding the Main stream (${a} → ${b} frames)`);
    await page.evaluate(`window.player.stop()`);
    await until(() => service.viewerCount('cam1') === 0, 5000, 'the viewer count to drop to 0');
  } finally {
    await browser.close();
  }
});

test('playout delay: with webrtc.playoutDelayMs 0 every packet to a viewer that offers the extension carries min 0 / max 0 under the offered id, overlay and passthrough; by default (null) none', async () => {
  const ice = { iceServers: [], hostAddresses: ['127.0.0.1'] };
  const codec = new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }], parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f' });
  const watch = async (url: string): Promise<{ answer: string; id: number; seen: { ext: number; delay: string }[]; pc: RTCPeerConnection }> => {
    const pc = new RTCPeerConnection({ codecs: { video: [codec] }, headerExtensions: { video: [new RTCRtpHeaderExtensionParameters({ uri: PLAYOUT_DELAY_URI })] }, ...icePeerConfig(ice) });
    const seen: { ext: number; delay: string }[] = [];
    let id = 0;
    const tr = pc.addTransceiver('video', { direction: 'recvonly' });
    tr.onTrack.subscribe((track) =>
      track.onReceiveRtp.subscribe((rtp) => {
        const e = rtp.header.extensions.find((x) => x.id === id);
        seen.push({ ext: rtp.header.extensions.length, delay: e ? JSON.stringify(decodePlayoutDelay(e.payload)) : 'none' });
      }),
    );
    const offer = await pc.createOffer();
    pinStunServer(pc, ice);
    await pc.setLocalDescription(offer);
    // werift numbers the offer's extensions itself; the answer, and every packet, must use the offer's number.
    id = Number(new RegExp(`^a=extmap:(\\d+) ${PLAYOUT_DELAY_URI.replace(/[./]/g, '\\$&')}\r?$`, 'm').exec(pc.localDescription?.sdp ?? '')?.[1]);
    assert.ok(id >= 1, 'the offer carries the extension');
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription?.sdp ?? '' });
    const answer = await res.text();
    assert.equal(res.status, 201, answer);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    return { answer, id, seen, pc };
  };
  // The default service (playoutDelayMs null): no extension negotiated, none sent.
  const plain = await watch(`${base}/whep/cam0?overlay=server`);
  try {
    assert.ok(!plain.answer.includes(PLAYOUT_DELAY_URI), 'default: the answer has no playout-delay extension');
    await until(() => plain.seen.length >= 30, 15000, 'packets at the viewer (default)');
    assert.deepEqual([...new Set(plain.seen.map((x) => x.delay))], ['none'], 'default: no packet carries it');
  } finally {
    await plain.pc.close();
  }
  const on = new WhepService({ lookup: (id) => (id === 'cam0' ? handle : undefined), webrtc: { iceServers: [], hostAddresses: ['127.0.0.1'], playoutDelayMs: 0 } });
  const app = express();
  app.use(whepRouter(on));
  app.use(errorHandler);
  const srv = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const onBase = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    for (const overlay of ['server', 'client'] as const) {
      const v = await watch(`${onBase}/whep/cam0?overlay=${overlay}`);
      try {
        assert.ok(v.answer.includes(`a=extmap:${v.id} ${PLAYOUT_DELAY_URI}`), `${overlay}: the answer keeps the extension under the offer's id (${v.id})`);
        await until(() => v.seen.length >= 30, 15000, `${overlay}: packets at the viewer`);
        assert.deepEqual([...new Set(v.seen.map((x) => x.delay))], [JSON.stringify({ minMs: 0, maxMs: 0 })], `${overlay}: every packet asks for no playout delay`);
        assert.deepEqual([...new Set(v.seen.map((x) => x.ext))], [1], `${overlay}: and carries no other extension`);
      } finally {
        await v.pc.close();
      }
    }
  } finally {
    await on.close();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});
