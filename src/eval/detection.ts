/**
 * `facecast eval detection`: face-detector precision, recall and AP on images with hand-drawn face boxes.
 *
 * Two passes over each image: the detector as configured (the operating point that users actually get) and
 * the same model with its score thresholds lowered, whose ranked low-score detections give the AP and the
 * precision/recall sweep used to choose a threshold. Both IoU 0.3 and 0.5 are reported: annotation
 * conventions (forehead-to-chin vs. hairline, ear to ear or not) differ from the detector's training boxes,
 * so a face found with a loosely fitting box fails 0.5 but is still found; the gap between the two tells
 * localisation error apart from missed faces.
 */
import { resolve } from 'node:path';
import { InputError, errorMessage } from '../core/errors.js';
import type { Detection, RgbImage } from '../core/types.js';
import { loadImage } from '../ingest/image.js';
import { FaceDetector } from '../inference/detect.js';
import { parseNumber, readLabelFile, rowError } from './csv.js';
import type { ImageLoader, Unreadable } from './emotion.js';
import { averagePrecision, countsAt, matchDetections, mean, precisionRecall, sumCounts, thresholdSweep, type GroundTruthBox, type ImageMatch, type PrecisionRecall } from './metrics.js';

export interface DetectorLike {
  detect(img: RgbImage): Promise<Detection[]>;
}

export const IOU_THRESHOLDS = [0.3, 0.5] as const;
export const SWEEP_THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95] as const;
/** Score threshold of the low-threshold pass (AP and sweep need the tail of weak detections). */
export const SWEEP_MIN_SCORE = 0.1;

/**
 * The engine's detector model with both score thresholds (whole frame and tiles) lowered to SWEEP_MIN_SCORE.
 * It shares the loaded session, so the second pass costs no extra model load or memory.
 */
export function lowThresholdDetector(d: FaceDetector): FaceDetector {
  return new FaceDetector(d.session, d.entry, { ...d.options, minScore: SWEEP_MIN_SCORE, tiling: { ...d.options.tiling, minScore: SWEEP_MIN_SCORE } });
}

export interface IouResult {
  iou: number;
  /** At the operating point (detector defaults). */
  tp: number;
  fp: number;
  fn: number;
  /** Detections that matched a box marked ignore (counted neither way). */
  ignored: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  /** Mean IoU of the true positives: how tightly the detector's boxes fit this annotation convention. */
  meanIoU: number | null;
  /** VOC all-point AP from the low-threshold pass; null without it. */
  ap: number | null;
  /** Precision/recall of the low-threshold pass at each score threshold. */
  sweep: PrecisionRecall[];
}

export interface ImageCounts {
  file: string;
  /** Faces that count (not ignored). */
  gt: number;
  ignoredGt: number;
  /** Detections at the operating point. */
  detected: number;
  counts: { iou: number; tp: number; fp: number; fn: number }[];
}

export interface DetectionEvalResult {
  task: 'detection';
  labelsFile: string;
  rows: number;
  /** Images evaluated. */
  images: number;
  /** Ground-truth faces that count, and those marked ignore, over the evaluated images. */
  faces: number;
  ignoredFaces: number;
  unreadable: Unreadable[];
  /** Score threshold of the low-threshold pass, or null when it was not run. */
  sweepMinScore: number | null;
  byIoU: IouResult[];
  perImage: ImageCounts[];
}

interface LabelledDetectionImage {
  file: string;
  line: number;
  boxes: GroundTruthBox[];
}

/**
 * Parses `file,x,y,w,h[,ignore]`, one row per face, grouped by image (in first-seen order). A row whose
 * x,y,w,h are all empty lists an image with no faces, so that false positives on it are counted.
 */
export async function readDetectionLabels(labelsPath: string): Promise<{ path: string; dir: string; rows: number; images: LabelledDetectionImage[] }> {
  const csv = await readLabelFile(labelsPath, ['file', 'x', 'y', 'w', 'h']);
  const byFile = new Map<string, LabelledDetectionImage>();
  for (const row of csv.rows) {
    const file = row.values.file;
    if (!file) rowError(csv, row, 'column "file" is empty');
    let img = byFile.get(file);
    if (!img) byFile.set(file, (img = { file, line: row.line, boxes: [] }));
    const v = row.values;
    if (v.x === '' && v.y === '' && v.w === '' && v.h === '') continue;
    const box: GroundTruthBox = {
      x: parseNumber(csv, row, 'x'),
      y: parseNumber(csv, row, 'y'),
      w: parseNumber(csv, row, 'w', { min: Number.MIN_VALUE }),
      h: parseNumber(csv, row, 'h', { min: Number.MIN_VALUE }),
    };
    const ig = (v.ignore ?? '').toLowerCase();
    if (ig === '1' || ig === 'true' || ig === 'yes') box.ignore = true;
    else if (ig !== '' && ig !== '0' && ig !== 'false' && ig !== 'no') rowError(csv, row, `column "ignore": "${v.ignore}" is not 1/true/0/false`);
    img.boxes.push(box);
  }
  return { path: csv.path, dir: csv.dir, rows: csv.rows.length, images: [...byFile.values()] };
}

export interface DetectionEvalOptions {
  load?: ImageLoader;
  onProgress?: (done: number, total: number) => void;
}

/**
 * @param detector the operating point (the engine's detector as configured)
 * @param sweepDetector the same model with lowered thresholds; without it AP is null and the sweep is empty
 */
export async function evaluateDetection(labelsPath: string, detector: DetectorLike, sweepDetector: DetectorLike | undefined, opts: DetectionEvalOptions = {}): Promise<DetectionEvalResult> {
  const labels = await readDetectionLabels(labelsPath);
  const load = opts.load ?? loadImage;
  const unreadable: Unreadable[] = [];
  const evaluated: { image: LabelledDetectionImage; op: Detection[]; low: Detection[] | undefined }[] = [];
  let done = 0;
  // one image at a time: each detect() call already batches the whole frame with its tiles
  for (const image of labels.images) {
    let img: RgbImage;
    try {
      img = await load(resolve(labels.dir, image.file));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      unreadable.push({ file: image.file, line: image.line, code: e.code, message: errorMessage(e) });
      opts.onProgress?.(++done, labels.images.length);
      continue;
    }
    const op = await detector.detect(img);
    const low = sweepDetector ? await sweepDetector.detect(img) : undefined;
    evaluated.push({ image, op, low });
    opts.onProgress?.(++done, labels.images.length);
  }

  const flat = (ds: Detection[]): { x: number; y: number; w: number; h: number; score: number }[] => ds.map((d) => ({ ...d.box, score: d.score }));
  const perImage: ImageCounts[] = evaluated.map(({ image, op }) => ({
    file: image.file,
    gt: image.boxes.filter((b) => !b.ignore).length,
    ignoredGt: image.boxes.filter((b) => b.ignore).length,
    detected: op.length,
    counts: [],
  }));
  const byIoU: IouResult[] = IOU_THRESHOLDS.map((t) => {
    const opMatches: ImageMatch[] = evaluated.map((e) => matchDetections(e.image.boxes, flat(e.op), t));
    opMatches.forEach((m, k) => {
      const c = countsAt(m);
      perImage[k].counts.push({ iou: t, tp: c.tp, fp: c.fp, fn: c.fn });
    });
    const total = sumCounts(opMatches.map((m) => countsAt(m)));
    const pr = precisionRecall(total, 0);
    const tpIous = opMatches.flatMap((m) => m.detections.filter((d) => d.outcome === 'tp').map((d) => d.iou));
    let ap: number | null = null;
    let sweep: PrecisionRecall[] = [];
    if (sweepDetector) {
      const lowMatches = evaluated.map((e) => matchDetections(e.image.boxes, flat(e.low ?? []), t));
      ap = averagePrecision(lowMatches);
      sweep = thresholdSweep(lowMatches, SWEEP_THRESHOLDS);
    }
    return { iou: t, tp: total.tp, fp: total.fp, fn: total.fn, ignored: total.ignored, precision: pr.precision, recall: pr.recall, f1: pr.f1, meanIoU: mean(tpIous), ap, sweep };
  });
  return {
    task: 'detection',
    labelsFile: labels.path,
    rows: labels.rows,
    images: evaluated.length,
    faces: perImage.reduce((a, p) => a + p.gt, 0),
    ignoredFaces: perImage.reduce((a, p) => a + p.ignoredGt, 0),
    unreadable,
    sweepMinScore: sweepDetector ? SWEEP_MIN_SCORE : null,
    byIoU,
    perImage,
  };
}
