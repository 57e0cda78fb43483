/**
 * Annotated still of a stream (`GET /api/streams/:id/snapshot.jpg`): the latest analysed frame with its overlay
 * burnt in, encoded by sharp. The frame is copied first, so the stream's own buffer is never drawn on.
 */
import sharp from 'sharp';
import type { RgbImage } from '../core/types.js';
import type { FrameRecord } from '../core/records.js';
import { GlyphAtlas } from './overlay/font.js';
import { annotateFrame } from './overlay/annotate.js';

const atlases = new Map<number, Promise<GlyphAtlas>>();

/** One glyph atlas per text size, made once. */
export function atlasFor(frameHeight: number): Promise<GlyphAtlas> {
  const px = Math.max(10, Math.round(frameHeight / 40));
  let a = atlases.get(px);
  if (!a) {
    a = GlyphAtlas.create(px);
    atlases.set(px, a);
  }
  return a;
}

export async function annotatedJpeg(image: RgbImage, rec: FrameRecord | undefined, quality = 80): Promise<Uint8Array> {
  const copy: RgbImage = { data: Uint8Array.from(image.data.subarray(0, image.stride * image.height)), width: image.width, height: image.height, stride: image.stride };
  if (rec) annotateFrame(copy, rec, await atlasFor(image.height));
  const jpeg = await sharp(copy.data, { raw: { width: copy.width, height: copy.height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
}
