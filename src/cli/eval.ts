/**
 * `facecast eval emotion|demographics|detection`: accuracy of the configured models on a labelled folder.
 * Parses the flags, builds an engine with only the models the task needs, runs the evaluation and prints a
 * table (stdout) and/or JSON (--json FILE, or - for stdout).
 */
import { writeFile } from 'node:fs/promises';
import { parseCommandArgs } from './args.js';
import { InputError, UsageError, errorMessage } from '../core/errors.js';
import { configureLogging } from '../core/log.js';
import type { EngineOptions, FaceEngine } from '../inference/engine.js';
import type { ExecutionProvider } from '../inference/session.js';
import type { DemographicsEvalResult } from '../eval/demographics.js';
import type { DetectionEvalResult } from '../eval/detection.js';
import type { EmotionEvalResult, SceneRun } from '../eval/emotion.js';

const HELP = `Usage: facecast eval <emotion|demographics|detection> --labels FILE.csv [options]

  emotion        CSV columns file,label (angry, disgust, fear, happy, sad, surprise, neutral; aliases such as
                 anger, fearful, scared, happiness, sadness, surprised are accepted; other labels, e.g.
                 contempt, are counted and skipped) → accuracy, macro-F1, per-class recall, confusion matrix
  demographics   CSV columns file,age,gender[,race] (gender male/female or m/f; race white, black, asian,
                 indian, other, may be empty) → gender accuracy, age MAE, the same per gender / race /
                 age band (0-17, 18-29, 30-44, 45-59, 60+) and the gaps between groups
  detection      CSV with one row per face: file,x,y,w,h[,ignore] (pixels, top-left + size; ignore = 1/true;
                 empty x,y,w,h = an image without faces) → precision, recall and AP at IoU 0.3 and 0.5, a
                 score-threshold sweep and per-image counts

Image paths in the CSV are relative to the CSV's folder. Emotion and demographics images are usually face
crops: the detector runs first and the largest face is used; when it finds none the whole image is classified
(the report says how many images took each path). Unreadable images are listed and the rest still run.

Options:
  --labels FILE       the label CSV (required)
  --json OUT          write the results as JSON to OUT (- = stdout, then the table goes to stderr)
  --tta               emotion/demographics: mirror test-time augmentation
  --race              demographics: also evaluate the race head (needs a race column)
  --scene             emotion/demographics: also place each crop in a camera-like 1280x720 frame (crop 8-25 %
                      of the width, blurred photo background, JPEG 60-80) and run the live path on it (live
                      detector thresholds, no whole-image fallback); reports crop and scene figures side by
                      side and how many placed faces were not found
  --seed N            scene layout seed (default 1); the same seed gives the same scenes
  --manifest FILE     extra model manifest (repeatable; also FACECAST_MODELS)
  --provider P        cpu (default) or cuda
  --threads N         intra-op threads per model (default 1)
  --quiet             no progress or info logs; with --json, no table either
  -h, --help          this help

Exit status: 0 when at least one image was evaluated, 1 when none could be, 2 on a usage error.
`;

export type EvalTask = 'emotion' | 'demographics' | 'detection';
const TASKS: readonly EvalTask[] = ['emotion', 'demographics', 'detection'];
const REQUIRED_COLUMNS: Record<EvalTask, readonly string[]> = { emotion: ['file', 'label'], demographics: ['file', 'age', 'gender'], detection: ['file', 'x', 'y', 'w', 'h'] };

export interface EvalArgs {
  task: EvalTask;
  labels: string;
  json: string | undefined;
  tta: boolean;
  race: boolean;
  scene: boolean;
  seed: number;
  manifests: string[] | undefined;
  provider: ExecutionProvider;
  threads: number;
  quiet: boolean;
}

/** Parses `eval` arguments; returns 'help' when help was asked for. Throws UsageError on bad input. */
export function parseEvalArgs(argv: string[]): EvalArgs | 'help' {
  const parsed = parseCommandArgs('eval', {
    args: argv,
    allowPositionals: true,
    options: {
      labels: { type: 'string' },
      json: { type: 'string' },
      tta: { type: 'boolean' },
      race: { type: 'boolean' },
      scene: { type: 'boolean' },
      seed: { type: 'string' },
      manifest: { type: 'string', multiple: true },
      provider: { type: 'string' },
      threads: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const { values: v, positionals } = parsed;
  if (v.help) return 'help';
  const [task, ...extra] = positionals;
  if (task === undefined) throw new UsageError(`eval: which evaluation? (${TASKS.join(', ')}); see \`facecast eval --help\``);
  if (!(TASKS as readonly string[]).includes(task)) throw new UsageError(`eval: unknown evaluation "${task}" (expected ${TASKS.join(', ')})`);
  if (extra.length > 0) throw new UsageError(`eval: unexpected argument "${extra[0]}"`);
  if (!v.labels) throw new UsageError('eval: --labels FILE.csv is required');
  if (v.race && task !== 'demographics') throw new UsageError('eval: --race only applies to demographics');
  if (v.tta && task === 'detection') throw new UsageError('eval: --tta does not apply to detection');
  if (v.scene && task === 'detection') throw new UsageError('eval: --scene does not apply to detection');
  let seed = 1;
  if (v.seed !== undefined) {
    seed = Number(v.seed);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError(`eval: --seed must be a non-negative integer, not "${v.seed}"`);
  }
  const provider = v.provider ?? 'cpu';
  if (provider !== 'cpu' && provider !== 'cuda') throw new UsageError(`eval: --provider must be cpu or cuda, not "${provider}"`);
  let threads = 1;
  if (v.threads !== undefined) {
    threads = Number(v.threads);
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new UsageError(`eval: --threads must be a positive integer, not "${v.threads}"`);
  }
  if (v.json === '') throw new UsageError('eval: --json needs a file name (or - for stdout)');
  return {
    task: task as EvalTask,
    labels: v.labels,
    json: v.json,
    tta: v.tta ?? false,
    race: v.race ?? false,
    scene: v.scene ?? false,
    seed,
    manifests: v.manifest,
    provider,
    threads,
    quiet: v.quiet ?? false,
  };
}

/** Engine options loading only the models a task reads: a role set to undefined loads no model. */
export function engineOptionsFor(a: EvalArgs): EngineOptions {
  const base: EngineOptions = { provider: a.provider, detectorThreads: a.threads, classifierThreads: a.threads };
  if (a.manifests) base.manifests = a.manifests;
  switch (a.task) {
    case 'emotion':
      return { ...base, roles: { ageGender: undefined, race: undefined }, classifier: { tta: a.tta, descriptor: false } };
    case 'demographics':
      return { ...base, roles: a.race ? { emotion: undefined } : { emotion: undefined, race: undefined }, classifier: { tta: a.tta, race: a.race, descriptor: false } };
    case 'detection':
      return { ...base, roles: { emotion: undefined, ageGender: undefined, race: undefined } };
  }
}

type EvalResult = EmotionEvalResult | DemographicsEvalResult | DetectionEvalResult;

function progress(quiet: boolean): ((done: number, total: number) => void) | undefined {
  // a rewritten status line only makes sense on a terminal; in CI logs it would be hundreds of lines
  if (quiet || !process.stderr.isTTY) return undefined;
  return (done, total) => {
    process.stderr.write(`\reval: ${done}/${total} images`);
    if (done === total) process.stderr.write('\n');
  };
}

async function sceneRun(a: EvalArgs, engine: FaceEngine): Promise<SceneRun | undefined> {
  if (!a.scene) return undefined;
  const { liveDetector } = await import('../eval/scene.js');
  if (!engine.detector) throw new InputError('E_INPUT_INVALID', 'eval --scene: the engine has no detector');
  const detector = liveDetector(engine.detector);
  return { engine: { detect: (img) => detector.detect(img), classify: (img, dets) => engine.classify(img, dets) }, options: { seed: a.seed } };
}

async function run(a: EvalArgs, engine: FaceEngine): Promise<EvalResult> {
  const onProgress = progress(a.quiet);
  const scene = await sceneRun(a, engine);
  // loaded here rather than at the top so that `--help` and usage errors do not load onnxruntime
  switch (a.task) {
    case 'emotion': {
      const { evaluateEmotion } = await import('../eval/emotion.js');
      return evaluateEmotion(a.labels, engine, { tta: a.tta, onProgress, scene });
    }
    case 'demographics': {
      const { evaluateDemographics } = await import('../eval/demographics.js');
      return evaluateDemographics(a.labels, engine, { tta: a.tta, race: a.race, onProgress, scene });
    }
    case 'detection': {
      const { evaluateDetection, lowThresholdDetector } = await import('../eval/detection.js');
      if (!engine.detector) throw new InputError('E_INPUT_INVALID', 'eval detection: the engine has no detector');
      return evaluateDetection(a.labels, engine.detector, lowThresholdDetector(engine.detector), { onProgress });
    }
  }
}

async function format(r: EvalResult): Promise<string> {
  const rep = await import('../eval/report.js');
  if (r.task === 'emotion') return rep.formatEmotion(r);
  if (r.task === 'demographics') return rep.formatDemographics(r);
  return rep.formatDetection(r);
}

function evaluatedCount(r: EvalResult): number {
  return r.task === 'detection' ? r.images : r.n;
}

export async function evalCommand(argv: string[]): Promise<number> {
  const a = parseEvalArgs(argv);
  if (a === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (a.quiet && !process.env.FACECAST_LOG) configureLogging('warn');
  // a missing or malformed label file should fail before the models take seconds to load
  const { readLabelFile } = await import('../eval/csv.js');
  await readLabelFile(a.labels, REQUIRED_COLUMNS[a.task]);
  const { FaceEngine } = await import('../inference/engine.js');
  const engine = await FaceEngine.create(engineOptionsFor(a));
  let result: EvalResult;
  try {
    result = await run(a, engine);
  } finally {
    await engine.close();
  }
  const text = await format(result);
  const json = JSON.stringify(result, null, 2) + '\n';
  if (a.json === '-') {
    process.stdout.write(json);
    if (!a.quiet) process.stderr.write(text);
  } else {
    if (a.json !== undefined) {
      try {
        await writeFile(a.json, json);
      } catch (e) {
        throw new UsageError(`eval: --json: cannot write ${a.json}: ${errorMessage(e)}`);
      }
    }
    if (!(a.quiet && a.json !== undefined)) process.stdout.write(text);
  }
  return evaluatedCount(result) > 0 ? 0 : 1;
}
