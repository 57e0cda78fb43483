/**
 * WHIP bench (issue 5): a browser publishing a 720p25 canvas over WHIP to `facecast serve`, watched by a browser
 * over WHEP. Loopback only: facecast, both Chromiums and the bench talk over 127.0.0.1.
 *
 *   node --import tsx bench/whip.ts [--quick] [--window=20] [--max-publishers=3] [--capture=timer|manual]
 *   npm run bench -- whip                       (opt-in: `npm run bench` alone does not run it)
 *
 * Latency: a publisher page (bench/whip/pages.ts) in one headless Chromium draws 1280×720 frames at 25 fps — a
 * panning group photo and the wall-clock barcode of bench/live-lib.ts stamped with Date.now() at draw time —
 * and publishes canvas.captureStream(25) with web/whip.js to `/whip/pub0`. A viewer page in a second Chromium
 * plays `/whep/pub0?overlay=server` (annotated, re-encoded by facecast) and then `?overlay=client` (the
 * publisher's H.264 passed through), reads the barcode of every displayed frame (requestVideoFrameCallback) and
 * records performance.timeOrigin + expectedDisplayTime − stamp (one machine, one clock).
 * CPU: facecast's process tree (/proc, as bench/live-lib.ts cpuSeconds), each Chromium's process tree separately.
 * Scaling: 1…N publisher pages (streams pub0…), each watched by a werift WHEP receiver (bench/live/whep-receiver.ts,
 * ?overlay=server, no decoding) instead of the viewer Chromium.
 * Writes bench/results/whip.json and whip.md (a --quick or otherwise shortened run: whip.partial.*).
 */
import '../src/core/polyfill.js';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { cpuModel } from './lib.js';
import { CpuWindow, cpuSeconds, descendants, dist, killAllChildren, round, spawnTracked, stopChild, waitQuiet, type Dist } from './live-lib.js';
import { waitFor } from './live-procs.js';
import { WhepReceiver, delivery } from './live/whep-receiver.js';
import { PUBLISHER_PAGE, PUBLISHER_STATS_JS, VIEWER_PAGE, VIEWER_STATS_JS } from './whip/pages.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const RESULTS = join(HERE, 'results');
const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const QUICK = argv.includes('--quick');
const FPS = 25;
const WINDOW_SEC = Number(opt('window') ?? (QUICK ? 5 : 20));
const WARMUP_SEC = QUICK ? 3 : 6;
const MAX_PUBLISHERS = Number(opt('max-publishers') ?? (QUICK ? 2 : 3));
type Capture = 'manual' | 'timer';
/** How the publisher's canvas becomes video: `manual` = captureStream(0) + requestFrame() after each drawn frame
 *  (a camera delivering every frame); `timer` = captureStream(25) (Chromium's own capture timer). Latency is
 *  measured with both (`--capture=both`, default); the scaling phase uses the first. */
const CAPTURES: Capture[] = opt('capture') === 'manual' ? ['manual'] : opt('capture') === 'timer' ? ['timer'] : ['manual', 'timer'];
const CAPTURE_LABEL: Record<Capture, string> = { manual: 'captureStream(0) + requestFrame()', timer: 'captureStream(25)' };
const TOKEN = 'bench-whip-token-0123456789abcdef';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required', '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];
/** Real time: at least this many frames per second delivered to every viewer, and fewer than 1 % missing. */
const MIN_FPS = 24;
const MAX_DROP_PCT = 1;
const MODES = [
  { overlay: 'server', label: 'server overlay (annotated, re-encoded)' },
  { overlay: 'client', label: 'client overlay (publisher H.264 passed through)' },
] as const;

const log = (s: string): void => console.log(`[whip ${new Date().toISOString().slice(11, 19)}] ${s}`);
const errText = (e: unknown): string => (e instanceof Error ? e.message.split('\n')[0].slice(0, 300) : String(e));

// ---------------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------------

interface Serve { proc: ChildProcess; err: () => string; base: string; pid: number; feeds: string[] }

async function startServe(dir: string, streams: number): Promise<Serve> {
  const cfg = join(dir, 'facecast.yaml');
  const list = Array.from({ length: streams }, (_, i) => `  - { id: pub${i}, source: whip }\n`).join('');
  writeFileSync(cfg, `server: { host: 127.0.0.1, port: 0 }\nwebrtc: { hostAddresses: [127.0.0.1] }\ndemo: { enabled: false }\nwhip: { tokens: [${TOKEN}] }\nstreams:\n${list}`);
  // info: facecast logs the codec of each WHIP feed ("H264 feed on udp …"); those lines are kept.
  const proc = spawnTracked(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--config', cfg], { cwd: ROOT, env: { ...process.env, FACECAST_LOG: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const feeds: string[] = [];
  let partial = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-20000);
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (/feed on udp|replaces|did not connect|publish failed/.test(l) && feeds.length < 50) feeds.push(l.trim());
  });
  const s: Serve = { proc, err: () => err, base: '', pid: proc.pid ?? 0, feeds };
  s.base = await waitFor('facecast serve', 90_000, () => /serving (http:\/\/127\.0\.0\.1:\d+)\//.exec(err)?.[1], s);
  await waitFor('facecast /readyz', 90_000, async () => ((await fetch(`${s.base}/readyz`).catch(() => undefined))?.ok ? true : undefined), s);
  return s;
}

function parentOf(pid: number): number {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/** Launches Chromium and finds its browser process (a new direct child of this process), for its CPU time. */
async function launchChromium(): Promise<{ browser: Browser; pid: number }> {
  const mine = (): number[] => descendants(process.pid).filter((p) => parentOf(p) === process.pid);
  const before = new Set(mine());
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 60_000 });
  const pid = mine().find((p) => !before.has(p) && /chrom/i.test(readComm(p)));
  if (!pid) throw new Error('could not find the Chromium browser process');
  return { browser, pid };
}

function readComm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Serves the bench's pages and the demo photos on facecast's origin (only in this page's browser). */
async function benchRoutes(page: Page, base: string): Promise<void> {
  const demo = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo');
  await page.route(`${base}/__bench/**`, async (r) => {
    const path = new URL(r.request().url()).pathname;
    const photo = /^\/__bench\/(sample[1-6]\.jpg)$/.exec(path);
    if (photo) return r.fulfill({ status: 200, contentType: 'image/jpeg', body: readFileSync(join(demo, photo[1])) });
    if (path === '/__bench/publish.html') return r.fulfill({ status: 200, contentType: 'text/html', body: PUBLISHER_PAGE });
    if (path === '/__bench/view.html') return r.fulfill({ status: 200, contentType: 'text/html', body: VIEWER_PAGE });
    return r.fulfill({ status: 404, body: 'not found' });
  });
}

interface StreamStatus { state: string; inputFps: number; analysedFps: number; outputFps: number; latencyMs: number; viewers: number; faces: number; framesReceived: number; framesDropped: number; videoFramesDropped: number; lastError?: string }

async function status(base: string, id: string): Promise<StreamStatus | undefined> {
  const r = await fetch(`${base}/api/streams/${id}`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  if (!r?.ok) return undefined;
  return ((await r.json()) as { status: StreamStatus }).status;
}

/** Size of the frames facecast decodes from the publisher (its annotated snapshot has the input's size). */
async function snapshotSize(base: string, id: string): Promise<string | undefined> {
  const r = await fetch(`${base}/api/streams/${id}/snapshot.jpg`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  if (!r?.ok) return undefined;
  const m = await sharp(Buffer.from(await r.arrayBuffer())).metadata().catch(() => undefined);
  return m?.width ? `${m.width}x${m.height}` : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Publishers
// ---------------------------------------------------------------------------------------------------------

type Stats = Record<string, unknown>;
interface Publisher { id: string; page: Page; capture: Capture; stats: () => Promise<Stats | null>; close: () => Promise<void> }

async function publish(browser: Browser, serve: Serve, id: string, capture: Capture): Promise<Publisher> {
  const page = await browser.newPage({ viewport: { width: 400, height: 240 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await benchRoutes(page, serve.base);
  await page.goto(`${serve.base}/__bench/publish.html?stream=${id}&token=${TOKEN}&capture=${capture}`, { timeout: 30_000 });
  await waitFor(`publisher ${id} connected`, 30_000, async () => {
    const p = (await page.evaluate('(() => { const p = window.__pub; return p ? { error: p.error, ok: !!p.session } : null; })()')) as { error: string | null; ok: boolean } | null;
    if (p?.error) throw new Error(`publisher ${id}: ${p.error}`);
    if (errors.length) throw new Error(`publisher ${id}: page error: ${errors.join('; ')}`);
    return p?.ok ? true : undefined;
  }, serve);
  await waitFor(`stream ${id} streaming`, 30_000, async () => {
    const st = await status(serve.base, id);
    return st?.state === 'streaming' && st.framesReceived > 0 ? true : undefined;
  }, serve);
  const close = async (): Promise<void> => {
    await page.evaluate('window.__pub && window.__pub.session && window.__pub.session.stop()').catch(() => {});
    await page.close().catch(() => {});
  };
  return { id, page, capture, stats: () => page.evaluate(PUBLISHER_STATS_JS) as Promise<Stats | null>, close };
}

const num = (s: Stats | null | undefined, k: string): number => (typeof s?.[k] === 'number' ? (s[k] as number) : 0);

/** The publisher's figures over a window, from two getStats() snapshots. */
function publisherWindow(a: Stats | null, b: Stats | null, sec: number): Record<string, unknown> {
  const d = (k: string): number => num(b, k) - num(a, k);
  const frames = d('framesEncoded');
  return {
    codec: b?.codec, codecFmtp: b?.codecFmtp, encoderImplementation: b?.encoderImplementation,
    sentSize: `${num(b, 'frameWidth')}x${num(b, 'frameHeight')}`,
    drawnFps: round(d('drawn') / sec), skippedFrames: d('skipped'),
    encodedFps: round(frames / sec), sentFps: round(d('framesSent') / sec),
    encodeMsPerFrame: frames ? round((1000 * d('totalEncodeTime')) / frames, 2) : null,
    packetSendDelayMs: d('packetsSent') ? round((1000 * d('totalPacketSendDelay')) / d('packetsSent'), 2) : null,
    sentKbps: round((8 * d('bytesSent')) / sec / 1000, 0), targetKbps: round(num(b, 'targetBitrate') / 1000, 0),
    keyFrames: d('keyFramesEncoded'), nacks: d('nackCount'), plis: d('pliCount'), retransmittedPackets: d('retransmittedPacketsSent'),
    qualityLimitationReason: b?.qualityLimitationReason, qualityLimitationResolutionChanges: num(b, 'qualityLimitationResolutionChanges'),
    visibility: b?.visibility,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Latency: publisher canvas → WHIP → facecast → WHEP → viewer Chromium
// ---------------------------------------------------------------------------------------------------------

interface LatencyRow {
  overlay: string; label: string; capture: Capture; available: boolean; note?: string;
  /** performance.timeOrigin + expectedDisplayTime − stamp (the headline figure), ms. */
  toDisplayMs?: Dist | null;
  /** Date.now() in the rVFC callback − stamp, ms. */
  toCallbackMs?: Dist | null;
  /** receiveTime (the frame's last packet reached the viewer) − stamp, ms. */
  toReceiveMs?: Dist | null;
  /** expectedDisplayTime − receiveTime: the viewer's jitter buffer + decode + render, ms. */
  receiveToDisplayMs?: Dist | null;
  viewerDecodeMs?: Dist | null;
  displayedFps?: number; unreadablePct?: number; viewerVideoSize?: string;
  /** facecast's answer header: which overlay it gave this viewer. */
  overlayHeader?: string | null;
  /** Frame size facecast decodes (its snapshot), and its stream status at the end of the window. */
  facecastInputSize?: string; serverStatus?: StreamStatus;
  /** Cores over the window: facecast (its tree), publisher Chromium, viewer Chromium, this bench, the machine. */
  cpu?: { cores: Record<string, number>; machine: number; foreign: number; wallSec: number };
  publisher?: Record<string, unknown>;
  viewerInbound?: Record<string, unknown>;
}

async function latencyRun(m: (typeof MODES)[number], serve: Serve, pub: Publisher, pubPid: number, viewer: { browser: Browser; pid: number }): Promise<LatencyRow> {
  const row: LatencyRow = { overlay: m.overlay, label: m.label, capture: pub.capture, available: false };
  const page = await viewer.browser.newPage({ viewport: { width: 700, height: 400 } });
  try {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await benchRoutes(page, serve.base);
    await page.goto(`${serve.base}/__bench/view.html?whep=${encodeURIComponent(`/whep/${pub.id}?overlay=${m.overlay}`)}`, { timeout: 30_000 });
    type B = { samples: number[][]; bad: number; error: string | null; width: number; height: number; overlayHeader: string | null };
    const bench = (): Promise<B | null> => page.evaluate('(() => { const b = window.__bench; return b ? { samples: b.samples, bad: b.bad, error: b.error, width: b.width, height: b.height, overlayHeader: b.overlayHeader } : null; })()') as Promise<B | null>;
    await waitFor('first readable frame at the viewer', 30_000, async () => {
      const b = await bench();
      if (b?.error) throw new Error(`viewer WHEP: ${b.error}`);
      if (errors.length) throw new Error(`viewer page error: ${errors.join('; ')}`);
      return b && b.samples.length > 0 ? true : undefined;
    }, serve);
    log(`  ${m.overlay}, ${CAPTURE_LABEL[pub.capture]}: playing; warm-up ${WARMUP_SEC} s, then ${WINDOW_SEC} s`);
    await sleep(WARMUP_SEC * 1000);
    await waitQuiet();
    const cpu = new CpuWindow({
      server: () => cpuSeconds(serve.pid),
      publisherChromium: () => cpuSeconds(pubPid),
      viewerChromium: () => cpuSeconds(viewer.pid),
      bench: () => cpuSeconds(process.pid, false),
    });
    const before = await bench();
    const [p0, v0] = [await pub.stats(), (await page.evaluate(VIEWER_STATS_JS)) as Stats | null];
    const tStart = Date.now();
    cpu.start();
    await sleep(WINDOW_SEC * 1000);
    row.cpu = cpu.stop();
    const tEnd = Date.now();
    const [p1, v1] = [await pub.stats(), (await page.evaluate(VIEWER_STATS_JS)) as Stats | null];
    const after = await bench();
    const sec = (tEnd - tStart) / 1000;
    row.publisher = publisherWindow(p0, p1, sec);
    if (v1) row.viewerInbound = Object.fromEntries(Object.entries(v1).map(([k, v]) => [k, typeof v === 'number' && !/^frame(Width|Height)$/.test(k) ? round(v - num(v0, k), 3) : v]));
    row.serverStatus = await status(serve.base, pub.id);
    row.facecastInputSize = await snapshotSize(serve.base, pub.id);
    if (!after || !before) throw new Error('viewer page lost its state');
    const win = after.samples.filter((s) => s[1] >= tStart && s[1] <= tEnd);
    row.toDisplayMs = dist(win.map((s) => s[2] - s[0]));
    row.toCallbackMs = dist(win.map((s) => s[1] - s[0]));
    const rx = win.filter((s) => s[3] > 0);
    row.toReceiveMs = dist(rx.map((s) => s[3] - s[0]));
    row.receiveToDisplayMs = dist(rx.map((s) => s[2] - s[3]));
    row.viewerDecodeMs = dist(win.filter((s) => s[4] >= 0).map((s) => s[4] * 1000));
    row.displayedFps = round(new Set(win.map((s) => s[0])).size / sec);
    const bad = after.bad - before.bad;
    row.unreadablePct = round((100 * bad) / Math.max(1, bad + win.length), 1);
    row.viewerVideoSize = `${after.width}x${after.height}`;
    row.overlayHeader = after.overlayHeader;
    if (process.env.WHIP_DEBUG) await page.screenshot({ path: `/tmp/whip-viewer-${m.overlay}.png` });
    row.available = win.length > 0;
    if (!row.available) row.note = 'no readable frame in the window';
  } catch (e) {
    row.note = `not available: ${errText(e)}`;
  } finally {
    await page.evaluate('window.__bench && window.__bench.session && window.__bench.session.stop()').catch(() => {});
    await page.close().catch(() => {});
  }
  return row;
}

// ---------------------------------------------------------------------------------------------------------
// Scaling: N publishers, one werift WHEP viewer each (?overlay=server)
// ---------------------------------------------------------------------------------------------------------

interface ScaleStep {
  publishers: number;
  /** Measured after every earlier publisher of this `serve` had left and pub0 was published again. */
  afterRepublish: boolean;
  deliveredFps: { min: number; mean: number };
  dropPct: { max: number; mean: number };
  inputFps: { min: number; mean: number };
  analysedFps: { min: number; mean: number };
  serverDroppedFrames: number;
  serverCpuCores: number;
  serverCpuPerStream: number;
  publisherChromiumCores: number;
  publisherChromiumPerStream: number;
  machineCpuCores: number;
  foreignCpuCores: number;
  viewersCpuCores: number;
  /** Per publisher: what Chromium sent (size, fps, codec, quality limitation). */
  sent: Record<string, unknown>[];
  facecastInputSizes: (string | undefined)[];
  pass: boolean;
}

async function scaleRun(serve: Serve, pubBrowser: { browser: Browser; pid: number }): Promise<{ steps: ScaleStep[]; note?: string }> {
  const steps: ScaleStep[] = [];
  let pubs: Publisher[] = [];
  let viewers: WhepReceiver[] = [];
  const add = async (id: string): Promise<void> => {
    pubs.push(await publish(pubBrowser.browser, serve, id, CAPTURES[0]));
    const v = await WhepReceiver.open(`${serve.base}/whep/${id}?overlay=server`);
    viewers.push(v);
    await waitFor(`first frame at viewer ${id}`, 20_000, () => (v.frames > 0 ? true : undefined), serve);
  };
  const measure = async (afterRepublish: boolean): Promise<void> => {
    const n = pubs.length;
    await sleep(WARMUP_SEC * 1000);
    await waitQuiet();
    const cpu = new CpuWindow({ server: () => cpuSeconds(serve.pid), publisherChromium: () => cpuSeconds(pubBrowser.pid), bench: () => cpuSeconds(process.pid, false) });
    const st0 = await Promise.all(pubs.map((p) => status(serve.base, p.id)));
    const ps0 = await Promise.all(pubs.map((p) => p.stats()));
    const marks0 = viewers.map((x) => x.mark());
    const t0 = performance.now();
    cpu.start();
    await sleep(WINDOW_SEC * 1000);
    const marks1 = viewers.map((x) => x.mark());
    const c = cpu.stop();
    const sec = (performance.now() - t0) / 1000;
    const st1 = await Promise.all(pubs.map((p) => status(serve.base, p.id)));
    const ps1 = await Promise.all(pubs.map((p) => p.stats()));
    const d = viewers.map((_, i) => delivery(marks0[i], marks1[i], FPS));
    const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
    const fps = d.map((x) => x.fps);
    const drop = d.map((x) => x.dropPct);
    const input = st1.map((s) => s?.inputFps ?? 0);
    const analysed = st1.map((s) => s?.analysedFps ?? 0);
    const step: ScaleStep = {
      publishers: n,
      afterRepublish,
      deliveredFps: { min: round(Math.min(...fps)), mean: round(mean(fps)) },
      dropPct: { max: round(Math.max(...drop), 2), mean: round(mean(drop), 2) },
      inputFps: { min: round(Math.min(...input)), mean: round(mean(input)) },
      analysedFps: { min: round(Math.min(...analysed)), mean: round(mean(analysed)) },
      serverDroppedFrames: st1.reduce((a, s, i) => a + (s?.framesDropped ?? 0) - (st0[i]?.framesDropped ?? 0), 0),
      serverCpuCores: c.cores.server,
      serverCpuPerStream: round(c.cores.server / n, 3),
      publisherChromiumCores: c.cores.publisherChromium,
      publisherChromiumPerStream: round(c.cores.publisherChromium / n, 3),
      machineCpuCores: c.machine,
      foreignCpuCores: c.foreign,
      viewersCpuCores: c.cores.bench,
      sent: ps0.map((a, i) => ({ stream: pubs[i].id, ...publisherWindow(a, ps1[i], sec) })),
      facecastInputSizes: await Promise.all(pubs.map((p) => snapshotSize(serve.base, p.id))),
      pass: Math.min(...fps) >= MIN_FPS && Math.max(...drop) < MAX_DROP_PCT,
    };
    steps.push(step);
    const sent = step.sent.map((s) => `${String(s.sentSize)}@${String(s.encodedFps)}`).join(' ');
    log(`  N=${n}${afterRepublish ? ' (after republish)' : ''}: delivered ${step.deliveredFps.min}/${step.deliveredFps.mean} fps, drop ≤ ${step.dropPct.max} %, facecast in ${step.inputFps.mean} fps, analysed ${step.analysedFps.mean} fps, server ${round(step.serverCpuCores * 100, 0)} %, publisher Chromium ${round(step.publisherChromiumCores * 100, 0)} %, machine ${round(step.machineCpuCores * 100, 0)} % (other processes ${round(step.foreignCpuCores * 100, 0)} %), sent ${sent} → ${step.pass ? 'pass' : 'FAIL'}`);
  };
  const closeAll = async (): Promise<void> => {
    await Promise.all(viewers.map((v) => v.close()));
    await Promise.all(pubs.map((p) => p.close()));
    viewers = [];
    pubs = [];
  };
  try {
    // Every step up to MAX_PUBLISHERS (bounded), real time or not: the CPU figures are the point.
    for (let n = 1; n <= MAX_PUBLISHERS; n++) {
      await add(`pub${n - 1}`);
      await measure(false);
    }
    // The same single stream again once publishers have come and gone: a fresh `serve` costs less per stream
    // than one that has already had a WHIP session (see whip.md).
    await closeAll();
    await sleep(2000);
    await add('pub0');
    await measure(true);
    return { steps };
  } catch (e) {
    return { steps, note: `stopped: ${errText(e)}` };
  } finally {
    await closeAll();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fc-bench-whip-'));
  const started = new Date().toISOString();
  const latency: LatencyRow[] = [];
  let scaling: { steps: ScaleStep[]; note?: string } = { steps: [] };
  let answerCodecs: string[] = [];
  const serveFeeds: string[] = [];
  let serve: Serve | undefined;
  const browsers: Browser[] = [];
  try {
    log(`window ${WINDOW_SEC} s, warm-up ${WARMUP_SEC} s, up to ${MAX_PUBLISHERS} publishers, capture ${CAPTURES.map((c) => CAPTURE_LABEL[c]).join(' and ')}${QUICK ? ' (quick)' : ''}`);
    const pubBrowser = await launchChromium();
    browsers.push(pubBrowser.browser);
    const viewBrowser = await launchChromium();
    browsers.push(viewBrowser.browser);
    // A fresh `facecast serve` for each capture mode and for the scaling phase: a serve that has already had a
    // WHIP session uses more CPU per stream than a fresh one (measured here by the scaling phase's last step).
    for (const capture of CAPTURES) {
      serve = await startServe(dir, 1);
      const pub = await publish(pubBrowser.browser, serve, 'pub0', capture);
      if (!answerCodecs.length) {
        const answer = (await pub.page.evaluate('window.__pub.answerSdp')) as string | null;
        answerCodecs = [...new Set((answer ?? '').split(/\r?\n/).filter((l) => /^a=(rtpmap|fmtp):/.test(l)))];
      }
      log(`publishing pub0, ${CAPTURE_LABEL[capture]} (facecast: ${serve.feeds.at(-1) ?? 'no feed line yet'})`);
      for (const m of MODES) {
        log(`latency, ${m.label}`);
        latency.push(await latencyRun(m, serve, pub, pubBrowser.pid, viewBrowser));
      }
      await pub.close();
      serveFeeds.push(...serve.feeds);
      await stopChild(serve.proc, 15_000);
      serve = undefined;
    }
    await viewBrowser.browser.close().catch(() => {});
    log(`scaling: 1…${MAX_PUBLISHERS} publishers with one werift viewer each (server overlay), then 1 again after republishing`);
    serve = await startServe(dir, MAX_PUBLISHERS);
    scaling = await scaleRun(serve, pubBrowser);
    serveFeeds.push(...serve.feeds);
  } finally {
    for (const b of browsers) await b.close().catch(() => {});
    await stopChild(serve?.proc, 15_000);
    killAllChildren();
    rmSync(dir, { recursive: true, force: true });
  }
  const partial = QUICK || opt('window') !== undefined || MAX_PUBLISHERS < 3 || CAPTURES.length < 2;
  const result = {
    bench: 'whip',
    started,
    machine: { cpu: cpuModel(), cores: cpus().length, node: process.version, chromium: chromiumVersion() },
    settings: { windowSec: WINDOW_SEC, warmupSec: WARMUP_SEC, fps: FPS, width: 1280, height: 720, maxPublishers: MAX_PUBLISHERS, captures: CAPTURES, realTime: { minFps: MIN_FPS, maxDropPct: MAX_DROP_PCT }, quick: QUICK },
    codec: { answerSdp: answerCodecs, facecastLog: serveFeeds },
    latency,
    scaling,
  };
  mkdirSync(RESULTS, { recursive: true });
  const stem = partial ? 'whip.partial' : 'whip';
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

function markdown(r: { started: string; machine: { cpu: string; cores: number; node: string; chromium: string }; settings: { windowSec: number; captures: Capture[] }; codec: { facecastLog: string[] }; latency: LatencyRow[]; scaling: { steps: ScaleStep[]; note?: string } }): string {
  const f = (d: Dist | null | undefined): string => (d ? `${d.p50} / ${d.p95} / ${d.mean} / ${d.n}` : '–');
  const pct = (x: number | undefined): string => (x === undefined ? '–' : `${round(x * 100, 0)} %`);
  const warn = (foreign: number | undefined): string => (foreign !== undefined && foreign >= 0.25 ? ` ⚠ (${pct(foreign)} other processes)` : '');
  const s = (x: unknown): string => (x === undefined || x === null ? '–' : String(x));
  const lines: string[] = [];
  lines.push(`# facecast serve: WHIP publishing latency and CPU (${r.started})`, '');
  lines.push(`Machine: ${r.machine.cpu}, ${r.machine.cores} cores; Node ${r.machine.node}; ${r.machine.chromium}. Everything on this one machine, over 127.0.0.1. Window ${r.settings.windowSec} s per figure, after warm-up. Publisher: headless Chromium, a 1280×720 canvas drawn at 25 fps (panning group photo + wall-clock barcode) published with web/whip.js → \`/whip/pub0\`; its video track is either \`canvas.captureStream(0)\` + \`requestFrame()\` after every drawn frame (capture "manual": a camera delivering each frame) or \`canvas.captureStream(25)\` (capture "timer": Chromium's own capture timer picks frames). Viewer: a second headless Chromium, web/whep.js.`, '');
  lines.push('## Latency: publisher draws the frame → the viewer displays it (1 publisher, 1 viewer)', '');
  lines.push('Stamp = `Date.now()` when the publisher page draws the frame; display = `performance.timeOrigin + expectedDisplayTime` (requestVideoFrameCallback) in the viewer. p50 / p95 / mean / n, ms. CPU in % of one core (200 % = the whole machine).', '');
  lines.push('| viewer gets | capture | stamp → display | stamp → viewer received | received → display | displayed fps (readable) | unreadable | sent by Chromium | facecast decodes | viewer video | facecast CPU | publisher Chromium CPU | viewer Chromium CPU | machine CPU |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const l of r.latency) {
    if (!l.available) {
      lines.push(`| ${l.label} | ${l.capture} | ${l.note ?? 'not available'} | | | | | | | | | | | |`);
      continue;
    }
    const p = l.publisher ?? {};
    lines.push(`| ${l.label} | ${l.capture} | ${f(l.toDisplayMs)} | ${f(l.toReceiveMs)} | ${f(l.receiveToDisplayMs)} | ${l.displayedFps} | ${l.unreadablePct} % | ${s(p.codec)} ${s(p.sentSize)} @ ${s(p.encodedFps)} fps, ${s(p.sentKbps)} kb/s, ${s(p.encodeMsPerFrame)} ms/frame encode, limited: ${s(p.qualityLimitationReason)} | ${s(l.facecastInputSize)} @ ${s(l.serverStatus?.inputFps)} fps | ${s(l.viewerVideoSize)} | ${pct(l.cpu?.cores.server)} | ${pct(l.cpu?.cores.publisherChromium)} | ${pct(l.cpu?.cores.viewerChromium)} | ${pct(l.cpu?.machine)}${warn(l.cpu?.foreign)} |`);
  }
  const feeds = [...new Set(r.codec.facecastLog.map((l) => /: (\S+ feed) on udp/.exec(l)?.[1]).filter(Boolean))];
  const viewerCodecs = [...new Set(r.latency.map((l) => `${l.overlay}: ${String(l.viewerInbound?.codec ?? '–')} ${String(l.viewerInbound?.codecFmtp ?? '')} (X-Facecast-Overlay: ${l.overlayHeader ?? '–'})`))];
  lines.push('', `Codec: Chromium's outbound-rtp reports ${[...new Set(r.latency.map((l) => `${String(l.publisher?.codec)} ${String(l.publisher?.codecFmtp ?? '').split(';').filter((x) => /profile-level-id/.test(x)).join('')}`))].join(', ')}; facecast logged ${feeds.length ? feeds.map((x) => `"${x}"`).join(', ') : 'no feed line'} for every publisher (${r.codec.facecastLog.filter((l) => /feed on udp/.test(l)).length} feeds). Viewers received ${viewerCodecs.join('; ')}.`);
  lines.push('', '## CPU per published 720p stream: N publishers, one WebRTC viewer each (server overlay)', '');
  lines.push(`Capture "${r.settings.captures[0]}". All publishers are pages of one headless Chromium; viewers are werift receivers in the bench process (no decoding). Real time = every viewer gets ≥ ${MIN_FPS} fps and < ${MAX_DROP_PCT} % of the frames are missing.`, '');
  lines.push('| publishers | sent by Chromium (each) | facecast in fps min / mean | analysed fps min / mean | delivered fps min / mean | dropped max % | facecast CPU | facecast CPU per stream | publisher Chromium CPU | Chromium per stream | machine CPU | real time |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const st of r.scaling.steps) {
    const sent = st.sent.map((x) => `${s(x.sentSize)}@${s(x.encodedFps)}`).join(', ');
    lines.push(`| ${st.publishers}${st.afterRepublish ? ' (again, after republishing)' : ''} | ${sent} | ${st.inputFps.min} / ${st.inputFps.mean} | ${st.analysedFps.min} / ${st.analysedFps.mean} | ${st.deliveredFps.min} / ${st.deliveredFps.mean} | ${st.dropPct.max} | ${pct(st.serverCpuCores)} | ${pct(st.serverCpuPerStream)} | ${pct(st.publisherChromiumCores)} | ${pct(st.publisherChromiumPerStream)} | ${pct(st.machineCpuCores)}${warn(st.foreignCpuCores)} | ${st.pass ? 'yes' : 'no'} |`);
  }
  const first = r.scaling.steps.find((x) => x.publishers === 1 && !x.afterRepublish);
  const again = r.scaling.steps.find((x) => x.afterRepublish);
  if (first && again) lines.push('', `The last row is one stream again on the same \`serve\`, after the N publishers (and their viewers) had left and pub0 was published anew: facecast used ${pct(again.serverCpuCores)} of a core for it, against ${pct(first.serverCpuCores)} for the very first WHIP session of a fresh \`serve\`. (That is why each capture mode's latency rows and the scaling phase each get a fresh \`serve\`.)`);
  if (r.scaling.note) lines.push('', `Scaling ${r.scaling.note}`);
  return lines.join('\n') + '\n';
}

const watchdog = setTimeout(() => {
  console.error('bench whip: overall time limit (20 min) reached');
  killAllChildren();
  process.exit(1);
}, 20 * 60_000);
watchdog.unref();

try {
  await main();
} catch (e) {
  console.error(e);
  killAllChildren();
  process.exitCode = 1;
}
