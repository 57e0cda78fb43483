/**
 * The overlay's primitives on a yuv420p picture (live video draws on the decoded planes, then x264 takes them:
 * no RGB round trip). Colours are given as RGB (the palette) and converted once per colour with the BT.601
 * limited-range matrix — the one swscale uses for RGB → yuv420p by default, so a box drawn here has the colour
 * the former RGB path gave it. Blending is linear, so blending Y, U and V with one alpha equals blending RGB and
 * converting. Chroma is at half resolution: a chroma sample takes `alpha × (covered luma samples of its 2×2
 * block) / 4`, i.e. the average of its four pixels' blends, so edges at odd positions blend half-way instead of
 * bleeding a pixel or vanishing. Everything clips and allocates nothing per frame.
 */
import type { YuvImage } from '../../core/types.js';
import type { GlyphAtlas } from './font.js';
import type { Rgb } from './draw.js';

const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** BT.601 limited range (Y 16..235, U/V 16..240) of an 8-bit RGB colour; not cached (tests, one-off use). */
export function rgbToYuv601(r: number, g: number, b: number): [number, number, number] {
  return [
    clamp8(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255),
    clamp8(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255),
    clamp8(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255),
  ];
}

/** Converted colours by packed RGB: the palette has a dozen, so this stays tiny and the hot path allocates nothing. */
const cache = new Map<number, readonly [number, number, number]>();

function yuvOf(c: Rgb): readonly [number, number, number] {
  const key = (c[0] << 16) | (c[1] << 8) | c[2];
  let v = cache.get(key);
  if (!v) {
    v = rgbToYuv601(c[0], c[1], c[2]);
    if (cache.size < 1024) cache.set(key, v);
  }
  return v;
}

/** How many of luma samples 2k and 2k+1 lie in [lo, hi). */
const span = (k: number, lo: number, hi: number): number => (2 * k >= lo && 2 * k < hi ? 1 : 0) + (2 * k + 1 >= lo && 2 * k + 1 < hi ? 1 : 0);

/** Fills [x, x+w)×[y, y+h) (rounded, clipped) blending `alpha` (0..1) of `c`. */
export function fillRectYuv(img: YuvImage, x: number, y: number, w: number, h: number, c: Rgb, alpha = 1): void {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(img.width, Math.round(x + w));
  const y1 = Math.min(img.height, Math.round(y + h));
  if (x1 <= x0 || y1 <= y0) return;
  const a = Math.round(Math.max(0, Math.min(1, alpha)) * 256);
  if (a === 0) return;
  const [cy, cu, cv] = yuvOf(c);
  const Y = img.y;
  if (a === 256) {
    for (let yy = y0; yy < y1; yy++) Y.fill(cy, yy * img.strideY + x0, yy * img.strideY + x1);
  } else {
    const ia = 256 - a;
    for (let yy = y0; yy < y1; yy++) {
      for (let i = yy * img.strideY + x0, e = yy * img.strideY + x1; i < e; i++) Y[i] = (Y[i] * ia + cy * a) >> 8;
    }
  }
  const U = img.u;
  const V = img.v;
  const cx0 = x0 >> 1;
  const cx1 = (x1 - 1) >> 1; // inclusive
  for (let k = y0 >> 1, ke = (y1 - 1) >> 1; k <= ke; k++) {
    const ny = span(k, y0, y1);
    const ru = k * img.strideU;
    const rv = k * img.strideV;
    for (let j = cx0; j <= cx1; j++) {
      const n = ny * span(j, x0, x1); // 1..4 covered pixels of the 2×2 block
      const ea = (a * n) >> 2;
      const ie = 256 - ea;
      U[ru + j] = (U[ru + j] * ie + cu * ea) >> 8;
      V[rv + j] = (V[rv + j] * ie + cv * ea) >> 8;
    }
  }
}

/**
 * Draws `text` with its top-left corner at (x, y), blending the atlas coverage with colour `c`: each luma
 * sample by its coverage, each chroma sample by the mean coverage of its 2×2 block within the glyph cell.
 */
export function drawTextYuv(img: YuvImage, atlas: GlyphAtlas, text: string, x: number, y: number, c: Rgb): void {
  const cw = atlas.cellWidth;
  const lh = atlas.lineHeight;
  const cov = atlas.coverage;
  const aw = atlas.atlasWidth;
  const [cy, cu, cv] = yuvOf(c);
  const Y = img.y;
  const U = img.u;
  const V = img.v;
  const top = Math.round(y);
  const gy0 = Math.max(0, -top); // glyph rows inside the picture
  const gy1 = Math.min(lh, img.height - top);
  if (gy1 <= gy0) return;
  let left = Math.round(x);
  for (let k = 0; k < text.length; k++, left += cw) {
    if (left >= img.width) break;
    if (left + cw <= 0) continue;
    const ax = atlas.cellOf(text.charCodeAt(k));
    const gx0 = Math.max(0, -left);
    const gx1 = Math.min(cw, img.width - left);
    for (let gy = gy0; gy < gy1; gy++) {
      const row = gy * aw + ax;
      const yi = (top + gy) * img.strideY + left;
      for (let gx = gx0; gx < gx1; gx++) {
        const a = cov[row + gx];
        if (a !== 0) Y[yi + gx] = (Y[yi + gx] * (255 - a) + cy * a) / 255;
      }
    }
    // Chroma samples whose 2×2 block meets the (clipped) cell; coverage outside the cell counts as 0.
    const lx0 = left + gx0;
    const lx1 = left + gx1;
    const ly0 = top + gy0;
    const ly1 = top + gy1;
    for (let ky = ly0 >> 1, kye = (ly1 - 1) >> 1; ky <= kye; ky++) {
      for (let kx = lx0 >> 1, kxe = (lx1 - 1) >> 1; kx <= kxe; kx++) {
        let sum = 0;
        for (let py = 2 * ky; py < 2 * ky + 2; py++) {
          if (py < ly0 || py >= ly1) continue;
          const row = (py - top) * aw + ax - left;
          for (let px = 2 * kx; px < 2 * kx + 2; px++) if (px >= lx0 && px < lx1) sum += cov[row + px];
        }
        if (sum === 0) continue;
        const iu = ky * img.strideU + kx;
        const iv = ky * img.strideV + kx;
        U[iu] = (U[iu] * (1020 - sum) + cu * sum) / 1020;
        V[iv] = (V[iv] * (1020 - sum) + cv * sum) / 1020;
      }
    }
  }
}
