/**
 * Face anonymisation for `privacy.blurFaces`: each face box (with a margin) is reduced to a coarse mosaic of
 * about 8 blocks across and then smoothed, so identity does not survive while the scene stays readable. Runs on
 * the interleaved RGB frame before the overlay draws boxes and labels, in place; one scratch buffer reused, so
 * it can run on every frame (~0.1 ms for a 100×100 face).
 *
 * It blurs what the analysis found: a face the detector missed is not blurred. When there is no analysis for a
 * frame yet, callers blur the whole frame (fail closed).
 */
import type { RgbImage } from '../../core/types.js';
import type { FrameRecord } from '../../core/records.js';

/** Blocks across the longer side of a box. */
const BLOCKS = 8;
/** Margin added around each detection box, as a fraction of its size (hair, ears, chin). */
const MARGIN = 0.2;

let scratch = new Int32Array(0);

/** Pixelates then box-smooths [x, x+w)×[y, y+h) of `img` (clipped to it). */
export function blurRegion(img: RgbImage, x: number, y: number, w: number, h: number, blocks = BLOCKS): void {
  const x0 = Math.max(0, Math.floor(x));
  const y0 = Math.max(0, Math.floor(y));
  const x1 = Math.min(img.width, Math.ceil(x + w));
  const y1 = Math.min(img.height, Math.ceil(y + h));
  const rw = x1 - x0;
  const rh = y1 - y0;
  if (rw <= 0 || rh <= 0) return;
  const block = Math.max(2, Math.ceil(Math.max(rw, rh) / blocks));
  const d = img.data;
  const stride = img.stride;
  // 1. Mosaic: every block becomes its mean colour.
  for (let by = y0; by < y1; by += block) {
    const ey = Math.min(y1, by + block);
    for (let bx = x0; bx < x1; bx += block) {
      const ex = Math.min(x1, bx + block);
      let r = 0;
      let g = 0;
      let b = 0;
      for (let yy = by; yy < ey; yy++) {
        for (let i = yy * stride + bx * 3, e = yy * stride + ex * 3; i < e; i += 3) {
          r += d[i];
          g += d[i + 1];
          b += d[i + 2];
        }
      }
      const n = (ey - by) * (ex - bx);
      r = Math.round(r / n);
      g = Math.round(g / n);
      b = Math.round(b / n);
      for (let yy = by; yy < ey; yy++) {
        for (let i = yy * stride + bx * 3, e = yy * stride + ex * 3; i < e; i += 3) {
          d[i] = r;
          d[i + 1] = g;
          d[i + 2] = b;
        }
      }
    }
  }
  // 2. Smooth the block edges: a horizontal then a vertical running-sum box of half a block.
  const radius = Math.max(1, block >> 1);
  boxPass(d, x0, y0, rw, rh, 3, stride, radius);
  boxPass(d, x0, y0, rh, rw, stride, 3, radius);
}

/**
 * One 1-D box filter over `len` samples `step` bytes apart, for each of `lines` lines `lineStep` bytes apart,
 * starting at (x0, y0); edges clamp. (Called with step=3 for rows and step=stride for columns.)
 */
function boxPass(d: Uint8Array, x0: number, y0: number, len: number, lines: number, step: number, lineStep: number, radius: number): void {
  const stride = step === 3 ? lineStep : step;
  const start = y0 * stride + x0 * 3;
  if (scratch.length < len * 3) scratch = new Int32Array(len * 3);
  const s = scratch;
  const win = 2 * radius + 1;
  for (let line = 0; line < lines; line++) {
    const base = start + line * lineStep;
    for (let k = 0; k < len; k++) {
      const i = base + k * step;
      s[k * 3] = d[i];
      s[k * 3 + 1] = d[i + 1];
      s[k * 3 + 2] = d[i + 2];
    }
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) sum += s[Math.min(len - 1, Math.max(0, k)) * 3 + c];
      for (let k = 0; k < len; k++) {
        d[base + k * step + c] = Math.round(sum / win);
        sum += s[Math.min(len - 1, k + radius + 1) * 3 + c] - s[Math.max(0, k - radius) * 3 + c];
      }
    }
  }
}

/** Blurs every face of `rec` (boxes in `img`'s pixels) with a margin. */
export function blurFaces(img: RgbImage, rec: FrameRecord): void {
  for (const f of rec.faces) {
    const { x, y, w, h } = f.box;
    blurRegion(img, x - w * MARGIN, y - h * MARGIN, w * (1 + 2 * MARGIN), h * (1 + 2 * MARGIN));
  }
}

/** The whole frame, coarsely (nothing analysed yet: fail closed rather than show faces). */
export function blurAll(img: RgbImage): void {
  blurRegion(img, 0, 0, img.width, img.height, 48);
}
