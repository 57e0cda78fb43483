/**
 * Where a live camera's CPU goes: CPU of `facecast serve` (from /proc/<pid>/stat) for N looped 720p25 RTSP cameras
 * with one werift WHEP viewer each, split by thread role and library with `perf record` samples of every thread
 * (Debian's linux-perf; without it only the total is given). With --cpu-prof, V8 CPU profiles of the main thread
 * and of the inference worker are written too (open them in Chrome DevTools), and their top self-time functions
 * are listed. Stage wall times come from facecast_stage_duration_seconds.
 *
 *   node --import tsx bench/profile-live.ts [--cameras=1] [--mode=overlay|passthrough] [--analysis-fps=10]
 *        [--window=20] [--cpu-prof] [--perf=FILE] [--out=NAME]
 *
 * Thread roles: the main thread (event loop: RTSP reads, RTP fan-out, werift, drawing the overlay); the inference
 * worker (ORT sessions, crop sampling); the libuv pool (node-av's async decode, swscale and x264 calls); V8's
 * platform threads.
 * Writes bench/results/profile-live-NAME.{json,md} when --out is given.
 */
import '../src/core/polyfill.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuModel } from './lib.js';
import { cpuSeconds, killAllChildren, round, spawnTracked, stopChild, waitQuiet } from './live-lib.js';
import { CONFIG_HEAD, startRelay, startServe, status, waitFor, waitStreaming, eventLoopLag, faceClip } from './live-procs.js';
import { WhepReceiver, delivery } from './live/whep-receiver.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const CAMERAS = Number(opt('cameras') ?? 1);
const MODE = opt('mode') ?? 'overlay';
const ANALYSIS_FPS = opt('analysis-fps') ? Number(opt('analysis-fps')) : undefined;
const WINDOW_SEC = Number(opt('window') ?? 20);
const CPU_PROF = argv.includes('--cpu-prof');
const OUT = opt('out');
/** perf record output file: samples every thread of the server over the window (native frames: x264, libavcodec, swscale, ORT). */
const PERF = opt('perf') ?? (existsSync('/usr/bin/perf') ? join(tmpdir(), `facecast-profile-live-${process.pid}.perf.data`) : undefined);

interface PerfRow { tid: number; dso: string; share: number }

/** perf samples per (thread, library) over the window, as shares of all samples. */
function perfRows(file: string): PerfRow[] {
  const r = spawnSync('perf', ['report', '-i', file, '--no-children', '--sort', 'pid,dso', '--stdio', '-g', 'none'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const rows: PerfRow[] = [];
  for (const m of (r.stdout ?? '').matchAll(/^\s*([0-9.]+)%\s+(\d+):\S*\s+(.+?)\s*$/gm)) rows.push({ tid: Number(m[2]), dso: m[3].startsWith('[JIT]') ? '[JIT] (V8-compiled JS)' : m[3], share: Number(m[1]) / 100 });
  return rows;
}

/**
 * What a thread does, from the libraries its samples fall in: Node names every thread "node", so names cannot
 * tell. The main thread is the process's own tid; the inference worker is the thread that runs onnxruntime; the
 * libuv pool threads are those that run node-av (FFmpeg: decode, swscale, x264); the rest are V8's platform
 * threads (GC, compiler) and the like.
 */
function roles(rows: readonly PerfRow[], pid: number): Map<number, string> {
  const by = new Map<number, Map<string, number>>();
  for (const r of rows) {
    const m = by.get(r.tid) ?? new Map<string, number>();
    m.set(r.dso, (m.get(r.dso) ?? 0) + r.share);
    by.set(r.tid, m);
  }
  const out = new Map<number, string>();
  for (const [tid, m] of by) {
    const total = [...m.values()].reduce((x, y) => x + y, 0);
    const frac = (dso: string): number => (m.get(dso) ?? 0) / total;
    out.set(tid, tid === pid ? 'main thread (event loop)' : frac('libonnxruntime.so.1') > 0.2 ? 'inference worker (ORT + crop sampling)' : frac('node-av.node') > 0.3 ? 'libuv pool (node-av: decode, swscale, x264)' : 'V8 platform threads (GC, compiler) and other');
  }
  return out;
}

async function main(): Promise<void> {
  const CLIP = await faceClip();
  const dir = mkdtempSync(join(tmpdir(), 'fc-profile-live-'));
  const profDir = join(dir, 'prof');
  const relay = await startRelay(['clip', CLIP, String(CAMERAS)]);
  const serve = await startServe(CONFIG_HEAD + 'streams: []\n', dir, CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
  const viewers: WhepReceiver[] = [];
  try {
    for (let n = 0; n < CAMERAS; n++) {
      const add = await fetch(`${serve.base}/api/streams`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: `cam${n}`, source: `rtsp://127.0.0.1:${relay.port}/live${n}`, output: { mode: MODE }, ...(ANALYSIS_FPS ? { fps: ANALYSIS_FPS } : {}) }) });
      if (add.status !== 201) throw new Error(`POST /api/streams: ${add.status} ${await add.text()}`);
      await waitStreaming(serve, `cam${n}`);
      const v = await WhepReceiver.open(`${serve.base}/whep/cam${n}${MODE === 'passthrough' ? '?overlay=client' : ''}`);
      viewers.push(v);
      await waitFor(`first frame at viewer cam${n}`, 20_000, () => (v.frames > 0 ? true : undefined), serve);
    }
    await sleep(6000);
    await waitQuiet();
    const pid = serve.pid;
    const cpu0 = cpuSeconds(pid, false);
    const marks0 = viewers.map((v) => v.mark());
    const s0 = await scrape(serve.base);
    const st0 = await Promise.all(viewers.map((_, i) => status(serve.base, `cam${i}`)));
    await eventLoopLag(serve.base);
    const t0 = performance.now();
    const perf = PERF ? spawnTracked('perf', ['record', '-F', '499', '-p', String(pid), '-o', PERF, '--', 'sleep', String(WINDOW_SEC)], { stdio: 'ignore' }) : undefined;
    await sleep(WINDOW_SEC * 1000);
    if (perf) await new Promise((r) => (perf.exitCode !== null ? r(null) : perf.once('exit', r)));
    const wall = (performance.now() - t0) / 1000;
    const total = (cpuSeconds(pid, false) - cpu0) / wall; // cores, every thread of the server
    const lag = await eventLoopLag(serve.base);
    const marks1 = viewers.map((v) => v.mark());
    const st = await Promise.all(viewers.map((_, i) => status(serve.base, `cam${i}`)));
    const s1 = await scrape(serve.base);
    // Thread roles and libraries from perf's samples; CPU shares scaled to the /proc total.
    const rows = PERF ? perfRows(PERF) : [];
    const role = roles(rows, pid);
    const sampled = rows.reduce((x, r) => x + r.share, 0) || 1;
    const groups = new Map<string, { cores: number; threads: Set<number>; dso: Map<string, number> }>();
    for (const r of rows) {
      const g = role.get(r.tid) ?? 'other';
      const e = groups.get(g) ?? { cores: 0, threads: new Set<number>(), dso: new Map<string, number>() };
      const cores = (r.share / sampled) * total;
      e.cores += cores;
      e.threads.add(r.tid);
      e.dso.set(r.dso, (e.dso.get(r.dso) ?? 0) + cores);
      groups.set(g, e);
    }
    const groupRows = [...groups].map(([g, e]) => ({ group: g, cores: round(e.cores, 3), perCamera: round(e.cores / CAMERAS, 3), threads: e.threads.size, libraries: [...e.dso].sort((x, y) => y[1] - x[1]).filter(([, c]) => c >= 0.003).map(([d, c]) => ({ dso: d, cores: round(c, 3) })) })).sort((x, y) => y.cores - x.cores);
    const d = viewers.map((_, i) => delivery(marks0[i], marks1[i], 25));
    const result = {
      bench: 'profile-live', started: new Date().toISOString(),
      machine: { cpu: cpuModel(), cores: cpus().length, node: process.version },
      settings: { cameras: CAMERAS, mode: MODE, analysisFps: ANALYSIS_FPS ?? 'every frame', windowSec: WINDOW_SEC },
      serverCores: round(total, 3), serverCoresPerCamera: round(total / CAMERAS, 3),
      deliveredFps: d.map((x) => round(x.fps)), analysedFps: st.map((s, i) => round(((s?.framesAnalysed ?? 0) - (st0[i]?.framesAnalysed ?? 0)) / wall)), eventLoopLag: lag, // over the window, not the status' last second
      memoryMB: Object.fromEntries([...s1.memoryMB].map(([k, v]) => [k, { start: round(s0.memoryMB.get(k) ?? 0), end: round(v) }])),
      // Wall time per stage call over the window (all streams): detect and classify include the wait for a batch.
      stages: Object.fromEntries([...s1.stages].map(([st, v]) => { const n = v.n - (s0.stages.get(st)?.n ?? 0); const sec = v.sec - (s0.stages.get(st)?.sec ?? 0); return [st, { perSec: round(n / wall, 1), meanMs: n ? round((1000 * sec) / n, 2) : 0 }]; })),
      groups: groupRows,
    };
    const md = markdown(result);
    console.log(md);
    if (OUT) {
      mkdirSync(join(HERE, 'results'), { recursive: true });
      writeFileSync(join(HERE, 'results', `profile-live-${OUT}.json`), JSON.stringify(result, null, 2) + '\n');
      writeFileSync(join(HERE, 'results', `profile-live-${OUT}.md`), md);
    }
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
    await stopChild(serve.proc, 15_000);
    await stopChild(relay.proc);
    if (CPU_PROF && existsSync(profDir)) {
      const keep = join(tmpdir(), `facecast-profile-live-${Date.now()}`);
      renameSync(profDir, keep); // both under the OS temp dir; the rest of `dir` is removed below
      for (const f of readdirSync(keep)) console.log(`cpu profile: ${join(keep, f)}\n${topSelf(JSON.parse(readFileSync(join(keep, f), 'utf8')) as CpuProfile)}`);
    }
    rmSync(dir, { recursive: true, force: true });
    if (PERF && !opt('perf')) rmSync(PERF, { force: true }); // ours, not one the caller asked to keep
  }
}

/** facecast_stage_duration_seconds totals per stage since the server started: calls and seconds. */
interface Scrape {
  /** Per stage, and the main thread's GC pauses by kind as `gc:KIND`: calls and seconds since the server started. */
  stages: Map<string, { n: number; sec: number }>;
  /** Heap, external memory and RSS now, MB. */
  memoryMB: Map<string, number>;
}

/** What /metrics says of stage durations (facecast_stage_duration_seconds), GC pauses (prom-client's
 *  nodejs_gc_duration_seconds) and memory. */
async function scrape(base: string): Promise<Scrape> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const stages = new Map<string, { n: number; sec: number }>();
  for (const m of text.matchAll(/^(facecast_stage|nodejs_gc)_duration_seconds_(sum|count)\{(?:stage|kind)="(\w+)"\} ([0-9.eE+-]+)/gm)) {
    const key = m[1] === 'nodejs_gc' ? `gc:${m[3]}` : m[3];
    const e = stages.get(key) ?? { n: 0, sec: 0 };
    if (m[2] === 'sum') e.sec = Number(m[4]);
    else e.n = Number(m[4]);
    stages.set(key, e);
  }
  const memoryMB = new Map<string, number>();
  for (const m of text.matchAll(/^(nodejs_heap_size_used_bytes|nodejs_external_memory_bytes|process_resident_memory_bytes) ([0-9.eE+-]+)/gm)) memoryMB.set(m[1], Number(m[2]) / 1e6);
  return { stages, memoryMB };
}

interface CpuProfile { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples: number[]; timeDeltas: number[] }

/** Top self-time functions of a V8 .cpuprofile (by sample time), as text lines. */
function topSelf(p: CpuProfile, n = 25): string {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const f = byId.get(id)?.callFrame;
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const key = f ? `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '?';
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `  ${round((100 * us) / total, 1).toFixed(1).padStart(5)} %  ${k}`).join('\n');
}

function markdown(r: { memoryMB: Record<string, { start: number; end: number }>; stages: Record<string, { perSec: number; meanMs: number }>; started: string; machine: { cpu: string; cores: number; node: string }; settings: { cameras: number; mode: string; analysisFps: number | string; windowSec: number }; serverCores: number; serverCoresPerCamera: number; deliveredFps: number[]; analysedFps: number[]; eventLoopLag?: { p99Ms: number; maxMs: number }; groups: { group: string; cores: number; perCamera: number; threads: number; libraries: { dso: string; cores: number }[] }[] }): string {
  const pct = (x: number): string => `${round(x * 100, 1)} %`;
  const s = r.settings;
  const lines = [
    `# Where a live camera's CPU goes (${r.started})`, '',
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores; Node ${r.machine.node}. ${s.cameras} × 720p25 RTSP camera(s), output ${s.mode}, analysis ${s.analysisFps === 'every frame' ? 'every frame' : `${s.analysisFps} fps`}, one werift WHEP viewer each; window ${s.windowSec} s.`, '',
    `Command: \`node --import tsx bench/profile-live.ts --cameras=${s.cameras} --mode=${s.mode}${typeof s.analysisFps === 'number' ? ` --analysis-fps=${s.analysisFps}` : ''} --window=${s.windowSec}\``, '',
    `Memory over the window, MB (start → end): ${Object.entries(r.memoryMB).map(([k, v]) => `${k} ${v.start} → ${v.end}`).join('; ')}.`, '',
    `Server: ${pct(r.serverCores)} of a core (${pct(r.serverCoresPerCamera)} per camera); delivered ${r.deliveredFps.join(', ')} fps; analysed ${r.analysedFps.join(', ')} fps; event-loop lag p99 ${r.eventLoopLag?.p99Ms ?? '–'} ms.`, '',
    '| thread group | CPU (% of a core) | per camera | threads | where (library: % of a core) |', '|---|---|---|---|---|',
    ...r.groups.map((g) => `| ${g.group} | ${pct(g.cores)} | ${pct(g.perCamera)} | ${g.threads} | ${g.libraries.map((l) => `${l.dso} ${pct(l.cores)}`).join(', ')} |`),
    '', 'Stage wall time per call over the window (facecast_stage_duration_seconds; detect and classify include the wait for a shared batch; gc:KIND = the main thread\'s GC pauses, nodejs_gc_duration_seconds):', '',
    '| stage | calls/s | mean ms |', '|---|---|---|',
    ...Object.entries(r.stages).map(([k, v]) => `| ${k} | ${v.perSec} | ${v.meanMs} |`),
  ];
  return lines.join('\n') + '\n';
}

const watchdog = setTimeout(() => {
  console.error('bench profile-live: time limit (10 min) reached');
  killAllChildren();
  process.exit(1);
}, 10 * 60_000);
watchdog.unref();

try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  killAllChildren();
}
