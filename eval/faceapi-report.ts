/**
 * face-api's nets on the dev set (issue 15): each alone, and fused with the default models, from the per-face
 * outputs of `facecast eval … --scene --json` runs (RAWDIR/<name>.json, one per configuration; see
 * eval/results/faceapi.md for the commands). Halves as in levers-report.ts: A = even data rows of each CSV,
 * B = odd rows; fusion weights and biases are fitted on A only and reported on B.
 *
 *   node --import tsx eval/faceapi-report.ts EMOTION.csv DEMOGRAPHICS.csv RAWDIR OUT.json
 *
 * Runs read (those present): emo-default, fa-expr-{1.0,1.25,1.5}, emo-fuse (the engine's emotion `fuse`, end to
 * end), seed2-emo-{default,fuse} (scene seed 2), dem-default, fa-ag-{1.0,1.3}, cost*.json (levers-extra.ts cost).
 *
 * Emotion fusion: fused = softmax((1 − w)·log p_emotion + w·log p_faceapi + b), p_emotion being the default
 * model's calibrated output and b an optional per-class bias (canonical order). Gender fusion: logit =
 * (1 − w)·logit p_faceres + w·logit p_faceapi + bias.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { EMOTIONS, RACES } from '../src/core/types.js';
import { readLabelFile } from '../src/eval/csv.js';
import type { DemographicsEvalResult, DemographicsPrediction } from '../src/eval/demographics.js';
import type { EmotionEvalResult, EmotionPrediction } from '../src/eval/emotion.js';
import { classificationSummary } from '../src/eval/metrics.js';
import { softmax } from '../src/inference/heads.js';
import { convertTfjsGraph } from '../src/models/convert/index.js';
import { loadFaceApiArtifacts, type FaceApiNet } from '../src/models/faceapi/index.js';
import { faceApiParity, randomFaceApiInput } from '../src/models/faceapi/parity.js';

type Half = 'all' | 'A' | 'B';
type Mode = 'crop' | 'scene';
const MODES: Mode[] = ['crop', 'scene'];
const r3 = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 1000);

interface Rows {
  half: Map<string, 'A' | 'B'>;
  source: Map<string, string>;
  race: Map<string, string>;
}

async function rows(csv: string): Promise<Rows> {
  const f = await readLabelFile(csv, ['file']);
  return {
    half: new Map(f.rows.map((r, i) => [r.values.file, i % 2 === 0 ? 'A' : 'B'])),
    source: new Map(f.rows.map((r) => [r.values.file, /FER2013/i.test(r.values.source ?? '') ? 'fer2013' : 'muxspace'])),
    race: new Map(f.rows.map((r) => [r.values.file, r.values.race ?? ''])),
  };
}

const pick = <T extends { file: string }>(ps: readonly T[], h: Rows, half: Half): T[] => (half === 'all' ? [...ps] : ps.filter((p) => h.half.get(p.file) === half));

function argmax(v: readonly number[]): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[b]) b = i;
  return b;
}

// ---------------------------------------------------------------------------------------------------------
// Emotion

interface EmoPair {
  file: string;
  label: string;
  a: number[];
  b: number[];
}

function emoScore(ps: readonly { label: string; pred: string }[]): { acc: number | null; f1: number | null; n: number } {
  const s = classificationSummary(EMOTIONS, ps.map((p) => ({ truth: p.label, pred: p.pred })));
  return { acc: r3(s.accuracy), f1: r3(s.macroF1), n: ps.length };
}

function fuseEmotion(a: readonly number[], b: readonly number[], w: number, bias: readonly number[]): number[] {
  return softmax(a.map((x, i) => (1 - w) * Math.log(Math.max(x, 1e-9)) + w * Math.log(Math.max(b[i], 1e-9)) + (bias[i] ?? 0)));
}

const fusedPreds = (ps: readonly EmoPair[], w: number, bias: readonly number[]): { label: string; pred: string }[] =>
  ps.map((p) => ({ label: p.label, pred: EMOTIONS[argmax(fuseEmotion(p.a, p.b, w, bias))] }));

/** (accuracy + macro-F1) / 2, the objective levers-report.ts fits the emotion calibration with. */
function emoObjective(ps: readonly EmoPair[], w: number, bias: readonly number[]): number {
  const s = emoScore(fusedPreds(ps, w, bias));
  return ((s.acc ?? 0) + (s.f1 ?? 0)) / 2 - 0.002 * bias.reduce((x, v) => x + v * v, 0);
}

/** Best w on a 0.05 grid; with `withBias`, then a per-class bias by coordinate search (as the calibration fit). */
function fitEmotionFusion(fit: readonly EmoPair[], withBias: boolean): { w: number; bias: number[] } {
  const bias = new Array<number>(EMOTIONS.length).fill(0);
  let w = 0;
  let best = -Infinity;
  for (let i = 0; i <= 20; i++) {
    const s = emoObjective(fit, i / 20, bias);
    if (s > best + 1e-9) [best, w] = [s, i / 20];
  }
  if (!withBias) return { w, bias };
  for (let sweep = 0; sweep < 3; sweep++) {
    for (let c = 0; c < bias.length; c++) {
      for (let v = -1.5; v <= 1.5001; v += 0.1) {
        const b = [...bias];
        b[c] = Math.round(v * 10) / 10;
        const s = emoObjective(fit, w, b);
        if (s > best + 1e-9) [best, bias[c]] = [s, b[c]];
      }
    }
    for (let i = 0; i <= 20; i++) {
      const s = emoObjective(fit, i / 20, bias);
      if (s > best + 1e-9) [best, w] = [s, i / 20];
    }
  }
  return { w, bias };
}

function emoPairs(base: readonly EmotionPrediction[], other: readonly EmotionPrediction[]): EmoPair[] {
  const o = new Map(other.map((p) => [p.file, p.probs]));
  return base.filter((p) => o.has(p.file)).map((p) => ({ file: p.file, label: p.label, a: p.probs, b: o.get(p.file)! }));
}

function emotionAlone(r: EmotionEvalResult, h: Rows): Record<string, unknown> {
  const modes = { crop: r.predictions, scene: r.scene!.predictions };
  const out: Record<string, unknown> = {};
  for (const m of MODES) {
    const ps = modes[m];
    const bySource = Object.fromEntries(['fer2013', 'muxspace'].map((s) => [s, emoScore(ps.filter((p) => h.source.get(p.file) === s))]));
    out[m] = { all: emoScore(ps), A: emoScore(pick(ps, h, 'A')), B: emoScore(pick(ps, h, 'B')), bySource };
  }
  return { ...out, found: r.scene!.paths.detected, placed: r.scene!.predictions.length + r.scene!.missed };
}

function emotionFusion(base: EmotionEvalResult, other: EmotionEvalResult, h: Rows): Record<string, unknown> {
  const pairs = { crop: emoPairs(base.predictions, other.predictions), scene: emoPairs(base.scene!.predictions, other.scene!.predictions) };
  const report = (w: number, bias: number[]): Record<string, unknown> =>
    Object.fromEntries(MODES.flatMap((m) => (['A', 'B'] as const).map((x) => [`${m}${x}`, emoScore(fusedPreds(pick(pairs[m], h, x), w, bias))])));
  const out: Record<string, unknown> = {};
  for (const withBias of [false, true]) {
    const key = withBias ? 'wBias' : 'w';
    const perMode = Object.fromEntries(MODES.map((m) => {
      const f = fitEmotionFusion(pick(pairs[m], h, 'A'), withBias);
      return [m, { ...f, B: emoScore(fusedPreds(pick(pairs[m], h, 'B'), f.w, f.bias)) }];
    }));
    const pooled = fitEmotionFusion([...pick(pairs.crop, h, 'A'), ...pick(pairs.scene, h, 'A')], withBias);
    out[key] = { perMode, pooled: { ...pooled, ...report(pooled.w, pooled.bias) } };
  }
  out.baseline = report(0, new Array<number>(EMOTIONS.length).fill(0));
  out.otherAlone = report(1, new Array<number>(EMOTIONS.length).fill(0));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Gender

const logit = (p: number): number => {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  return Math.log(q / (1 - q));
};

interface GenPair {
  file: string;
  gender: string;
  race: string;
  a: number;
  b: number;
}

function genderStats(ps: readonly GenPair[], w: number, bias: number): { acc: number | null; men: number | null; women: number | null; raceGap: number | null; n: number } {
  const ok = (p: GenPair): boolean => ((1 - w) * logit(p.a) + w * logit(p.b) + bias >= 0 ? 'male' : 'female') === p.gender;
  const acc = (xs: readonly GenPair[]): number | null => (xs.length ? xs.filter(ok).length / xs.length : null);
  const races = RACES.map((r) => acc(ps.filter((p) => p.race === r))).filter((v): v is number => v !== null);
  return { acc: r3(acc(ps)), men: r3(acc(ps.filter((p) => p.gender === 'male'))), women: r3(acc(ps.filter((p) => p.gender === 'female'))), raceGap: r3(races.length ? Math.max(...races) - Math.min(...races) : null), n: ps.length };
}

function fitGenderFusion(fit: readonly GenPair[]): { w: number; bias: number } {
  let best = { w: 0, bias: 0, s: -1 };
  for (let i = 0; i <= 20; i++) {
    for (let j = -30; j <= 30; j++) {
      const s = genderStats(fit, i / 20, j / 20).acc ?? 0;
      if (s > best.s + 1e-9) best = { w: i / 20, bias: j / 20, s };
    }
  }
  return { w: best.w, bias: best.bias };
}

function genPairs(base: readonly DemographicsPrediction[], other: readonly DemographicsPrediction[]): GenPair[] {
  const o = new Map(other.map((p) => [p.file, p.male]));
  return base.filter((p) => o.has(p.file)).map((p) => ({ file: p.file, gender: p.gender, race: p.race ?? '', a: p.male, b: o.get(p.file)! }));
}

function demographicsAlone(r: DemographicsEvalResult, h: Rows): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of MODES) {
    const rr = m === 'crop' ? r : r.scene!;
    const ps = genPairs(rr.predictions, rr.predictions);
    out[m] = { all: genderStats(ps, 0, 0), B: genderStats(pick(ps, h, 'B'), 0, 0), ageMae: r3(rr.ageMae) };
  }
  return { ...out, found: r.scene!.paths.detected };
}

function genderFusion(base: DemographicsEvalResult, other: DemographicsEvalResult, h: Rows): Record<string, unknown> {
  const pairs = { crop: genPairs(base.predictions, other.predictions), scene: genPairs(base.scene!.predictions, other.scene!.predictions) };
  const perMode = Object.fromEntries(MODES.map((m) => {
    const f = fitGenderFusion(pick(pairs[m], h, 'A'));
    return [m, { ...f, B: genderStats(pick(pairs[m], h, 'B'), f.w, f.bias) }];
  }));
  const pf = fitGenderFusion([...pick(pairs.crop, h, 'A'), ...pick(pairs.scene, h, 'A')]);
  const pooled = { ...pf, cropB: genderStats(pick(pairs.crop, h, 'B'), pf.w, pf.bias), sceneB: genderStats(pick(pairs.scene, h, 'B'), pf.w, pf.bias) };
  const baseline = { cropB: genderStats(pick(pairs.crop, h, 'B'), 0, 0), sceneB: genderStats(pick(pairs.scene, h, 'B'), 0, 0) };
  return { baseline, perMode, pooled };
}

// ---------------------------------------------------------------------------------------------------------

async function load<T>(dir: string, name: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(`${dir}/${name}.json`, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Converted net vs face-api's own JS (as the unit test, random inputs only: the face crop is in the test). */
async function parity(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const nets: [FaceApiNet, string][] = [['expression', 'face_expression_model'], ['age-gender', 'age_gender_model']];
  for (const [net, file] of nets) {
    const manifest = `node_modules/@vladmandic/face-api/model/${file}-weights_manifest.json`;
    const onnx = convertTfjsGraph(await loadFaceApiArtifacts(manifest, net), { modelName: net }).onnx;
    out[net] = await faceApiParity(manifest, net, onnx, [{ input: 'random', data: randomFaceApiInput(2, 7), batch: 2 }]);
  }
  return out;
}

async function main(): Promise<void> {
  const [emotionCsv, demoCsv, raw, out] = process.argv.slice(2);
  if (!emotionCsv || !demoCsv || !raw || !out) {
    process.stderr.write('usage: faceapi-report.ts EMOTION.csv DEMOGRAPHICS.csv RAWDIR OUT.json\n');
    process.exit(2);
  }
  const he = await rows(emotionCsv);
  const hd = await rows(demoCsv);
  const result: Record<string, unknown> = { split: 'A = even data rows, B = odd rows; fits on A, figures on B' };
  const emoBase = await load<EmotionEvalResult>(raw, 'emo-default');
  const demBase = await load<DemographicsEvalResult>(raw, 'dem-default');
  const alone: Record<string, unknown> = {};
  const fusion: Record<string, unknown> = {};
  for (const name of ['emo-default', 'fa-expr-1.0', 'fa-expr-1.25', 'fa-expr-1.5', 'emo-fuse']) {
    const r = await load<EmotionEvalResult>(raw, name);
    if (!r) continue;
    alone[name] = emotionAlone(r, he);
    if (emoBase && name.startsWith('fa-')) fusion[`emotion+${name}`] = emotionFusion(emoBase, r, he);
  }
  for (const name of ['dem-default', 'fa-ag-1.0', 'fa-ag-1.3']) {
    const r = await load<DemographicsEvalResult>(raw, name);
    if (!r) continue;
    alone[name] = demographicsAlone(r, hd);
    if (demBase && name !== 'dem-default') fusion[`faceres+${name}`] = genderFusion(demBase, r, hd);
  }
  for (const name of ['seed2-emo-default', 'seed2-emo-fuse']) {
    const r = await load<EmotionEvalResult>(raw, name);
    if (r) alone[name] = emotionAlone(r, he);
  }
  // levers-extra.ts cost runs (RAWDIR/cost*.json): the median per configuration over the runs
  const runs: Record<string, number>[] = [];
  for (const name of ['cost', 'cost2', 'cost3', 'cost4', 'cost5']) {
    const c = await load<{ perFaceMs: Record<string, number> }>(raw, name);
    if (c) runs.push(c.perFaceMs);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const cost = runs.length ? { runs, medianMs: Object.fromEntries(Object.keys(runs[0]).map((k) => [k, Math.round(median(runs.map((r) => r[k])) * 100) / 100])) } : undefined;
  Object.assign(result, { parity: await parity(), alone, fusion, cost });
  await writeFile(out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(JSON.stringify(result, null, 1) + '\n');
}

await main();
