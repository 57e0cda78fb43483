import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs the CLI from source (so the test never sees a stale dist/). */
function facecast(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, FACECAST_LOG: 'warn', ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('facecast --help lists the commands; version prints the package version', () => {
  const h = facecast(['--help']);
  assert.equal(h.code, 0);
  for (const c of ['models', 'eval']) assert.match(h.stdout, new RegExp(`\\b${c}\\b`));
  const v = facecast(['version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

test('an unknown command or flag exits 2 with a message naming it', () => {
  const a = facecast(['frobnicate']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /unknown command "frobnicate".*E_USAGE/);
  const b = facecast(['models', 'list', '--bogus']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /bogus/);
});

test('models list --json shows every default model with its role', () => {
  const r = facecast(['models', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { roles: Record<string, string>; models: { id: string; task: string; roles: string }[] };
  assert.deepEqual(j.roles, { detector: 'blazeface-back', emotion: 'emotion', ageGender: 'faceres', race: 'gear' });
  assert.deepEqual(j.models.map((m) => m.id).sort(), ['blazeface-back', 'emotion', 'faceapi-agegender', 'faceapi-expression', 'faceres', 'gear']);
});

test('models build converts into the cache once, keyed by the source hash, then reuses it', () => {
  const cache = mkdtempSync(join(tmpdir(), 'fc-cache-'));
  const first = facecast(['models', 'build'], { FACECAST_MODEL_CACHE: cache });
  assert.equal(first.code, 0, first.stderr);
  // the four human-models graphs and face-api's two nets (src/models/faceapi)
  assert.equal((first.stdout.match(/converted in/g) ?? []).length, 6);
  const files = readdirSync(cache).sort();
  assert.equal(files.length, 6);
  for (const f of files) assert.match(f, /^[a-z-]+\.[0-9a-f]{16}\.onnx$/);
  const second = facecast(['models', 'build'], { FACECAST_MODEL_CACHE: cache });
  assert.equal((second.stdout.match(/cached/g) ?? []).length, 6);
  assert.deepEqual(readdirSync(cache).sort(), files);
});

test('a broken user manifest is refused with a code and the offending key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-cli-'));
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, 'version: 1\nroles: { emotion: emotion }\nmodels:\n  - id: x\n    task: face-classification\n    licence: MIT\n    source: { type: onnx, path: x.onnx }\n    input: { name: i, width: 64, height: 64, layout: NHWC, colour: purple, range: [0, 1] }\n    heads: [{ head: emotion, output: o, labels: [happy] }]\n');
  const r = facecast(['models', 'list', '--manifest', f]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /models\.0\.input\.colour.*E_MANIFEST_INVALID/);
});

test('a user ONNX model whose outputs do not match its manifest entry fails verify with a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-cli-'));
  const f = join(dir, 'mine.yaml');
  // the emotion model converted by facecast, declared with a wrong output name
  const build = facecast(['models', 'build'], { FACECAST_MODEL_CACHE: dir });
  assert.equal(build.code, 0);
  const onnx = readdirSync(dir).find((x) => x.startsWith('emotion.'));
  assert.ok(onnx);
  writeFileSync(f, `version: 1\nmodels:\n  - id: my-emotion\n    task: face-classification\n    licence: MIT\n    source: { type: onnx, path: ./${onnx} }\n    input: { name: input_1, width: 64, height: 64, layout: NHWC, colour: grey, range: [-1, 1] }\n    heads: [{ head: emotion, output: probabilities, labels: [angry, disgust, fear, happy, sad, surprise, neutral] }]\n`);
  const r = facecast(['models', 'verify', '--json', '--manifest', f], { FACECAST_MODEL_CACHE: dir });
  const reports = JSON.parse(r.stdout) as { id: string; ok: boolean; error?: string }[];
  const mine = reports.find((x) => x.id === 'my-emotion');
  assert.ok(mine && !mine.ok);
  assert.match(mine.error ?? '', /no output "probabilities"/);
  assert.equal(r.code, 1);
});
