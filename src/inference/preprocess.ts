/**
 * Writes a rotated, scaled, optionally mirrored square (or rectangular) region of an RGB image straight into a
 * model's input tensor, colour-converted and normalised, in one pass: no intermediate crop or resized image.
 *
 * Downscaling uses k×k supersampling (k = source pixels per output pixel, capped) on top of bilinear taps,
 * because plain bilinear aliases badly when a 300-px face becomes a 64-px emotion input, and that costs accuracy.
 * Pixels outside the image read as black, as TF's cropAndResize (extrapolation 0) does.
 */
import type { InputSpec } from '../models/manifest.js';
import type { RgbImage } from '../core/types.js';

export interface Region {
  /** Centre of the region in source pixels. */
  cx: number;
  cy: number;
  /** Width and height of the region in source pixels (before rotation). */
  width: number;
  height: number;
  /** Rotation in radians; the region's x axis points along (cos, sin) in the source. */
  angle: number;
  /** Mirror horizontally (test-time augmentation). */
  flip: boolean;
}

/** Per-channel affine from a 0..255 value to the model's value: v*scale[c] + bias[c]. */
export interface Normaliser {
  channels: 1 | 3;
  /** Source channel order for output channel c (0=R,1=G,2=B); unused for grey. */
  order: [number, number, number];
  scale: Float32Array;
  bias: Float32Array;
  layout: 'NHWC' | 'NCHW';
  width: number;
  height: number;
}

// ITU-R BT.601 luma, the weights the emotion model was trained with (MATLAB rgb2gray).
const GREY_R = 0.2989;
const GREY_G = 0.587;
const GREY_B = 0.114;

export function makeNormaliser(spec: InputSpec): Normaliser {
  const channels = spec.colour === 'grey' ? 1 : 3;
  const [lo, hi] = spec.range;
  const scale = new Float32Array(channels);
  const bias = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const mean = spec.mean ? spec.mean[Math.min(c, spec.mean.length - 1)] : 0;
    const std = spec.std ? spec.std[Math.min(c, spec.std.length - 1)] : 1;
    scale[c] = (hi - lo) / 255 / std;
    bias[c] = (lo - mean) / std;
  }
  return {
    channels,
    order: spec.colour === 'bgr' ? [2, 1, 0] : [0, 1, 2],
    scale,
    bias,
    layout: spec.layout,
    width: spec.width,
    height: spec.height,
  };
}

/** Number of floats one image occupies in the input tensor. */
export function tensorSize(n: Normaliser): number {
  return n.width * n.height * n.channels;
}

export interface SampleOptions {
  /** Upper bound of k in k×k supersampling (1 = plain bilinear). Default 4, at most 8. */
  maxSupersample?: number;
}

/**
 * Samples `region` of `img` into `dst` starting at float offset `offset` (one image of the batch).
 *
 * This runs for every detector input and every face crop (in the inference worker), so it is written for speed:
 * a region that maps pixel-for-pixel onto the image (the detector's letterbox) is copied without interpolation, and
 * in each output row the run of pixels whose every tap lies inside the image (all of a crop inside the frame, most
 * of one over its edge) skips the per-tap bounds tests, with one tap per pixel unrolled. They give the same values
 * as the bounds-checked taps (checked against a plain reference in test/unit/inference/preprocess.test.ts).
 */
export function sampleRegion(img: RgbImage, region: Region, norm: Normaliser, dst: Float32Array, offset: number, opts: SampleOptions = {}): void {
  const W = norm.width;
  const H = norm.height;
  const ox = region.cx - W / 2;
  const oy = region.cy - H / 2;
  if (region.angle === 0 && !region.flip && region.width === W && region.height === H && Number.isInteger(ox) && Number.isInteger(oy)) {
    copyAligned(img, ox, oy, norm, dst, offset);
    return;
  }
  const { width: iw, height: ih } = img;
  const cos = Math.cos(region.angle);
  const sin = Math.sin(region.angle);
  // Source-pixel step per output pixel along the region's axes.
  const su = region.width / W;
  const sv = region.height / H;
  const k = Math.max(1, Math.min(opts.maxSupersample ?? 4, MAX_K, Math.ceil(Math.max(su, sv) - 0.01)));
  const fu = region.flip ? -su : su;
  // Source displacement for one output step in u and in v.
  const dux = fu * cos;
  const duy = fu * sin;
  const dvx = -sv * sin;
  const dvy = sv * cos;
  const plane = W * H;

  // Position (in output steps) of the centre of output pixel (0,0)'s first sub-sample, and the source position
  // (pixel centres at integer + 0.5, hence the −0.5) of output coordinate (u, v) is base + u·du + v·dv.
  const u0 = -W / 2 + 0.5 / k;
  const v0 = -H / 2 + 0.5 / k;
  const baseX = region.cx - 0.5;
  const baseY = region.cy - 0.5;
  const x00 = baseX + u0 * dux + v0 * dvx;
  const y00 = baseY + u0 * duy + v0 * dvy;
  // Sub-sample offsets within one output pixel span (k−1)/k of a step along each axis; the taps of pixel (u, v)
  // lie within [min, max] of these corner offsets plus u·du + v·dv.
  const t = (k - 1) / k;
  const offX = [0, t * dux, t * dvx, t * (dux + dvx)];
  const offY = [0, t * duy, t * dvy, t * (duy + dvy)];
  const minOX = Math.min(...offX);
  const maxOX = Math.max(...offX);
  const minOY = Math.min(...offY);
  const maxOY = Math.max(...offY);
  // A tap is "inside" when all four bilinear neighbours are: 0 ≤ x < iw − 1 (so truncation is floor and
  // x + 1 is a column). EPS keeps float rounding of the incremental positions on the safe side.
  const limX = iw - 1 - EPS;
  const limY = ih - 1 - EPS;
  const upright = region.angle === 0;
  for (let v = 0; v < H; v++) {
    const rx = x00 + v * dvx;
    const ry = y00 + v * dvy;
    // Unrotated regions (letterboxes, most crops): output rows whose every tap lies above or below the image are
    // pure padding. Filling them directly skips ~44 % of the work when a 16:9 frame is letterboxed into a square.
    if (upright && (ry + maxOY < -1 || ry + minOY > ih)) {
      fillBlackRow(dst, offset, v, norm, plane);
      continue;
    }
    // Output pixels [uA, uB) of this row have every tap inside: the fast loop, no bounds tests; the rest (a crop
    // over the frame's edge) take bounds-checked taps.
    let lo = 0;
    let hi = W - 1;
    [lo, hi] = clampSpan(lo, hi, rx + minOX, rx + maxOX, dux, limX);
    [lo, hi] = clampSpan(lo, hi, ry + minOY, ry + maxOY, duy, limY);
    const uA = Math.min(W, Math.max(0, Math.ceil(lo)));
    const uB = Math.max(uA, Math.min(W, Math.floor(hi) + 1));
    if (uA > 0) sampleChecked(img, norm, dst, offset, k, x00, y00, dux, duy, dvx, dvy, v, 0, uA);
    if (uB > uA) sampleFast(img, norm, dst, offset, k, rx, ry, dux, duy, dvx, dvy, v, uA, uB);
    if (uB < W) sampleChecked(img, norm, dst, offset, k, x00, y00, dux, duy, dvx, dvy, v, uB, W);
  }
}

/** Largest k of k×k supersampling (an 8× shrink is already area-averaged well enough). */
const MAX_K = 8;
/** Sub-sample offsets of sampleFast (the sampler runs on one thread at a time). */
const TAP_X = new Float64Array(MAX_K * MAX_K);
const TAP_Y = new Float64Array(MAX_K * MAX_K);

/** Margin (source pixels) of the fast path's bounds. */
const EPS = 1e-6;

/**
 * Narrows [lo, hi] (output columns, real) to those u with 0 ≤ aMin + u·d and aMax + u·d ≤ lim, i.e. every tap
 * of the pixel inside along one source axis. An empty result has hi < lo.
 */
function clampSpan(lo: number, hi: number, aMin: number, aMax: number, d: number, lim: number): [number, number] {
  if (d > 0) return [Math.max(lo, (EPS - aMin) / d), Math.min(hi, (lim - aMax) / d)];
  if (d < 0) return [Math.max(lo, (lim - aMax) / d), Math.min(hi, (EPS - aMin) / d)];
  return aMin >= EPS && aMax <= lim ? [lo, hi] : [1, 0];
}

/**
 * Output pixels [uA, uB) of row v whose every tap lies inside the image: no bounds tests, and x, y ≥ 0 so
 * truncation is floor. (rx, ry) is the source position of pixel (0, v)'s first sub-sample. The source channels
 * are read in the model's order (`order`), so the write needs no per-pixel permutation.
 */
function sampleFast(img: RgbImage, norm: Normaliser, dst: Float32Array, offset: number, k: number, rx: number, ry: number, dux: number, duy: number, dvx: number, dvy: number, v: number, uA: number, uB: number): void {
  const { data, stride } = img;
  const W = norm.width;
  const plane = W * norm.height;
  const grey = norm.channels === 1;
  const nchw = norm.layout === 'NCHW';
  const [b0, b1, b2] = grey ? [0, 1, 2] : norm.order;
  const s0 = norm.scale[0];
  const z0 = norm.bias[0];
  const s1 = grey ? 0 : norm.scale[1];
  const z1 = grey ? 0 : norm.bias[1];
  const s2 = grey ? 0 : norm.scale[2];
  const z2 = grey ? 0 : norm.bias[2];
  const inv = 1 / (k * k);
  const step = 1 / k;
  // sub-sample offsets from a pixel's first one, row by row (k ≤ MAX_K)
  const taps = k * k;
  for (let j = 0, t = 0; j < k; j++) {
    for (let i = 0; i < k; i++, t++) {
      TAP_X[t] = (i * dux + j * dvx) * step;
      TAP_Y[t] = (i * duy + j * dvy) * step;
    }
  }
  let x = rx + uA * dux;
  let y = ry + uA * duy;
  for (let u = uA; u < uB; u++, x += dux, y += duy) {
    let c0 = 0;
    let c1 = 0;
    let c2 = 0;
    if (k === 1) {
      // one tap per pixel (most crops: the face is not much larger than the model's input)
      const xi = x | 0;
      const yi = y | 0;
      const wx = x - xi;
      const wy = y - yi;
      const i00 = yi * stride + xi * 3;
      const i01 = i00 + stride;
      const w00 = (1 - wx) * (1 - wy);
      const w10 = wx * (1 - wy);
      const w01 = (1 - wx) * wy;
      const w11 = wx * wy;
      c0 = data[i00 + b0] * w00 + data[i00 + 3 + b0] * w10 + data[i01 + b0] * w01 + data[i01 + 3 + b0] * w11;
      c1 = data[i00 + b1] * w00 + data[i00 + 3 + b1] * w10 + data[i01 + b1] * w01 + data[i01 + 3 + b1] * w11;
      c2 = data[i00 + b2] * w00 + data[i00 + 3 + b2] * w10 + data[i01 + b2] * w01 + data[i01 + 3 + b2] * w11;
    } else {
      for (let t = 0; t < taps; t++) {
        const px = x + TAP_X[t];
        const py = y + TAP_Y[t];
        const xi = px | 0;
        const yi = py | 0;
        const wx = px - xi;
        const wy = py - yi;
        const i00 = yi * stride + xi * 3;
        const i01 = i00 + stride;
        const w00 = (1 - wx) * (1 - wy);
        const w10 = wx * (1 - wy);
        const w01 = (1 - wx) * wy;
        const w11 = wx * wy;
        c0 += data[i00 + b0] * w00 + data[i00 + 3 + b0] * w10 + data[i01 + b0] * w01 + data[i01 + 3 + b0] * w11;
        c1 += data[i00 + b1] * w00 + data[i00 + 3 + b1] * w10 + data[i01 + b1] * w01 + data[i01 + 3 + b1] * w11;
        c2 += data[i00 + b2] * w00 + data[i00 + 3 + b2] * w10 + data[i01 + b2] * w01 + data[i01 + 3 + b2] * w11;
      }
    }
    const idx = v * W + u;
    if (grey) dst[offset + idx] = (GREY_R * c0 + GREY_G * c1 + GREY_B * c2) * inv * s0 + z0;
    else if (nchw) {
      dst[offset + idx] = c0 * inv * s0 + z0;
      dst[offset + plane + idx] = c1 * inv * s1 + z1;
      dst[offset + 2 * plane + idx] = c2 * inv * s2 + z2;
    } else {
      const d = offset + idx * 3;
      dst[d] = c0 * inv * s0 + z0;
      dst[d + 1] = c1 * inv * s1 + z1;
      dst[d + 2] = c2 * inv * s2 + z2;
    }
  }
}

/** Output pixels [uA, uB) of row v, each tap bounds-checked (taps outside the image read as black). */
function sampleChecked(img: RgbImage, norm: Normaliser, dst: Float32Array, offset: number, k: number, x00: number, y00: number, dux: number, duy: number, dvx: number, dvy: number, v: number, uA: number, uB: number): void {
  const { data, width: iw, height: ih, stride } = img;
  const W = norm.width;
  const plane = W * norm.height;
  const inv = 1 / (k * k);
  const px = PX;
  for (let u = uA; u < uB; u++) {
    let r = 0;
    let g = 0;
    let b = 0;
    for (let j = 0; j < k; j++) {
      const vv = v + j / k;
      for (let i = 0; i < k; i++) {
        const uu = u + i / k;
        bilinear(data, iw, ih, stride, x00 + uu * dux + vv * dvx, y00 + uu * duy + vv * dvy, px);
        r += px[0];
        g += px[1];
        b += px[2];
      }
    }
    writePixel(dst, offset, v * W + u, plane, norm, r * inv, g * inv, b * inv);
  }
}

/** Scratch for one bilinear tap (the sampler runs on one thread at a time). */
const PX = new Float64Array(3);

/** Normalises one averaged RGB value into output pixel `idx`. */
function writePixel(dst: Float32Array, offset: number, idx: number, plane: number, norm: Normaliser, r: number, g: number, b: number): void {
  const s = norm.scale;
  const z = norm.bias;
  if (norm.channels === 1) {
    dst[offset + idx] = (GREY_R * r + GREY_G * g + GREY_B * b) * s[0] + z[0];
    return;
  }
  const o = norm.order;
  const c0 = o[0] === 0 ? r : o[0] === 1 ? g : b;
  const c1 = o[1] === 0 ? r : o[1] === 1 ? g : b;
  const c2 = o[2] === 0 ? r : o[2] === 1 ? g : b;
  if (norm.layout === 'NCHW') {
    dst[offset + idx] = c0 * s[0] + z[0];
    dst[offset + plane + idx] = c1 * s[1] + z[1];
    dst[offset + 2 * plane + idx] = c2 * s[2] + z[2];
  } else {
    const d = offset + idx * 3;
    dst[d] = c0 * s[0] + z[0];
    dst[d + 1] = c1 * s[1] + z[1];
    dst[d + 2] = c2 * s[2] + z[2];
  }
}

/**
 * The output is the image window at integer offset (ox, oy), pixel for pixel (bilinear taps would all land on
 * pixel centres with weight 1): a plain normalising copy, black outside the image.
 */
function copyAligned(img: RgbImage, ox: number, oy: number, norm: Normaliser, dst: Float32Array, offset: number): void {
  const { data, width: iw, height: ih, stride } = img;
  const W = norm.width;
  const H = norm.height;
  const plane = W * H;
  const uStart = Math.max(0, -ox);
  const uEnd = Math.min(W, iw - ox);
  for (let v = 0; v < H; v++) {
    const y = oy + v;
    if (y < 0 || y >= ih || uEnd <= uStart) {
      fillBlackRow(dst, offset, v, norm, plane);
      continue;
    }
    if (uStart > 0 || uEnd < W) fillBlackRow(dst, offset, v, norm, plane);
    let i = y * stride + (ox + uStart) * 3;
    for (let u = uStart; u < uEnd; u++, i += 3) writePixel(dst, offset, v * W + u, plane, norm, data[i], data[i + 1], data[i + 2]);
  }
}

/** Writes the normalised value of black into output row `v`. */
function fillBlackRow(dst: Float32Array, offset: number, v: number, norm: Normaliser, plane: number): void {
  const W = norm.width;
  if (norm.channels === 1) {
    dst.fill(norm.bias[0], offset + v * W, offset + (v + 1) * W);
    return;
  }
  if (norm.layout === 'NCHW') {
    for (let c = 0; c < 3; c++) dst.fill(norm.bias[c], offset + c * plane + v * W, offset + c * plane + (v + 1) * W);
    return;
  }
  const [b0, b1, b2] = norm.bias;
  for (let u = 0, o = offset + v * W * 3; u < W; u++, o += 3) {
    dst[o] = b0;
    dst[o + 1] = b1;
    dst[o + 2] = b2;
  }
}

/** Bilinear tap at continuous (x, y) in pixel-index space; taps outside the image read as 0. */
function bilinear(data: Uint8Array, w: number, h: number, stride: number, x: number, y: number, out: Float64Array): void {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const wx = x - x0;
  const wy = y - y0;
  let r = 0;
  let g = 0;
  let b = 0;
  if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
    // Fast path: all four taps inside.
    const i00 = y0 * stride + x0 * 3;
    const i10 = i00 + 3;
    const i01 = i00 + stride;
    const i11 = i01 + 3;
    const w00 = (1 - wx) * (1 - wy);
    const w10 = wx * (1 - wy);
    const w01 = (1 - wx) * wy;
    const w11 = wx * wy;
    out[0] = data[i00] * w00 + data[i10] * w10 + data[i01] * w01 + data[i11] * w11;
    out[1] = data[i00 + 1] * w00 + data[i10 + 1] * w10 + data[i01 + 1] * w01 + data[i11 + 1] * w11;
    out[2] = data[i00 + 2] * w00 + data[i10 + 2] * w10 + data[i01 + 2] * w01 + data[i11 + 2] * w11;
    return;
  }
  for (let dy = 0; dy < 2; dy++) {
    const yy = y0 + dy;
    if (yy < 0 || yy >= h) continue;
    const wyy = dy ? wy : 1 - wy;
    for (let dx = 0; dx < 2; dx++) {
      const xx = x0 + dx;
      if (xx < 0 || xx >= w) continue;
      const ww = wyy * (dx ? wx : 1 - wx);
      const i = yy * stride + xx * 3;
      r += data[i] * ww;
      g += data[i + 1] * ww;
      b += data[i + 2] * ww;
    }
  }
  out[0] = r;
  out[1] = g;
  out[2] = b;
}

/** Scratch histogram for applyContrast (the sampler runs on one thread; no allocation per crop). */
const HIST = new Uint32Array(256);
const LUT = new Float32Array(256);

/**
 * Per-crop contrast normalisation of one sampled image in `dst` (in place, after sampleRegion), per channel:
 * 'stretch' maps the 1st..99th percentile onto the model's full input range, 'equalise' maps each value through
 * the channel's cumulative histogram (256 bins). Values are in the model's range already: the lowest and highest
 * values a pixel can take are bias and 255·scale + bias.
 */
export function applyContrast(dst: Float32Array, offset: number, norm: Normaliser, mode: 'stretch' | 'equalise'): void {
  const n = norm.width * norm.height;
  const nch = norm.channels;
  for (let c = 0; c < nch; c++) {
    const lo = norm.bias[c];
    const hi = 255 * norm.scale[c] + norm.bias[c];
    const span = hi - lo;
    // element i of channel c
    const base = norm.layout === 'NCHW' ? offset + c * n : offset + c;
    const step = norm.layout === 'NCHW' ? 1 : nch;
    HIST.fill(0);
    for (let i = 0, o = base; i < n; i++, o += step) {
      const b = Math.max(0, Math.min(255, Math.round(((dst[o] - lo) / span) * 255)));
      HIST[b]++;
    }
    if (mode === 'stretch') {
      // p1: first bin where the cumulative count passes 1 %; p99: first bin where it reaches 99 %
      let acc = 0;
      let p1 = -1;
      let p99 = 255;
      for (let b = 0; b < 256; b++) {
        acc += HIST[b];
        if (p1 < 0 && acc > 0.01 * n) p1 = b;
        if (acc >= 0.99 * n) {
          p99 = b;
          break;
        }
      }
      if (p99 - p1 < 8) continue; // a flat crop: stretching would only amplify noise
      const a = 255 / (p99 - p1);
      for (let i = 0, o = base; i < n; i++, o += step) {
        const v = (((dst[o] - lo) / span) * 255 - p1) * a;
        dst[o] = lo + (Math.max(0, Math.min(255, v)) / 255) * span;
      }
    } else {
      let acc = 0;
      for (let b = 0; b < 256; b++) {
        acc += HIST[b];
        LUT[b] = lo + (acc / n) * span;
      }
      for (let i = 0, o = base; i < n; i++, o += step) {
        const b = Math.max(0, Math.min(255, Math.round(((dst[o] - lo) / span) * 255)));
        dst[o] = LUT[b];
      }
    }
  }
}
