/**
 * Soak: N demo-clip cameras (640×360, 25 fps, every frame analysed) in one `facecast serve` for T minutes;
 * RSS, heap, open file descriptors, latency, drops and /healthz time sampled from the server's own /metrics and
 * /api/streams. Flat lines are the goal: no queue or leak that grows with time.
 *
 *   node --import tsx bench/soak.ts [--streams=6] [--minutes=30] [--every=10] [--warmup=60]
 *
 * Writes bench/results/soak.json and soak.md (a shorter run than 30 minutes writes soak.partial.*).
 */
import '../src/core/polyfill.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDemoClip } from '../src/server/demo.js';
import { defaultCacheDir } from '../src/models/store.js';
import { startServe } from '../test/helpers/serve.js';
import { soak, summarise, type SoakSample } from './soak-lib.js';

const opt = (name: string, dflt: number): number => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const STREAMS = opt('streams', 6);
const MINUTES = opt('minutes', 30);
const EVERY = opt('every', 10);
const WARMUP = opt('warmup', 60);

const dir = mkdtempSync(join(tmpdir(), 'fc-soakbench-'));
const clip = await ensureDemoClip(defaultCacheDir());
const config = join(dir, 'facecast.yaml');
writeFileSync(config, ['server: { host: 127.0.0.1, port: 0 }', 'demo: { enabled: false }', 'streams:', ...Array.from({ length: STREAMS }, (_, i) => `  - { id: cam${i}, source: "${clip}" }`), ''].join('\n'));
const server = await startServe(['--config', config]);
const log = (s: string): void => void process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
let samples: SoakSample[] = [];
try {
  log(`${STREAMS} streams for ${MINUTES} min, a sample every ${EVERY} s`);
  samples = await soak(server.base, MINUTES * 60, EVERY, (s) =>
    log(`t=${s.t.toFixed(0)} s rss ${s.rssMb.toFixed(0)} MB heap ${s.heapMb.toFixed(0)} MB fds ${s.fds} latency ${s.latencyMeanMs.toFixed(0)}/${s.latencyMaxMs.toFixed(0)} ms analysed ${s.analysedFps.toFixed(0)} fps`),
  );
} finally {
  await server.stop();
}
const s = summarise(samples, WARMUP);
const partial = MINUTES < 30 ? '.partial' : '';
const results = join(import.meta.dirname, 'results');
writeFileSync(join(results, `soak${partial}.json`), JSON.stringify({ date: new Date().toISOString(), settings: { streams: STREAMS, minutes: MINUTES, everySec: EVERY, warmupSec: WARMUP }, summary: s, samples }, null, 2) + '\n');
const r = (x: number, d = 1): string => x.toFixed(d);
const md = [
  `# Soak: ${STREAMS} demo cameras (640×360, 25 fps, every frame analysed) for ${MINUTES} min`,
  '',
  `Command: \`node --import tsx bench/soak.ts --streams=${STREAMS} --minutes=${MINUTES}\`; figures after a ${WARMUP}-s warm-up, sampled every ${EVERY} s from the server's own /metrics and /api/streams.`,
  '',
  '| | first | last | max | slope |',
  '|---|---|---|---|---|',
  `| RSS, MB | ${r(s.rssMb.first)} | ${r(s.rssMb.last)} | ${r(s.rssMb.max)} | ${r(s.rssMb.slopeMbPerMin, 2)} MB/min |`,
  `| heap used, MB | ${r(s.heapMb.first)} | ${r(s.heapMb.last)} | ${r(s.heapMb.max)} | ${r(s.heapMb.slopeMbPerMin, 2)} MB/min |`,
  `| open fds | ${s.fds.first} | ${s.fds.last} | ${s.fds.max} | |`,
  '',
  `Latency (ingest → analysed, EWMA per stream): mean ${r(s.latencyMs.meanOfMeans)} ms, max ${r(s.latencyMs.max)} ms. Frames dropped (analysis busy): ${r(s.dropRatio * 100)} %. /healthz max ${r(s.healthMsMax)} ms.`,
  '',
].join('\n');
writeFileSync(join(results, `soak${partial}.md`), md);
process.stdout.write(md);
