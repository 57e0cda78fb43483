/**
 * The built-in demo stream: a looping 640×360 clip made at first start from photos of real people that ship
 * in an npm package (@vladmandic/face-api's demo group photos), so `npm install && npm start` shows annotated
 * faces without a camera. The clip is cached next to the converted models and made again only if missing.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { InputError } from '../core/errors.js';
import { Logger } from '../core/log.js';
import { PROJECT_ROOT } from '../models/manifest.js';
import { defaultCacheDir } from '../models/store.js';
import { makeClip } from '../ingest/testmedia.js';

const log = new Logger('Demo');

const W = 640;
const H = 360;
const FPS = 25;
/** Seconds per photo; the window pans across each photo, then the next one comes. */
const PER_PHOTO = 4;
const PHOTOS = [6, 1, 3, 2, 5, 4];

function photoDir(): string {
  try {
    return join(dirname(createRequire(join(PROJECT_ROOT, 'package.json')).resolve('@vladmandic/face-api/package.json')), 'demo');
  } catch (e) {
    throw new InputError('E_INPUT_NOT_FOUND', 'the demo stream needs the photos of @vladmandic/face-api (installed by `npm install`, a devDependency)', { cause: e });
  }
}

/** Path of the demo clip, made now if it does not exist yet (a few seconds, once). */
export async function ensureDemoClip(dir: string = defaultCacheDir()): Promise<string> {
  const path = join(dir, 'demo-640x360.mp4');
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const photos = await Promise.all(
    PHOTOS.map((n) => sharp(join(photoDir(), `sample${n}.jpg`)).resize(Math.round(W * 1.35)).removeAlpha().raw().toBuffer({ resolveWithObject: true })),
  );
  const tmp = `${path}.${process.pid}.tmp.mp4`;
  await makeClip(tmp, {
    width: W,
    height: H,
    fps: FPS,
    seconds: PER_PHOTO * PHOTOS.length,
    gop: FPS,
    bframes: 0,
    crf: 23,
    frame: (i, rgb) => {
      const p = photos[Math.floor(i / (PER_PHOTO * FPS)) % photos.length];
      const k = (i % (PER_PHOTO * FPS)) / (PER_PHOTO * FPS);
      // ease in and out so the pan does not jump at each photo change
      const e = 0.5 - 0.5 * Math.cos(Math.PI * k);
      const ox = Math.round(e * (p.info.width - W));
      const oy = Math.max(0, Math.round((p.info.height - H) * 0.35));
      for (let y = 0; y < H; y++) rgb.set(p.data.subarray(((y + oy) * p.info.width + ox) * 3, ((y + oy) * p.info.width + ox + W) * 3), y * W * 3);
    },
  });
  renameSync(tmp, path);
  log.info(`ensureDemoClip() made ${path} in ${(performance.now() - t0).toFixed(0)} ms`);
  return path;
}
