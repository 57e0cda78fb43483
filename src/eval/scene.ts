/**
 * Scene evaluation: each labelled face crop is placed in a larger camera-like frame and run through the live
 * path (detect with the live thresholds, match the detection to where the face was placed, align, crop,
 * classify). A crop evaluation measures the classifier on a face framed the way the dataset framed it; a camera
 * never gives that, and the detector's box decides the crop. Nothing falls back to the whole image here: a face
 * the detector misses is counted as missed, as it would go unreported live.
 *
 * Composition, per labelled image (all choices from a PRNG seeded by the run seed and the `file` value as the
 * CSV writes it, so a run is reproducible and independent of concurrency and order; the same image listed
 * under another path gets another layout):
 * - frame: 1280×720 by default; the crop's width is 8–25 % of the frame width (for a tight FER crop that is the
 *   face; for a looser crop such as UTKFace's 200×200, the face is about 60 % of it), at a random position;
 * - background: a random region of one of the group photos shipped in @vladmandic/face-api (demo/sample1-6),
 *   mirrored at random and blurred strongly, so that it looks like an out-of-focus room and its own faces are
 *   not found; a smooth random colour texture where that package is not installed;
 * - the crop is blended in with a soft edge (a hard rectangle is an artefact no camera produces);
 * - the frame is JPEG-encoded at quality 60–80 (4:2:0 chroma) and decoded again, as a camera stream's
 *   compression would leave it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import sharp from 'sharp';
import { InputError, errorMessage } from '../core/errors.js';
import type { Box, Detection, FaceAttributes, RgbImage } from '../core/types.js';
import { decodeImage, loadImage } from '../ingest/image.js';
import { DEFAULT_TRACKER_OPTIONS } from '../pipeline/track/track.js';
import { FaceDetector } from '../inference/detect.js';
import type { FaceOutcome, LabelledImage, PathCounts, Unreadable } from './emotion.js';
import { seededRandom } from '../core/rng.js';

export interface SceneOptions {
  /** Run seed; each image's layout also depends on its file name. */
  seed: number;
  width: number;
  height: number;
  /** Range of the crop's width as a fraction of the frame width. */
  cropShare: readonly [number, number];
  /** Range of the JPEG quality the frame is compressed with. */
  jpegQuality: readonly [number, number];
  /** 'photo': blurred regions of face-api's demo photos (texture when not installed); 'texture': always texture. */
  background: 'photo' | 'texture';
  /**
   * A detection counts as the placed face when its score reaches this: the tracker starts tracks at its
   * highThreshold, so a weaker box is never reported live.
   */
  minScore: number;
}

export const DEFAULT_SCENE_OPTIONS: Readonly<SceneOptions> = {
  seed: 1,
  width: 1280,
  height: 720,
  cropShare: [0.08, 0.25],
  jpegQuality: [60, 80],
  background: 'photo',
  minScore: DEFAULT_TRACKER_OPTIONS.highThreshold,
};

/** FNV-1a of a string: a stable per-image seed. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export interface ScenePlan {
  width: number;
  height: number;
  /** Where the crop lies in the frame (pixels, integers, inside the frame). */
  placed: Box;
  jpegQuality: number;
  /** Background: which photo (index) and which region of it as fractions, mirrored or not; and a texture seed. */
  bg: { index: number; fx: number; fy: number; fw: number; flip: boolean; textureSeed: number };
}

/** Pure layout of one scene: size and position of the crop, compression, background choice. */
export function planScene(key: string, cropWidth: number, cropHeight: number, opts: SceneOptions = DEFAULT_SCENE_OPTIONS): ScenePlan {
  const rnd = seededRandom(hashString(key, hashString(String(opts.seed))));
  const [s0, s1] = opts.cropShare;
  const w = Math.max(1, Math.round(opts.width * (s0 + (s1 - s0) * rnd())));
  const h = Math.max(1, Math.min(opts.height, Math.round((w * cropHeight) / cropWidth)));
  const x = Math.floor(rnd() * (opts.width - w + 1));
  const y = Math.floor(rnd() * (opts.height - h + 1));
  const [q0, q1] = opts.jpegQuality;
  const jpegQuality = Math.round(q0 + (q1 - q0) * rnd());
  const bg = { index: Math.floor(rnd() * 1e6), fx: rnd(), fy: rnd(), fw: 0.55 + 0.45 * rnd(), flip: rnd() < 0.5, textureSeed: Math.floor(rnd() * 2 ** 31) };
  return { width: opts.width, height: opts.height, placed: { x, y, w, h }, jpegQuality, bg };
}

/** Decoded, pre-blurred background photos (small), or none: then a texture is drawn. */
export class SceneBackgrounds {
  readonly photos: readonly RgbImage[];
  private constructor(photos: RgbImage[]) {
    this.photos = photos;
  }

  get kind(): 'photo' | 'texture' {
    return this.photos.length > 0 ? 'photo' : 'texture';
  }

  static async load(kind: SceneOptions['background']): Promise<SceneBackgrounds> {
    if (kind === 'texture') return new SceneBackgrounds([]);
    const dir = faceApiDemoDir();
    if (!dir) return new SceneBackgrounds([]);
    const photos: RgbImage[] = [];
    for (let i = 1; i <= 6; i++) {
      const p = join(dir, `sample${i}.jpg`);
      if (!existsSync(p)) continue;
      // 480 px wide and blurred: a defocused room at 1280 px, whose faces are blobs the detector does not take
      const { data, info } = await sharp(p).resize({ width: 480 }).blur(4).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      photos.push({ data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, stride: info.width * 3 });
    }
    return new SceneBackgrounds(photos);
  }
}

function faceApiDemoDir(): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    const dir = join(dirname(req.resolve('@vladmandic/face-api/package.json')), 'demo');
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

async function backgroundFor(plan: ScenePlan, bgs: SceneBackgrounds): Promise<Buffer> {
  const { width: W, height: H } = plan;
  if (bgs.photos.length === 0) {
    // smooth colour field: a 16×9 grid of random colours, upscaled
    const rnd = seededRandom(plan.bg.textureSeed);
    const grid = Buffer.alloc(16 * 9 * 3);
    for (let i = 0; i < grid.length; i++) grid[i] = 40 + Math.floor(rnd() * 170);
    return sharp(grid, { raw: { width: 16, height: 9, channels: 3 } }).resize(W, H, { kernel: 'cubic' }).raw().toBuffer();
  }
  const p = bgs.photos[plan.bg.index % bgs.photos.length];
  const sw = Math.max(16, Math.min(p.width, Math.round(p.width * plan.bg.fw)));
  const sh = Math.max(9, Math.min(p.height, Math.round((sw * H) / W)));
  const left = Math.floor(plan.bg.fx * (p.width - sw + 1));
  const top = Math.floor(plan.bg.fy * (p.height - sh + 1));
  let s = sharp(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength), { raw: { width: p.width, height: p.height, channels: 3 } }).extract({ left, top, width: sw, height: sh });
  if (plan.bg.flip) s = s.flop();
  return s.resize(W, H, { fit: 'fill' }).raw().toBuffer();
}

/** Draws the scene of `plan` with `crop` in it and returns the frame after JPEG compression. */
export async function composeScene(crop: RgbImage, plan: ScenePlan, bgs: SceneBackgrounds): Promise<RgbImage> {
  const { width: W, height: H, placed } = plan;
  const frame = await backgroundFor(plan, bgs);
  const face = await sharp(Buffer.from(crop.data.buffer, crop.data.byteOffset, crop.data.byteLength), { raw: { width: crop.width, height: crop.height, channels: 3 } })
    .resize(placed.w, placed.h, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  // soft edge: alpha ramps from 0 to 1 over the outer 6 % of the crop
  const feather = Math.max(1, 0.06 * Math.min(placed.w, placed.h));
  for (let y = 0; y < placed.h; y++) {
    const ay = Math.min(1, (Math.min(y, placed.h - 1 - y) + 0.5) / feather);
    const fo = (placed.y + y) * W * 3 + placed.x * 3;
    for (let x = 0; x < placed.w; x++) {
      const a = Math.min(ay, (Math.min(x, placed.w - 1 - x) + 0.5) / feather);
      const si = (y * placed.w + x) * 3;
      const di = fo + x * 3;
      for (let c = 0; c < 3; c++) frame[di + c] = Math.round(face[si + c] * a + frame[di + c] * (1 - a));
    }
  }
  const jpeg = await sharp(frame, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: plan.jpegQuality, chromaSubsampling: '4:2:0' }).toBuffer();
  return decodeImage(jpeg, 'scene');
}

function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const inter = ix * iy;
  return inter > 0 ? inter / (a.w * a.h + b.w * b.h - inter) : 0;
}

/**
 * The detection that is the placed face: centre inside the placed crop, at least a quarter of its width (a
 * detection on an eye or a background blob is not the face), score ≥ minScore; the best overlap wins.
 */
export function matchPlacedFace(dets: readonly Detection[], placed: Box, minScore: number): Detection | undefined {
  let best: Detection | undefined;
  let bestIou = -1;
  for (const d of dets) {
    if (d.score < minScore) continue;
    const cx = d.box.x + d.box.w / 2;
    const cy = d.box.y + d.box.h / 2;
    if (cx < placed.x || cx > placed.x + placed.w || cy < placed.y || cy > placed.y + placed.h) continue;
    if (Math.max(d.box.w, d.box.h) < 0.25 * placed.w) continue;
    const o = iou(d.box, placed);
    if (o > bestIou) {
      bestIou = o;
      best = d;
    }
  }
  return best;
}

/**
 * The engine's detector model with the thresholds `facecast serve` and `analyze` run it with (detections down
 * to the tracker's low threshold; tiles as configured). Shares the loaded session.
 */
export function liveDetector(d: FaceDetector): FaceDetector {
  return new FaceDetector(d.session, d.entry, { ...d.options, minScore: DEFAULT_TRACKER_OPTIONS.lowThreshold });
}

/** What the scene runner needs of an engine: the live detector and the classifiers. */
export interface SceneAnalyzer {
  detect(img: RgbImage): Promise<Detection[]>;
  classify(img: RgbImage, detections: readonly Detection[]): Promise<FaceAttributes[]>;
}

export interface SceneSetup extends SceneOptions {
  /** What the background actually was ('texture' when face-api's photos are not installed). */
  backgroundUsed: 'photo' | 'texture';
}

export interface SceneCounts extends PathCounts {
  /** Placed faces the detector did not find (no detection matched at the live score). */
  missed: number;
}

/**
 * Composes and analyses one scene per labelled image. Outcomes have path 'detected' (the placed face was found
 * and classified) or 'none' (missed: attributes undefined).
 */
export async function analyzeLabelledScenes<T extends LabelledImage>(
  items: readonly T[],
  baseDir: string,
  engine: SceneAnalyzer,
  opts: { scene?: Partial<SceneOptions>; concurrency?: number; load?: (path: string) => Promise<RgbImage>; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ outcomes: FaceOutcome<T>[]; unreadable: Unreadable[]; paths: SceneCounts; setup: SceneSetup }> {
  const so: SceneOptions = { ...DEFAULT_SCENE_OPTIONS, ...opts.scene };
  const bgs = await SceneBackgrounds.load(so.background);
  const load = opts.load ?? loadImage;
  const slots: (FaceOutcome<T> | Unreadable | undefined)[] = new Array(items.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      const item = items[k];
      let crop: RgbImage;
      try {
        crop = await load(resolve(baseDir, item.file));
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        slots[k] = { file: item.file, line: item.line, code: e.code, message: errorMessage(e) };
        opts.onProgress?.(++done, items.length);
        continue;
      }
      const plan = planScene(item.file, crop.width, crop.height, so);
      const frame = await composeScene(crop, plan, bgs);
      const dets = await engine.detect(frame);
      const face = matchPlacedFace(dets, plan.placed, so.minScore);
      if (face) {
        const [attributes] = await engine.classify(frame, [face]);
        slots[k] = { item, path: 'detected', smallFace: attributes.status === 'too-small', faces: dets.length, attributes };
      } else {
        slots[k] = { item, path: 'none', smallFace: false, faces: dets.length, attributes: undefined };
      }
      opts.onProgress?.(++done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, items.length)) }, worker));
  const outcomes: FaceOutcome<T>[] = [];
  const unreadable: Unreadable[] = [];
  const paths: SceneCounts = { detected: 0, whole: 0, none: 0, smallFace: 0, missed: 0 };
  for (const s of slots) {
    if (!s) continue;
    if ('item' in s) {
      outcomes.push(s);
      paths[s.path]++;
      if (s.path === 'none') paths.missed++;
      if (s.smallFace) paths.smallFace++;
    } else unreadable.push(s);
  }
  return { outcomes, unreadable, paths, setup: { ...so, backgroundUsed: bgs.kind } };
}
