/**
 * `facecast models list|build|verify`: show the manifest, convert TF.js models to ONNX (cached), and check
 * that each model loads, has the inputs/outputs the manifest names, and matches TF.js numerically.
 */
import { existsSync } from 'node:fs';
import { UsageError, errorMessage } from '../core/errors.js';
import { parseCommandArgs } from './args.js';
import { loadManifest, type Manifest, type ModelEntry } from '../models/manifest.js';
import { ModelStore } from '../models/store.js';
import { envManifests } from '../inference/engine.js';
import { verifyModel, type VerifyReport } from '../models/verify.js';
import { table } from '../core/table.js';
import { quietLogging } from '../core/log.js';

const HELP = `Usage: facecast models <list|build|verify> [options]

  list       the models in the manifest, their roles, source and cache state
  build      convert every TF.js model to ONNX now (npm install runs this); cached by source hash
  verify     build, load each model in onnxruntime, check its inputs/outputs against the manifest and
             compare its outputs with TF.js (@tensorflow/tfjs) on random inputs and on real face photos

Options:
  --manifest FILE   extra model manifest (repeatable; also FACECAST_MODELS)
  --rebuild         build: convert even when a cached ONNX file exists
  --json            list/verify: print JSON instead of a table
  --quiet           build: print nothing on success
  --install         build: on failure warn and exit 0 (used by npm install; first use retries)
`;

export async function modelsCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('models', {
    args: argv,
    allowPositionals: true,
    options: {
      manifest: { type: 'string', multiple: true },
      rebuild: { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      install: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  const sub = positionals[0];
  // --quiet silences the converters' INFO lines too (ModelStore logs each conversion), not only our stdout.
  if (values.quiet) quietLogging();
  const manifests = values.manifest ?? envManifests();
  const store = new ModelStore();
  switch (sub) {
    case 'list':
      return list(loadManifest(manifests), store, values.json ?? false);
    case 'build':
      try {
        return await build(loadManifest(manifests), store, values.rebuild ?? false, values.quiet ?? false);
      } catch (e) {
        if (!values.install) throw e;
        process.stderr.write(`facecast: warning: model build failed (${errorMessage(e)}); it will be retried on first use\n`);
        return 0;
      }
    case 'verify':
      return verify(loadManifest(manifests), store, values.json ?? false);
    default:
      throw new UsageError(`models: unknown subcommand "${sub}" (list, build, verify)`);
  }
}

function rolesOf(m: Manifest, id: string): string {
  return Object.entries(m.roles)
    .filter(([, v]) => v === id)
    .map(([k]) => k)
    .join(',');
}

function sourceText(e: ModelEntry): string {
  const s = e.source;
  if (s.type === 'tfjs') return `tfjs ${s.package}/${s.file}`;
  if (s.type === 'faceapi') return `faceapi ${s.net} ${s.package}/${s.file}`;
  return `${s.type} ${s.path}`;
}

function list(m: Manifest, store: ModelStore, json: boolean): number {
  const rows = [...m.models.values()].map((e) => ({
    id: e.id,
    task: e.task,
    roles: rolesOf(m, e.id),
    input: `${e.input.width}x${e.input.height} ${e.input.colour} [${e.input.range.join(',')}]`,
    source: sourceText(e),
    licence: e.licence,
  }));
  if (json) {
    process.stdout.write(JSON.stringify({ manifests: m.files, cacheDir: store.cacheDir, roles: m.roles, models: rows }, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(`manifests: ${m.files.join(', ')}\ncache: ${store.cacheDir}${existsSync(store.cacheDir) ? '' : ' (empty)'}\n\n`);
  process.stdout.write(table(['id', 'task', 'roles', 'input', 'source', 'licence'], rows.map((r) => [r.id, r.task, r.roles, r.input, r.source, r.licence])) + '\n');
  return 0;
}

async function build(m: Manifest, store: ModelStore, rebuild: boolean, quiet: boolean): Promise<number> {
  for (const e of m.models.values()) {
    if (e.source.type === 'onnx') continue;
    const r = await store.resolve(e, { rebuild });
    if (!quiet) process.stdout.write(`${e.id}: ${r.built ? `converted in ${r.buildMs.toFixed(0)} ms` : 'cached'} → ${r.onnxPath}\n`);
  }
  return 0;
}

async function verify(m: Manifest, store: ModelStore, json: boolean): Promise<number> {
  const reports: VerifyReport[] = [];
  let failed = 0;
  for (const e of m.models.values()) {
    const r = await verifyModel(e, store);
    reports.push(r);
    if (!r.ok) failed++;
    if (!json) process.stderr.write(`${e.id}: ${r.ok ? 'ok' : 'FAILED'}${r.error ? ` (${r.error})` : ''}\n`);
  }
  if (json) {
    process.stdout.write(JSON.stringify(reports, null, 2) + '\n');
  } else {
    const rows: string[][] = [];
    for (const r of reports) {
      if (r.parity.length === 0) rows.push([r.id, r.ok ? 'ok' : 'FAILED', r.loadMs.toFixed(0), '-', '-', '-', '-', r.note ?? r.error ?? '']);
      for (const p of r.parity) rows.push([r.id, r.ok ? 'ok' : 'FAILED', r.loadMs.toFixed(0), p.input, p.output, p.maxAbs.toExponential(2), p.maxRel.toExponential(2), p.argmaxAgree === undefined ? '' : p.argmaxAgree ? 'argmax ok' : 'argmax DIFFERS']);
    }
    process.stdout.write(table(['model', 'status', 'load ms', 'input', 'output', 'max |Δ|', 'max rel Δ', 'note'], rows) + '\n');
  }
  return failed ? 1 : 0;
}
