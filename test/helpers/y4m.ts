/**
 * A YUV4MPEG2 clip for Chromium's fake camera (--use-file-for-fake-video-capture), made from a group photo of
 * real people shipped in npm: the window pans slowly across the photo so the picture moves. Chromium loops it.
 */
import { open } from 'node:fs/promises';
import sharp from 'sharp';
import { samplePhoto } from './photos.ts';

export async function makeY4m(path: string, { width = 1280, height = 720, fps = 25, frames = 25, photo = 6 as const } = {}): Promise<void> {
  const src = await sharp(samplePhoto(photo)).resize(Math.round(width * 1.15)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width: pw, height: ph } = src.info;
  const oy = Math.max(0, Math.round((ph - height) * 0.35));
  const cw = width >> 1;
  const ch = height >> 1;
  const frame = Buffer.alloc(width * height + 2 * cw * ch);
  const f = await open(path, 'w');
  try {
    await f.write(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
    for (let i = 0; i < frames; i++) {
      const ox = Math.round(((pw - width) * i) / Math.max(1, frames - 1));
      // BT.601 full range (C420jpeg), chroma averaged over each 2×2 block.
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const o = ((y + oy) * pw + x + ox) * 3;
          frame[y * width + x] = Math.round(0.299 * src.data[o] + 0.587 * src.data[o + 1] + 0.114 * src.data[o + 2]);
        }
      }
      for (let y = 0; y < ch; y++) {
        for (let x = 0; x < cw; x++) {
          let r = 0, g = 0, b = 0;
          for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
            const o = ((2 * y + dy + oy) * pw + 2 * x + dx + ox) * 3;
            r += src.data[o]; g += src.data[o + 1]; b += src.data[o + 2];
          }
          r /= 4; g /= 4; b /= 4;
          frame[width * height + y * cw + x] = Math.max(0, Math.min(255, Math.round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b)));
          frame[width * height + cw * ch + y * cw + x] = Math.max(0, Math.min(255, Math.round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b)));
        }
      }
      await f.write('FRAME\n');
      await f.write(frame);
    }
  } finally {
    await f.close();
  }
}
