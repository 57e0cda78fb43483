// End-to-end `facecast eval`: builds the labelled sets from eval/annotations with the script, runs the three
// evaluations through evalCommand with --json and checks the documented fields, the counts against the CSVs,
// value ranges, and a few properties that must hold on real faces (the detector finds them, gender is read
// far above chance).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { evalCommand } from '../../src/cli/eval.js';
import { EMOTIONS } from '../../src/core/types.js';
import type { DemographicsEvalResult } from '../../src/eval/demographics.js';
import type { DetectionEvalResult } from '../../src/eval/detection.js';
import type { EmotionEvalResult } from '../../src/eval/emotion.js';

let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'facecast-evalsets-'));
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/make-eval-sets.ts', dir]);
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Data rows of a CSV written by the script (no quoted newlines there). */
async function csvRows(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').slice(1).filter(Boolean);
}

async function runJson<T>(args: string[]): Promise<T> {
  const out = join(dir, `result-${args[0]}-${Date.now()}.json`);
  assert.equal(await evalCommand([...args, '--json', out, '--quiet']), 0);
  return JSON.parse(await readFile(out, 'utf8')) as T;
}

const inUnit = (v: number | null | undefined): boolean => typeof v === 'number' && v >= 0 && v <= 1;

test('detection: counts match the CSV, recall at IoU 0.3 >= 0.8, AP and sweep in range', async () => {
  const labels = join(dir, 'detection', 'labels.csv');
  const rows = await csvRows(labels);
  const r = await runJson<DetectionEvalResult>(['detection', '--labels', labels]);
  assert.equal(r.task, 'detection');
  assert.equal(r.rows, rows.length);
  assert.equal(r.faces + r.ignoredFaces, rows.length);
  assert.equal(r.images, new Set(rows.map((l) => l.split(',')[0])).size);
  assert.deepEqual(r.unreadable, []);
  assert.deepEqual(r.byIoU.map((b) => b.iou), [0.3, 0.5]);
  for (const b of r.byIoU) {
    assert.equal(b.tp + b.fn, r.faces);
    for (const v of [b.precision, b.recall, b.f1, b.ap, b.meanIoU]) assert.ok(inUnit(v), `${v} in [0,1]`);
    assert.ok(b.sweep.length >= 5);
    for (const s of b.sweep) assert.ok(s.precision === null || inUnit(s.precision));
    // recall cannot grow with the threshold
    for (let k = 1; k < b.sweep.length; k++) assert.ok((b.sweep[k].recall ?? 0) <= (b.sweep[k - 1].recall ?? 0));
  }
  assert.ok((r.byIoU[0].recall ?? 0) >= 0.8, `recall@0.3 = ${r.byIoU[0].recall}`);
  assert.ok((r.byIoU[0].ap ?? 0) >= 0.8, `AP@0.3 = ${r.byIoU[0].ap}`);
  assert.equal(r.perImage.length, r.images);
  assert.equal(r.perImage.reduce((a, p) => a + p.gt, 0), r.faces);
});

test('emotion: n matches the CSV; unknown labels skipped; unreadable images listed and the rest evaluated', async () => {
  const labels = join(dir, 'emotion', 'labels.csv');
  const rows = await csvRows(labels);
  // add a label outside the seven, a missing image and a corrupt one
  await writeFile(join(dir, 'emotion', 'broken.png'), 'not an image');
  const extra = join(dir, 'emotion', 'labels-extra.csv');
  await writeFile(extra, (await readFile(labels, 'utf8')) + `${rows[0].split(',')[0]},contempt\nimages/missing.png,Happiness\nbroken.png,SCARED\n`);
  const r = await runJson<EmotionEvalResult>(['emotion', '--labels', extra]);
  assert.equal(r.task, 'emotion');
  assert.equal(r.rows, rows.length + 3);
  assert.deepEqual(r.skipped, { count: 1, labels: { contempt: 1 } });
  assert.deepEqual(r.unreadable.map((u) => [u.file, u.code]), [
    ['images/missing.png', 'E_INPUT_NOT_FOUND'],
    ['broken.png', 'E_INPUT_UNREADABLE'],
  ]);
  assert.equal(r.n + r.unclassified.length, rows.length);
  assert.equal(r.paths.detected + r.paths.whole + r.paths.none, rows.length);
  assert.deepEqual(r.confusion.labels, [...EMOTIONS]);
  assert.equal(r.confusion.matrix.flat().reduce((a, b) => a + b, 0), r.n);
  assert.ok(inUnit(r.accuracy) && inUnit(r.macroF1));
  assert.deepEqual(Object.keys(r.perClass), [...EMOTIONS]);
  assert.equal(r.predictions.length, r.n);
  // most labelled faces smile; the FER model must at least find those
  assert.ok((r.perClass.happy.recall ?? 0) >= 0.7, `happy recall ${r.perClass.happy.recall}`);
});

test('emotion on FER-style 48x48 crops: every image is classified (small faces fall back to the whole crop)', async () => {
  const labels = join(dir, 'emotion-fer48', 'labels.csv');
  const rows = await csvRows(labels);
  const r = await runJson<EmotionEvalResult>(['emotion', '--labels', labels, '--tta']);
  assert.equal(r.tta, true);
  assert.equal(r.n, rows.length);
  assert.ok(r.paths.whole > 0);
  assert.ok(inUnit(r.accuracy));
});

test('demographics: n matches the CSV, gender far above chance, groups, gaps and race', async () => {
  const labels = join(dir, 'demographics', 'labels.csv');
  const rows = await csvRows(labels);
  const r = await runJson<DemographicsEvalResult>(['demographics', '--labels', labels, '--race']);
  assert.equal(r.task, 'demographics');
  assert.equal(r.rows, rows.length);
  assert.equal(r.n + r.unclassified.length + r.unreadable.length, rows.length);
  assert.ok((r.genderAccuracy ?? 0) >= 0.8, `gender accuracy ${r.genderAccuracy}`);
  assert.ok(r.ageMae !== null && r.ageMae >= 0 && r.ageMae < 12, `age MAE ${r.ageMae}`);
  assert.ok(r.ageMaeBaseline !== null && r.ageMaeBaseline >= 0);
  assert.deepEqual(Object.keys(r.groups.gender), ['male', 'female']);
  assert.deepEqual(Object.keys(r.groups.ageBand), ['0-17', '18-29', '30-44', '45-59', '60+']);
  assert.equal(
    Object.values(r.groups.ageBand).reduce((a, g) => a + g.n, 0),
    r.n,
  );
  const labelledRace = rows.filter((l) => l.split(',')[3] !== '').length;
  assert.equal(r.raceSummary?.n, labelledRace);
  assert.ok(inUnit(r.raceAccuracy));
  for (const k of ['gender', 'race', 'ageBand'] as const) {
    const g = r.gaps[k];
    assert.ok(g.genderAccuracy.gap === null || inUnit(g.genderAccuracy.gap));
    assert.ok(g.ageMae.gap === null || g.ageMae.gap >= 0);
    assert.ok(g.raceAccuracy !== undefined);
  }
  // men are a minority of the set: check they are read too, not only the majority class
  assert.ok((r.groups.gender.male.genderAccuracy ?? 0) >= 0.7);
});

test('--scene: a tiny set placed in frames runs the live path; crop and scene side by side; same seed, same scenes', async () => {
  const src = join(dir, 'emotion', 'labels.csv');
  const lines = (await readFile(src, 'utf8')).split('\n').filter(Boolean);
  // eight crops of the built set, written as a labelled set of its own next to the images
  const labels = join(dir, 'emotion', 'labels-scene.csv');
  await writeFile(labels, [lines[0], ...lines.slice(1, 9)].join('\n') + '\n');
  const r = await runJson<EmotionEvalResult>(['emotion', '--labels', labels, '--scene', '--seed', '7']);
  const s = r.scene;
  assert.ok(s, 'scene results present');
  assert.equal(s.setup.seed, 7);
  assert.equal(s.setup.backgroundUsed, 'photo');
  assert.equal(s.rows, 8);
  // every placed face is either found and classified, or counted as not found; none is classified whole
  assert.equal(s.paths.detected + s.missed, 8);
  assert.equal(s.paths.whole, 0);
  assert.equal(s.n + s.unclassified.length, 8);
  assert.ok(s.paths.detected >= 4, `found ${s.paths.detected} of 8 placed faces`);
  assert.ok(inUnit(s.accuracy) && inUnit(s.endToEndAccuracy));
  assert.ok((s.endToEndAccuracy ?? 0) <= (s.accuracy ?? 0));
  assert.equal(r.n, 8, 'crop figures alongside');
  const again = await runJson<EmotionEvalResult>(['emotion', '--labels', labels, '--scene', '--seed', '7']);
  assert.deepEqual(again.scene?.predictions, s.predictions);

  const demo = join(dir, 'demographics', 'labels.csv');
  const dl = (await readFile(demo, 'utf8')).split('\n').filter(Boolean);
  const dlabels = join(dir, 'demographics', 'labels-scene.csv');
  await writeFile(dlabels, [dl[0], ...dl.slice(1, 7)].join('\n') + '\n');
  const d = await runJson<DemographicsEvalResult>(['demographics', '--labels', dlabels, '--scene']);
  assert.ok(d.scene);
  assert.equal(d.scene.paths.detected + d.scene.missed, 6);
  assert.ok(d.scene.genderAccuracy === null || inUnit(d.scene.genderAccuracy));
  assert.deepEqual(Object.keys(d.scene.groups.ageBand), ['0-17', '18-29', '30-44', '45-59', '60+']);
});
