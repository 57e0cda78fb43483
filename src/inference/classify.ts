/**
 * Per-face classification: emotion, age, gender, descriptor, and race only when enabled.
 *
 * Each classification model has its own Batcher, so face crops from every caller (frames, streams) share
 * runs. A model serving several roles (faceres: age, gender, descriptor) runs once per face. With test-time
 * augmentation each face is also run mirrored and the outputs averaged, which steadies the small FER model.
 */
import type { Detection, FaceAttributes, RgbImage } from '../core/types.js';
import type { ClassifyScope } from './api.js';
import type { ClassificationModelEntry, CropSpec, HeadSpec } from '../models/manifest.js';
import { Batcher } from './batcher.js';
import { type OnnxSession, ort } from './session.js';
import { applyContrast, makeNormaliser, sampleRegion, tensorSize, type Normaliser, type Region } from './preprocess.js';
import { faceRegion, wholeImageRegion } from './align.js';
import { ageDistribution, ageResult, emotionProbs, emotionResult, fuseEmotionProbs, genderResult, maleProbability, normaliseDescriptor, raceProbs, raceResult } from './heads.js';

export interface ClassifierOptions {
  /** Mirror test-time augmentation. */
  tta: boolean;
  /** Faces whose larger box side is below this (px) are reported as too small, not guessed. */
  minFaceSize: number;
  /** Run the race head (off unless explicitly enabled). */
  race: boolean;
  /** Compute the face descriptor (used by the tracker to re-link tracks). */
  descriptor: boolean;
  maxBatch: number;
  maxWaitMs: number;
}

export const DEFAULT_CLASSIFIER_OPTIONS: ClassifierOptions = { tta: false, minFaceSize: 30, race: false, descriptor: true, maxBatch: 8, maxWaitMs: 2 };

export interface FaceTarget {
  /** The detected face; omit to classify the whole image as one face (for inputs that are face crops). */
  detection?: Detection;
  /** 'emotion': only the emotion role runs (see ClassifyScope). Default 'all'. */
  scope?: ClassifyScope;
}

interface Item {
  img: RgbImage;
  regions: Region[];
}
/** Output name → values averaged over an item's views. */
type Outputs = Map<string, Float32Array>;

/** One classification model: its session, normaliser, batcher and which outputs facecast reads. */
export class ClassifierModel implements AsyncDisposable {
  readonly entry: ClassificationModelEntry;
  readonly session: OnnxSession;
  readonly batcher: Batcher<Item, Outputs>;
  readonly #norm: Normaliser;
  readonly #outputs: string[];
  #buffer = new Float32Array(0);

  constructor(entry: ClassificationModelEntry, session: OnnxSession, heads: readonly HeadSpec[], opts: Pick<ClassifierOptions, 'maxBatch' | 'maxWaitMs'>) {
    this.entry = entry;
    this.session = session;
    this.#norm = makeNormaliser(entry.input);
    this.#outputs = [...new Set(heads.map((h) => h.output))];
    session.assertIo(entry.input.name, this.#outputs);
    this.batcher = new Batcher<Item, Outputs>({ name: entry.id, maxBatch: opts.maxBatch, maxWaitMs: opts.maxWaitMs, run: (items) => this.#run(items) });
  }

  async #run(items: Item[]): Promise<Outputs[]> {
    const per = tensorSize(this.#norm);
    let views = 0;
    for (const it of items) views += it.regions.length;
    if (this.#buffer.length < views * per) this.#buffer = new Float32Array(views * per);
    let v = 0;
    const ss = { maxSupersample: this.entry.crop.supersample ?? 4 };
    const contrast = this.entry.input.contrast ?? 'none';
    for (const it of items) {
      for (const r of it.regions) {
        sampleRegion(it.img, r, this.#norm, this.#buffer, per * v, ss);
        if (contrast !== 'none') applyContrast(this.#buffer, per * v, this.#norm, contrast);
        v++;
      }
    }
    const { width: W, height: H, channels: C, layout } = this.#norm;
    const dims = layout === 'NHWC' ? [views, H, W, C] : [views, C, H, W];
    const out = await this.session.run({ [this.entry.input.name]: new ort.Tensor('float32', this.#buffer.subarray(0, views * per), dims) }, this.#outputs);
    const results: Outputs[] = [];
    v = 0;
    for (const it of items) {
      const m: Outputs = new Map();
      for (const name of this.#outputs) {
        const data = out[name].data as Float32Array;
        const len = data.length / views;
        const acc = new Float32Array(len);
        for (let k = 0; k < it.regions.length; k++) {
          const base = (v + k) * len;
          for (let j = 0; j < len; j++) acc[j] += data[base + j];
        }
        for (let j = 0; j < len; j++) acc[j] /= it.regions.length;
        m.set(name, acc);
      }
      v += it.regions.length;
      results.push(m);
    }
    return results;
  }

  classify(img: RgbImage, target: FaceTarget, tta: boolean, signal?: AbortSignal): Promise<Outputs> {
    return this.batcher.submit({ img, regions: viewsFor(img, target, this.entry.crop, tta) }, signal);
  }

  regionFor(img: RgbImage, target: FaceTarget): Region {
    return regionFor(img, target, this.entry.crop);
  }

  async close(): Promise<void> {
    await this.batcher.close();
    await this.session.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * The model's crop of the face. When that crop would be larger than the whole image, the image is already a
 * face crop (a dataset crop, a thumbnail): classify it whole rather than pad it with black borders.
 */
export function regionFor(img: RgbImage, target: FaceTarget, crop: CropSpec): Region {
  if (!target.detection) return wholeImageRegion(img);
  const r = faceRegion(target.detection, crop);
  return Math.max(r.width, r.height) >= Math.max(img.width, img.height) ? wholeImageRegion(img) : r;
}

/**
 * Every view of a face whose outputs are averaged: the main crop, the manifest's extra scales (multi-crop; not
 * when the image is classified whole, which has no box to scale), and the mirror of each with TTA or
 * `crop.mirror`.
 */
export function viewsFor(img: RgbImage, target: FaceTarget, crop: CropSpec, tta: boolean): Region[] {
  const base = regionFor(img, target, crop);
  const regions = [base];
  const side = Math.max(img.width, img.height);
  if (target.detection && Math.max(base.width, base.height) < side) {
    for (const s of crop.extraScales ?? []) {
      const r = faceRegion(target.detection, { ...crop, scale: s });
      if (Math.max(r.width, r.height) < side) regions.push(r);
    }
  }
  if (tta || crop.mirror) for (let i = 0, n = regions.length; i < n; i++) regions.push({ ...regions[i], flip: true });
  return regions;
}

/** Logit-space fusion of two P(male) readings (see the manifest's gender `fuse`). */
export function fuseMale(a: number, b: number, weight: number, bias: number): number {
  const lg = (p: number): number => {
    const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
    return Math.log(q / (1 - q));
  };
  return 1 / (1 + Math.exp(-((1 - weight) * lg(a) + weight * lg(b) + bias)));
}

export interface RoleBindings {
  emotion?: ClassifierModel;
  /** The model the emotion head's `fuse` names (runs with the emotion model on every face). */
  emotionFuse?: ClassifierModel;
  ageGender?: ClassifierModel;
  race?: ClassifierModel;
}

function head<H extends HeadSpec['head']>(m: ClassifierModel | undefined, h: H): Extract<HeadSpec, { head: H }> | undefined {
  return m?.entry.heads.find((x): x is Extract<HeadSpec, { head: H }> => x.head === h);
}

/** Combines the role models into FaceAttributes. Owns nothing: the engine closes the models. */
export class FaceClassifier {
  readonly options: ClassifierOptions;
  readonly #roles: RoleBindings;

  constructor(roles: RoleBindings, options: Partial<ClassifierOptions> = {}) {
    this.options = { ...DEFAULT_CLASSIFIER_OPTIONS, ...options };
    this.#roles = roles;
  }

  /** Heads each model must provide for the configured roles. */
  static headsFor(roles: { emotion?: ClassificationModelEntry; emotionFuse?: ClassificationModelEntry; ageGender?: ClassificationModelEntry; race?: ClassificationModelEntry }, opts: Pick<ClassifierOptions, 'race' | 'descriptor'>): Map<string, HeadSpec[]> {
    const need = new Map<string, HeadSpec[]>();
    const add = (e: ClassificationModelEntry | undefined, kinds: HeadSpec['head'][]): void => {
      if (!e) return;
      const list = need.get(e.id) ?? [];
      for (const h of e.heads) if (kinds.includes(h.head) && !list.includes(h)) list.push(h);
      need.set(e.id, list);
    };
    add(roles.emotion, ['emotion']);
    if (roles.emotion?.heads.some((h) => h.head === 'emotion' && h.fuse)) add(roles.emotionFuse, ['emotion']);
    add(roles.ageGender, opts.descriptor ? ['age', 'gender', 'descriptor'] : ['age', 'gender']);
    if (opts.race) add(roles.race, roles.race?.heads.some((h) => h.head === 'gender' && h.fuse) ? ['race', 'gender'] : ['race']);
    return need;
  }

  async classify(img: RgbImage, targets: readonly FaceTarget[], signal?: AbortSignal): Promise<FaceAttributes[]> {
    return Promise.all(targets.map((t) => this.classifyOne(img, t, signal)));
  }

  async classifyOne(img: RgbImage, target: FaceTarget, signal?: AbortSignal): Promise<FaceAttributes> {
    const size = target.detection ? Math.max(target.detection.box.w, target.detection.box.h) : Math.max(img.width, img.height);
    if (size < this.options.minFaceSize) return { status: 'too-small' };
    const { emotion, emotionFuse } = this.#roles;
    const person = target.scope !== 'emotion';
    const ageGender = person ? this.#roles.ageGender : undefined;
    const race = person ? this.#roles.race : undefined;
    const tta = this.options.tta;
    const useRace = this.options.race && race !== undefined;
    // Models shared between roles run once.
    const runs = new Map<ClassifierModel, Promise<Outputs>>();
    const runOf = (m: ClassifierModel): Promise<Outputs> => {
      let p = runs.get(m);
      if (!p) {
        p = m.classify(img, target, tta, signal);
        runs.set(m, p);
      }
      return p;
    };
    const eh = head(emotion, 'emotion');
    const fuseWith = eh?.fuse && emotionFuse ? emotionFuse : undefined;
    const [eo, fo, ao, ro] = await Promise.all([
      emotion ? runOf(emotion) : undefined,
      fuseWith ? runOf(fuseWith) : undefined,
      ageGender ? runOf(ageGender) : undefined,
      useRace && race ? runOf(race) : undefined,
    ]);
    const attrs: FaceAttributes = { status: 'ok' };
    if (eo && eh) {
      let probs = emotionProbs(eh, eo.get(eh.output)!);
      const fh = head(fuseWith, 'emotion');
      if (fo && fh) probs = fuseEmotionProbs(eh, probs, emotionProbs(fh, fo.get(fh.output)!));
      attrs.emotion = emotionResult(probs);
    }
    const ah = head(ageGender, 'age');
    if (ao && ah) {
      const d = ageDistribution(ah, ao.get(ah.output)!);
      attrs.age = ageResult(d.probs, d.centres, ah.calibration);
    }
    const gh = head(ageGender, 'gender');
    if (ao && gh) {
      let male = maleProbability(gh, ao.get(gh.output)!);
      const fh = race !== ageGender ? head(race, 'gender') : undefined;
      if (ro && fh?.fuse) male = fuseMale(male, maleProbability(fh, ro.get(fh.output)!), fh.fuse.weight, fh.fuse.bias ?? 0);
      attrs.gender = genderResult(male);
    }
    const dh = head(ageGender, 'descriptor');
    if (ao && dh && this.options.descriptor) attrs.descriptor = normaliseDescriptor(ao.get(dh.output)!);
    const rh = head(race, 'race');
    if (ro && rh) attrs.race = raceResult(raceProbs(rh, ro.get(rh.output)!));
    return attrs;
  }
}
