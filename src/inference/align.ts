/**
 * Face crop geometry: where each classifier looks, given a detection.
 *
 * The crop is a square (or, with `aspect`, a rectangle) centred on the detection box, its larger side `scale`
 * times the box's larger side, shifted by `offsetY`,
 * and rotated so the eyes are level when `align` is set (classifiers are trained on upright faces; a 20° head
 * tilt costs them accuracy). Each model states its own framing in the manifest: the emotion net was trained on
 * tight FER2013 crops, the age/gender net on looser crops with hair and chin.
 */
import type { Detection, RgbImage } from '../core/types.js';
import type { CropSpec } from '../models/manifest.js';
import type { Region } from './preprocess.js';

/** Beyond this the eye keypoints are more likely wrong than the head that tilted. */
const MAX_ROLL = (40 * Math.PI) / 180;

/** Head roll in radians from the eye keypoints (0 when upright, positive = clockwise in the image). */
export function rollAngle(d: Detection): number {
  const re = d.keypoints[0];
  const le = d.keypoints[1];
  if (!re || !le) return 0;
  // The subject's right eye is on the image's left: the vector right→left eye points along +x when upright.
  const a = Math.atan2(le.y - re.y, le.x - re.x);
  return Math.abs(a) > MAX_ROLL ? 0 : a;
}

export function faceRegion(d: Detection, crop: CropSpec, flip = false): Region {
  const side = Math.max(d.box.w, d.box.h) * crop.scale;
  // aspect = width / height; the larger side stays `side`
  const aspect = crop.aspect ?? 1;
  const width = aspect < 1 ? side * aspect : side;
  const height = aspect > 1 ? side / aspect : side;
  const angle = crop.align ? rollAngle(d) : 0;
  const cx0 = d.box.x + d.box.w / 2;
  const cy0 = d.box.y + d.box.h / 2;
  // offsetY moves along the face's own vertical axis.
  const shift = crop.offsetY * side;
  return { cx: cx0 - Math.sin(angle) * shift, cy: cy0 + Math.cos(angle) * shift, width, height, angle, flip };
}

/** The whole image as one region (for inputs that are already face crops). */
export function wholeImageRegion(img: RgbImage, flip = false): Region {
  const side = Math.max(img.width, img.height);
  return { cx: img.width / 2, cy: img.height / 2, width: side, height: side, angle: 0, flip };
}
