/**
 * Live encode cost: what facecast's x264 settings (src/broadcast/encoder.ts LiveEncoder) cost per 720p25 frame on
 * the live benches' camera clip. This is the floor under "CPU per overlay camera".
 *
 *   node --import tsx bench/encode.ts [--frames=600]
 *
 * Each pass decodes the clip (node-av, one thread, synchronous calls) and gives every frame to a LiveEncoder, as
 * the overlay path does; a decode-only pass is subtracted. CPU is the process's (x264 runs on the libuv pool),
 * best of 3 passes. Quality: the same settings through the ffmpeg CLI's libx264, SSIM against the decoded clip.
 * Writes bench/results/encode.json and encode.md.
 */
import '../src/core/polyfill.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AV_LOG_ERROR } from 'node-av/constants';
import { Codec, CodecContext, FFmpegError, FormatContext, Frame, Log, Packet } from 'node-av/lib';
import { LiveEncoder } from '../src/broadcast/encoder.js';
import { cpuModel } from './lib.js';
import { faceClip } from './live-procs.js';

const argv = process.argv.slice(2);
const FRAMES = Number(argv.find((a) => a.startsWith('--frames='))?.split('=')[1] ?? 600);
const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');
const PASSES = 3;
Log.setLevel(AV_LOG_ERROR);

/** Decodes up to FRAMES frames, handing each to `each` (awaited); returns the frame count. */
async function decodeEach(path: string, each?: (f: Frame, i: number) => Promise<void>): Promise<number> {
  const fc = new FormatContext();
  FFmpegError.throwIfError(await fc.openInput(path, null, null), 'open');
  FFmpegError.throwIfError(await fc.findStreamInfo(null), 'stream info');
  const st = fc.streams.find((s) => s.codecpar.width > 0);
  const codec = st && Codec.findDecoder(st.codecpar.codecId);
  if (!st || !codec) throw new Error(`${path}: no video`);
  const cc = new CodecContext();
  cc.allocContext3(codec);
  cc.parametersToContext(st.codecpar);
  cc.threadCount = 1;
  FFmpegError.throwIfError(await cc.open2(codec, null), 'open decoder');
  const pkt = new Packet();
  const fr = new Frame();
  pkt.alloc();
  fr.alloc();
  let n = 0;
  try {
    while (n < FRAMES && fc.readFrameSync(pkt) >= 0) {
      if (pkt.streamIndex === st.index) cc.sendPacketSync(pkt);
      pkt.unref();
      while (n < FRAMES && cc.receiveFrameSync(fr) >= 0) {
        if (each) await each(fr, n);
        n++;
        fr.unref();
      }
    }
  } finally {
    pkt.free();
    fr.free();
    cc.freeContext();
    await fc.closeInput();
  }
  return n;
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

async function bestOf(fn: () => Promise<number>): Promise<{ cpuMs: number; frames: number }> {
  let best = Infinity;
  let frames = 0;
  for (let i = 0; i < PASSES; i++) {
    const c0 = process.cpuUsage();
    frames = await fn();
    best = Math.min(best, cpuMs(process.cpuUsage(c0)));
  }
  return { cpuMs: best, frames };
}

interface Mode { name: string; bitrate?: number; x264: string }

const clip = await faceClip();
const W = 1280;
const H = 720;
const FPS = 25;
const nominal = Math.round(W * H * FPS * 0.1); // LiveEncoder's 0.1 bit per pixel per frame
const kbps = Math.round(nominal / 1000);
const vbv = `vbv-maxrate=${Math.round(kbps * 1.5)}:vbv-bufsize=${kbps}`;
// Only the default is measured through LiveEncoder. Capped CRF 23 was tried as the default: 5.1 ms a frame and
// 1.3 Mb/s here, but in `facecast serve` (overlay drawn, bench/live.ts) it took the same CPU as this and sent
// 3.0 Mb/s instead of 2.4: the moving boxes and labels cost ultrafast's motion search bits.
const MODES: Mode[] = [{ name: `average bitrate ${kbps} kb/s (0.1 bit/pixel), VBV-capped (default)`, bitrate: nominal, x264: `-b:v ${kbps}k -x264opts ${vbv}` }];

const decode = await bestOf(() => decodeEach(clip));
console.log(`decode only: ${(decode.cpuMs / decode.frames).toFixed(2)} ms CPU a frame (${decode.frames} frames)`);

/** SSIM (all planes, dB) and size of the ffmpeg CLI's libx264 with the same settings, or undefined without ffmpeg. */
function quality(mode: Mode): { ssimDb: number; kbps: number } | undefined {
  const out = join(tmpdir(), `facecast-bench-encode-${process.pid}.mp4`);
  try {
    const enc = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-threads', '1', '-i', clip, '-frames:v', String(FRAMES), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-threads', '1', '-g', String(2 * FPS), ...mode.x264.split(' '), out], { encoding: 'utf8' });
    if (enc.status !== 0) return undefined;
    const cmp = spawnSync('ffmpeg', ['-hide_banner', '-i', out, '-i', clip, '-frames:v', String(FRAMES), '-lavfi', '[0:v][1:v]ssim', '-f', 'null', '-'], { encoding: 'utf8' });
    const db = /All:[\d.]+ \(([\d.]+)\)/.exec(cmp.stderr)?.[1];
    const br = /bitrate: (\d+) kb\/s/.exec(spawnSync('ffmpeg', ['-hide_banner', '-i', out], { encoding: 'utf8' }).stderr)?.[1];
    return db && br ? { ssimDb: Number(db), kbps: Number(br) } : undefined;
  } finally {
    rmSync(out, { force: true });
  }
}

const rows = [];
for (const m of MODES) {
  let bytes = 0;
  const r = await bestOf(async () => {
    bytes = 0;
    const enc = await LiveEncoder.open(W, H, { fps: FPS, ...(m.bitrate ? { bitrate: m.bitrate } : {}) });
    try {
      return await decodeEach(clip, async (f, i) => {
        const e = await enc.encodeFrame(f, i / FPS);
        for (const p of e?.payloads ?? []) bytes += p.length;
      });
    } finally {
      enc.close();
    }
  });
  const x264Ms = (r.cpuMs - decode.cpuMs) / r.frames;
  const q = quality(m);
  const row = { mode: m.name, frames: r.frames, x264CpuMsPerFrame: Math.round(x264Ms * 100) / 100, coreShareAt25fps: Math.round(x264Ms * FPS) / 10, kbps: Math.round((bytes * 8 * FPS) / r.frames / 1000), ffmpegSsimDb: q ? Math.round(q.ssimDb * 100) / 100 : undefined, ffmpegKbps: q?.kbps };
  console.log(`${m.name}: x264 ${row.x264CpuMsPerFrame} ms CPU a frame (${row.coreShareAt25fps} % of a core at 25 fps), ${row.kbps} kb/s RTP payload${q ? `; ffmpeg same settings SSIM ${q.ssimDb} dB at ${q.kbps} kb/s` : ''}`);
  rows.push(row);
}

mkdirSync(OUT_DIR, { recursive: true });
const result = { date: new Date().toISOString(), machine: cpuModel(), node: process.version, clip: '1280×720 H.264 25 fps, the live benches\' camera clip (face-api demo photos panned)', frames: decode.frames, decodeCpuMsPerFrame: Math.round((decode.cpuMs / decode.frames) * 100) / 100, rows };
writeFileSync(join(OUT_DIR, 'encode.json'), JSON.stringify(result, null, 2) + '\n');
const md = [
  `# Live encode cost per 720p25 frame (${result.date})`,
  '',
  `Machine: ${result.machine}; Node ${result.node}. Clip: ${result.clip}, first ${result.frames} frames. LiveEncoder as the overlay path runs it: x264 ultrafast, zerolatency, baseline, one thread, IDR every 2 s. CPU = process CPU of decode + encode minus decode only (${result.decodeCpuMsPerFrame} ms a frame), best of ${PASSES} passes. Quality from the ffmpeg CLI's libx264 with the same settings (SSIM of all planes against the clip, dB: higher is better).`,
  '',
  'Command: `node --import tsx bench/encode.ts`',
  '',
  '| rate control | x264 CPU, ms a frame | % of a core at 25 fps | RTP payload kb/s | ffmpeg SSIM dB | ffmpeg kb/s |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.mode} | ${r.x264CpuMsPerFrame} | ${r.coreShareAt25fps} % | ${r.kbps} | ${r.ffmpegSsimDb ?? '–'} | ${r.ffmpegKbps ?? '–'} |`),
  '',
];
writeFileSync(join(OUT_DIR, 'encode.md'), md.join('\n'));
console.log('wrote bench/results/encode.json and encode.md');
