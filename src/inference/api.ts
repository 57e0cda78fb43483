/**
 * What the rest of facecast uses of an inference engine. Two implementations: `FaceEngine` (engine.ts) runs the
 * models on the calling thread (eval, tests, tools), `WorkerEngine` (worker/client.ts) runs one FaceEngine in a
 * worker thread and keeps the caller's event loop free (serve, analyze).
 */
import type { Detection, FaceAttributes, RgbImage } from '../core/types.js';
import type { BatcherStats } from './batcher.js';

export interface AnalyzedFace {
  detection?: Detection;
  attributes: FaceAttributes;
}

export interface ImageAnalysis {
  faces: AnalyzedFace[];
  /** 'detected': faces came from the detector; 'whole': no face was detected and the image was classified whole. */
  path: 'detected' | 'whole' | 'none';
}

export interface AnalyzeImageOptions {
  /** No face found: classify the whole image as one face crop. */
  wholeIfNone?: boolean;
  signal?: AbortSignal;
}

/**
 * What a classification computes. 'all': every role (emotion; age, gender and the descriptor; race when
 * enabled). 'emotion': the emotion role only. A person's age, gender and descriptor do not change over a track
 * while the expression does, so the live budget (src/pipeline/budget.ts) re-reads them less often than emotion:
 * the age/gender model (faceres, 224 px) costs ~4× the two emotion models together.
 */
export type ClassifyScope = 'all' | 'emotion';

/** A model's batcher as metrics see it: its name and batch-size counts. */
export interface BatcherView {
  readonly name: string;
  readonly stats: Readonly<BatcherStats>;
}

/**
 * The image buffers passed in must not be changed until the call settles (an aborted call settles at once, but
 * a worker may still read the buffer for a moment: its result is discarded, so a reused buffer only costs a
 * wasted run, never a wrong answer).
 */
export interface Engine extends AsyncDisposable {
  readonly closed: boolean;
  /** Side of the detector's square input (for ingest to prepare letterboxed frames), if there is a detector. */
  readonly detectorInputSize: number | undefined;
  /** Every model's batcher (detector first), for metrics. */
  readonly batchers: readonly BatcherView[];
  /** `letterbox`: the frame already scaled into the detector's square input, when ingest provides it. */
  detect(img: RgbImage, signal?: AbortSignal, letterbox?: RgbImage): Promise<Detection[]>;
  classify(img: RgbImage, detections: readonly Detection[], signal?: AbortSignal, scope?: ClassifyScope): Promise<FaceAttributes[]>;
  /** Detects and classifies the faces of a still image (see AnalyzeImageOptions). */
  analyzeImage(img: RgbImage, opts?: AnalyzeImageOptions): Promise<ImageAnalysis>;
  /** Idempotent; calls after close throw InvalidStateError. */
  close(): Promise<void>;
}
