/**
 * Pure evaluation metrics: classification (confusion matrix, accuracy, per-class recall/precision/F1,
 * macro-F1), regression (MAE), group bias gaps, and detection (greedy matching, VOC AP, precision/recall over
 * score thresholds). No I/O, so every number here can be checked by hand in the unit tests.
 *
 * Undefined values (recall of a class with no examples, accuracy of an empty group) are `null`, not NaN:
 * NaN does not survive JSON.stringify and would be silently turned into null anyway.
 */
import type { Box } from '../core/types.js';

// ---------------------------------------------------------------------------------------------------------
// classification

export interface ClassStats {
  /** Examples whose true label is this class. */
  support: number;
  /** Examples predicted as this class. */
  predicted: number;
  tp: number;
  recall: number | null;
  precision: number | null;
  f1: number | null;
}

export interface ClassificationSummary {
  labels: string[];
  n: number;
  correct: number;
  accuracy: number | null;
  /** Mean F1 over the classes that occur in the truth or in the predictions (sklearn's default). */
  macroF1: number | null;
  perClass: Record<string, ClassStats>;
  /** matrix[t][p]: examples of true class labels[t] predicted as labels[p]. */
  confusion: number[][];
}

export interface LabelPair<L extends string = string> {
  truth: L;
  pred: L;
}

/** Confusion matrix, rows = truth, columns = prediction. Pairs with a label outside `labels` throw. */
export function confusionMatrix(labels: readonly string[], pairs: readonly LabelPair[]): number[][] {
  const index = new Map(labels.map((l, i) => [l, i]));
  const m = labels.map(() => labels.map(() => 0));
  for (const { truth, pred } of pairs) {
    const t = index.get(truth);
    const p = index.get(pred);
    if (t === undefined || p === undefined) throw new RangeError(`label "${t === undefined ? truth : pred}" is not one of ${labels.join(', ')}`);
    m[t][p]++;
  }
  return m;
}

export function ratio(num: number, den: number): number | null {
  return den > 0 ? num / den : null;
}

export function classificationSummary(labels: readonly string[], pairs: readonly LabelPair[]): ClassificationSummary {
  const confusion = confusionMatrix(labels, pairs);
  const perClass: Record<string, ClassStats> = {};
  const f1s: number[] = [];
  let correct = 0;
  labels.forEach((label, k) => {
    const tp = confusion[k][k];
    const support = confusion[k].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[k], 0);
    correct += tp;
    const recall = ratio(tp, support);
    const precision = ratio(tp, predicted);
    // F1 = 2TP / (2TP + FP + FN) is defined whenever the class occurs at all, even if recall or precision is not
    const f1 = ratio(2 * tp, support + predicted);
    perClass[label] = { support, predicted, tp, recall, precision, f1 };
    if (f1 !== null) f1s.push(f1);
  });
  return { labels: [...labels], n: pairs.length, correct, accuracy: ratio(correct, pairs.length), macroF1: mean(f1s), perClass, confusion };
}

// ---------------------------------------------------------------------------------------------------------
// regression and groups

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Mean absolute error of (truth, prediction) pairs; null when empty. */
export function meanAbsoluteError(pairs: readonly { truth: number; pred: number }[]): number | null {
  return mean(pairs.map((p) => Math.abs(p.pred - p.truth)));
}

/** Partitions items by key, keeping the order in which keys first appear unless `order` is given. */
export function groupBy<T>(items: readonly T[], key: (t: T) => string | undefined, order?: readonly string[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const k of order ?? []) out.set(k, []);
  for (const it of items) {
    const k = key(it);
    if (k === undefined) continue;
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(it);
  }
  return out;
}

export interface Gap {
  /** max − min over the groups that have a value. */
  gap: number | null;
  max: { group: string; value: number } | null;
  min: { group: string; value: number } | null;
}

/** The spread of a metric across groups: the bias gap. Groups whose value is null are left out. */
export function biasGap(values: Readonly<Record<string, number | null>>): Gap {
  let max: Gap['max'] = null;
  let min: Gap['min'] = null;
  for (const [group, value] of Object.entries(values)) {
    if (value === null) continue;
    if (!max || value > max.value) max = { group, value };
    if (!min || value < min.value) min = { group, value };
  }
  return { gap: max && min ? max.value - min.value : null, max, min };
}

export { AGE_BANDS, ageBand, type AgeBand } from '../core/records.js';

// ---------------------------------------------------------------------------------------------------------
// detection

export interface GroundTruthBox extends Box {
  /** Too small / occluded / turned away: neither required (no FN) nor penalised (no FP) when detected. */
  ignore?: boolean;
}

export interface ScoredBox extends Box {
  score: number;
}

export type DetectionOutcome = 'tp' | 'fp' | 'ignored';

export interface MatchedDetection {
  score: number;
  outcome: DetectionOutcome;
  /** Index of the ground-truth box it was matched to, or -1. */
  gt: number;
  iou: number;
}

export interface ImageMatch {
  /** In descending score order. */
  detections: MatchedDetection[];
  /** Non-ignored ground-truth boxes (the recall denominator). */
  positives: number;
  /** For each ground-truth box: whether a detection was matched to it. */
  gtMatched: boolean[];
}

export function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const ih = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy matching of one image's detections to its ground truth, highest score first. Each detection takes
 * the unmatched non-ignored box with the highest IoU ≥ `iouThreshold` (TP); failing that, an unmatched ignored
 * box (outcome 'ignored', counted neither way, as in COCO where real faces are preferred over ignore regions);
 * otherwise it is a FP. Because higher scores match first, dropping every detection below a threshold leaves
 * the remaining matches unchanged, so one matching serves every score threshold.
 */
export function matchDetections(gts: readonly GroundTruthBox[], dets: readonly ScoredBox[], iouThreshold: number): ImageMatch {
  const order = dets.map((_, i) => i).sort((a, b) => dets[b].score - dets[a].score || a - b);
  const gtMatched = gts.map(() => false);
  const detections: MatchedDetection[] = [];
  for (const di of order) {
    const d = dets[di];
    let best = -1;
    let bestIou = 0;
    for (const pass of [false, true]) {
      for (let g = 0; g < gts.length; g++) {
        if (gtMatched[g] || Boolean(gts[g].ignore) !== pass) continue;
        const v = iou(d, gts[g]);
        if (v >= iouThreshold && v > bestIou) {
          best = g;
          bestIou = v;
        }
      }
      if (best >= 0) break;
    }
    if (best >= 0) gtMatched[best] = true;
    detections.push({ score: d.score, outcome: best < 0 ? 'fp' : gts[best].ignore ? 'ignored' : 'tp', gt: best, iou: bestIou });
  }
  return { detections, positives: gts.filter((g) => !g.ignore).length, gtMatched };
}

export interface Counts {
  tp: number;
  fp: number;
  fn: number;
  /** Detections that matched an ignored box. */
  ignored: number;
}

/** TP/FP/FN of one image (or, summed, of a set) counting only detections with score ≥ minScore. */
export function countsAt(m: ImageMatch, minScore = -Infinity): Counts {
  let tp = 0;
  let fp = 0;
  let ignored = 0;
  for (const d of m.detections) {
    if (d.score < minScore) continue;
    if (d.outcome === 'tp') tp++;
    else if (d.outcome === 'fp') fp++;
    else ignored++;
  }
  return { tp, fp, fn: m.positives - tp, ignored };
}

export function sumCounts(list: readonly Counts[]): Counts {
  const s: Counts = { tp: 0, fp: 0, fn: 0, ignored: 0 };
  for (const c of list) {
    s.tp += c.tp;
    s.fp += c.fp;
    s.fn += c.fn;
    s.ignored += c.ignored;
  }
  return s;
}

export interface PrecisionRecall {
  threshold: number;
  tp: number;
  fp: number;
  fn: number;
  /** null when nothing was detected. */
  precision: number | null;
  /** null when there is no ground truth. */
  recall: number | null;
  f1: number | null;
}

export function precisionRecall(c: Counts, threshold: number): PrecisionRecall {
  return { threshold, tp: c.tp, fp: c.fp, fn: c.fn, precision: ratio(c.tp, c.tp + c.fp), recall: ratio(c.tp, c.tp + c.fn), f1: ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn) };
}

/** Precision/recall over the whole set at each score threshold. */
export function thresholdSweep(matches: readonly ImageMatch[], thresholds: readonly number[]): PrecisionRecall[] {
  return thresholds.map((t) => precisionRecall(sumCounts(matches.map((m) => countsAt(m, t))), t));
}

/**
 * VOC (2010+) all-point interpolated average precision: the area under the precision-recall curve after
 * replacing each precision by the highest precision at any greater recall. Detections of all images are ranked
 * together by score; ignored ones are left out. Null when there is no ground truth.
 */
export function averagePrecision(matches: readonly ImageMatch[]): number | null {
  const positives = matches.reduce((a, m) => a + m.positives, 0);
  if (positives === 0) return null;
  const ranked = matches.flatMap((m) => m.detections.filter((d) => d.outcome !== 'ignored')).sort((a, b) => b.score - a.score);
  return apFromRanked(ranked.map((d) => d.outcome === 'tp'), positives);
}

/** AP from a ranked list of hits (true = TP) and the number of positives. Exposed for testing. */
export function apFromRanked(hits: readonly boolean[], positives: number): number {
  const rec: number[] = [0];
  const prec: number[] = [0];
  let tp = 0;
  hits.forEach((hit, i) => {
    if (hit) tp++;
    rec.push(tp / positives);
    prec.push(tp / (i + 1));
  });
  rec.push(1);
  prec.push(0);
  // precision envelope: monotonically non-increasing from the right
  for (let i = prec.length - 2; i >= 0; i--) prec[i] = Math.max(prec[i], prec[i + 1]);
  let ap = 0;
  for (let i = 1; i < rec.length; i++) if (rec[i] !== rec[i - 1]) ap += (rec[i] - rec[i - 1]) * prec[i];
  return ap;
}
