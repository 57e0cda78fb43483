/**
 * Face detection with BlazeFace-style anchor models.
 *
 * The frame is letterboxed into the square model input (stretching a 16:9 frame makes faces narrower than the
 * model was trained on: boxes come out ~14 % too wide and small faces are lost). Large frames can add
 * overlapping square tiles, run in the same batch as the whole frame, so that faces too small to be found at
 * 256 px across the whole frame are found in a tile; all candidates are merged by weighted NMS.
 */
import type { Detection, RgbImage, Point } from '../core/types.js';
import type { DetectionModelEntry } from '../models/manifest.js';
import { type OnnxSession, ort } from './session.js';
import { Batcher } from './batcher.js';
import { makeNormaliser, sampleRegion, tensorSize, type Normaliser, type Region } from './preprocess.js';
import { iou, nms } from './nms.js';

export interface TilingOptions {
  /** 'off': whole frame only. 'auto': add tiles when the frame is much larger than a tile. */
  mode: 'off' | 'auto';
  /** Tile side in source pixels. */
  tileSize: number;
  /** Overlap between neighbouring tiles, as a fraction of the tile side. */
  overlap: number;
  /** Score threshold for detections found in tiles (tiles see more clutter at a larger scale). */
  minScore: number;
}

export interface DetectorOptions {
  /** Score threshold (after sigmoid) for whole-frame detections. */
  minScore: number;
  iouThreshold: number;
  maxFaces: number;
  tiling: TilingOptions;
  /** Supersampling cap when shrinking the frame into the input (quality vs. CPU). */
  maxSupersample: number;
  /** Frames per detector run when several callers (streams) detect at once. */
  maxBatch: number;
  /** How long a frame may wait for others to share its run (ms). */
  maxWaitMs: number;
}

export const DEFAULT_DETECTOR_OPTIONS: DetectorOptions = {
  minScore: 0.5,
  iouThreshold: 0.3,
  maxFaces: 100,
  tiling: { mode: 'auto', tileSize: 640, overlap: 0.25, minScore: 0.55 },
  maxSupersample: 2,
  maxBatch: 4,
  maxWaitMs: 0,
};

interface DetectInput {
  img: RgbImage;
  letterbox: RgbImage | undefined;
}

interface Anchor {
  x: number;
  y: number;
}

interface HeadLayout {
  scores: string;
  boxes: string;
  anchors: Anchor[];
}

interface PlannedRegion {
  region: Region;
  tile: boolean;
  /** Source rectangle covered (for the tile-edge rule). */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export class FaceDetector implements AsyncDisposable {
  readonly session: OnnxSession;
  readonly entry: DetectionModelEntry;
  readonly options: DetectorOptions;
  readonly #norm: Normaliser;
  readonly #heads: HeadLayout[];
  readonly #inputSize: number;
  readonly #nkp: number;
  #buffer: Float32Array = new Float32Array(0);
  /**
   * All detection goes through one batcher: it runs one batch at a time, so the shared input buffer is never
   * rewritten while onnxruntime reads it, and frames from several callers share a run.
   */
  readonly batcher: Batcher<DetectInput, Detection[]>;

  constructor(session: OnnxSession, entry: DetectionModelEntry, options: Partial<DetectorOptions> = {}) {
    this.session = session;
    this.entry = entry;
    this.options = { ...DEFAULT_DETECTOR_OPTIONS, ...options, tiling: { ...DEFAULT_DETECTOR_OPTIONS.tiling, ...options.tiling } };
    if (entry.input.width !== entry.input.height) throw new TypeError(`detector "${entry.id}" must have a square input`);
    this.#inputSize = entry.input.width;
    this.#norm = makeNormaliser(entry.input);
    this.#nkp = entry.decoder.keypoints;
    this.#heads = entry.decoder.heads.map((h) => ({ scores: h.scores, boxes: h.boxes, anchors: makeAnchors(this.#inputSize, h.stride, h.anchorsPerCell) }));
    session.assertIo(entry.input.name, entry.decoder.heads.flatMap((h) => [h.scores, h.boxes]));
    this.batcher = new Batcher({ name: entry.id, maxBatch: this.options.maxBatch, maxWaitMs: this.options.maxWaitMs, run: (imgs) => this.#run(imgs) });
  }

  /** The regions (whole frame, then tiles) that detect() will run for a frame of this size. */
  planRegions(width: number, height: number): PlannedRegion[] {
    const side = Math.max(width, height);
    const out: PlannedRegion[] = [{ region: { cx: width / 2, cy: height / 2, width: side, height: side, angle: 0, flip: false }, tile: false, x0: 0, y0: 0, x1: width, y1: height }];
    const t = this.options.tiling;
    // The whole-frame pass finds faces down to ~16 input px, i.e. side/16 source px: ~80 px at 720p, ~120 px at
    // 1080p. Tiles (2.5× the scale at 640 px) bring that to ~40 px, at ~7–9 more detector runs per frame; 'auto'
    // pays that only on frames larger than two tiles (above 1280 px), where whole-frame detection misses most.
    if (t.mode === 'off' || side <= t.tileSize * 2) return out;
    const T = t.tileSize;
    const axis = (len: number): number[] => {
      if (len <= T) return [len / 2];
      const n = Math.max(2, Math.ceil((len - T * t.overlap) / (T * (1 - t.overlap))));
      const step = (len - T) / (n - 1);
      return Array.from({ length: n }, (_, i) => T / 2 + i * step);
    };
    for (const cy of axis(height)) {
      for (const cx of axis(width)) {
        out.push({ region: { cx, cy, width: T, height: T, angle: 0, flip: false }, tile: true, x0: Math.max(0, cx - T / 2), y0: Math.max(0, cy - T / 2), x1: Math.min(width, cx + T / 2), y1: Math.min(height, cy + T / 2) });
      }
    }
    return out;
  }

  /**
   * Detects faces in `img`. `letterbox`, when given, is the whole frame already scaled into the detector's
   * square input (see src/ingest/letterbox.ts): the whole-frame pass then reads it as is instead of sampling the
   * full-size frame; tiles still come from `img`.
   */
  detect(img: RgbImage, signal?: AbortSignal, letterbox?: RgbImage): Promise<Detection[]> {
    return this.batcher.submit({ img, letterbox }, signal);
  }

  async #run(inputs: DetectInput[]): Promise<Detection[][]> {
    const imgs = inputs.map((x) => x.img);
    const plans = imgs.map((img) => this.planRegions(img.width, img.height));
    const rows = plans.reduce((n, p) => n + p.length, 0);
    const per = tensorSize(this.#norm);
    const need = per * rows;
    if (this.#buffer.length < need) this.#buffer = new Float32Array(need);
    const buf = this.#buffer;
    let row = 0;
    const S = this.#inputSize;
    for (let i = 0; i < imgs.length; i++) {
      const lb = inputs[i].letterbox;
      for (const [r, pr] of plans[i].entries()) {
        if (r === 0 && lb && lb.width === S && lb.height === S) {
          sampleRegion(lb, { cx: S / 2, cy: S / 2, width: S, height: S, angle: 0, flip: false }, this.#norm, buf, per * row++);
        } else {
          sampleRegion(imgs[i], pr.region, this.#norm, buf, per * row++, { maxSupersample: this.options.maxSupersample });
        }
      }
    }
    const dims = this.#norm.layout === 'NHWC' ? [rows, S, S, this.#norm.channels] : [rows, this.#norm.channels, S, S];
    const out = await this.session.run({ [this.entry.input.name]: new ort.Tensor('float32', buf.subarray(0, need), dims) });

    const results: Detection[][] = [];
    row = 0;
    for (let i = 0; i < imgs.length; i++) {
      const [whole, ...tiles] = plans[i];
      // The whole-frame row is decoded down to CONFIRM_SCORE: its weak candidates vouch for tile detections.
      const wholeAll = this.#decode(out, row++, whole.region, Math.min(CONFIRM_SCORE, this.options.minScore));
      const candidates = wholeAll.filter((d) => d.score >= this.options.minScore);
      const fullScale = whole.region.width / this.#inputSize;
      for (const pr of tiles) {
        for (const d of this.#decode(out, row++, pr.region, this.options.tiling.minScore)) {
          if (keepTileDetection(d, pr, imgs[i].width, imgs[i].height, fullScale, wholeAll)) candidates.push(d);
        }
      }
      results.push(nms(candidates, { iouThreshold: this.options.iouThreshold, containThreshold: 0.6, blend: true, maxDetections: this.options.maxFaces }));
    }
    return results;
  }

  async close(): Promise<void> {
    await this.batcher.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Decodes one batch row into source-pixel detections. */
  #decode(out: Record<string, ort.Tensor>, row: number, region: Region, minScore: number): Detection[] {
    const S = this.#inputSize;
    // Separate x/y scales keep the decoding right for any region; facecast letterboxes, so they are equal.
    const sx = region.width / S;
    const sy = region.height / S;
    const ox = region.cx - region.width / 2;
    const oy = region.cy - region.height / 2;
    // logit threshold avoids a sigmoid per anchor
    const minLogit = Math.log(minScore / (1 - minScore));
    const res: Detection[] = [];
    for (const head of this.#heads) {
      const scores = out[head.scores].data as Float32Array;
      const boxes = out[head.boxes].data as Float32Array;
      const n = head.anchors.length;
      // values per anchor (4 box + 2 per keypoint), the same for every batch row
      const stride = boxes.length / scores.length;
      const sBase = row * n;
      const bBase = row * n * stride;
      for (let a = 0; a < n; a++) {
        const logit = scores[sBase + a];
        if (logit < minLogit) continue;
        const anc = head.anchors[a];
        const o = bBase + a * stride;
        const cx = anc.x + boxes[o];
        const cy = anc.y + boxes[o + 1];
        const w = boxes[o + 2];
        const h = boxes[o + 3];
        if (!(w > 0 && h > 0)) continue;
        const kps: Point[] = [];
        for (let k = 0; k < this.#nkp; k++) kps.push({ x: ox + (anc.x + boxes[o + 4 + 2 * k]) * sx, y: oy + (anc.y + boxes[o + 5 + 2 * k]) * sy });
        res.push({ box: { x: ox + (cx - w / 2) * sx, y: oy + (cy - h / 2) * sy, w: w * sx, h: h * sy }, score: 1 / (1 + Math.exp(-logit)), keypoints: kps });
      }
    }
    return res;
  }
}

/** Anchor centres in input pixels: row-major cells, `perCell` anchors per cell. */
export function makeAnchors(inputSize: number, stride: number, perCell: number): Anchor[] {
  const n = Math.ceil(inputSize / stride);
  const out: Anchor[] = [];
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) for (let a = 0; a < perCell; a++) out.push({ x: (x + 0.5) * stride, y: (y + 0.5) * stride });
  return out;
}

/**
 * Tiles are there for faces too small for the whole-frame pass, and at tile scale clutter (hands, patterns,
 * partial faces) scores 0.5–0.65. A tile detection is kept only if:
 * - it does not touch a tile edge that lies inside the frame (it may be a cut-off face, which the neighbouring
 *   tile or the whole frame sees whole);
 * - it is small for the tile (large boxes at tile scale are mostly partial faces);
 * - when it is large enough for the whole-frame pass to see (≥ CONFIRM_SIDE input pixels there), that pass has
 *   at least a weak candidate on it. Measured on the npm group photos: this removes every tile false positive
 *   while 36–55 px faces on a 1920×1080 frame are still all found (only 5 of 22 without tiles).
 */
function keepTileDetection(d: Detection, pr: PlannedRegion, width: number, height: number, fullScale: number, whole: readonly Detection[]): boolean {
  const side = pr.region.width;
  const b = d.box;
  const size = Math.max(b.w, b.h);
  if (size > MAX_TILE_FACE * side) return false;
  const m = 0.02 * side;
  if (pr.x0 > 0 && b.x < pr.x0 + m) return false;
  if (pr.y0 > 0 && b.y < pr.y0 + m) return false;
  if (pr.x1 < width && b.x + b.w > pr.x1 - m) return false;
  if (pr.y1 < height && b.y + b.h > pr.y1 - m) return false;
  if (size / fullScale >= CONFIRM_SIDE && !whole.some((w) => iou(w.box, b) > 0.3)) return false;
  return true;
}

/** Largest face side, as a fraction of the tile side, that a tile may report. */
const MAX_TILE_FACE = 0.4;
/** Face side (whole-frame input pixels) from which the whole-frame pass must confirm a tile detection. */
const CONFIRM_SIDE = 16;
/** Whole-frame score that counts as confirmation. */
const CONFIRM_SCORE = 0.2;
