/**
 * SplitEngine: an Engine over two worker threads, one detecting and one classifying, for offline analysis
 * (`facecast analyze`). One WorkerEngine serialises every model run of a video on one thread, so one core
 * analyses while the other mostly waits; with the detector on its own thread, FrameAnalyzer.prefetch() runs the
 * next detection frame's detection while this one's faces are classified (src/pipeline/pipelined.ts), and the
 * main thread decodes beside both.
 *
 * `facecast serve` keeps one WorkerEngine: there every stream's requests must reach the same batchers, and the
 * cores are already shared between streams.
 */
import type { Detection, FaceAttributes, RgbImage } from '../core/types.js';
import type { AnalyzeImageOptions, BatcherView, ClassifyScope, Engine, ImageAnalysis } from './api.js';
import { WorkerEngine, type WorkerEngineOptions } from './worker/client.js';

export class SplitEngine implements Engine {
  /** Runs the detector only (noClassifiers). */
  readonly detector: WorkerEngine;
  /** Runs the classifiers, and a detector of its own for analyzeImage() (still images need both in one call). */
  readonly classifier: WorkerEngine;
  #closing: Promise<void> | undefined;

  private constructor(detector: WorkerEngine, classifier: WorkerEngine) {
    this.detector = detector;
    this.classifier = classifier;
  }

  /** Starts both workers (in parallel); if either fails to load, the other is closed and the error rejects here. */
  static async create(opts: WorkerEngineOptions = {}): Promise<SplitEngine> {
    const [d, c] = await Promise.allSettled([WorkerEngine.create({ ...opts, noClassifiers: true }), WorkerEngine.create(opts)]);
    if (d.status === 'fulfilled' && c.status === 'fulfilled') return new SplitEngine(d.value, c.value);
    if (d.status === 'fulfilled') await d.value.close();
    if (c.status === 'fulfilled') await c.value.close();
    throw d.status === 'rejected' ? d.reason : (c as PromiseRejectedResult).reason;
  }

  get closed(): boolean {
    return this.detector.closed || this.classifier.closed;
  }

  get detectorInputSize(): number | undefined {
    return this.detector.detectorInputSize;
  }

  /** The detection worker's detector, then the classification worker's models (its own detector left out). */
  get batchers(): readonly BatcherView[] {
    return [...this.detector.batchers, ...this.classifier.batchers.slice(this.classifier.detectorInputSize === undefined ? 0 : 1)];
  }

  /** Why a requested CUDA provider was not taken, if so (both workers try the same provider). */
  get fallbackReason(): string | undefined {
    return this.classifier.fallbackReason ?? this.detector.fallbackReason;
  }

  detect(img: RgbImage, signal?: AbortSignal, letterbox?: RgbImage): Promise<Detection[]> {
    return this.detector.detect(img, signal, letterbox);
  }

  classify(img: RgbImage, detections: readonly Detection[], signal?: AbortSignal, scope?: ClassifyScope): Promise<FaceAttributes[]> {
    return this.classifier.classify(img, detections, signal, scope);
  }

  analyzeImage(img: RgbImage, opts?: AnalyzeImageOptions): Promise<ImageAnalysis> {
    return this.classifier.analyzeImage(img, opts);
  }

  /** Idempotent: closes both workers. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([this.detector.close(), this.classifier.close()]).then(() => undefined);
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
