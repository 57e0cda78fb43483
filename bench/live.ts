/**
 * Live-server bench (issue 4): camera-to-display latency, CPU per camera and camera capacity of `facecast serve`,
 * for the server-side overlay (re-encoded) and for passthrough (the camera's H.264 forwarded). Loopback only.
 *
 *   node --import tsx bench/live.ts [--quick] [--max-cameras=16] [--window=20] [--only=latency|capacity] [--from=N]
 *   npm run bench -- live                       (opt-in: `npm run bench` alone does not run it)
 *
 * Latency: bench/live/source.ts renders 1280×720 frames of real group photos with Date.now() as a barcode in a
 * bottom strip (below where faces, labels and the group panel are drawn), encodes them with LiveEncoder (x264
 * zerolatency) at 25 fps and sends RTP to bench/live/rtsp_relay.py (GStreamer RTSP server) → facecast serve
 * (one stream) → WHEP → headless Chromium, where a page reads the barcode of every presented frame
 * (requestVideoFrameCallback) and records display time − stamp (one machine, one clock).
 * Capacity: a 720p25 clip of the same photos (made once, cached in the OS temp dir) looped by rtsp_relay.py as
 * N mounts; N streams added one by one over the REST API, one werift WHEP receiver (bench/live/whep-receiver.ts,
 * no decoding) per stream; each step is measured for `--window` seconds.
 * Writes bench/results/live.json and live.md (a --quick run or a partial one: live.partial.*).
 */
import '../src/core/polyfill.js';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';
import { cpuModel } from './lib.js';
import { CODE, CpuWindow, DECODE_JS, waitQuiet, cpuSeconds, cpuSecondsByName, dist, freeUdpPort, killAllChildren, round, spawnTracked, stopChild, type Dist } from './live-lib.js';
import { CONFIG_HEAD, eventLoopLag, faceClip, startRelay, startServe, status, track, waitFor, waitStreaming, type Proc, type Serve, type StreamStatus } from './live-procs.js';
import { WhepReceiver, delivery } from './live/whep-receiver.js';
import { DEFAULT_PLAYOUT_DELAY_MS } from '../src/broadcast/webrtc/playout-delay.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const RESULTS = join(HERE, 'results');
const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const QUICK = argv.includes('--quick');
/** webrtc.playoutDelayMs of the server under test: the environment's FACECAST_PLAYOUT_DELAY_MS, else the default. */
const PLAYOUT_DELAY = process.env.FACECAST_PLAYOUT_DELAY_MS ?? `default (${String(DEFAULT_PLAYOUT_DELAY_MS)})`;
const ONLY = opt('only');
const FPS = 25;
const WINDOW_SEC = Number(opt('window') ?? (QUICK ? 5 : 20));
const WARMUP_SEC = QUICK ? 3 : 6;
const MAX_CAMERAS = Number(opt('max-cameras') ?? (QUICK ? 3 : 16));
/** Analysis rate cap per camera (the stream config's `fps`); default: every frame. Video is sent at 25 fps either way. */
const ANALYSIS_FPS = opt('analysis-fps') ? Number(opt('analysis-fps')) : undefined;
/** Only this output mode in the capacity phase. */
const ONLY_MODE = opt('mode');
/** Capacity: add cameras from 1 but measure only from this count on (a quick look at one step; the summary then counts from it). */
const FROM_CAMERAS = Number(opt('from') ?? 1);
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'];
/** Real time: at least this many frames per second delivered to every viewer, and fewer than 1 % dropped. */
const MIN_FPS = 24;
const MAX_DROP_PCT = 1;
/** Analysis keeps up when every stream analyses at least this share of its rate (the requested fps, else every frame). */
const MIN_ANALYSED_SHARE = 0.8;

type Mode = 'overlay' | 'passthrough';
const MODES: { mode: Mode; query: string; label: string }[] = [
  { mode: 'overlay', query: '', label: 'overlay (server-burnt, re-encoded)' },
  { mode: 'passthrough', query: '?overlay=client', label: 'passthrough (camera H.264, client overlay)' },
];

const log = (s: string): void => console.log(`[live ${new Date().toISOString().slice(11, 19)}] ${s}`);

// ---------------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------------

interface SourceStats { sent: number; skipped: number; encodeMs: { n: number; mean: number; p50: number; p95: number } }

async function startSource(udpPort: number): Promise<Proc & { stats: () => SourceStats | undefined }> {
  const p = track(spawnTracked(process.execPath, ['--import', 'tsx', join(HERE, 'live', 'source.ts'), `--udp=${udpPort}`, `--fps=${FPS}`, '--max-seconds=3600'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  const stats = (): SourceStats | undefined => {
    const lines = p.out().trim().split('\n').filter((l) => l.startsWith('{'));
    return lines.length ? (JSON.parse(lines[lines.length - 1]) as SourceStats) : undefined;
  };
  await waitFor('stamped source', 30_000, () => ((stats()?.sent ?? 0) > 0 ? true : undefined), p);
  return { ...p, stats };
}

const streamYaml = (id: string, source: string, mode: Mode): string => `  - id: ${id}\n    source: ${source}\n    output: { mode: ${mode} }\n`;

// ---------------------------------------------------------------------------------------------------------
// Latency: stamped source → RTSP → facecast → WHEP → Chromium
// ---------------------------------------------------------------------------------------------------------

const PAGE = `<!doctype html><html><body style="margin:0;background:#000">
<video id="v" muted playsinline autoplay style="width:640px;height:360px"></video>
<script type="module">
import { playWhep } from '/whep.js';
${DECODE_JS}
const B = (window.__bench = { samples: [], callbacks: 0, bad: 0, error: null, width: 0, height: 0 });
const v = document.getElementById('v');
const c = document.createElement('canvas');
c.width = CODE.width; c.height = CODE.blockH;
const g = c.getContext('2d', { willReadFrequently: true });
const onFrame = (_now, md) => {
  const t = Date.now();
  B.callbacks++;
  if (v.videoWidth > 0) {
    B.width = v.videoWidth; B.height = v.videoHeight;
    const k = v.videoHeight / CODE.height;
    g.drawImage(v, 0, CODE.y0 * k, v.videoWidth, CODE.blockH * k, 0, 0, CODE.width, CODE.blockH);
    const d = g.getImageData(0, 0, CODE.width, CODE.blockH).data;
    const luma = (x, y) => { const i = (Math.round(y - CODE.y0) * CODE.width + Math.round(x)) * 4; return 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]; };
    const stamp = decodeStamp(luma, t);
    const o = performance.timeOrigin;
    if (stamp < 0) { B.bad++; if ((B.badImgs ??= []).length < 3) B.badImgs.push(c.toDataURL()); }
    else B.samples.push([stamp, t, o + md.expectedDisplayTime, md.receiveTime !== undefined ? o + md.receiveTime : -1, md.processingDuration ?? -1]);
  }
  v.requestVideoFrameCallback(onFrame);
};
v.requestVideoFrameCallback(onFrame);
try { B.session = await playWhep(v, new URLSearchParams(location.search).get('whep')); } catch (e) { B.error = String(e && e.message || e); }
</script></body></html>`;

interface LatencyRow {
  mode: Mode; label: string; available: boolean; note?: string;
  /** Date.now() at the rVFC callback − stamp, ms. */
  toCallbackMs?: Dist | null;
  /** expectedDisplayTime − stamp, ms: the headline figure. */
  toDisplayMs?: Dist | null;
  /** receiveTime (last RTP packet of the frame reached Chromium) − stamp, ms. */
  toReceiveMs?: Dist | null;
  /** expectedDisplayTime − receiveTime: Chromium's jitter buffer + decode + render, ms. */
  receiveToDisplayMs?: Dist | null;
  /** Chromium's decode time (processingDuration), ms. */
  decodeMs?: Dist | null;
  displayedFps?: number; undecodable?: number; videoSize?: string;
  /** Server's own capture→analysed latency (RTSP frame delivered by ingest → analysis done), EWMA, ms. */
  serverIngestToAnalysedMs?: number;
  serverStatus?: StreamStatus;
  /** Cores used over the window, per process tree. */
  cpu?: { cores: Record<string, number>; machine: number; foreign: number; wallSec: number };
  /** Share of the frames displayed in the window whose barcode could not be read (corrupt or smeared pictures). */
  unreadablePct?: number;
  cameraEncodeMs?: SourceStats['encodeMs'];
  /** Chromium's inbound-rtp video stats over the window (differences): packetsLost, nackCount, pliCount, … */
  chromiumInbound?: Record<string, number>;
}

async function latencyRun(m: (typeof MODES)[number], rtsp: string, dir: string, source: Awaited<ReturnType<typeof startSource>>, relay: Proc): Promise<LatencyRow> {
  const row: LatencyRow = { mode: m.mode, label: m.label, available: false };
  let serve: Serve | undefined;
  let browser: Browser | undefined;
  try {
    serve = await startServe(CONFIG_HEAD + 'streams:\n' + streamYaml('cam', rtsp, m.mode), dir);
    await waitStreaming(serve, 'cam');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 700, height: 400 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const pageUrl = `${serve.base}/__bench/live.html`;
    await page.route(pageUrl + '*', (r) => r.fulfill({ status: 200, contentType: 'text/html', body: PAGE }));
    await page.goto(`${pageUrl}?whep=${encodeURIComponent(`/whep/cam${m.query}`)}`);
    const rtcStats = (): Promise<Record<string, number> | null> =>
      page.evaluate(`(async () => {
        const pc = window.__bench && window.__bench.session && window.__bench.session.pc;
        if (!pc) return null;
        const out = {};
        (await pc.getStats()).forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video') for (const k of ['packetsReceived', 'packetsLost', 'nackCount', 'pliCount', 'firCount', 'framesReceived', 'framesDecoded', 'framesDropped', 'keyFramesDecoded', 'freezeCount', 'jitterBufferDelay', 'jitterBufferEmittedCount', 'totalDecodeTime', 'bytesReceived']) out[k] = r[k];
        });
        return out;
      })()`) as Promise<Record<string, number> | null>;
    type B = { samples: number[][]; callbacks: number; bad: number; error: string | null; width: number; height: number };
    const bench = (): Promise<B> => page.evaluate('(() => { const b = window.__bench; return b ? { samples: b.samples, callbacks: b.callbacks, bad: b.bad, error: b.error, width: b.width, height: b.height } : null; })()') as Promise<B>;
    await waitFor('first decoded frame in Chromium', 30_000, async () => {
      const b = await bench();
      if (b?.error) throw new Error(`Chromium WHEP: ${b.error}`);
      if (errors.length) throw new Error(`page error: ${errors.join('; ')}`);
      return b && b.samples.length > 0 ? true : undefined;
    }, serve);
    log(`  ${m.mode}: playing in Chromium; warm-up ${WARMUP_SEC} s, then ${WINDOW_SEC} s`);
    await sleep(WARMUP_SEC * 1000);
    await waitQuiet();
    const srv = serve;
    const cpu = new CpuWindow({
      server: () => cpuSeconds(srv.pid),
      chromium: () => cpuSecondsByName(process.pid, /chrom/i),
      camera: () => cpuSeconds(source.proc.pid ?? 0),
      rtspRelay: () => cpuSeconds(relay.proc.pid ?? 0),
      bench: () => cpuSeconds(process.pid, false),
    });
    const before = await bench();
    const rtc0 = await rtcStats();
    const tStart = Date.now();
    cpu.start();
    await sleep(WINDOW_SEC * 1000);
    row.cpu = cpu.stop();
    const tEnd = Date.now();
    const after = await bench();
    const rtc1 = await rtcStats();
    if (rtc0 && rtc1) row.chromiumInbound = Object.fromEntries(Object.keys(rtc1).map((k) => [k, round((rtc1[k] ?? 0) - (rtc0[k] ?? 0), 3)]));
    row.serverStatus = await status(serve.base, 'cam');
    row.serverIngestToAnalysedMs = round(row.serverStatus?.processingMs ?? row.serverStatus?.latencyMs ?? 0); // latencyMs now starts at the camera
    row.cameraEncodeMs = source.stats()?.encodeMs;
    const inWindow = after.samples.filter((s) => s[1] >= tStart && s[1] <= tEnd);
    // A barcode misread can still pass its check now and then and give a stamp hours away (a mean of 12 485 446 ms
    // in live-latency-playout0-2.md): a stamp can only be from the 10 s before its callback; others are unreadable.
    const win = inWindow.filter((s) => s[0] <= s[1] && s[0] > s[1] - 10_000);
    row.toCallbackMs = dist(win.map((s) => s[1] - s[0]));
    row.toDisplayMs = dist(win.map((s) => s[2] - s[0]));
    const rx = win.filter((s) => s[3] > 0);
    row.toReceiveMs = dist(rx.map((s) => s[3] - s[0]));
    row.receiveToDisplayMs = dist(rx.map((s) => s[2] - s[3]));
    row.decodeMs = dist(win.filter((s) => s[4] >= 0).map((s) => s[4] * 1000));
    row.displayedFps = round(new Set(win.map((s) => s[0])).size / ((tEnd - tStart) / 1000));
    row.undecodable = after.bad - before.bad + (inWindow.length - win.length);
    row.unreadablePct = round((100 * row.undecodable) / Math.max(1, row.undecodable + win.length), 1);
    row.videoSize = `${after.width}x${after.height}`;
    if (process.env.LIVE_DEBUG) {
      const imgs = (await page.evaluate('window.__bench.badImgs || []')) as string[];
      imgs.forEach((u, i) => writeFileSync(`/tmp/live-bad-${m.mode}-${i}.png`, Buffer.from(u.split(',')[1], 'base64')));
      await page.screenshot({ path: `/tmp/live-page-${m.mode}.png` });
    }
    row.available = win.length > 0;
    if (!row.available) row.note = 'no decodable frame in the window';
  } catch (e) {
    row.note = `not available: ${e instanceof Error ? e.message.split('\n')[0].slice(0, 300) : String(e)}`;
  } finally {
    await browser?.close().catch(() => {});
    await stopChild(serve?.proc, 15_000);
  }
  return row;
}

// ---------------------------------------------------------------------------------------------------------
// Capacity: N looped 720p25 cameras, one werift viewer each
// ---------------------------------------------------------------------------------------------------------

interface CapacityStep {
  cameras: number;
  deliveredFps: { min: number; mean: number };
  dropPct: { max: number; mean: number };
  /** RTP payload bitrate a viewer received, kb/s (mean over the viewers). */
  viewerKbps?: number;
  analysedFps: { min: number; mean: number };
  inputFps: { min: number; mean: number };
  /** framesDropped reported by the server (ingest mailbox and later stages) over the window, all streams. */
  serverDroppedFrames: number;
  serverCpuCores: number;
  serverCpuPerCamera: number;
  /** facecast's event-loop lag over the window (ms), when /metrics answered. */
  eventLoopLag?: { p99Ms: number; maxMs: number };
  machineCpuCores: number;
  /** Cores used by processes outside this bench during the window (⚠ when ≥ 0.25). */
  foreignCpuCores: number;
  viewersCpuCores: number;
  relayCpuCores: number;
  /** profile_idc of the SPS the viewers received (66: the server's baseline re-encode, 100: the camera's High). */
  receivedProfiles: number[];
  /** Video in real time (viewers). */
  pass: boolean;
  /** Every stream analysed ≥ MIN_ANALYSED_SHARE of its analysis rate. */
  analysisKeepsUp: boolean;
}

interface CapacityResult {
  mode: Mode;
  label: string;
  available: boolean;
  note?: string;
  steps: CapacityStep[];
  /** Largest N with video in real time. */
  maxCameras: number | null;
  /** Largest N with video in real time and analysis keeping up (every step up to it). */
  maxCamerasAnalysed?: number | null;
  forwarded?: boolean;
}

async function capacityRun(m: (typeof MODES)[number], clip: string, dir: string, stopAtFirstStep = false): Promise<CapacityResult> {
  const res: CapacityResult = { mode: m.mode, label: m.label, available: false, steps: [], maxCameras: null };
  const max = stopAtFirstStep ? 1 : MAX_CAMERAS;
  let relay: (Proc & { port: number }) | undefined;
  let serve: Serve | undefined;
  const viewers: WhepReceiver[] = [];
  try {
    relay = await startRelay(['clip', clip, String(max)]);
    serve = await startServe(CONFIG_HEAD + 'streams: []\n', dir);
    let best = 0;
    let bestAnalysed = 0;
    for (let n = 1; n <= max; n++) {
      const id = `cam${n - 1}`;
      const add = await fetch(`${serve.base}/api/streams`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id, source: `rtsp://127.0.0.1:${relay.port}/live${n - 1}`, output: { mode: m.mode }, ...(ANALYSIS_FPS ? { fps: ANALYSIS_FPS } : {}) }) });
      if (add.status !== 201) throw new Error(`POST /api/streams: ${add.status} ${(await add.text()).slice(0, 300)}`);
      await waitStreaming(serve, id);
      const v = await WhepReceiver.open(`${serve.base}/whep/${id}${m.query}`);
      viewers.push(v);
      await waitFor(`first frame at viewer ${id}`, 20_000, () => (v.frames > 0 ? true : undefined), serve);
      if (n < FROM_CAMERAS) continue;
      await sleep(WARMUP_SEC * 1000);
      await waitQuiet();
      const srv = serve;
      const rel = relay;
      const cpu = new CpuWindow({ server: () => cpuSeconds(srv.pid), relay: () => cpuSeconds(rel.proc.pid ?? 0), bench: () => cpuSeconds(process.pid, false) });
      const st0 = await Promise.all(viewers.map((_, i) => status(srv.base, `cam${i}`)));
      const marks0 = viewers.map((x) => x.mark());
      await eventLoopLag(srv.base); // resets the lag histogram: the next scrape covers the window
      cpu.start();
      const w0 = performance.now();
      await sleep(WINDOW_SEC * 1000);
      const marks1 = viewers.map((x) => x.mark());
      const c = cpu.stop();
      const lag = await eventLoopLag(srv.base);
      const st1 = await Promise.all(viewers.map((_, i) => status(srv.base, `cam${i}`)));
      const d = viewers.map((_, i) => delivery(marks0[i], marks1[i], FPS));
      const fps = d.map((x) => x.fps);
      const drop = d.map((x) => x.dropPct);
      // Over the whole window from the counters: the status' analysedFps / inputFps cover only the last second.
      const windowSec = (performance.now() - w0) / 1000;
      const rate = (key: 'framesAnalysed' | 'framesReceived'): number[] => st1.map((s, i) => ((s?.[key] ?? 0) - (st0[i]?.[key] ?? 0)) / windowSec);
      const analysed = rate('framesAnalysed');
      const input = rate('framesReceived');
      const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
      const step: CapacityStep = {
        cameras: n,
        deliveredFps: { min: round(Math.min(...fps)), mean: round(mean(fps)) },
        dropPct: { max: round(Math.max(...drop), 2), mean: round(mean(drop), 2) },
        viewerKbps: Math.round(mean(d.map((x) => x.kbps))),
        analysedFps: { min: round(Math.min(...analysed)), mean: round(mean(analysed)) },
        inputFps: { min: round(Math.min(...input)), mean: round(mean(input)) },
        serverDroppedFrames: st1.reduce((a, s, i) => a + (s?.framesDropped ?? 0) - (st0[i]?.framesDropped ?? 0), 0),
        serverCpuCores: c.cores.server,
        serverCpuPerCamera: round(c.cores.server / n, 3),
        ...(lag ? { eventLoopLag: lag } : {}),
        machineCpuCores: c.machine,
        foreignCpuCores: c.foreign,
        viewersCpuCores: c.cores.bench,
        relayCpuCores: c.cores.relay,
        receivedProfiles: [...new Set(viewers.map((x) => x.profile ?? 0))],
        pass: Math.min(...fps) >= MIN_FPS && Math.max(...drop) < MAX_DROP_PCT,
        analysisKeepsUp: Math.min(...analysed) >= MIN_ANALYSED_SHARE * (ANALYSIS_FPS ?? FPS),
      };
      res.steps.push(step);
      res.available = true;
      log(`  ${m.mode} N=${n}: delivered ${step.deliveredFps.min}/${step.deliveredFps.mean} fps (min/mean), drop ≤ ${step.dropPct.max} %, ${step.viewerKbps} kb/s a viewer, analysed ${step.analysedFps.mean} fps, server ${round(step.serverCpuCores * 100, 0)} % CPU, machine ${round(step.machineCpuCores * 100, 0)} %, SPS profile ${step.receivedProfiles.join(',')} → ${step.pass ? 'pass' : 'FAIL'}${step.analysisKeepsUp ? '' : ' (analysis behind)'}`);
      if (!step.pass) break;
      best = n;
      if (step.analysisKeepsUp && (bestAnalysed === n - 1 || n === FROM_CAMERAS)) bestAnalysed = n;
    }
    res.maxCameras = best;
    res.maxCamerasAnalysed = bestAnalysed;
    res.forwarded = res.steps.length > 0 && res.steps[0].receivedProfiles.every((p) => p === 100);
  } catch (e) {
    res.note = `not available: ${e instanceof Error ? e.message.split('\n')[0].slice(0, 300) : String(e)}`;
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
    await stopChild(serve?.proc, 15_000);
    await stopChild(relay?.proc);
  }
  return res;
}

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------

/** Whether the server under test forwards the camera's H.264 in passthrough mode: a 1-camera probe with the
 *  High-profile clip; the server's own encoder is baseline, so a High SPS at the viewer means forwarded. */
async function passthroughProbe(clip: string, dir: string): Promise<{ forwarded: boolean; note?: string }> {
  const m = MODES.find((x) => x.mode === 'passthrough')!;
  const r = await capacityRun(m, clip, dir, true);
  if (!r.available) return { forwarded: false, note: r.note };
  if (!r.forwarded) return { forwarded: false, note: `not available: with output.mode passthrough the viewer got SPS profile ${r.steps[0]?.receivedProfiles.join(',')} (the server's baseline re-encode), not the camera's High profile` };
  return { forwarded: true };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fc-bench-live-'));
  const latency: LatencyRow[] = [];
  const capacity: CapacityResult[] = [];
  let cameraEncode: SourceStats['encodeMs'] | undefined;
  const started = new Date().toISOString();
  try {
    log(`window ${WINDOW_SEC} s, warm-up ${WARMUP_SEC} s, up to ${MAX_CAMERAS} cameras${QUICK ? ' (quick)' : ''}`);
    const clip = await faceClip();
    const probe = await passthroughProbe(clip, dir);
    log(`passthrough: ${probe.forwarded ? 'the server forwards the camera H.264' : probe.note ?? 'not available'}`);
    const modes = MODES.filter((m) => m.mode === 'overlay' || probe.forwarded);
    const skipped = MODES.filter((m) => !modes.includes(m));

    if (ONLY !== 'capacity') {
      const udp = await freeUdpPort();
      const relay = await startRelay(['udp', String(udp)]);
      const source = await startSource(udp);
      const rtsp = `rtsp://127.0.0.1:${relay.port}/live`;
      try {
        for (const m of modes) {
          log(`latency, ${m.label}`);
          latency.push(await latencyRun(m, rtsp, dir, source, relay));
        }
        cameraEncode = source.stats()?.encodeMs;
      } finally {
        await stopChild(source.proc);
        await stopChild(relay.proc);
      }
      for (const m of skipped) latency.push({ mode: m.mode, label: m.label, available: false, note: probe.note });
    }
    if (ONLY !== 'latency') {
      for (const m of modes.filter((x) => !ONLY_MODE || x.mode === ONLY_MODE)) {
        log(`capacity, ${m.label}`);
        capacity.push(await capacityRun(m, clip, dir));
      }
      for (const m of skipped) capacity.push({ mode: m.mode, label: m.label, available: false, note: probe.note, steps: [], maxCameras: null });
    }
  } finally {
    killAllChildren();
    rmSync(dir, { recursive: true, force: true });
  }
  const partial = QUICK || ONLY !== undefined || MAX_CAMERAS < 16;
  const result = {
    bench: 'live',
    started,
    machine: { cpu: cpuModel(), cores: cpus().length, node: process.version, chromium: chromiumVersion() },
    settings: { windowSec: WINDOW_SEC, warmupSec: WARMUP_SEC, fps: FPS, width: CODE.width, height: CODE.height, maxCameras: MAX_CAMERAS, playoutDelayMs: PLAYOUT_DELAY, realTime: { minFps: MIN_FPS, maxDropPct: MAX_DROP_PCT, minAnalysedShare: MIN_ANALYSED_SHARE }, quick: QUICK },
    cameraEncodeMs: cameraEncode,
    latency,
    capacity,
  };
  mkdirSync(RESULTS, { recursive: true });
  const stem = partial ? 'live.partial' : 'live';
  writeFileSync(join(RESULTS, `${stem}.json`), JSON.stringify(result, null, 2) + '\n');
  const md = markdown(result);
  writeFileSync(join(RESULTS, `${stem}.md`), md);
  console.log('\n' + md);
  console.log(`wrote bench/results/${stem}.json and ${stem}.md`);
}

function chromiumVersion(): string {
  const r = spawnSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return r.stdout?.trim() || 'chromium (version unknown)';
}

function markdown(r: { started: string; machine: { cpu: string; cores: number; node: string; chromium: string }; settings: { windowSec: number; playoutDelayMs: string }; cameraEncodeMs?: SourceStats['encodeMs']; latency: LatencyRow[]; capacity: CapacityResult[] }): string {
  const f = (d: Dist | null | undefined): string => (d ? `${d.p50} / ${d.p95} / ${d.mean} / ${d.n}` : '–');
  const pct = (x: number | undefined): string => (x === undefined ? '–' : `${round(x * 100, 0)} %`);
  const warn = (foreign: number | undefined): string => (foreign !== undefined && foreign >= 0.25 ? ` ⚠ (${pct(foreign)} other processes)` : '');
  const lines: string[] = [];
  lines.push(`# facecast serve: live latency, CPU and capacity (${r.started})`, '');
  lines.push(`Machine: ${r.machine.cpu}, ${r.machine.cores} cores; Node ${r.machine.node}; ${r.machine.chromium}. Everything on this one machine, over 127.0.0.1. Window ${r.settings.windowSec} s per figure, after warm-up. Viewers' playout delay (webrtc.playoutDelayMs): ${r.settings.playoutDelayMs}.`, '');
  lines.push('## Latency: camera frame → displayed in Chromium (720p25, 1 camera, 1 viewer)', '');
  lines.push('Stamp = Date.now() when the source renders the frame (before its x264 encode); display = `expectedDisplayTime` of `requestVideoFrameCallback`. Figures are p50 / p95 / mean / n, ms.', '');
  lines.push('| mode | stamp → display | stamp → Chromium received | received → display (jitter buffer + decode + render) | Chromium decode | displayed fps (readable) | unreadable stamps | server ingest → analysed (EWMA) | server CPU | Chromium CPU | machine CPU |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const l of r.latency) {
    if (!l.available) {
      lines.push(`| ${l.label} | ${l.note ?? 'not available'} | | | | | | | | | |`);
      continue;
    }
    lines.push(`| ${l.label} | ${f(l.toDisplayMs)} | ${f(l.toReceiveMs)} | ${f(l.receiveToDisplayMs)} | ${f(l.decodeMs)} | ${l.displayedFps} | ${l.unreadablePct} % | ${l.serverIngestToAnalysedMs} ms | ${pct(l.cpu?.cores.server)} | ${pct(l.cpu?.cores.chromium)} | ${pct(l.cpu?.machine)}${warn(l.cpu?.foreign)} |`);
  }
  if (r.cameraEncodeMs) lines.push('', `Camera side (the bench's source, not facecast): RGB→YUV + x264 ultrafast/zerolatency encode ${round(r.cameraEncodeMs.p50)} ms p50, ${round(r.cameraEncodeMs.p95)} ms p95 per 720p frame (included in stamp → display).`);
  lines.push('', '## CPU per camera and capacity: N × 720p25 RTSP cameras, one WebRTC viewer each', '');
  lines.push(`Real time = every viewer gets ≥ ${MIN_FPS} fps and < ${MAX_DROP_PCT} % of the frames are missing (expected frames from the RTP clock). Analysis keeps up = every stream analyses ≥ ${MIN_ANALYSED_SHARE * 100} % of its rate (${ANALYSIS_FPS ? `${ANALYSIS_FPS} fps` : 'every frame'}); analysed fps = frames analysed over the window (status counters). Viewers are werift receivers in the bench process (no decoding). CPU in % of one core (200 % = the whole machine).`, '');
  lines.push('| mode | cameras | delivered fps min / mean | dropped max % | analysed fps min / mean | server CPU | server CPU per camera | machine CPU | viewers CPU | event-loop lag p99 / max, ms | video real time | analysis keeps up |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const c of r.capacity) {
    if (!c.available) {
      lines.push(`| ${c.label} | ${c.note ?? 'not available'} | | | | | | | | | | |`);
      continue;
    }
    for (const s of c.steps) lines.push(`| ${c.label} | ${s.cameras} | ${s.deliveredFps.min} / ${s.deliveredFps.mean} | ${s.dropPct.max} | ${s.analysedFps.min} / ${s.analysedFps.mean} | ${pct(s.serverCpuCores)} | ${pct(s.serverCpuPerCamera)} | ${pct(s.machineCpuCores)}${warn(s.foreignCpuCores)} | ${pct(s.viewersCpuCores)} | ${s.eventLoopLag ? `${s.eventLoopLag.p99Ms} / ${s.eventLoopLag.maxMs}` : '–'} | ${s.pass ? 'yes' : 'no'} | ${s.analysisKeepsUp === undefined ? '–' : s.analysisKeepsUp ? 'yes' : 'no'} |`);
  }
  lines.push('', '| mode | largest N with video in real time | … and analysis keeping up |', '|---|---|---|');
  for (const c of r.capacity) {
    const last = c.steps[c.steps.length - 1];
    const capped = last?.pass && last.cameras >= MAX_CAMERAS ? ` (≥; the bench stops at ${MAX_CAMERAS})` : '';
    const analysed = last?.pass && last.analysisKeepsUp && last.cameras >= MAX_CAMERAS ? capped : '';
    lines.push(`| ${c.label} | ${c.available ? `${c.maxCameras ?? 0}${capped}` : c.note ?? 'not available'} | ${c.available ? `${c.maxCamerasAnalysed ?? '–'}${analysed}` : ''} |`);
  }
  return lines.join('\n') + '\n';
}

const watchdog = setTimeout(() => {
  console.error('bench live: overall time limit (40 min) reached');
  killAllChildren();
  process.exit(1);
}, 40 * 60_000);
watchdog.unref();

try {
  await main();
} catch (e) {
  console.error(e);
  killAllChildren();
  process.exitCode = 1;
}
