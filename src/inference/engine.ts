/**
 * FaceEngine: the detector and classifiers built from the model manifest, warmed up and ready, running on the
 * calling thread. Stages share one engine, so their face crops batch together in the classifiers' batchers.
 * `facecast serve` and `facecast analyze` run it inside a worker thread (worker/client.ts: WorkerEngine), since
 * onnxruntime-node's run() and the crop sampler are synchronous JS-thread work; eval and tests use it directly.
 */
import { InvalidStateError, ModelError } from '../core/errors.js';
import { Logger } from '../core/log.js';
import type { Detection, FaceAttributes, RgbImage } from '../core/types.js';
import { loadManifest, getModel, type ClassificationModelEntry, type Manifest, type RoleName } from '../models/manifest.js';
import { ModelStore } from '../models/store.js';
import { FaceDetector, type DetectorOptions } from './detect.js';
import { ClassifierModel, FaceClassifier, type ClassifierOptions } from './classify.js';
import { OnnxSession, type ExecutionProvider } from './session.js';
import type { AnalyzeImageOptions, BatcherView, ClassifyScope, Engine, ImageAnalysis } from './api.js';

const log = new Logger('Engine');

export interface EngineOptions {
  /** Extra manifest files merged over the default one. */
  manifests?: string[];
  /** Override the manifest's roles (model ids). */
  roles?: Partial<Record<RoleName, string>>;
  provider?: ExecutionProvider;
  /** Intra-op threads for the detector (default 1) and the classifiers (default 1). */
  detectorThreads?: number;
  classifierThreads?: number;
  detector?: Partial<DetectorOptions>;
  classifier?: Partial<ClassifierOptions>;
  /** Skip the detector (classification of face crops only). */
  noDetector?: boolean;
  /**
   * Load no classifier (detection only): the detection half of SplitEngine (split.ts), whose other worker
   * classifies. classify() then returns attributes with no estimate in them.
   */
  noClassifiers?: boolean;
  /** Warm-up runs per model at start (default 1). */
  warmup?: number;
  store?: ModelStore;
}

export class FaceEngine implements Engine {
  readonly manifest: Manifest;
  readonly detector: FaceDetector | undefined;
  readonly classifier: FaceClassifier;
  readonly models: readonly ClassifierModel[];
  readonly #sessions: OnnxSession[];
  #closed = false;

  private constructor(manifest: Manifest, detector: FaceDetector | undefined, classifier: FaceClassifier, models: ClassifierModel[], sessions: OnnxSession[]) {
    this.manifest = manifest;
    this.detector = detector;
    this.classifier = classifier;
    this.models = models;
    this.#sessions = sessions;
  }

  static async create(opts: EngineOptions = {}): Promise<FaceEngine> {
    const manifest = loadManifest(opts.manifests ?? envManifests());
    const roles = { ...manifest.roles, ...opts.roles };
    const store = opts.store ?? new ModelStore();
    const sessions: OnnxSession[] = [];
    const models: ClassifierModel[] = [];
    try {
      let detector: FaceDetector | undefined;
      if (!opts.noDetector) {
        if (!roles.detector) throw new ModelError('E_MANIFEST_INVALID', 'no detector model configured (roles.detector)');
        const entry = getModel(manifest, roles.detector);
        if (entry.task !== 'face-detection') throw new ModelError('E_MANIFEST_INVALID', `model "${entry.id}" is not a face detector`);
        const r = await store.resolve(entry);
        const s = await OnnxSession.create(entry.id, r.onnxPath, { provider: opts.provider, threads: opts.detectorThreads ?? 1 });
        sessions.push(s);
        detector = new FaceDetector(s, entry, opts.detector);
      }
      const cls = (role: RoleName): ClassificationModelEntry | undefined => {
        const id = opts.noClassifiers ? undefined : roles[role];
        if (!id) return undefined;
        const e = getModel(manifest, id);
        if (e.task !== 'face-classification') throw new ModelError('E_MANIFEST_INVALID', `role "${role}": model "${id}" is not a face classifier`);
        return e;
      };
      const classifierOptions = opts.classifier ?? {};
      const emotionEntry = cls('emotion');
      const fuseId = emotionEntry?.heads.find((h) => h.head === 'emotion')?.fuse?.model;
      const fuseEntry = fuseId ? getModel(manifest, fuseId) : undefined;
      const entries = {
        emotion: emotionEntry,
        // validated by loadManifest: a face classifier with an emotion head
        emotionFuse: fuseEntry?.task === 'face-classification' ? fuseEntry : undefined,
        ageGender: cls('ageGender'),
        race: cls('race'),
      };
      const heads = FaceClassifier.headsFor(entries, { race: classifierOptions.race ?? false, descriptor: classifierOptions.descriptor ?? true });
      const byId = new Map<string, ClassifierModel>();
      for (const [id, hs] of heads) {
        if (hs.length === 0) continue;
        const entry = getModel(manifest, id) as ClassificationModelEntry;
        const r = await store.resolve(entry);
        const s = await OnnxSession.create(entry.id, r.onnxPath, { provider: opts.provider, threads: opts.classifierThreads ?? 1 });
        sessions.push(s);
        const m = new ClassifierModel(entry, s, hs, { maxBatch: classifierOptions.maxBatch ?? 8, maxWaitMs: classifierOptions.maxWaitMs ?? 2 });
        models.push(m);
        byId.set(id, m);
      }
      const pick = (e: ClassificationModelEntry | undefined): ClassifierModel | undefined => (e ? byId.get(e.id) : undefined);
      const classifier = new FaceClassifier({ emotion: pick(entries.emotion), emotionFuse: pick(entries.emotionFuse), ageGender: pick(entries.ageGender), race: pick(entries.race) }, classifierOptions);
      const engine = new FaceEngine(manifest, detector, classifier, models, sessions);
      await engine.warmup(opts.warmup ?? 1);
      log.info(`create() ready [detector:${detector?.entry.id ?? 'none'}, classifiers:${models.map((m) => m.entry.id).join('+') || 'none'}, provider:${sessions[0]?.provider ?? 'cpu'}]`);
      return engine;
    } catch (e) {
      for (const s of sessions) await s.close();
      throw e;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The onnxruntime sessions (detector first): their provider and CUDA fallback reason. */
  get sessions(): readonly OnnxSession[] {
    return this.#sessions;
  }

  /** Every model's batcher (detector first), for metrics: their batch-size counts. */
  get batchers(): readonly BatcherView[] {
    return [...(this.detector ? [this.detector.batcher] : []), ...this.models.map((m) => m.batcher)];
  }

  /** First runs allocate onnxruntime's buffers and pick kernels: do that before real frames arrive. */
  async warmup(runs: number): Promise<void> {
    const img: RgbImage = { data: new Uint8Array(320 * 240 * 3).fill(128), width: 320, height: 240, stride: 960 };
    const det: Detection = { box: { x: 100, y: 60, w: 100, h: 120 }, score: 1, keypoints: [] };
    for (let i = 0; i < runs; i++) {
      if (this.detector) await this.detector.detect(img);
      await this.classifier.classify(img, [{ detection: det }]);
    }
  }

  /** `letterbox`: the frame already scaled into the detector's square input, when ingest provides it. */
  async detect(img: RgbImage, signal?: AbortSignal, letterbox?: RgbImage): Promise<Detection[]> {
    this.#assertOpen();
    if (!this.detector) throw new InvalidStateError('this engine was created without a detector');
    return this.detector.detect(img, signal, letterbox);
  }

  /** Side of the detector's square input (for ingest to prepare letterboxed frames), if there is a detector. */
  get detectorInputSize(): number | undefined {
    return this.detector?.entry.input.width;
  }

  async classify(img: RgbImage, detections: readonly Detection[], signal?: AbortSignal, scope: ClassifyScope = 'all'): Promise<FaceAttributes[]> {
    this.#assertOpen();
    return this.classifier.classify(img, detections.map((detection) => ({ detection, scope })), signal);
  }

  /**
   * Detects and classifies the faces of a still image. When `wholeIfNone` is set and no face is found, the
   * image is taken to be a face crop and classified whole (the result says which path was used).
   */
  async analyzeImage(img: RgbImage, opts: AnalyzeImageOptions = {}): Promise<ImageAnalysis> {
    this.#assertOpen();
    const dets = this.detector ? await this.detector.detect(img, opts.signal) : [];
    if (dets.length > 0) {
      const attrs = await this.classify(img, dets, opts.signal);
      return { faces: dets.map((detection, i) => ({ detection, attributes: attrs[i] })), path: 'detected' };
    }
    if (!opts.wholeIfNone) return { faces: [], path: 'none' };
    const [attributes] = await this.classifier.classify(img, [{}], opts.signal);
    return { faces: [{ attributes }], path: 'whole' };
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('engine is closed');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.detector?.close();
    for (const m of this.models) await m.batcher.close();
    for (const s of this.#sessions) await s.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** FACECAST_MODELS: extra manifest files, separated by the platform's path delimiter (':' on Linux). */
export function envManifests(): string[] {
  const v = process.env.FACECAST_MODELS;
  return v ? v.split(process.platform === 'win32' ? ';' : ':').filter(Boolean) : [];
}
