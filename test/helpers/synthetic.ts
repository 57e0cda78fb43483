/**
 * A synthetic clip with exact ground truth: real face crops (from npm-shipped group photos) moving along known
 * paths over a plain background. The face box inside each crop is measured once with the detector on a still
 * frame, so ground-truth boxes follow the detector's own box convention.
 */
import sharp from 'sharp';
import type { Box } from '../../src/core/types.ts';
import { makeClip } from '../../src/ingest/testmedia.ts';
import type { Engine } from '../../src/inference/api.ts';
import { samplePhoto } from './photos.ts';

export interface Sprite {
  rgb: Buffer;
  size: number;
  /** Face box relative to the sprite's top-left corner. */
  face: Box;
}

export interface Path {
  sprite: number;
  /** Top-left corner of the sprite at time t (seconds). */
  at: (t: number) => { x: number; y: number };
}

export const CLIP = { width: 640, height: 360, fps: 25, seconds: 4 } as const;

/** Three faces of sample6 (centres by eye, side 300 px), scaled to `size`. */
export async function loadSprites(size: number): Promise<Buffer[]> {
  const centres = [
    [350, 640],
    [780, 490],
    [1265, 460],
  ];
  return Promise.all(centres.map(([cx, cy]) => sharp(samplePhoto(6)).extract({ left: cx - 150, top: cy - 150, width: 300, height: 300 }).resize(size, size).removeAlpha().raw().toBuffer()));
}

function background(rgb: Uint8Array, w: number, h: number): void {
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([60 + (x >> 3), 70, 80 + (y >> 3)], (y * w + x) * 3);
}

function paste(rgb: Uint8Array, w: number, h: number, s: Buffer, size: number, px: number, py: number): void {
  for (let y = 0; y < size; y++) {
    const yy = Math.round(py) + y;
    if (yy < 0 || yy >= h) continue;
    for (let x = 0; x < size; x++) {
      const xx = Math.round(px) + x;
      if (xx < 0 || xx >= w) continue;
      const o = (y * size + x) * 3;
      rgb[(yy * w + xx) * 3] = s[o];
      rgb[(yy * w + xx) * 3 + 1] = s[o + 1];
      rgb[(yy * w + xx) * 3 + 2] = s[o + 2];
    }
  }
}

/** Measures each sprite's face box with the detector (sprite alone, centred on the background). */
export async function measureSprites(engine: Engine, sprites: Buffer[], size: number): Promise<Sprite[]> {
  const out: Sprite[] = [];
  const { width: w, height: h } = CLIP;
  for (const s of sprites) {
    const rgb = new Uint8Array(w * h * 3);
    background(rgb, w, h);
    const px = (w - size) / 2;
    const py = (h - size) / 2;
    paste(rgb, w, h, s, size, px, py);
    const dets = await engine.detect({ data: rgb, width: w, height: h, stride: w * 3 });
    if (dets.length !== 1) throw new Error(`sprite calibration found ${dets.length} faces`);
    const b = dets[0].box;
    out.push({ rgb: s, size, face: { x: b.x - Math.round(px), y: b.y - Math.round(py), w: b.w, h: b.h } });
  }
  return out;
}

/** Paths that cross (at different heights) and one that holds still. */
export const PATHS: Path[] = [
  { sprite: 0, at: (t) => ({ x: 20 + 110 * t, y: 30 }) },
  { sprite: 1, at: (t) => ({ x: 500 - 110 * t, y: 200 }) },
  { sprite: 2, at: (t) => ({ x: 240 + 10 * Math.sin(t * 3), y: 120 + 5 * t }) },
];

/** Writes the clip and returns per-frame ground truth (ids = path index + 1). */
export async function makeSyntheticClip(path: string, sprites: Sprite[], opts: { profile?: 'baseline' | 'main' | 'high'; bframes?: number } = {}): Promise<{ id: number; box: Box }[][]> {
  const { width: w, height: h, fps, seconds } = CLIP;
  const gt: { id: number; box: Box }[][] = [];
  await makeClip(path, {
    width: w,
    height: h,
    fps,
    seconds,
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.bframes !== undefined ? { bframes: opts.bframes } : {}),
    frame: (i, rgb) => {
      background(rgb, w, h);
      const t = i / fps;
      const frame: { id: number; box: Box }[] = [];
      PATHS.forEach((p, k) => {
        const s = sprites[p.sprite];
        const { x, y } = p.at(t);
        paste(rgb, w, h, s.rgb, s.size, x, y);
        frame.push({ id: k + 1, box: { x: Math.round(x) + s.face.x, y: Math.round(y) + s.face.y, w: s.face.w, h: s.face.h } });
      });
      gt.push(frame);
    },
  });
  return gt;
}
