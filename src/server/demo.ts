/**
 * The built-in demo stream: a looping 640×360 clip made at first start from photos of real people that ship
 * in an npm package (@vladmandic/face-api's demo group photos), so `npm install && npm start` shows annotated
 * faces without a camera. The clip is cached next to the converted models and made again only if missing.
 * face-api is a production dependency for these six photos alone (~1.2 MB of its 24 MB; the container image keeps
 * only them, deploy/prune-image.mjs): their licence is not stated, so they are not copied into this repository.
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
    throw new InputError('E_INPUT_NOT_FOUND', 'the demo stream needs the photos of @vladmandic/face-api, a dependency (run `npm install`)', { cause: e });
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

/**
 * The demo stream's config: two zones (the left and right halves of the frame) so that a first `npm start`
 * shows zone groups and their outlines beside the scene group and the clusters.
 */
export function demoStreamConfig(clip: string): { id: string; name: string; source: string; zones: { id: string; name: string; polygon: [number, number][] }[] } {
  return {
    id: 'demo',
    name: 'Demo (photos from npm)',
    source: clip,
    zones: [
      { id: 'left', name: 'Left half', polygon: [[0.02, 0.04], [0.49, 0.04], [0.49, 0.96], [0.02, 0.96]] },
      { id: 'right', name: 'Right half', polygon: [[0.51, 0.04], [0.98, 0.04], [0.98, 0.96], [0.51, 0.96]] },
    ],
  };
}
