/**
 * The burnt-in overlay: a box and a label per face (colour = emotion) and a compact group panel (scene:
 * face count, emotion distribution bars, valence, cohesion). Used by the annotated MP4 export and by the live
 * server's server-side overlay.
 */
import { EMOTIONS } from '../../core/types.js';
import type { RgbImage } from '../../core/types.js';
import type { FrameRecord } from '../../core/records.js';
import { EMOTION_RGB, UNKNOWN_RGB } from '../palette.js';
import { faceLabel } from '../exports/ass.js';
import type { GlyphAtlas } from './font.js';
import { drawText, fillRect, strokeRect, type Rgb } from './draw.js';

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];

export function annotateFrame(img: RgbImage, rec: FrameRecord, atlas: GlyphAtlas): void {
  const t = Math.max(2, Math.round(img.height / 300));
  for (const f of rec.faces) {
    const v = f.smoothed ?? f.raw;
    const c = v?.emotion ? EMOTION_RGB[v.emotion.label] : UNKNOWN_RGB;
    const { x, y, w, h } = f.box;
    strokeRect(img, x, y, w, h, t, c);
    const label = faceLabel(f);
    const lw = atlas.measure(label) + 6;
    const ly = y - atlas.lineHeight - 2 >= 0 ? y - atlas.lineHeight - 2 : y + h + 2;
    fillRect(img, x, ly, lw, atlas.lineHeight, c, 0.85);
    drawText(img, atlas, label, x + 3, ly, BLACK);
  }
  const scene = rec.groups.find((g) => g.kind === 'scene');
  if (!scene) return;
  // Panel: a title line, then one bar per emotion.
  const lh = atlas.lineHeight;
  const barMax = atlas.cellWidth * 10;
  const title = `${scene.faceCount} faces v${scene.valence >= 0 ? '+' : ''}${scene.valence.toFixed(2)} c${scene.cohesion.toFixed(2)}`;
  const pw = Math.max(atlas.cellWidth * 9 + barMax, atlas.measure(title)) + 12;
  const ph = lh * (EMOTIONS.length + 1) + 8;
  fillRect(img, 8, 8, pw, ph, BLACK, 0.55);
  drawText(img, atlas, title, 12, 10, WHITE);
  EMOTIONS.forEach((e, k) => {
    const yy = 12 + lh * (k + 1);
    drawText(img, atlas, e, 12, yy, WHITE);
    fillRect(img, 12 + atlas.cellWidth * 9, yy + 3, Math.max(1, barMax * (scene.emotion[k] ?? 0)), lh - 6, EMOTION_RGB[e]);
  });
}
