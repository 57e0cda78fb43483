/**
 * Still images (JPEG, PNG, WebP, ...) → RgbImage via sharp. EXIF orientation is applied (phone photos are
 * stored sideways), alpha is dropped and grey images are expanded to RGB, so every model sees the same format.
 */
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import { InputError, errorMessage } from '../core/errors.js';
import type { RgbImage } from '../core/types.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.gif', '.avif'] as const;

export function isImagePath(p: string): boolean {
  const l = p.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => l.endsWith(e));
}

/** Longest side accepted; larger images are refused rather than allowed to exhaust memory. */
const MAX_SIDE = 16384;

export async function loadImage(path: string): Promise<RgbImage> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new InputError('E_INPUT_INVALID', `${path} is not a file`);
    if (st.size === 0) throw new InputError('E_INPUT_UNREADABLE', `${path} is empty`);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError('E_INPUT_NOT_FOUND', `${path}: ${errorMessage(e)}`, { cause: e });
  }
  return decodeImage(path, path);
}

/** Decodes an encoded image from a path or bytes; `label` names it in errors. */
export async function decodeImage(input: string | Uint8Array, label = 'image'): Promise<RgbImage> {
  try {
    const img = sharp(input, { failOn: 'error', limitInputPixels: MAX_SIDE * MAX_SIDE });
    const { data, info } = await img.rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected ${info.channels} channels after conversion`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, stride: info.width * 3 };
  } catch (e) {
    throw new InputError('E_INPUT_UNREADABLE', `${label} could not be decoded as an image: ${errorMessage(e)}`, { cause: e });
  }
}
