/**
 * Turns the runs of eval/levers.ts (RAWDIR/<lever>.json) into the lever table, with a split of the dev set so
 * that a choice or a fitted parameter is also reported on rows it was not chosen or fitted on:
 * half A = even data rows of each CSV (0-based), half B = odd rows. Calibration (per-class log-probability bias
 * for emotion, a logit bias for gender) is fitted on half A of the default run (crop and scene predictions
 * pooled) and reported on half B.
 *
 *   node --import tsx eval/levers-report.ts EMOTION.csv DEMOGRAPHICS.csv RAWDIR OUT.json [COST.json] [TEMPORAL.json]
 *
 * Also prints the lever rows as Markdown table rows (for eval/results/levers.md).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { EMOTIONS, RACES } from '../src/core/types.js';
import { readLabelFile } from '../src/eval/csv.js';
import type { DemographicsEvalResult, DemographicsPrediction } from '../src/eval/demographics.js';
import type { EmotionEvalResult, EmotionPrediction } from '../src/eval/emotion.js';
import { calibrate } from '../src/inference/heads.js';
import { classificationSummary } from '../src/eval/metrics.js';
import { LEVERS } from './levers.js';

type Half = 'all' | 'A' | 'B';

async function halves(csv: string): Promise<Map<string, 'A' | 'B'>> {
  const f = await readLabelFile(csv, ['file']);
  return new Map(f.rows.map((r, i) => [r.values.file, i % 2 === 0 ? 'A' : 'B']));
}

const pick = <T extends { file: string }>(ps: readonly T[], h: Map<string, 'A' | 'B'>, half: Half): T[] => (half === 'all' ? [...ps] : ps.filter((p) => h.get(p.file) === half));

function emo(ps: readonly EmotionPrediction[], labelOf: (p: EmotionPrediction) => string = (p) => p.pred): { acc: number | null; f1: number | null; n: number } {
  const s = classificationSummary(EMOTIONS, ps.map((p) => ({ truth: p.label, pred: labelOf(p) })));
  return { acc: s.accuracy, f1: s.macroF1, n: ps.length };
}

function argmax(v: readonly number[]): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[b]) b = i;
  return b;
}

/** Per-class bias on log-probabilities by coordinate search, maximising (accuracy + macro-F1) / 2 on `fit`. */
function fitEmotionBias(fit: readonly EmotionPrediction[]): number[] {
  const bias = new Array<number>(EMOTIONS.length).fill(0);
  const score = (b: number[]): number => {
    const r = emo(fit, (p) => EMOTIONS[argmax(calibrate(p.probs, b, 1))]);
    // a small pull toward 0 so that flat stretches of the objective do not pick extreme biases
    return ((r.acc ?? 0) + (r.f1 ?? 0)) / 2 - 0.002 * b.reduce((a, x) => a + x * x, 0);
  };
  let best = score(bias);
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let c = 0; c < bias.length; c++) {
      for (let v = -1.5; v <= 1.5001; v += 0.1) {
        const b = [...bias];
        b[c] = Math.round(v * 10) / 10;
        const s = score(b);
        if (s > best + 1e-9) {
          best = s;
          bias[c] = b[c];
        }
      }
    }
  }
  return bias;
}

function genderAcc(ps: readonly DemographicsPrediction[], bias = 0): number | null {
  if (ps.length === 0) return null;
  let ok = 0;
  for (const p of ps) {
    const m = Math.min(1 - 1e-9, Math.max(1e-9, p.male));
    const male = 1 / (1 + Math.exp(-(Math.log(m / (1 - m)) + bias))) >= 0.5;
    if ((male ? 'male' : 'female') === p.gender) ok++;
  }
  return ok / ps.length;
}

function raceGap(ps: readonly DemographicsPrediction[], bias = 0): number | null {
  const accs = RACES.map((r) => genderAcc(ps.filter((p) => p.race === r), bias)).filter((v): v is number => v !== null);
  return accs.length ? Math.max(...accs) - Math.min(...accs) : null;
}

function fitGenderBias(fit: readonly DemographicsPrediction[]): number {
  // balanced over the genders, so that the fit cannot buy accuracy by reading everyone as the majority
  const score = (b: number): number => ((genderAcc(fit.filter((p) => p.gender === 'male'), b) ?? 0) + (genderAcc(fit.filter((p) => p.gender === 'female'), b) ?? 0)) / 2;
  let best = 0;
  let bestS = score(0);
  for (let b = -3; b <= 3.0001; b += 0.05) {
    const s = score(b);
    if (s > bestS + 1e-9) {
      bestS = s;
      best = Math.round(b * 100) / 100;
    }
  }
  return best;
}

const r3 = (v: number | null | undefined): number | null => (v === null || v === undefined ? null : Math.round(v * 1000) / 1000);

async function main(): Promise<void> {
  const [emotionCsv, demoCsv, rawDir, out, costFile, temporalFile] = process.argv.slice(2);
  const he = await halves(emotionCsv);
  const hd = await halves(demoCsv);
  const rows: Record<string, unknown>[] = [];
  let emoBase: EmotionEvalResult | undefined;
  let demBase: DemographicsEvalResult | undefined;
  for (const l of LEVERS) {
    const f = `${rawDir}/${l.name}.json`;
    if (!existsSync(f)) continue;
    const r = JSON.parse(await readFile(f, 'utf8')) as EmotionEvalResult | DemographicsEvalResult;
    if (r.task === 'emotion') {
      if (l.name === 'emo-base') emoBase = r;
      const s = r.scene!;
      const c = { all: emo(r.predictions), A: emo(pick(r.predictions, he, 'A')), B: emo(pick(r.predictions, he, 'B')) };
      const sc = { all: emo(s.predictions), A: emo(pick(s.predictions, he, 'A')), B: emo(pick(s.predictions, he, 'B')) };
      // each lever with its own calibration, fitted on half A, scored on half B
      const bias = fitEmotionBias([...pick(r.predictions, he, 'A'), ...pick(s.predictions, he, 'A')]);
      const cal = (p: EmotionPrediction): string => EMOTIONS[argmax(calibrate(p.probs, bias, 1))];
      const calibrated = { cropB: r3(emo(pick(r.predictions, he, 'B'), cal).acc), sceneB: r3(emo(pick(s.predictions, he, 'B'), cal).acc), cropAll: r3(emo(r.predictions, cal).acc), sceneAll: r3(emo(s.predictions, cal).acc), bias };
      rows.push({
        lever: l.name,
        task: 'emotion',
        calibrated,
        what: l.what,
        crop: { accuracy: r3(c.all.acc), accuracyA: r3(c.A.acc), accuracyB: r3(c.B.acc), macroF1: r3(c.all.f1), n: c.all.n, wholeImage: r.paths.whole },
        scene: { accuracy: r3(sc.all.acc), accuracyA: r3(sc.A.acc), accuracyB: r3(sc.B.acc), macroF1: r3(sc.all.f1), found: s.paths.detected, missed: s.missed, endToEnd: r3(s.endToEndAccuracy) },
      });
    } else {
      if (l.name === 'dem-base') demBase = r;
      const s = r.scene!;
      rows.push({
        lever: l.name,
        task: 'demographics',
        what: l.what,
        crop: { gender: r3(r.genderAccuracy), genderA: r3(genderAcc(pick(r.predictions, hd, 'A'))), genderB: r3(genderAcc(pick(r.predictions, hd, 'B'))), raceGap: r3(r.gaps.race.genderAccuracy.gap), ageMae: r3(r.ageMae), n: r.n },
        scene: { gender: r3(s.genderAccuracy), genderA: r3(genderAcc(pick(s.predictions, hd, 'A'))), genderB: r3(genderAcc(pick(s.predictions, hd, 'B'))), raceGap: r3(s.gaps.race.genderAccuracy.gap), ageMae: r3(s.ageMae), found: s.paths.detected, missed: s.missed },
      });
    }
  }
  const calibration: Record<string, unknown> = {};
  if (emoBase) {
    const s = emoBase.scene!;
    const bias = fitEmotionBias([...pick(emoBase.predictions, he, 'A'), ...pick(s.predictions, he, 'A')]);
    const cal = (p: EmotionPrediction): string => EMOTIONS[argmax(calibrate(p.probs, bias, 1))];
    const m = (ps: EmotionPrediction[], f?: (p: EmotionPrediction) => string): { accuracy: number | null; macroF1: number | null } => {
      const e = emo(ps, f);
      return { accuracy: r3(e.acc), macroF1: r3(e.f1) };
    };
    calibration.emotion = {
      fittedOn: 'half A (crop + scene predictions of emo-base)',
      bias: Object.fromEntries(EMOTIONS.map((e, i) => [e, bias[i]])),
      cropB: { before: m(pick(emoBase.predictions, he, 'B')), after: m(pick(emoBase.predictions, he, 'B'), cal) },
      sceneB: { before: m(pick(s.predictions, he, 'B')), after: m(pick(s.predictions, he, 'B'), cal) },
      cropAll: { before: m(emoBase.predictions), after: m(emoBase.predictions, cal) },
      sceneAll: { before: m(s.predictions), after: m(s.predictions, cal) },
    };
  }
  if (demBase) {
    const s = demBase.scene!;
    const bias = fitGenderBias([...pick(demBase.predictions, hd, 'A'), ...pick(s.predictions, hd, 'A')]);
    const g = (ps: DemographicsPrediction[], b: number): { gender: number | null; raceGap: number | null } => ({ gender: r3(genderAcc(ps, b)), raceGap: r3(raceGap(ps, b)) });
    calibration.gender = {
      fittedOn: 'half A (crop + scene predictions of dem-base), balanced accuracy',
      logitBias: bias,
      cropB: { before: g(pick(demBase.predictions, hd, 'B'), 0), after: g(pick(demBase.predictions, hd, 'B'), bias) },
      sceneB: { before: g(pick(s.predictions, hd, 'B'), 0), after: g(pick(s.predictions, hd, 'B'), bias) },
      cropAll: { before: g(demBase.predictions, 0), after: g(demBase.predictions, bias) },
      sceneAll: { before: g(s.predictions, 0), after: g(s.predictions, bias) },
    };
  }
  // gender fusion with another model's P(male) (dem-gear, dem-faceres-deep): fused logit = (1 − w)·logit(p) +
  // w·logit(q) + bias, fitted on half A per mode and pooled over both modes, scored on half B
  const fusion: Record<string, unknown> = {};
  if (demBase) {
    const lg = (p: number): number => Math.log(Math.max(1e-6, p) / Math.max(1e-6, 1 - p));
    for (const other of ['dem-gear', 'dem-faceres-deep']) {
      const f = `${rawDir}/${other}.json`;
      if (!existsSync(f)) continue;
      const o = JSON.parse(await readFile(f, 'utf8')) as DemographicsEvalResult;
      const modes = [
        { m: 'crop', a: demBase.predictions, q: new Map(o.predictions.map((p) => [p.file, p.male])) },
        { m: 'scene', a: demBase.scene!.predictions, q: new Map(o.scene!.predictions.map((p) => [p.file, p.male])) },
      ];
      const acc = (w: number, b: number, ms: string[], half: 'A' | 'B'): number | null => {
        let ok = 0;
        let n = 0;
        for (const md of modes) {
          if (!ms.includes(md.m)) continue;
          for (const p of md.a) {
            const q = md.q.get(p.file);
            if (q === undefined || hd.get(p.file) !== half) continue;
            n++;
            if (((1 - w) * lg(p.male) + w * lg(q) + b >= 0 ? 'male' : 'female') === p.gender) ok++;
          }
        }
        return n ? ok / n : null;
      };
      const fit = (ms: string[]): { w: number; bias: number } => {
        let best = { w: 0, bias: 0, s: -1 };
        for (let w = 0; w <= 0.6001; w += 0.05) {
          for (let b = -1.5; b <= 1.5001; b += 0.05) {
            const s = acc(w, b, ms, 'A') ?? 0;
            if (s > best.s + 1e-9) best = { w: Math.round(w * 100) / 100, bias: Math.round(b * 100) / 100, s };
          }
        }
        return { w: best.w, bias: best.bias };
      };
      const perMode = Object.fromEntries(['crop', 'scene'].map((m) => {
        const ft = fit([m]);
        return [m, { ...ft, before: r3(acc(0, 0, [m], 'B')), afterB: r3(acc(ft.w, ft.bias, [m], 'B')) }];
      }));
      const pf = fit(['crop', 'scene']);
      fusion[other] = { perMode, pooled: { ...pf, cropB: r3(acc(pf.w, pf.bias, ['crop'], 'B')), sceneB: r3(acc(pf.w, pf.bias, ['scene'], 'B')) } };
    }
  }
  const cost = costFile && existsSync(costFile) ? JSON.parse(await readFile(costFile, 'utf8')) : undefined;
  const temporal = temporalFile && existsSync(temporalFile) ? JSON.parse(await readFile(temporalFile, 'utf8')) : undefined;
  const commands = {
    levers: 'node --import tsx eval/levers.ts run ../shared/devset/emotion/labels.csv ../shared/devset/demographics/labels.csv RAW',
    perLever: 'facecast eval <emotion|demographics> --labels ../shared/devset/<task>/labels.csv --scene --quiet --json RAW/<lever>.json [--manifest RAW/<lever>.manifest.yaml] [--tta]',
    cost: 'node --import tsx eval/levers-extra.ts cost RAW/cost.json base emo-ss1=RAW/emo-ss1.manifest.yaml dem-ss1=RAW/dem-ss1.manifest.yaml emo-stretch=RAW/emo-stretch.manifest.yaml emo-equalise=RAW/emo-equalise.manifest.yaml tta+tta',
    temporal: 'node --import tsx eval/levers-extra.ts temporal EMO4.csv DEM4.csv 5 RAW/temporal.json (EMO4/DEM4: every 4th data row of the dev CSVs)',
    report: 'node --import tsx eval/levers-report.ts ../shared/devset/emotion/labels.csv ../shared/devset/demographics/labels.csv RAW eval/results/levers.json RAW/cost.json RAW/temporal.json',
  };
  const doc = { split: 'A = even data rows, B = odd data rows of each CSV', commands, levers: rows, calibration, fusion, cost, temporal };
  await writeFile(out, JSON.stringify(doc, null, 2) + '\n');
  const p = (v: unknown): string => (typeof v === 'number' ? (v * 100).toFixed(1) : '-');
  for (const row of rows) {
    const c = row.crop as Record<string, number | null>;
    const sc = row.scene as Record<string, number | null>;
    if (row.task === 'emotion') {
      const k = row.calibrated as Record<string, number | null>;
      process.stdout.write(`| ${row.lever} | ${row.what} | ${p(c.accuracy)} (B ${p(c.accuracyB)}) | ${p(c.macroF1)} | ${p(sc.accuracy)} (B ${p(sc.accuracyB)}) | ${p(sc.macroF1)} | ${p(k.cropB)} / ${p(k.sceneB)} | ${sc.found}/${(sc.found ?? 0) + (sc.missed ?? 0)} |\n`);
    } else {
      process.stdout.write(`| ${row.lever} | ${row.what} | ${p(c.gender)} (B ${p(c.genderB)}) | ${p(c.raceGap)} | ${c.ageMae?.toFixed(2)} | ${p(sc.gender)} (B ${p(sc.genderB)}) | ${p(sc.raceGap)} | ${sc.ageMae?.toFixed(2)} | ${sc.found}/${(sc.found ?? 0) + (sc.missed ?? 0)} |\n`);
    }
  }
}

await main();
