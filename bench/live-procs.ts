/**
 * Processes of the live benches (bench/live.ts, bench/profile-live.ts): the GStreamer RTSP relay, `facecast serve`
 * with a config, and what they are asked over HTTP (stream status, event-loop lag).
 */
import { join, dirname } from 'node:path';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import sharp from 'sharp';
import { makeClip } from '../src/ingest/testmedia.js';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { round, spawnTracked } from './live-lib.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const PY = '/usr/bin/python3';
const RELAY = join(HERE, 'live', 'rtsp_relay.py');

export interface Proc { proc: ChildProcess; out: () => string; err: () => string }

export function track(proc: ChildProcess): Proc {
  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20000)));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-20000)));
  return { proc, out: () => out, err: () => err };
}

/** Polls `fn` every 100 ms until it gives a value; fails at `timeoutMs`, or at once when process `p` has exited. */
export async function waitFor<T>(what: string, timeoutMs: number, fn: () => T | undefined | Promise<T | undefined>, p?: Pick<Proc, 'proc' | 'err'>): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (p && p.proc.exitCode !== null) throw new Error(`${what}: process exited (${p.proc.exitCode}): ${p.err().slice(-1500)}`);
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: timed out after ${timeoutMs} ms${p ? `: ${p.err().slice(-1500)}` : ''}`);
    await sleep(100);
  }
}

export async function startRelay(args: string[]): Promise<Proc & { port: number }> {
  const p = track(spawnTracked(PY, [RELAY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const port = await waitFor('RTSP relay', 15_000, () => {
    const m = /READY (\d+)/.exec(p.out());
    return m ? Number(m[1]) : undefined;
  }, p);
  return { ...p, port };
}

export interface Serve extends Proc { base: string; pid: number }

/** `facecast serve` from src/ with `yaml` as its config; `nodeArgs` go before the script (e.g. --cpu-prof). */
export async function startServe(yaml: string, dir: string, nodeArgs: string[] = []): Promise<Serve> {
  const cfg = join(dir, `facecast-${Date.now()}.yaml`);
  writeFileSync(cfg, yaml);
  const prof = process.env.LIVE_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LIVE_CPU_PROF}`] : [];
  const p = track(spawnTracked(process.execPath, [...prof, ...nodeArgs, '--import', 'tsx', 'src/cli.ts', 'serve', '--config', cfg], { cwd: ROOT, env: { ...process.env, FACECAST_LOG: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] }));
  const base = await waitFor('facecast serve', 90_000, () => /serving (http:\/\/127\.0\.0\.1:\d+)\//.exec(p.err())?.[1], p);
  await waitFor('facecast /readyz', 90_000, async () => ((await fetch(`${base}/readyz`).catch(() => undefined))?.ok ? true : undefined), p);
  return { ...p, base, pid: p.proc.pid ?? 0 };
}

export const CONFIG_HEAD = 'server: { host: 127.0.0.1, port: 0 }\nwebrtc: { hostAddresses: [127.0.0.1] }\ndemo: { enabled: false }\n' + 'security: { sources: { allowLoopback: true } }\n'; // the bench's cameras are on 127.0.0.1

export interface StreamStatus { state: string; inputFps: number; analysedFps: number; outputFps: number; videoFramesDropped: number; latencyMs: number; processingMs?: number; ingestLagMs?: number; framesSkipped?: number; viewers: number; faces: number; framesReceived: number; framesAnalysed: number; framesDropped: number; lastError?: string }

export async function status(base: string, id: string): Promise<StreamStatus | undefined> {
  const r = await fetch(`${base}/api/streams/${id}`).catch(() => undefined);
  if (!r?.ok) return undefined;
  return ((await r.json()) as { status: StreamStatus }).status;
}

/**
 * Event-loop lag of facecast serve over a window, from prom-client's `nodejs_eventloop_lag_*` (sampled every 1 ms,
 * src/metrics/README.md): each scrape resets the histogram, so scrape once at the window's start, once at its end.
 */
export async function eventLoopLag(base: string): Promise<{ p99Ms: number; maxMs: number } | undefined> {
  const r = await fetch(`${base}/metrics`).catch(() => undefined);
  if (!r?.ok) return undefined;
  const text = await r.text();
  const read = (name: string): number => Number(new RegExp(`^${name} ([0-9.eE+-]+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99Ms: round(read('nodejs_eventloop_lag_p99_seconds'), 1), maxMs: round(read('nodejs_eventloop_lag_max_seconds'), 1) };
}

export async function waitStreaming(s: Serve, id: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`stream ${id} streaming`, timeoutMs, async () => {
    const st = await status(s.base, id);
    return st?.state === 'streaming' && st.framesReceived > 0 ? true : undefined;
  }, s);
}

export const CLIP_FPS = 25;

/** The live benches' camera clip (720p25, 24 s, the face-api demo photos panned), made once in the OS temp dir. */
export async function faceClip(): Promise<string> {
  const W = 1280;
  const H = 720;
  const seconds = 24;
  const path = join(tmpdir(), `facecast-bench-live-720p25-${seconds}s-gop50.mp4`);
  if (existsSync(path)) return path;
  const demo = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo');
  const photos = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => sharp(join(demo, `sample${n}.jpg`)).resize(Math.round(W * 1.25)).removeAlpha().raw().toBuffer({ resolveWithObject: true })));
  const tmp = `${path}.${process.pid}.mp4`;
  // A camera-like stream: 25 fps, IDR every 2 s, no B-frames (WebRTC cannot carry them), x264 High profile.
  await makeClip(tmp, {
    width: W, height: H, fps: CLIP_FPS, seconds, gop: 2 * CLIP_FPS, bframes: 0, crf: 23,
    frame: (i, rgb) => {
      const p = photos[Math.floor(i / (4 * CLIP_FPS)) % photos.length];
      const k = (i % (4 * CLIP_FPS)) / (4 * CLIP_FPS);
      const ox = Math.round(k * (p.info.width - W));
      const oy = Math.max(0, Math.round((p.info.height - H) / 3));
      for (let y = 0; y < H; y++) rgb.set(p.data.subarray(((y + oy) * p.info.width + ox) * 3, ((y + oy) * p.info.width + ox + W) * 3), y * W * 3);
    },
  });
  renameSync(tmp, path);
  return path;
}
