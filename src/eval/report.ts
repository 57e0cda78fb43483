/**
 * Plain-text reports of the evaluation results: aligned columns, rates as percentages with one decimal,
 * "-" where a value is undefined (no examples). Meant for a terminal or a pasted issue comment; the JSON
 * output carries the same numbers unrounded.
 */
import type { DemographicsEvalResult, DemographicsSceneResult, GroupStats } from './demographics.js';
import type { DetectionEvalResult } from './detection.js';
import type { EmotionEvalResult, EmotionSceneResult, PathCounts, Unclassified, Unreadable } from './emotion.js';
import type { SceneSetup } from './scene.js';
import type { Gap } from './metrics.js';
import { table } from '../core/table.js';

export function pct(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : `${(v * 100).toFixed(1)}%`;
}

function num(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined ? '-' : v.toFixed(digits);
}

function problems(unreadable: readonly Unreadable[], unclassified: readonly Unclassified[]): string[] {
  const out: string[] = [];
  if (unreadable.length > 0) {
    out.push(`unreadable images: ${unreadable.length}`);
    for (const u of unreadable) out.push(`  line ${u.line}: ${u.file} (${u.code}: ${u.message})`);
  }
  if (unclassified.length > 0) {
    out.push(`unclassified faces: ${unclassified.length}`);
    for (const u of unclassified) out.push(`  line ${u.line}: ${u.file} (${u.reason})`);
  }
  return out;
}

function paths(p: PathCounts): string {
  const small = p.smallFace ? `, of which ${p.smallFace} because the detected face was too small` : '';
  return `path: ${p.detected} detected face, ${p.whole} whole image (no usable face detected${small})${p.none ? `, ${p.none} none` : ''}`;
}

export function formatEmotion(r: EmotionEvalResult): string {
  const out: string[] = [];
  out.push(`emotion — ${r.labelsFile}${r.tta ? ' (mirror TTA)' : ''}`);
  out.push(`n = ${r.n} of ${r.rows} rows; skipped ${r.skipped.count}${r.skipped.count ? ` (${Object.entries(r.skipped.labels).map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}`);
  out.push(paths(r.paths));
  out.push(`accuracy ${pct(r.accuracy)}   macro-F1 ${pct(r.macroF1)}`);
  out.push('');
  out.push(
    table(
      ['class', 'n', 'recall', 'precision', 'F1', 'predicted'],
      r.confusion.labels.map((l) => {
        const c = r.perClass[l];
        return [l, String(c.support), pct(c.recall), pct(c.precision), pct(c.f1), String(c.predicted)];
      }),
    ),
  );
  out.push('');
  out.push('confusion (rows: label, columns: prediction)');
  out.push(table(['label \\ pred', ...r.confusion.labels.map((l) => l.slice(0, 8))], r.confusion.labels.map((l, t) => [l, ...r.confusion.matrix[t].map(String)])));
  const p = problems(r.unreadable, r.unclassified);
  if (p.length) out.push('', ...p);
  if (r.scene) out.push('', ...emotionScene(r, r.scene));
  return out.join('\n') + '\n';
}

function sceneLine(s: SceneSetup, found: number, missed: number): string {
  return `scene (seed ${s.seed}, ${s.width}x${s.height}, crop ${pct(s.cropShare[0])}-${pct(s.cropShare[1])} of the width, ${s.backgroundUsed} background, JPEG ${s.jpegQuality[0]}-${s.jpegQuality[1]}, live detector, match score >= ${s.minScore}): ${found} faces found, ${missed} not found`;
}

function emotionScene(r: EmotionEvalResult, s: EmotionSceneResult): string[] {
  const rows: string[][] = [
    ['faces classified', String(r.n), String(s.n)],
    ['not found', '-', String(s.missed)],
    ['accuracy', pct(r.accuracy), pct(s.accuracy)],
    ['accuracy incl. not found', pct(r.accuracy), pct(s.endToEndAccuracy)],
    ['macro-F1', pct(r.macroF1), pct(s.macroF1)],
    ...r.confusion.labels.map((l) => [`recall ${l}`, pct(r.perClass[l].recall), pct(s.perClass[l].recall)]),
  ];
  const out = [sceneLine(s.setup, s.paths.detected, s.missed), table(['', 'crop', 'scene'], rows)];
  const p = problems(s.unreadable, s.unclassified.filter((u) => u.reason !== 'no face'));
  if (p.length) out.push('scene:', ...p);
  return out;
}

function demographicsScene(r: DemographicsEvalResult, s: DemographicsSceneResult): string[] {
  const rows: string[][] = [
    ['faces classified', String(r.n), String(s.n)],
    ['not found', '-', String(s.missed)],
    ['gender accuracy', pct(r.genderAccuracy), pct(s.genderAccuracy)],
    ['gender acc. incl. not found', pct(r.genderAccuracy), pct(s.endToEndGenderAccuracy)],
    ['age MAE (y)', num(r.ageMae, 1), num(s.ageMae, 1)],
    ...(r.race ? [['race accuracy', pct(r.raceAccuracy), pct(s.raceAccuracy)]] : []),
  ];
  for (const k of ['gender', 'race', 'ageBand'] as const) {
    for (const [g, st] of Object.entries(r.groups[k])) {
      const sg = s.groups[k][g];
      rows.push([`${k} ${g}: gender acc / age MAE`, `${pct(st.genderAccuracy)} / ${num(st.ageMae, 1)}`, `${pct(sg?.genderAccuracy)} / ${num(sg?.ageMae, 1)}`]);
    }
    rows.push([`${k}: gender acc gap`, pct(r.gaps[k].genderAccuracy.gap), pct(s.gaps[k].genderAccuracy.gap)]);
  }
  const out = [sceneLine(s.setup, s.paths.detected, s.missed), table(['', 'crop', 'scene'], rows)];
  const p = problems(s.unreadable, s.unclassified.filter((u) => u.reason !== 'no face'));
  if (p.length) out.push('scene:', ...p);
  return out;
}

function gapLine(name: string, g: Gap, fmt: (v: number | null) => string): string {
  if (g.gap === null || !g.max || !g.min) return `  ${name}: -`;
  return `  ${name}: ${fmt(g.gap)} (${g.max.group} ${fmt(g.max.value)} vs ${g.min.group} ${fmt(g.min.value)})`;
}

export function formatDemographics(r: DemographicsEvalResult): string {
  const out: string[] = [];
  out.push(`demographics — ${r.labelsFile}${r.tta ? ' (mirror TTA)' : ''}`);
  out.push(`n = ${r.n} of ${r.rows} rows`);
  out.push(paths(r.paths));
  const race = r.race ? `   race accuracy ${pct(r.raceAccuracy)} (n = ${r.raceSummary?.n ?? 0})` : '';
  out.push(`gender accuracy ${pct(r.genderAccuracy)}   age MAE ${num(r.ageMae, 1)} y (constant guess: ${num(r.ageMaeBaseline, 1)} y)   age bias ${signed(r.ageBias)} y${race}`);
  const header = ['group', 'n', 'gender acc', 'age MAE', 'age bias', ...(r.race ? ['race acc'] : [])];
  const row = (name: string, g: GroupStats): string[] => [name, String(g.n), pct(g.genderAccuracy), num(g.ageMae, 1), signed(g.ageBias), ...(r.race ? [pct(g.raceAccuracy)] : [])];
  const titles = { gender: 'gender', race: 'race', ageBand: 'age band' } as const;
  for (const k of ['gender', 'race', 'ageBand'] as const) {
    const groups = Object.entries(r.groups[k]);
    if (groups.length === 0) continue;
    out.push('', `by ${titles[k]}`);
    out.push(table(header, groups.map(([name, g]) => row(name, g))));
    const gaps = r.gaps[k];
    out.push('gaps (max − min over groups with faces):');
    out.push(gapLine('gender accuracy', gaps.genderAccuracy, pct));
    out.push(gapLine('age MAE', gaps.ageMae, (v) => `${num(v, 1)} y`));
    if (gaps.raceAccuracy) out.push(gapLine('race accuracy', gaps.raceAccuracy, pct));
  }
  if (r.raceSummary) {
    const s = r.raceSummary;
    out.push('', 'race (per class)');
    out.push(table(['class', 'n', 'recall', 'precision', 'predicted'], s.labels.map((l) => [l, String(s.perClass[l].support), pct(s.perClass[l].recall), pct(s.perClass[l].precision), String(s.perClass[l].predicted)])));
  }
  const p = problems(r.unreadable, r.unclassified);
  if (p.length) out.push('', ...p);
  if (r.scene) out.push('', ...demographicsScene(r, r.scene));
  return out.join('\n') + '\n';
}

function signed(v: number | null): string {
  return v === null ? '-' : `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;
}

export function formatDetection(r: DetectionEvalResult): string {
  const out: string[] = [];
  out.push(`detection — ${r.labelsFile}`);
  out.push(`${r.images} images, ${r.faces} faces (+${r.ignoredFaces} marked ignore)`);
  out.push('');
  out.push('operating point (detector defaults); AP from the low-threshold pass' + (r.sweepMinScore !== null ? ` (min score ${r.sweepMinScore})` : ''));
  out.push(
    table(
      ['IoU', 'TP', 'FP', 'FN', 'ignored', 'precision', 'recall', 'F1', 'mean IoU', 'AP'],
      r.byIoU.map((b) => [b.iou.toFixed(2), String(b.tp), String(b.fp), String(b.fn), String(b.ignored), pct(b.precision), pct(b.recall), pct(b.f1), num(b.meanIoU), pct(b.ap)]),
    ),
  );
  if (r.byIoU.some((b) => b.sweep.length > 0)) {
    out.push('', 'score-threshold sweep (precision / recall)');
    const thresholds = r.byIoU[0].sweep.map((s) => s.threshold);
    out.push(
      table(
        ['min score', ...r.byIoU.flatMap((b) => [`P@${b.iou}`, `R@${b.iou}`, `F1@${b.iou}`])],
        thresholds.map((t, k) => [t.toFixed(2), ...r.byIoU.flatMap((b) => [pct(b.sweep[k].precision), pct(b.sweep[k].recall), pct(b.sweep[k].f1)])]),
      ),
    );
  }
  out.push('', 'per image (operating point)');
  out.push(
    table(
      ['file', 'gt', 'ignore', 'detected', ...r.byIoU.flatMap((b) => [`TP@${b.iou}`, `FP@${b.iou}`, `FN@${b.iou}`])],
      r.perImage.map((p) => [p.file, String(p.gt), String(p.ignoredGt), String(p.detected), ...p.counts.flatMap((c) => [String(c.tp), String(c.fp), String(c.fn)])]),
    ),
  );
  const pr = problems(r.unreadable, []);
  if (pr.length) out.push('', ...pr);
  return out.join('\n') + '\n';
}
