/**
 * Events bench (issue 17): how long from "the group condition becomes true" to "the webhook is received".
 *
 *   node --import tsx bench/events.ts [--quick] [--seconds=90]
 *   npm run bench -- events
 *
 * `facecast serve` runs the demo stream (photos of real people panning by; the face count, the dominant emotion
 * and the valence of the scene change as the photos do) with rules that fire on those changes — the face count
 * crossing 1…8, the dominant emotion changing, valence above/below 0 — each with forMs = 1000 and no minimum
 * interval, and a webhook to a receiver in this process (127.0.0.1). For every fired event:
 *
 *   total    = webhook received − window.from  (window.from: the first analysed record that met the condition)
 *   dispatch = webhook received − event.at     (the rule fired → the POST arrived)
 *
 * Target: total ≤ forMs + 1 s. "Becomes true" is when facecast's analysis saw it: the analysis latency before it
 * (camera frame → record) is facecast_frame_latency_seconds, reported here as its p50 from /metrics. One machine,
 * one clock (Date.now on both sides). Writes bench/results/events.json and events.md (--quick: events.partial.*).
 */
import '../src/core/polyfill.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FacecastEvent } from '../src/events/event.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '../src/events/webhook.js';
import { cpuModel } from './lib.js';
import { dist, round, spawnTracked, stopChild, type Dist } from './live-lib.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const RESULTS = join(HERE, 'results');
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const SECONDS = Number(argv.find((a) => a.startsWith('--seconds='))?.split('=')[1] ?? (QUICK ? 30 : 90));
const FOR_MS = 1000;
const SECRET = 'bench-webhook-secret-0123456789';
const TARGET_MS = FOR_MS + 1000;

interface Sample {
  rule: string;
  totalMs: number;
  dispatchMs: number;
  heldMs: number;
}

async function main(): Promise<void> {
  const samples: Sample[] = [];
  let unsigned = 0;
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const received = Date.now();
      res.writeHead(204).end();
      if (!verifySignature(SECRET, { signature: req.headers[SIGNATURE_HEADER] as string | undefined, timestamp: req.headers[TIMESTAMP_HEADER] as string | undefined }, body)) unsigned++;
      const e = JSON.parse(body) as FacecastEvent;
      if (e.phase !== 'fired') return;
      samples.push({ rule: e.rule, totalMs: received - e.window.from, dispatchMs: received - e.at, heldMs: e.window.ms });
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as AddressInfo).port;

  const rules = [
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => `    - { id: faces-${n}, stream: demo, when: faces, above: ${n - 0.5}, forMs: ${FOR_MS}, minIntervalMs: 0 }`),
    `    - { id: dominant, stream: demo, when: dominant, forMs: ${FOR_MS}, minIntervalMs: 0 }`,
    `    - { id: valence-up, stream: demo, when: valence, above: 0, forMs: ${FOR_MS}, minIntervalMs: 0 }`,
    `    - { id: valence-down, stream: demo, when: valence, below: 0, forMs: ${FOR_MS}, minIntervalMs: 0 }`,
  ];
  const dir = mkdtempSync(join(tmpdir(), 'fc-bench-events-'));
  const config = join(dir, 'facecast.yaml');
  writeFileSync(config, ['server: { host: 127.0.0.1, port: 0 }', 'webrtc: { hostAddresses: [127.0.0.1] }', 'events:', '  allow: { loopback: true }', '  rules:', ...rules, '  webhooks:', `    - { id: bench, url: "http://127.0.0.1:${port}/hook", secret: "${SECRET}", initialBackoffMs: 100 }`, ''].join('\n'));
  const child = spawnTracked(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--config', config], { cwd: ROOT, env: { ...process.env, FACECAST_LOG: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  let base = '';
  for (let i = 0; i < 900 && !base && child.exitCode === null; i++) {
    const p = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr)?.[1];
    base = p ? `http://127.0.0.1:${p}` : '';
    if (!base) await sleep(100);
  }
  if (!base) throw new Error(`facecast serve did not start: ${stderr.slice(-2000)}`);
  console.log(`events bench: serving at ${base}; collecting events for ${SECONDS} s`);
  await sleep(SECONDS * 1000);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  await stopChild(child);
  receiver.closeAllConnections();
  await new Promise<void>((r) => receiver.close(() => r()));
  rmSync(dir, { recursive: true, force: true });

  const frameLatencyP50 = histogramP50(metrics, 'facecast_frame_latency_seconds', 'demo');
  const total = dist(samples.map((s) => s.totalMs));
  const dispatch = dist(samples.map((s) => s.dispatchMs));
  const held = dist(samples.map((s) => s.heldMs));
  const within = samples.filter((s) => s.totalMs <= TARGET_MS).length;
  const result = {
    date: new Date().toISOString(),
    machine: { cpu: cpuModel(), cores: cpus().length, node: process.version },
    seconds: SECONDS,
    forMs: FOR_MS,
    targetMs: TARGET_MS,
    events: samples.length,
    unsigned,
    totalMs: total,
    dispatchMs: dispatch,
    heldMs: held,
    withinTarget: samples.length ? round((within / samples.length) * 100, 1) : null,
    frameLatencyP50Ms: frameLatencyP50 === undefined ? null : round(frameLatencyP50 * 1000, 1),
    byRule: Object.fromEntries([...new Set(samples.map((s) => s.rule))].map((r) => [r, samples.filter((s) => s.rule === r).length])),
  };
  mkdirSync(RESULTS, { recursive: true });
  const name = QUICK ? 'events.partial' : 'events';
  writeFileSync(join(RESULTS, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(RESULTS, `${name}.md`), markdown(result, total, dispatch, held));
  console.log(`events bench: ${samples.length} events; total p50 ${total?.p50 ?? '-'} ms, p95 ${total?.p95 ?? '-'} ms, max ${total?.max ?? '-'} ms (target ≤ ${TARGET_MS} ms); dispatch p50 ${dispatch?.p50 ?? '-'} ms`);
  if (samples.length === 0) throw new Error('no event received');
}

const fmt = (d: Dist | null): string => (d ? `${d.p50} / ${d.p95} / ${d.max} / ${d.n}` : '-');

function markdown(r: { date: string; machine: { cpu: string; cores: number; node: string }; seconds: number; events: number; unsigned: number; withinTarget: number | null; frameLatencyP50Ms: number | null; byRule: Record<string, number> }, total: Dist | null, dispatch: Dist | null, held: Dist | null): string {
  return `# Events: group condition true → webhook received (${r.date})

Machine: ${r.machine.cpu}, ${r.machine.cores} cores; Node ${r.machine.node}. \`facecast serve\` on the demo stream, a webhook
receiver in the bench process, both on 127.0.0.1; ${r.seconds} s; rules with forMs = ${FOR_MS} and no minimum interval
(face count crossing 1…8, dominant emotion change, valence above/below 0). \`node --import tsx bench/events.ts\`.

| measure | p50 / p95 / max / n, ms |
|---|---|
| condition true (first analysed record meeting it) → webhook received | ${fmt(total)} |
| rule fired → webhook received (dispatch, signing, HTTP) | ${fmt(dispatch)} |
| condition held before firing (forMs + the gap to the next analysed record) | ${fmt(held)} |

Target: ≤ forMs + 1 s = ${TARGET_MS} ms: ${r.withinTarget ?? '-'} % of the events. Every request signed and verified (${r.unsigned} not).
Analysis latency before "condition true" (camera frame → record, facecast_frame_latency_seconds p50): ${r.frameLatencyP50Ms ?? '-'} ms.
Events per rule: ${Object.entries(r.byRule).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}.
`;
}

/** p50 of a Prometheus histogram of one stream from exposition text (linear within the bucket). */
function histogramP50(text: string, name: string, stream: string): number | undefined {
  const buckets: [number, number][] = [];
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{(?=[^}]*stream="${stream}")[^}]*le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm'))) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  buckets.sort((a, b) => a[0] - b[0]);
  const count = buckets.at(-1)?.[1] ?? 0;
  if (count === 0) return undefined;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of buckets) {
    if (c >= count / 2) return le === Infinity ? prevLe : prevLe + ((count / 2 - prevCount) / Math.max(1, c - prevCount)) * (le - prevLe);
    prevLe = le;
    prevCount = c;
  }
  return undefined;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
