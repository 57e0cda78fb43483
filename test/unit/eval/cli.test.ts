import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../../src/core/errors.js';
import { engineOptionsFor, evalCommand, parseEvalArgs, type EvalArgs } from '../../../src/cli/eval.js';

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && e.code === 'E_USAGE' && re.test(e.message);

test('parses the common and task flags', () => {
  const a = parseEvalArgs(['demographics', '--labels', 'x.csv', '--race', '--tta', '--json', '-', '--manifest', 'a.yaml', '--manifest', 'b.yaml', '--provider', 'cuda', '--threads', '4', '--quiet']);
  assert.deepEqual(a, { task: 'demographics', labels: 'x.csv', json: '-', tta: true, race: true, scene: false, seed: 1, manifests: ['a.yaml', 'b.yaml'], provider: 'cuda', threads: 4, quiet: true });
  const s = parseEvalArgs(['emotion', '--labels', 'x.csv', '--scene', '--seed', '42']) as EvalArgs;
  assert.equal(s.scene, true);
  assert.equal(s.seed, 42);
  const b = parseEvalArgs(['detection', '--labels=y.csv']) as EvalArgs;
  assert.equal(b.provider, 'cpu');
  assert.equal(b.threads, 1);
  assert.equal(b.manifests, undefined);
  assert.equal(parseEvalArgs(['--help']), 'help');
  assert.equal(parseEvalArgs(['emotion', '-h']), 'help');
});

test('usage errors', () => {
  assert.throws(() => parseEvalArgs(['emotion', '--labels', 'x.csv', '--bogus']), usage(/bogus/));
  assert.throws(() => parseEvalArgs([]), usage(/which evaluation/));
  assert.throws(() => parseEvalArgs(['age', '--labels', 'x.csv']), usage(/unknown evaluation "age"/));
  assert.throws(() => parseEvalArgs(['emotion']), usage(/--labels/));
  assert.throws(() => parseEvalArgs(['emotion', 'extra', '--labels', 'x.csv']), usage(/unexpected argument "extra"/));
  assert.throws(() => parseEvalArgs(['emotion', '--labels', 'x.csv', '--race']), usage(/--race only applies/));
  assert.throws(() => parseEvalArgs(['detection', '--labels', 'x.csv', '--tta']), usage(/--tta/));
  assert.throws(() => parseEvalArgs(['detection', '--labels', 'x.csv', '--scene']), usage(/--scene/));
  assert.throws(() => parseEvalArgs(['emotion', '--labels', 'x.csv', '--scene', '--seed', '-3']), usage(/--seed/));
  assert.throws(() => parseEvalArgs(['emotion', '--labels', 'x.csv', '--provider', 'tpu']), usage(/--provider/));
  assert.throws(() => parseEvalArgs(['emotion', '--labels', 'x.csv', '--threads', '0']), usage(/--threads/));
  assert.throws(() => parseEvalArgs(['emotion', '--labels', 'x.csv', '--threads', '1.5']), usage(/--threads/));
});

test('evalCommand: --help exits 0 before loading any model; bad flags reject with UsageError', async () => {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    assert.equal(await evalCommand(['--help']), 0);
  } finally {
    process.stdout.write = write;
  }
  assert.match(out, /Usage: facecast eval <emotion\|demographics\|detection>/);
  await assert.rejects(evalCommand(['emotion', '--nope']), usage(/nope/));
});

test('only the models a task reads are loaded', () => {
  const base = parseEvalArgs(['emotion', '--labels', 'x.csv']) as EvalArgs;
  assert.deepEqual(engineOptionsFor(base).roles, { ageGender: undefined, race: undefined });
  assert.deepEqual(engineOptionsFor({ ...base, task: 'demographics' }).roles, { emotion: undefined, race: undefined });
  assert.deepEqual(engineOptionsFor({ ...base, task: 'demographics', race: true }).roles, { emotion: undefined });
  assert.deepEqual(engineOptionsFor({ ...base, task: 'detection' }).roles, { emotion: undefined, ageGender: undefined, race: undefined });
});
