/**
 * Annotated still of a stream (`GET /api/streams/:id/snapshot.jpg`): the latest analysed frame with its overlay
 * burnt in, encoded by sharp. The frame is copied first, so the stream's own buffer is never drawn on. With
 * `blurFaces` the faces are blurred first (the whole frame when there is no analysis for it).
 */
import sharp from 'sharp';
import type { RgbImage } from '../core/types.js';
import type { FrameRecord } from '../core/records.js';
import { atlasFor } from './overlay/font.js';
import { annotateFrame, type ZoneOutline } from './overlay/annotate.js';
import { blurAll, blurFaces } from './overlay/blur.js';

export async function annotatedJpeg(image: RgbImage, rec: FrameRecord | undefined, quality = 80, opts: { blurFaces?: boolean; zones?: readonly ZoneOutline[] } = {}): Promise<Uint8Array> {
  const copy: RgbImage = { data: Uint8Array.from(image.data.subarray(0, image.stride * image.height)), width: image.width, height: image.height, stride: image.stride };
  if (opts.blurFaces) {
    if (rec) blurFaces(copy, rec);
    else blurAll(copy);
  }
  if (rec) annotateFrame(copy, rec, await atlasFor(image.height), opts.zones);
  const jpeg = await sharp(copy.data, { raw: { width: copy.width, height: copy.height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
}
