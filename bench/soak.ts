/**
 * Soak: N cameras in one `facecast serve` for T minutes; RSS, heap, open file descriptors, latency, drops and
 * /healthz time sampled from the server's own /metrics and /api/streams, and (with viewers) the frames each WHEP
 * viewer receives. Flat lines are the goal: no queue or leak that grows with time, no viewer stall.
 *
 *   node --import tsx bench/soak.ts [--streams=6] [--minutes=30] [--every=10] [--warmup=60]
 *                                   [--rtsp] [--viewers=1] [--overlay=server|client]
 *                                   [--allocator=glibc|arena2|jemalloc]
 *
 * Cameras: the demo clip (640×360, 25 fps) as a file source, or with --rtsp served by a GStreamer RTSP server each
 * (the camera path: RTSP ingest, reconnect logic, live timing). --viewers=N opens N WHEP viewers per camera
 * (werift, in this process, counting frames without decoding; bench/live/whep-receiver.ts); --overlay=server
 * (default) has the server burn the overlay in and encode, client sends the video clean.
 * --allocator picks the server's malloc: glibc as it comes, glibc with MALLOC_ARENA_MAX=2 (fewer per-thread arenas
 * to fragment: the server runs up to 64 libuv threads), or jemalloc through LD_PRELOAD (Debian's libjemalloc2).
 * Writes bench/results/soak.json and soak.md (soak-ALLOCATOR.* for another allocator; a run shorter than 30 minutes
 * writes *.partial.*).
 */
import '../src/core/polyfill.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDemoClip } from '../src/server/demo.js';
import { defaultCacheDir } from '../src/models/store.js';
import { startServe } from '../test/helpers/serve.js';
import { RtspTestServer } from '../test/helpers/rtsp-server.js';
import { WhepReceiver } from './live/whep-receiver.js';
import { soak, summarise, type SoakSample } from './soak-lib.js';

const opt = (name: string, dflt: number): number => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const STREAMS = opt('streams', 6);
const MINUTES = opt('minutes', 30);
const EVERY = opt('every', 10);
const WARMUP = opt('warmup', 60);
const RTSP = flag('rtsp');
const VIEWERS = opt('viewers', 0);
const ALLOCATOR = process.argv.find((a) => a.startsWith('--allocator='))?.split('=')[1] ?? 'glibc';
const allocatorEnv: Record<string, Record<string, string>> = {
  glibc: {},
  arena2: { MALLOC_ARENA_MAX: '2' },
  jemalloc: { LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2' },
};
if (!(ALLOCATOR in allocatorEnv)) throw new Error(`--allocator must be one of ${Object.keys(allocatorEnv).join(', ')}`);
const OVERLAY = process.argv.find((a) => a.startsWith('--overlay='))?.split('=')[1] === 'client' ? 'client' : 'server';

const dir = mkdtempSync(join(tmpdir(), 'fc-soakbench-'));
const clip = await ensureDemoClip(defaultCacheDir());
const cameras: RtspTestServer[] = RTSP ? await Promise.all(Array.from({ length: STREAMS }, () => RtspTestServer.start(clip))) : [];
const source = (i: number): string => (RTSP ? cameras[i].url : clip);
const config = join(dir, 'facecast.yaml');
writeFileSync(config, ['server: { host: 127.0.0.1, port: 0 }', 'webrtc: { hostAddresses: [127.0.0.1] }', 'demo: { enabled: false }', 'streams:', ...Array.from({ length: STREAMS }, (_, i) => `  - { id: cam${i}, source: "${source(i)}" }`), ''].join('\n'));
const server = await startServe(['--config', config], allocatorEnv[ALLOCATOR]);
const log = (s: string): void => void process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const viewers: WhepReceiver[] = [];
let samples: SoakSample[] = [];
try {
  for (let i = 0; i < STREAMS; i++) for (let v = 0; v < VIEWERS; v++) viewers.push(await WhepReceiver.open(`${server.base}/whep/cam${i}?overlay=${OVERLAY}`));
  log(`${STREAMS} ${RTSP ? 'RTSP cameras' : 'file streams'}, ${VIEWERS} WHEP viewer(s) each (overlay ${OVERLAY}), for ${MINUTES} min, a sample every ${EVERY} s`);
  samples = await soak(
    server.base,
    MINUTES * 60,
    EVERY,
    (s) =>
      log(`t=${s.t.toFixed(0)} s rss ${s.rssMb.toFixed(0)} MB heap ${s.heapMb.toFixed(0)} MB fds ${s.fds} latency ${s.latencyMeanMs.toFixed(0)}/${s.latencyMaxMs.toFixed(0)} ms analysed ${s.analysedFps.toFixed(0)} fps${s.viewerFrames ? ` viewer frames min ${Math.min(...s.viewerFrames)}` : ''}`),
    viewers.length ? () => viewers.map((v) => v.frames) : undefined,
  );
} finally {
  await Promise.all(viewers.map((v) => v.close()));
  await server.stop();
  await Promise.all(cameras.map((c) => c.stop()));
}
const s = summarise(samples, WARMUP);
const partial = `${ALLOCATOR !== 'glibc' ? `-${ALLOCATOR}` : ''}${MINUTES < 30 ? '.partial' : ''}`;
const results = join(import.meta.dirname, 'results');
writeFileSync(join(results, `soak${partial}.json`), JSON.stringify({ date: new Date().toISOString(), settings: { allocator: ALLOCATOR, streams: STREAMS, minutes: MINUTES, everySec: EVERY, warmupSec: WARMUP, rtsp: RTSP, viewersPerStream: VIEWERS, overlay: OVERLAY }, summary: s, samples }, null, 2) + '\n');
const r = (x: number, d = 1): string => x.toFixed(d);
const md = [
  `# Soak: ${STREAMS} ${RTSP ? 'RTSP cameras' : 'demo-clip file streams'} (640×360, 25 fps, every frame analysed), ${VIEWERS} WHEP viewer(s) each (overlay ${OVERLAY}), for ${MINUTES} min`,
  '',
  `Command: \`node --import tsx bench/soak.ts --streams=${STREAMS} --minutes=${MINUTES}${RTSP ? ' --rtsp' : ''}${VIEWERS ? ` --viewers=${VIEWERS} --overlay=${OVERLAY}` : ''}${ALLOCATOR !== 'glibc' ? ` --allocator=${ALLOCATOR}` : ''}\`; figures after a ${WARMUP}-s warm-up, sampled every ${EVERY} s from the server's own /metrics and /api/streams.`,
  '',
  '| | first | last | max | slope |',
  '|---|---|---|---|---|',
  `| RSS, MB | ${r(s.rssMb.first)} | ${r(s.rssMb.last)} | ${r(s.rssMb.max)} | ${r(s.rssMb.slopeMbPerMin, 2)} MB/min |`,
  `| heap used, MB | ${r(s.heapMb.first)} | ${r(s.heapMb.last)} | ${r(s.heapMb.max)} | ${r(s.heapMb.slopeMbPerMin, 2)} MB/min |`,
  `| open fds | ${s.fds.first} | ${s.fds.last} | ${s.fds.max} | |`,
  '',
  `Latency (camera → analysed, EWMA per stream): mean ${r(s.latencyMs.meanOfMeans)} ms, max ${r(s.latencyMs.max)} ms. Frames dropped (analysis busy): ${r(s.dropRatio * 100)} %. /healthz max ${r(s.healthMsMax)} ms.${s.viewers ? ` Viewers: ${s.viewers.count}, slowest ${r(s.viewers.minFps)} frames/s, ${s.viewers.stalls} stalled sampling intervals (no frame in ${EVERY} s).` : ''}`,
  '',
].join('\n');
writeFileSync(join(results, `soak${partial}.md`), md);
process.stdout.write(md);
