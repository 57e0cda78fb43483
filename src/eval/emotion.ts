/**
 * `facecast eval emotion`: accuracy of the emotion head on a labelled folder of face images.
 *
 * Also home of the face-image runner shared with the demographics evaluation: both read images that are
 * usually face crops, so each image goes through `analyzeImage(img, { wholeIfNone: true })` (the detector
 * first; the whole image when it finds nothing) and the largest detected face is taken. Which path each image
 * took is reported, because a crop classified whole is aligned differently from a detected face. A tight crop
 * (FER's 48x48) can also yield a detected face below the classifier's minimum size although the image itself is
 * the face; such images are classified whole too, and counted.
 */
import { resolve } from 'node:path';
import { InputError, errorMessage } from '../core/errors.js';
import { EMOTIONS, type Emotion, type FaceAttributes, type RgbImage } from '../core/types.js';
import type { FaceEngine } from '../inference/engine.js';
import { loadImage } from '../ingest/image.js';
import { canonicalLabel, readLabelFile, type CsvRow } from './csv.js';
import { classificationSummary, ratio, type ClassStats } from './metrics.js';
import { analyzeLabelledScenes, type SceneAnalyzer, type SceneCounts, type SceneOptions, type SceneSetup } from './scene.js';

/** The part of FaceEngine these evaluations use (tests pass a fake). */
export type FaceAnalyzer = Pick<FaceEngine, 'analyzeImage'> & { classifier: Pick<FaceEngine['classifier'], 'classify'> };
export type ImageLoader = (path: string) => Promise<RgbImage>;

export interface RunOptions {
  /**
   * Images in flight at once (default 4): decoding (sharp's thread pool) overlaps inference, and face crops of
   * different images share detector and classifier batches. Results do not depend on it.
   */
  concurrency?: number;
  load?: ImageLoader;
  /** Called after each image (done, total), e.g. for a progress line. */
  onProgress?: (done: number, total: number) => void;
}

export interface Unreadable {
  file: string;
  line: number;
  code: string;
  message: string;
}

export interface Unclassified {
  file: string;
  line: number;
  reason: string;
}

export interface LabelledImage {
  /** Path as written in the CSV. */
  file: string;
  line: number;
}

export interface FaceOutcome<T extends LabelledImage> {
  item: T;
  path: 'detected' | 'whole' | 'none';
  /** True when a detected face was too small and the image was classified whole instead. */
  smallFace: boolean;
  /** Faces the detector found (0 when none was). */
  faces: number;
  /** Attributes of the largest face. */
  attributes: FaceAttributes | undefined;
}

export interface PathCounts {
  detected: number;
  /** Classified as a whole image: no face detected, or (counted in smallFace too) the face found was too small. */
  whole: number;
  none: number;
  /**
   * Images whose largest detected face was below the classifier's minimum size and that were classified whole
   * instead: in a 48x48 FER-style crop the detector finds a ~30 px face, but the image itself is the face.
   */
  smallFace: number;
}

/**
 * Loads and analyses each labelled image. Images that cannot be read are collected rather than thrown, so one
 * bad file does not lose the whole run; any other error (a failing model) still aborts.
 */
export async function analyzeLabelledImages<T extends LabelledImage>(
  items: readonly T[],
  baseDir: string,
  engine: FaceAnalyzer,
  opts: RunOptions = {},
): Promise<{ outcomes: FaceOutcome<T>[]; unreadable: Unreadable[]; paths: PathCounts }> {
  const load = opts.load ?? loadImage;
  const slots: (FaceOutcome<T> | Unreadable | undefined)[] = new Array(items.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      const item = items[k];
      let img: RgbImage;
      try {
        img = await load(resolve(baseDir, item.file));
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        slots[k] = { file: item.file, line: item.line, code: e.code, message: errorMessage(e) };
        opts.onProgress?.(++done, items.length);
        continue;
      }
      const r = await engine.analyzeImage(img, { wholeIfNone: true });
      // several faces in a crop: the subject is the largest one (background faces are smaller)
      let best = r.faces[0];
      const area = (f: typeof best): number => (f.detection ? f.detection.box.w * f.detection.box.h : Infinity);
      for (const f of r.faces) if (area(f) > area(best)) best = f;
      const faces = r.path === 'detected' ? r.faces.length : 0;
      if (best?.attributes.status === 'too-small') {
        const [attributes] = await engine.classifier.classify(img, [{}]);
        slots[k] = { item, path: 'whole', smallFace: true, faces, attributes };
      } else {
        slots[k] = { item, path: r.path, smallFace: false, faces, attributes: best?.attributes };
      }
      opts.onProgress?.(++done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, items.length)) }, worker));
  const outcomes: FaceOutcome<T>[] = [];
  const unreadable: Unreadable[] = [];
  const paths: PathCounts = { detected: 0, whole: 0, none: 0, smallFace: 0 };
  for (const s of slots) {
    if (!s) continue;
    if ('item' in s) {
      outcomes.push(s);
      paths[s.path]++;
      if (s.smallFace) paths.smallFace++;
    } else unreadable.push(s);
  }
  return { outcomes, unreadable, paths };
}

/** Why a face got no usable prediction for `what`, e.g. "too-small". */
export function missingReason(o: FaceOutcome<LabelledImage>, what: string): string {
  if (!o.attributes) return 'no face';
  if (o.attributes.status !== 'ok') return o.attributes.status;
  return `no ${what} output (is the model configured?)`;
}

// ---------------------------------------------------------------------------------------------------------

/** Label spellings used by common datasets (FER2013, AffectNet, RAF-DB, CK+), lower case. */
const EMOTION_ALIASES: Readonly<Record<string, Emotion>> = {
  anger: 'angry',
  disgusted: 'disgust',
  fearful: 'fear',
  scared: 'fear',
  happiness: 'happy',
  sadness: 'sad',
  surprised: 'surprise',
};

/** Canonical emotion for a CSV label (case-insensitive, aliases accepted), or undefined when it is not one. */
export function normaliseEmotion(label: string): Emotion | undefined {
  return canonicalLabel(EMOTIONS, EMOTION_ALIASES, label);
}

export interface EmotionPrediction {
  file: string;
  label: Emotion;
  pred: Emotion;
  /** Probability of the predicted label. */
  confidence: number;
  path: 'detected' | 'whole' | 'none';
  /** Probabilities in EMOTIONS order (for calibration fitting). */
  probs: number[];
}

/** The same figures for the faces placed in scenes (--scene), plus how many of them the detector missed. */
export interface EmotionSceneResult extends Omit<EmotionEvalResult, 'scene' | 'paths'> {
  paths: SceneCounts;
  setup: SceneSetup;
  missed: number;
  /** Correct predictions over found + missed faces: a missed face gives no reading live. */
  endToEndAccuracy: number | null;
}

export interface EmotionEvalResult {
  task: 'emotion';
  labelsFile: string;
  tta: boolean;
  /** Data rows in the CSV. */
  rows: number;
  /** Images evaluated (rows − skipped − unreadable − unclassified). */
  n: number;
  /** Rows whose label is not one of the seven emotions (e.g. contempt), by label. */
  skipped: { count: number; labels: Record<string, number> };
  unreadable: Unreadable[];
  unclassified: Unclassified[];
  paths: PathCounts;
  accuracy: number | null;
  macroF1: number | null;
  perClass: Record<Emotion, ClassStats>;
  /** matrix[t][p]: images labelled labels[t] predicted as labels[p]. */
  confusion: { labels: Emotion[]; matrix: number[][] };
  predictions: EmotionPrediction[];
  /** With --scene: the scene figures beside these crop figures. */
  scene?: EmotionSceneResult;
}

interface EmotionItem extends LabelledImage {
  label: Emotion;
}

/** Scene evaluation settings: the engine view with the live detector, and the composition options. */
export interface SceneRun {
  engine: SceneAnalyzer;
  options?: Partial<SceneOptions>;
}

export async function evaluateEmotion(labelsPath: string, engine: FaceAnalyzer, opts: RunOptions & { tta?: boolean; scene?: SceneRun } = {}): Promise<EmotionEvalResult> {
  const csv = await readLabelFile(labelsPath, ['file', 'label']);
  const items: EmotionItem[] = [];
  const skipped: Record<string, number> = {};
  let skippedCount = 0;
  for (const row of csv.rows) {
    const file = requireFile(csv.source, row);
    const label = normaliseEmotion(row.values.label);
    if (!label) {
      const key = row.values.label.toLowerCase() || '(empty)';
      skipped[key] = (skipped[key] ?? 0) + 1;
      skippedCount++;
      continue;
    }
    items.push({ file, line: row.line, label });
  }
  const crop = await analyzeLabelledImages(items, csv.dir, engine, opts);
  const head = { labelsFile: csv.path, tta: opts.tta ?? false, rows: csv.rows.length, skipped: { count: skippedCount, labels: skipped } };
  const result: EmotionEvalResult = { ...head, ...summariseEmotion(crop.outcomes, crop.unreadable, crop.paths) };
  if (opts.scene) {
    const sc = await analyzeLabelledScenes(items, csv.dir, opts.scene.engine, { ...opts, scene: opts.scene.options });
    const s = summariseEmotion(sc.outcomes, sc.unreadable, sc.paths);
    const correct = s.predictions.filter((p) => p.label === p.pred).length;
    result.scene = { ...head, ...s, paths: sc.paths, setup: sc.setup, missed: sc.paths.missed, endToEndAccuracy: ratio(correct, s.n + sc.paths.missed) };
  }
  return result;
}

function summariseEmotion(outcomes: readonly FaceOutcome<EmotionItem>[], unreadable: Unreadable[], paths: PathCounts): Omit<EmotionEvalResult, 'labelsFile' | 'tta' | 'rows' | 'skipped'> & { task: 'emotion' } {
  const predictions: EmotionPrediction[] = [];
  const unclassified: Unclassified[] = [];
  for (const o of outcomes) {
    const e = o.attributes?.emotion;
    if (!e) {
      unclassified.push({ file: o.item.file, line: o.item.line, reason: missingReason(o, 'emotion') });
      continue;
    }
    predictions.push({ file: o.item.file, label: o.item.label, pred: e.label, confidence: e.probs[EMOTIONS.indexOf(e.label)], path: o.path, probs: e.probs });
  }
  const s = classificationSummary(EMOTIONS, predictions.map((p) => ({ truth: p.label, pred: p.pred })));
  return {
    task: 'emotion',
    n: predictions.length,
    unreadable,
    unclassified,
    paths,
    accuracy: s.accuracy,
    macroF1: s.macroF1,
    perClass: s.perClass as Record<Emotion, ClassStats>,
    confusion: { labels: [...EMOTIONS], matrix: s.confusion },
    predictions,
  };
}

/** The row's `file` value; an empty one is a malformed row, not an unreadable image. */
export function requireFile(source: string, row: CsvRow): string {
  const f = row.values.file;
  if (!f) throw new InputError('E_INPUT_INVALID', `${source}:${row.line}: column "file" is empty`);
  return f;
}
