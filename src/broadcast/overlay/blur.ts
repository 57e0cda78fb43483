/**
 * Face anonymisation for `privacy.blurFaces`: each face box (with a margin) is reduced to a coarse mosaic of
 * about 8 blocks across and then smoothed, so identity does not survive while the scene stays readable. Runs on
 * the frame before the overlay draws boxes and labels, in place — interleaved RGB (snapshots) or each plane of
 * a yuv420p picture (live video: Y at full size, U/V on the 2×2 blocks the region touches); one scratch buffer
 * reused, so it can run on every frame (~0.1 ms for a 100×100 face).
 *
 * It blurs what the analysis found: a face the detector missed is not blurred. When there is no analysis for a
 * frame yet, callers blur the whole frame (fail closed).
 */
import type { FrameRecord } from '../../core/records.js';
import { isYuv, type Picture } from './draw.js';

/** Blocks across the longer side of a box. */
const BLOCKS = 8;
/** Margin added around each detection box, as a fraction of its size (hair, ears, chin). */
const MARGIN = 0.2;

let scratch = new Int32Array(0);

/** Pixelates then box-smooths [x, x+w)×[y, y+h) of `img` (clipped to it); on yuv420p each plane in turn. */
export function blurRegion(img: Picture, x: number, y: number, w: number, h: number, blocks = BLOCKS): void {
  const x0 = Math.max(0, Math.floor(x));
  const y0 = Math.max(0, Math.floor(y));
  const x1 = Math.min(img.width, Math.ceil(x + w));
  const y1 = Math.min(img.height, Math.ceil(y + h));
  if (x1 <= x0 || y1 <= y0) return;
  const block = Math.max(2, Math.ceil(Math.max(x1 - x0, y1 - y0) / blocks));
  if (!isYuv(img)) return blurPlane(img.data, img.stride, 3, x0, y0, x1, y1, block);
  blurPlane(img.y, img.strideY, 1, x0, y0, x1, y1, block);
  // Chroma: the 2×2 blocks the region touches, with blocks of half the size (the same mosaic on the picture).
  const cb = Math.max(1, block >> 1);
  blurPlane(img.u, img.strideU, 1, x0 >> 1, y0 >> 1, (x1 + 1) >> 1, (y1 + 1) >> 1, cb);
  blurPlane(img.v, img.strideV, 1, x0 >> 1, y0 >> 1, (x1 + 1) >> 1, (y1 + 1) >> 1, cb);
}

/** The mosaic and smoothing on one plane of `ch` interleaved channels (3: RGB, 1: a Y, U or V plane). */
function blurPlane(d: Uint8Array, stride: number, ch: number, x0: number, y0: number, x1: number, y1: number, block: number): void {
  // 1. Mosaic: every block becomes its mean colour.
  for (let by = y0; by < y1; by += block) {
    const ey = Math.min(y1, by + block);
    for (let bx = x0; bx < x1; bx += block) {
      const ex = Math.min(x1, bx + block);
      const n = (ey - by) * (ex - bx);
      for (let c = 0; c < ch; c++) {
        let sum = 0;
        for (let yy = by; yy < ey; yy++) {
          for (let i = yy * stride + bx * ch + c, e = yy * stride + ex * ch; i < e; i += ch) sum += d[i];
        }
        const mean = Math.round(sum / n);
        for (let yy = by; yy < ey; yy++) {
          for (let i = yy * stride + bx * ch + c, e = yy * stride + ex * ch; i < e; i += ch) d[i] = mean;
        }
      }
    }
  }
  // 2. Smooth the block edges: a horizontal then a vertical running-sum box of half a block.
  const radius = Math.max(1, block >> 1);
  const start = y0 * stride + x0 * ch;
  boxPass(d, start, x1 - x0, y1 - y0, ch, stride, ch, radius);
  boxPass(d, start, y1 - y0, x1 - x0, stride, ch, ch, radius);
}

/**
 * One 1-D box filter over `len` samples `step` bytes apart, for each of `lines` lines `lineStep` bytes apart,
 * from byte `start`; `ch` interleaved channels; edges clamp. (Rows: step = ch; columns: step = stride.)
 */
function boxPass(d: Uint8Array, start: number, len: number, lines: number, step: number, lineStep: number, ch: number, radius: number): void {
  if (scratch.length < len * ch) scratch = new Int32Array(len * ch);
  const s = scratch;
  const win = 2 * radius + 1;
  for (let line = 0; line < lines; line++) {
    const base = start + line * lineStep;
    for (let k = 0; k < len; k++) {
      const i = base + k * step;
      for (let c = 0; c < ch; c++) s[k * ch + c] = d[i + c];
    }
    for (let c = 0; c < ch; c++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) sum += s[Math.min(len - 1, Math.max(0, k)) * ch + c];
      for (let k = 0; k < len; k++) {
        d[base + k * step + c] = Math.round(sum / win);
        sum += s[Math.min(len - 1, k + radius + 1) * ch + c] - s[Math.max(0, k - radius) * ch + c];
      }
    }
  }
}

/** Blurs every face of `rec` (boxes in `img`'s pixels) with a margin. */
export function blurFaces(img: Picture, rec: FrameRecord): void {
  // Detections not yet confirmed as tracks too: a face is hidden from its first detection (fail closed).
  for (const { x, y, w, h } of [...rec.faces.map((f) => f.box), ...(rec.unconfirmed ?? [])]) {
    blurRegion(img, x - w * MARGIN, y - h * MARGIN, w * (1 + 2 * MARGIN), h * (1 + 2 * MARGIN));
  }
}

/** The whole frame, coarsely (nothing analysed yet: fail closed rather than show faces). */
export function blurAll(img: Picture): void {
  blurRegion(img, 0, 0, img.width, img.height, 48);
}
