/**
 * Annotated still of a stream (`GET /api/streams/:id/snapshot.jpg`): the latest analysed frame with its overlay
 * burnt in, encoded by sharp. The frame is copied first, so the stream's own buffer is never drawn on.
 */
import sharp from 'sharp';
import type { RgbImage } from '../core/types.js';
import type { FrameRecord } from '../core/records.js';
import { atlasFor } from './overlay/font.js';
import { annotateFrame } from './overlay/annotate.js';

export async function annotatedJpeg(image: RgbImage, rec: FrameRecord | undefined, quality = 80): Promise<Uint8Array> {
  const copy: RgbImage = { data: Uint8Array.from(image.data.subarray(0, image.stride * image.height)), width: image.width, height: image.height, stride: image.stride };
  if (rec) annotateFrame(copy, rec, await atlasFor(image.height));
  const jpeg = await sharp(copy.data, { raw: { width: copy.width, height: copy.height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
}
