/**
 * Video decode benchmark: what `facecast analyze` pays to turn an H.264 file into RGB frames.
 *
 *   node --import tsx bench/decode.ts [--quick] [--file=VIDEO.mp4] [--no-wait]
 *
 * Makes (once, cached in the OS temp dir) 10 s 720p25 H.264 clips with src/ingest/testmedia.ts (a textured
 * pan with moving blocks, ~4 Mb/s; GOP 2 s and GOP 1 s), or takes --file, and times whole passes over the file:
 * decode only (node-av, 1 thread and auto threads), decode + node-av's Scaler.toBufferSync to RGB, VideoSource
 * delivering every frame, and VideoSource sampling at 1 and 0.5 fps (exact and key-frame-only modes), plus the
 * decoder's own skip_frame=nokey for comparison and, if installed, `ffmpeg -benchmark -f null`.
 * Writes bench/results/decode.json and decode.md (a --quick run writes decode.partial.*).
 */
import '../src/core/polyfill.js';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AV_LOG_ERROR } from 'node-av/constants';
import { Log } from 'node-av/lib';
import { fillRect, makeClip } from '../src/ingest/testmedia.js';
import { ffmpegCli, rawDecode, type Pass } from './video-lib.js';
import { VideoSource } from '../src/ingest/video.js';
import { cpuModel, measure, pkgVersion, totalWaited, type Guard, type Plan } from './lib.js';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const FILE = args.find((a) => a.startsWith('--file='))?.slice('--file='.length);
const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');
const PLAN: Plan = QUICK ? { warmup: 0, warmupMs: 0, budgetMs: 0, minIters: 1, maxIters: 1 } : { warmup: 1, warmupMs: 0, budgetMs: 4000, minIters: 3, maxIters: 7 };
const GUARD: Guard | null = args.includes('--no-wait') ? null : { maxForeign: 0.15, maxWaitMs: QUICK ? 3000 : 30_000, maxRetries: QUICK ? 0 : 2, totalWaitMs: QUICK ? 10_000 : 180_000 };
Log.setLevel(AV_LOG_ERROR);

/** A 720p25 clip that costs a decoder roughly what camera footage does: detail everywhere, all of it moving. */
async function clip(gop: number): Promise<string> {
  const W = 1280, H = 720, FPS = 25;
  const path = join(tmpdir(), `facecast-bench-720p25-gop${gop}.mp4`);
  if (existsSync(path)) return path;
  const TW = W * 2;
  const tex = new Uint8Array(TW * H * 3);
  let a = 1;
  for (let y = 0; y < H; y++) for (let x = 0; x < TW; x++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    const n = (a >>> 24) & 63, o = (y * TW + x) * 3;
    tex[o] = (Math.sin(x / 37) * 60 + 100 + n) & 255;
    tex[o + 1] = (Math.cos(y / 23) * 60 + 100 + n) & 255;
    tex[o + 2] = ((x + y) / 8 + n) & 255;
  }
  const tmp = `${path}.${process.pid}.mp4`;
  await makeClip(tmp, { width: W, height: H, fps: FPS, seconds: 10, gop, crf: 23, frame: (i, rgb) => {
    const off = (i * 3) % (TW - W);
    for (let y = 0; y < H; y++) rgb.set(tex.subarray((y * TW + off) * 3, (y * TW + off + W) * 3), y * W * 3);
    for (let k = 0; k < 5; k++) fillRect(rgb, W, (i * (5 + k * 3) + k * 200) % W, 100 + k * 110, 120, 90, [k * 50, 255 - k * 40, 128]);
  } });
  renameSync(tmp, path);
  return path;
}

async function source(path: string, fps?: number, sampling?: 'exact'): Promise<Pass> {
  await using src = await VideoSource.open(path, { fps, sampling });
  for await (const _ of src.frames()); // only the decoding counts
  return { decoded: src.stats.decoded, delivered: src.stats.delivered };
}

interface Row { name: string; file: string; wallMsP50: number; wallMsMin: number; runs: number; decoded: number; delivered: number; decodedFps: number; sourceSecPerSec: number; foreignCpu: number }

async function timed(name: string, file: string, durationSec: number, fn: () => Promise<Pass>): Promise<Row> {
  let last: Pass = { decoded: 0, delivered: 0 };
  const s = await measure(async () => { last = await fn(); }, 1, PLAN, GUARD);
  const row: Row = {
    name, file, wallMsP50: Math.round(s.p50Ms), wallMsMin: Math.round(s.minMs), runs: s.iters, decoded: last.decoded, delivered: last.delivered,
    decodedFps: Math.round(last.decoded / (s.p50Ms / 1000)), sourceSecPerSec: Math.round((durationSec / (s.p50Ms / 1000)) * 10) / 10, foreignCpu: s.foreignCpu,
  };
  console.log(`  ${name.padEnd(48)} ${String(row.wallMsP50).padStart(6)} ms  ${String(row.decodedFps).padStart(5)} decoded fps  ${String(row.sourceSecPerSec).padStart(6)} s/s  (${row.decoded} decoded, ${row.delivered} delivered)`);
  return row;
}


const gop50 = FILE ?? (await clip(50));
const gop25 = FILE ? undefined : await clip(25);
const probe = await VideoSource.open(gop50);
const dur = probe.durationSec ?? 10;
const geometry = `${probe.sourceWidth}x${probe.sourceHeight} ${probe.codec} ${probe.fps ?? '?'} fps, ${dur.toFixed(1)} s`;
await probe.close();
console.log(`decode bench: ${geometry}; ${availableParallelism()} cores (${cpuModel()})`);

const rows: Row[] = [];
const f50 = FILE ? 'input' : 'gop 2 s';
rows.push(await timed('decode only, 1 thread', f50, dur, () => rawDecode(gop50, 1, {})));
rows.push(await timed('decode only, auto threads', f50, dur, () => rawDecode(gop50, 0, {})));
rows.push(await timed('decode + Scaler.toBufferSync (rgb)', f50, dur, () => rawDecode(gop50, 0, { scaler: true })));
rows.push(await timed('VideoSource, every frame to RGB', f50, dur, () => source(gop50)));
rows.push(await timed('VideoSource --fps 1 (exact: decode all)', f50, dur, () => source(gop50, 1)));
rows.push(await timed('VideoSource --fps 0.5 (key frames only)', f50, dur, () => source(gop50, 0.5)));
if (gop25) {
  rows.push(await timed('VideoSource --fps 1, sampling exact', 'gop 1 s', dur, () => source(gop25, 1, 'exact')));
  rows.push(await timed('VideoSource --fps 1 (key frames only)', 'gop 1 s', dur, () => source(gop25, 1)));
  rows.push(await timed('decoder skip_frame=nokey (no conversion)', 'gop 1 s', dur, () => rawDecode(gop25, 0, { skipNonKey: true })));
}
const cli = { auto: ffmpegCli(gop50, 'auto', QUICK ? 1 : 3), oneThread: ffmpegCli(gop50, 1, QUICK ? 1 : 3) };
console.log(cli.auto ? `  ffmpeg ${cli.auto.version} CLI -f null: ${cli.auto.fps} fps (auto threads), ${cli.oneThread?.fps ?? '?'} fps (1 thread)` : '  ffmpeg CLI: not installed (apt-get install ffmpeg to compare)');

const result = {
  date: new Date().toISOString(), quick: QUICK, machine: { cpu: cpuModel(), cores: availableParallelism(), node: process.version, nodeAv: pkgVersion('node-av') },
  input: FILE ?? 'testmedia 720p25 10 s, crf 23 (~4 Mb/s), GOP 2 s and 1 s', geometry, rows, ffmpegCli: cli.auto ? cli : 'not installed', waitedMs: totalWaited(),
};
mkdirSync(OUT_DIR, { recursive: true });
const base = join(OUT_DIR, QUICK ? 'decode.partial' : 'decode');
writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
const md = [
  `# Video decode: node-av ${result.machine.nodeAv} (${result.date})`, '',
  `Machine: ${result.machine.cpu}, ${result.machine.cores} cores; Node ${process.version}. Input: ${result.input}; ${geometry}.`,
  `Median of ${QUICK ? '1 (quick)' : '3–7'} whole passes over the file. "decoded fps" = frames decoded per wall second; "s/s" = source seconds processed per wall second.`, '',
  '| what | file | wall ms | decoded fps | s/s | decoded | delivered |', '|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name}${r.foreignCpu >= 0.15 ? ' ⚠' : ''} | ${r.file} | ${r.wallMsP50} | ${r.decodedFps} | ${r.sourceSecPerSec} | ${r.decoded} | ${r.delivered} |`),
  '', cli.auto ? `ffmpeg ${cli.auto.version} CLI (\`ffmpeg -benchmark -i FILE -f null -\`, gop 2 s file, best of runs): ${cli.auto.fps} fps with auto threads, ${cli.oneThread?.fps ?? '?'} fps with -threads 1.` : 'ffmpeg CLI: not installed, no comparison.',
  '', '⚠ = other processes used ≥0.15 CPU cores during the measurement.', '',
];
writeFileSync(`${base}.md`, md.join('\n'));
console.log(`wrote ${base}.json, ${base}.md`);
