/**
 * Drawing straight into a frame: rectangles, translucent fills and glyph-atlas text, on interleaved RGB (the
 * MP4 export, snapshots) or on yuv420p planes (live video: yuv-draw.ts). Everything clips to the image and
 * allocates nothing, so it can run on every frame.
 */
import type { RgbImage, YuvImage } from '../../core/types.js';
import type { GlyphAtlas } from './font.js';
import { drawTextYuv, fillRectYuv } from './yuv-draw.js';

export type Rgb = readonly [number, number, number];

/** What the overlay draws on: an interleaved RGB image or a yuv420p picture. */
export type Picture = RgbImage | YuvImage;

export function isYuv(img: Picture): img is YuvImage {
  return 'y' in img;
}

/** Fills [x0,x1)×[y0,y1) blending `alpha` (0..1) of `c` over the image. */
export function fillRect(img: Picture, x: number, y: number, w: number, h: number, c: Rgb, alpha = 1): void {
  if (isYuv(img)) return fillRectYuv(img, x, y, w, h, c, alpha);
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(img.width, Math.round(x + w));
  const y1 = Math.min(img.height, Math.round(y + h));
  if (x1 <= x0 || y1 <= y0) return;
  const a = Math.round(Math.max(0, Math.min(1, alpha)) * 256);
  const ia = 256 - a;
  const d = img.data;
  const [r, g, b] = c;
  for (let yy = y0; yy < y1; yy++) {
    let i = yy * img.stride + x0 * 3;
    for (let xx = x0; xx < x1; xx++, i += 3) {
      if (a === 256) {
        d[i] = r;
        d[i + 1] = g;
        d[i + 2] = b;
      } else {
        d[i] = (d[i] * ia + r * a) >> 8;
        d[i + 1] = (d[i + 1] * ia + g * a) >> 8;
        d[i + 2] = (d[i + 2] * ia + b * a) >> 8;
      }
    }
  }
}

/** Rectangle outline of `t` pixels drawn inside the box. */
export function strokeRect(img: Picture, x: number, y: number, w: number, h: number, t: number, c: Rgb): void {
  fillRect(img, x, y, w, t, c);
  fillRect(img, x, y + h - t, w, t, c);
  fillRect(img, x, y + t, t, h - 2 * t, c);
  fillRect(img, x + w - t, y + t, t, h - 2 * t, c);
}

/** Draws `text` with its top-left corner at (x, y), blending glyph coverage with colour `c`. */
export function drawText(img: Picture, atlas: GlyphAtlas, text: string, x: number, y: number, c: Rgb): void {
  if (isYuv(img)) return drawTextYuv(img, atlas, text, x, y, c);
  const cw = atlas.cellWidth;
  const lh = atlas.lineHeight;
  const cov = atlas.coverage;
  const aw = atlas.atlasWidth;
  const d = img.data;
  const [r, g, b] = c;
  const top = Math.round(y);
  let left = Math.round(x);
  for (let k = 0; k < text.length; k++, left += cw) {
    if (left >= img.width) break;
    if (left + cw <= 0) continue;
    const ax = atlas.cellOf(text.charCodeAt(k));
    for (let gy = 0; gy < lh; gy++) {
      const yy = top + gy;
      if (yy < 0 || yy >= img.height) continue;
      const row = gy * aw + ax;
      for (let gx = 0; gx < cw; gx++) {
        const xx = left + gx;
        if (xx < 0 || xx >= img.width) continue;
        const a = cov[row + gx];
        if (a === 0) continue;
        const i = yy * img.stride + xx * 3;
        const ia = 255 - a;
        d[i] = (d[i] * ia + r * a) / 255;
        d[i + 1] = (d[i + 1] * ia + g * a) / 255;
        d[i + 2] = (d[i + 2] * ia + b * a) / 255;
      }
    }
  }
}
