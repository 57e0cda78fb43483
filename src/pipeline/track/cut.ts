/**
 * Scene-cut detection for the tracker: a track must not carry an id from one shot to the next (a cut puts a
 * different person where the last one was, and IoU or motion would happily continue the track).
 *
 * The signal is cheap on purpose (it runs on every analysed frame): a fixed grid of GRID_W×GRID_H sampled pixels
 * (2 304, whatever the frame size; no resize, no allocation per frame) gives a 16-bin histogram per RGB channel
 * and a tiny luma thumbnail. A cut changes the colour distribution (total-variation distance between the
 * histograms) a lot, or changes it moderately while the picture's layout changes everywhere (mean absolute
 * thumbnail difference). Camera motion and people walking change the layout locally and the histogram little.
 */
import type { RgbImage } from '../../core/types.js';

const GRID_W = 64;
const GRID_H = 36;
const BINS = 16;

export interface SceneCutOptions {
  /** Histogram distance (total variation, 0..1, mean over R, G, B) that alone means a cut. */
  histCut: number;
  /** A smaller histogram distance that means a cut together with a thumbnail change of at least `layoutCut`. */
  histWithLayout: number;
  /** Mean absolute luma difference of the sampled grid (0..1). */
  layoutCut: number;
  /**
   * A cut is a spike: both distances must also be at least this many times their running average over the
   * preceding frames, so continuous change (a pan, a crowd moving, a low analysis rate) does not read as cuts.
   */
  spike: number;
}

/**
 * Set on the five devset clips: within a clip, frame to frame and at 1 fps, the histogram distance stays
 * ≤ 0.12 and the layout distance ≤ 0.06; between any two of them (their backgrounds are alike: grey walls) the
 * smallest are 0.20 and 0.13. Thresholds sit between, with the spike test for margin against motion.
 */
export const DEFAULT_SCENE_CUT: Readonly<SceneCutOptions> = { histCut: 0.3, histWithLayout: 0.15, layoutCut: 0.1, spike: 3 };

export class SceneCutDetector {
  readonly options: Readonly<SceneCutOptions>;
  #hist = new Float32Array(3 * BINS);
  #prevHist = new Float32Array(3 * BINS);
  #luma = new Float32Array(GRID_W * GRID_H);
  #prevLuma = new Float32Array(GRID_W * GRID_H);
  #has = false;
  #meanHist = 0;
  #meanLayout = 0;
  #width = 0;
  #height = 0;
  /** Byte offsets of the sampled columns and rows, for the frame size last seen (recomputed when it changes). */
  #cols = new Int32Array(GRID_W);
  #rows = new Int32Array(GRID_H);
  #gridW = -1;
  #gridH = -1;
  #gridStride = -1;
  /** Last frame's distances (for tests and tuning). */
  lastHistDistance = 0;
  lastLayoutDistance = 0;

  constructor(options: Partial<SceneCutOptions> = {}) {
    this.options = { ...DEFAULT_SCENE_CUT, ...options };
  }

  /** Samples `image`; returns whether it starts a new shot relative to the previous image observed. */
  observe(image: RgbImage): boolean {
    const { data, width, height, stride } = image;
    const hist = this.#hist;
    const luma = this.#luma;
    hist.fill(0);
    const n = GRID_W * GRID_H;
    const w = 1 / n;
    if (width !== this.#gridW || height !== this.#gridH || stride !== this.#gridStride) {
      for (let gx = 0; gx < GRID_W; gx++) this.#cols[gx] = Math.min(width - 1, Math.floor(((gx + 0.5) * width) / GRID_W)) * 3;
      for (let gy = 0; gy < GRID_H; gy++) this.#rows[gy] = Math.min(height - 1, Math.floor(((gy + 0.5) * height) / GRID_H)) * stride;
      this.#gridW = width;
      this.#gridH = height;
      this.#gridStride = stride;
    }
    const cols = this.#cols;
    for (let gy = 0; gy < GRID_H; gy++) {
      const row = this.#rows[gy];
      for (let gx = 0; gx < GRID_W; gx++) {
        const o = row + cols[gx];
        const r = data[o];
        const g = data[o + 1];
        const b = data[o + 2];
        hist[r >> 4] += w;
        hist[BINS + (g >> 4)] += w;
        hist[2 * BINS + (b >> 4)] += w;
        luma[gy * GRID_W + gx] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
      }
    }
    // A size change (a new source, or a different picture) is a cut by definition.
    const resized = this.#has && (width !== this.#width || height !== this.#height);
    let cut = resized;
    if (this.#has && !resized) {
      let tv = 0;
      for (let i = 0; i < hist.length; i++) tv += Math.abs(hist[i] - this.#prevHist[i]);
      tv /= 6; // 0.5·Σ|p−q| per channel, mean over three channels
      let mad = 0;
      for (let i = 0; i < n; i++) mad += Math.abs(luma[i] - this.#prevLuma[i]);
      mad /= n;
      this.lastHistDistance = tv;
      this.lastLayoutDistance = mad;
      const o = this.options;
      const spike = tv >= o.spike * this.#meanHist && mad >= o.spike * this.#meanLayout;
      cut = spike && (tv >= o.histCut || (tv >= o.histWithLayout && mad >= o.layoutCut));
      if (cut) this.#meanHist = this.#meanLayout = 0;
      else {
        this.#meanHist = 0.8 * this.#meanHist + 0.2 * tv;
        this.#meanLayout = 0.8 * this.#meanLayout + 0.2 * mad;
      }
    }
    // Double-buffered: this frame's arrays become the previous ones, the previous ones are reused next time.
    this.#hist = this.#prevHist;
    this.#prevHist = hist;
    this.#luma = this.#prevLuma;
    this.#prevLuma = luma;
    this.#has = true;
    this.#width = width;
    this.#height = height;
    return cut;
  }

  /** Forgets the previous frame (the next observe() never reports a cut). */
  reset(): void {
    this.#has = false;
    this.#meanHist = this.#meanLayout = 0;
  }

}
