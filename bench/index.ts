/**
 * Runs facecast's benchmarks one after another, each in its own Node process (so one runtime's threads,
 * memory or JIT state cannot skew the next). `npm run bench` runs them all.
 *
 *   node --import tsx bench/index.ts [NAME ...] [--quick]
 *
 * Names pick benches from the list below (opt-in ones, such as `live` and `whip`, run only when named); other `--flags`
 * are passed on to every bench.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Bench {
  name: string;
  /** Script in bench/, run as `node --import tsx bench/<file>`. */
  file: string;
  description: string;
  /** Runs only when named (`npm run bench -- live`): it needs Chromium and GStreamer and takes several minutes. */
  optIn?: boolean;
}

const BENCHES: readonly Bench[] = [
  { name: 'models', file: 'models.ts', description: 'model latency: onnxruntime-node vs TF.js WASM (what @vladmandic/human runs)' },
  { name: 'decode', file: 'decode.ts', description: 'video decode: node-av decode-only / to RGB / sampled, vs ffmpeg CLI' },
  { name: 'encode', file: 'encode.ts', description: 'live encode: x264 CPU per 720p25 frame with the live settings (the floor of an overlay camera)' },
  { name: 'preprocess', file: 'preprocess.ts', description: 'JS crop sampler: ms per face crop for each default classifier input, inside a frame and over its edge' },
  { name: 'analyze', file: 'analyze.ts', description: 'facecast analyze throughput (full rate, --fps 1) vs decode-only ceiling' },
  { name: 'tracking', file: 'tracking.ts', description: 'tracking quality (IDF1, ID switches) vs. detection period on the synthetic clip' },
  { name: 'live', file: 'live.ts', description: 'facecast serve: camera→Chromium latency, CPU per camera, camera capacity (overlay vs passthrough)', optIn: true },
  { name: 'soak', file: 'soak.ts', description: 'facecast serve under load for 30 min: RSS, heap, fds, latency, drops stay flat', optIn: true },
  { name: 'whip', file: 'whip.ts', description: 'facecast serve WHIP ingest: Chromium canvas publisher → viewer latency, CPU per published 720p stream', optIn: true },
  { name: 'events', file: 'events.ts', description: 'facecast serve event rules: group condition true → signed webhook received (demo stream, 90 s)' },
];

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
if (unknown.length) {
  console.error(`bench: unknown bench ${unknown.join(', ')} (known: ${BENCHES.map((b) => b.name).join(', ')})`);
  process.exit(2);
}
const selected = names.length ? BENCHES.filter((b) => names.includes(b.name)) : BENCHES.filter((b) => !b.optIn);

const failed: string[] = [];
for (const b of selected) {
  console.log(`\n=== bench ${b.name}: ${b.description}`);
  const t0 = performance.now();
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(HERE, b.file), ...flags], { stdio: 'inherit' });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  if (res.status === 0) {
    console.log(`=== bench ${b.name}: done in ${s} s`);
  } else {
    console.error(`=== bench ${b.name}: FAILED (${res.error?.message ?? (res.signal ? `signal ${res.signal}` : `exit ${String(res.status)}`)}) after ${s} s`);
    failed.push(b.name);
  }
}
if (failed.length) {
  console.error(`bench: ${failed.length} of ${selected.length} failed: ${failed.join(', ')}`);
  process.exit(1);
}
