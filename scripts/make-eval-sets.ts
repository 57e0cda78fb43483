/**
 * Builds facecast's small labelled evaluation sets from the hand annotations in eval/annotations/faces.json
 * and photos that ship in node_modules (so nothing needs downloading and no image is committed).
 *
 *   node --import tsx scripts/make-eval-sets.ts OUTDIR
 *
 * writes
 *   OUTDIR/detection/labels.csv       file,x,y,w,h,ignore (one row per face) + images/ (copies of the photos)
 *   OUTDIR/emotion/labels.csv         file,label — square crops of 1.6 x the face box, PNG
 *   OUTDIR/emotion-fer48/labels.csv   file,label — FER2013-style 48x48 greyscale tight crops (1.1 x the box)
 *   OUTDIR/demographics/labels.csv    file,age,gender,race — UTKFace-style 200x200 crops (1.8 x the box)
 *
 * See eval/README.md for how the labels were made and what they can and cannot tell.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp } from 'sharp';
import { z } from 'zod';
import { EMOTIONS, GENDERS, RACES } from '../src/core/types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ANNOTATIONS = join(ROOT, 'eval', 'annotations', 'faces.json');

const Rect = z.tuple([z.number(), z.number(), z.number().positive(), z.number().positive()]);
const Face = z.object({
  box: Rect,
  ignore: z.boolean().optional(),
  gender: z.enum(GENDERS).optional(),
  age: z.number().min(0).max(120).optional(),
  race: z.enum(RACES).optional(),
  emotion: z.enum(EMOTIONS).optional(),
  note: z.string().optional(),
  /** For photos that are grids of face crops: the tile's id and rectangle; crops never leave the tile. */
  tile: z.string().optional(),
  rect: Rect.optional(),
});
const Photo = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  file: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  /** Whether every face in the photo is annotated, so that it can serve as a detection image. */
  detection: z.boolean(),
  note: z.string().optional(),
  /** Rectangles inside each tile (tile coordinates) to blur: text overlays of the demo that made the grid. */
  masks: z.array(Rect).optional(),
  faces: z.array(Face),
});
const Annotations = z.object({ version: z.literal(1), description: z.string(), boxConvention: z.string(), photos: z.array(Photo) });
type Photo = z.infer<typeof Photo>;
type Face = z.infer<typeof Face>;
type Rect = z.infer<typeof Rect>;

/** CSV field: quoted only when needed. */
function csvField(v: string | number | undefined): string {
  const s = v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
const csvLine = (fields: (string | number | undefined)[]): string => fields.map(csvField).join(',') + '\n';

/** Encoded image of the area a face may be cropped from: the whole photo, or its tile with overlays blurred. */
async function sourceFor(photo: Photo, face: Face, cache: Map<string, Buffer>): Promise<{ image: Buffer; bounds: Rect }> {
  const file = resolve(ROOT, photo.file);
  if (!face.rect) {
    let image = cache.get(file);
    if (!image) cache.set(file, (image = await readFile(file)));
    return { image, bounds: [0, 0, photo.width, photo.height] };
  }
  const [tx, ty, tw, th] = face.rect;
  const tile = await sharp(file).extract({ left: tx, top: ty, width: tw, height: th }).png().toBuffer();
  const masks = photo.masks ?? [];
  if (masks.length === 0) return { image: tile, bounds: face.rect };
  // blur rather than black out: a black bar across the chin would be a stronger artefact than a smudge
  const blurred = await sharp(tile).blur(6).png().toBuffer();
  const patches = await Promise.all(
    masks.map(async ([mx, my, mw, mh]) => {
      const left = Math.max(0, mx);
      const top = Math.max(0, my);
      const width = Math.min(tw, mx + mw) - left;
      const height = Math.min(th, my + mh) - top;
      return { input: await sharp(blurred).extract({ left, top, width, height }).toBuffer(), left, top };
    }),
  );
  return { image: await sharp(tile).composite(patches).png().toBuffer(), bounds: face.rect };
}

/**
 * A square of `scale` x the box's longer side around its centre, clipped to `bounds` and padded back to a
 * square by repeating edge pixels (so a face near the border keeps its position in the crop).
 */
function squareCrop(image: Buffer, bounds: Rect, box: Rect, scale: number): Sharp {
  const [bx, by, bw, bh] = box;
  const side = Math.round(Math.max(bw, bh) * scale);
  const x0 = Math.round(bx + bw / 2 - side / 2);
  const y0 = Math.round(by + bh / 2 - side / 2);
  const [ox, oy, ow, oh] = bounds;
  const cx0 = Math.max(x0, ox);
  const cy0 = Math.max(y0, oy);
  const cx1 = Math.min(x0 + side, ox + ow);
  const cy1 = Math.min(y0 + side, oy + oh);
  // sharp runs extract before extend within one pipeline
  const img = sharp(image).extract({ left: cx0 - ox, top: cy0 - oy, width: cx1 - cx0, height: cy1 - cy0 });
  const pad = { left: cx0 - x0, top: cy0 - y0, right: x0 + side - cx1, bottom: y0 + side - cy1 };
  return pad.left || pad.top || pad.right || pad.bottom ? img.extend({ ...pad, extendWith: 'copy' }) : img;
}

async function main(outArg: string | undefined): Promise<void> {
  if (!outArg || outArg.startsWith('-')) {
    process.stderr.write('usage: node --import tsx scripts/make-eval-sets.ts OUTDIR\n');
    process.exitCode = 2;
    return;
  }
  const out = resolve(outArg);
  const parsed = Annotations.safeParse(JSON.parse(await readFile(ANNOTATIONS, 'utf8')));
  if (!parsed.success) throw new Error(`${ANNOTATIONS}: ${parsed.error.message}`);
  const { photos } = parsed.data;
  const dirs = { detection: join(out, 'detection'), emotion: join(out, 'emotion'), fer: join(out, 'emotion-fer48'), demographics: join(out, 'demographics') };
  for (const d of Object.values(dirs)) await mkdir(join(d, 'images'), { recursive: true });

  let detection = csvLine(['file', 'x', 'y', 'w', 'h', 'ignore']);
  let emotion = csvLine(['file', 'label']);
  let fer = csvLine(['file', 'label']);
  let demographics = csvLine(['file', 'age', 'gender', 'race']);
  const counts = { photos: 0, detectionFaces: 0, ignored: 0, emotion: 0, demographics: 0 };
  const cache = new Map<string, Buffer>();

  for (const photo of photos) {
    const src = resolve(ROOT, photo.file);
    const meta = await sharp(src).metadata();
    // the boxes are in the pixels of the stored file: refuse a different version of the photo
    if (meta.width !== photo.width || meta.height !== photo.height) {
      throw new Error(`${photo.file} is ${meta.width}x${meta.height}, the annotations expect ${photo.width}x${photo.height}`);
    }
    if (photo.detection) {
      const name = `${photo.id}${basename(photo.file).slice(basename(photo.file).lastIndexOf('.'))}`;
      await copyFile(src, join(dirs.detection, 'images', name));
      counts.photos++;
      for (const f of photo.faces) {
        detection += csvLine([`images/${name}`, ...f.box, f.ignore ? 1 : '']);
        counts.detectionFaces++;
        if (f.ignore) counts.ignored++;
      }
    }
    for (const [k, f] of photo.faces.entries()) {
      if (f.ignore) continue;
      const id = f.tile ? `${photo.id}-${f.tile}` : `${photo.id}-${k}`;
      const { image, bounds } = await sourceFor(photo, f, cache);
      if (f.emotion) {
        await squareCrop(image, bounds, f.box, 1.6).png().toFile(join(dirs.emotion, 'images', `${id}.png`));
        await sharp(await squareCrop(image, bounds, f.box, 1.1).png().toBuffer())
          .resize(48, 48)
          .greyscale()
          .png()
          .toFile(join(dirs.fer, 'images', `${id}.png`));
        emotion += csvLine([`images/${id}.png`, f.emotion]);
        fer += csvLine([`images/${id}.png`, f.emotion]);
        counts.emotion++;
      }
      if (f.gender && f.age !== undefined) {
        await sharp(await squareCrop(image, bounds, f.box, 1.8).png().toBuffer())
          .resize(200, 200)
          .png()
          .toFile(join(dirs.demographics, 'images', `${id}.png`));
        demographics += csvLine([`images/${id}.png`, f.age, f.gender, f.race]);
        counts.demographics++;
      }
    }
  }
  await writeFile(join(dirs.detection, 'labels.csv'), detection);
  await writeFile(join(dirs.emotion, 'labels.csv'), emotion);
  await writeFile(join(dirs.fer, 'labels.csv'), fer);
  await writeFile(join(dirs.demographics, 'labels.csv'), demographics);
  process.stdout.write(
    `eval sets in ${out}: detection ${counts.photos} photos / ${counts.detectionFaces} faces (${counts.ignored} ignore), ` +
      `emotion ${counts.emotion} crops (+ fer48), demographics ${counts.demographics} crops\n`,
  );
}

main(process.argv[2]).catch((e: unknown) => {
  process.stderr.write(`make-eval-sets: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
