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
import { type OnnxSession, ort } from '../inference/session.js';
import { makeNormaliser, sampleRegion, tensorSize, type Normaliser, type Region } from '../inference/preprocess.js';
import { nms } from './nms.js';

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
}

export const DEFAULT_DETECTOR_OPTIONS: DetectorOptions = {
  minScore: 0.5,
  iouThreshold: 0.3,
  maxFaces: 100,
  tiling: { mode: 'auto', tileSize: 640, overlap: 0.25, minScore: 0.6 },
  maxSupersample: 3,
};

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

export class FaceDetector {
  readonly session: OnnxSession;
  readonly entry: DetectionModelEntry;
  readonly options: DetectorOptions;
  readonly #norm: Normaliser;
  readonly #heads: HeadLayout[];
  readonly #inputSize: number;
  readonly #nkp: number;
  #buffer: Float32Array = new Float32Array(0);

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
  }

  /** The regions (whole frame, then tiles) that detect() will run for a frame of this size. */
  planRegions(width: number, height: number): PlannedRegion[] {
    const side = Math.max(width, height);
    const out: PlannedRegion[] = [{ region: { cx: width / 2, cy: height / 2, width: side, height: side, angle: 0, flip: false }, tile: false, x0: 0, y0: 0, x1: width, y1: height }];
    const t = this.options.tiling;
    if (t.mode === 'off' || side < t.tileSize * 1.25) return out;
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

  async detect(img: RgbImage): Promise<Detection[]> {
    const regions = this.planRegions(img.width, img.height);
    const per = tensorSize(this.#norm);
    const need = per * regions.length;
    if (this.#buffer.length < need) this.#buffer = new Float32Array(need);
    const buf = this.#buffer;
    for (let i = 0; i < regions.length; i++) sampleRegion(img, regions[i].region, this.#norm, buf, i * per, { maxSupersample: this.options.maxSupersample });
    const S = this.#inputSize;
    const dims = this.#norm.layout === 'NHWC' ? [regions.length, S, S, this.#norm.channels] : [regions.length, this.#norm.channels, S, S];
    const input = new ort.Tensor('float32', buf.subarray(0, need), dims);
    const out = await this.session.run({ [this.entry.input.name]: input });

    const candidates: Detection[] = [];
    for (let r = 0; r < regions.length; r++) {
      const pr = regions[r];
      const minScore = pr.tile ? this.options.tiling.minScore : this.options.minScore;
      const found = this.#decode(out, r, pr.region, minScore);
      for (const d of found) if (!pr.tile || !touchesInnerEdge(d, pr, img.width, img.height)) candidates.push(d);
    }
    return nms(candidates, { iouThreshold: this.options.iouThreshold, containThreshold: 0.6, blend: true, maxDetections: this.options.maxFaces });
  }

  /** Decodes one batch row into source-pixel detections. */
  #decode(out: Record<string, ort.Tensor>, row: number, region: Region, minScore: number): Detection[] {
    const S = this.#inputSize;
    const scale = region.width / S;
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
        for (let k = 0; k < this.#nkp; k++) kps.push({ x: ox + (anc.x + boxes[o + 4 + 2 * k]) * scale, y: oy + (anc.y + boxes[o + 5 + 2 * k]) * scale });
        res.push({ box: { x: ox + (cx - w / 2) * scale, y: oy + (cy - h / 2) * scale, w: w * scale, h: h * scale }, score: 1 / (1 + Math.exp(-logit)), keypoints: kps });
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
 * A detection touching a tile edge that lies inside the frame may be a cut-off face; the neighbouring tile (or
 * the whole-frame pass) sees it whole, so drop it here.
 */
function touchesInnerEdge(d: Detection, pr: PlannedRegion, width: number, height: number): boolean {
  const m = 0.02 * (pr.x1 - pr.x0);
  const b = d.box;
  if (pr.x0 > 0 && b.x < pr.x0 + m) return true;
  if (pr.y0 > 0 && b.y < pr.y0 + m) return true;
  if (pr.x1 < width && b.x + b.w > pr.x1 - m) return true;
  if (pr.y1 < height && b.y + b.h > pr.y1 - m) return true;
  return false;
}
