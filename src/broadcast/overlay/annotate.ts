/**
 * The burnt-in overlay: a box and a label per face (colour = emotion) and a compact group panel (scene:
 * face count, emotion distribution bars, valence, cohesion). Used by the annotated MP4 export and snapshots (on
 * RGB) and by the live server-side overlay (on the encoder's yuv420p planes): one layout for both.
 */
import { EMOTIONS } from '../../core/types.js';
import type { FrameRecord } from '../../core/records.js';
import { EMOTION_RGB, UNKNOWN_RGB } from '../palette.js';
import { faceLabel } from '../exports/ass.js';
import type { GlyphAtlas } from './font.js';
import { drawText, fillRect, strokeRect, type Picture, type Rgb } from './draw.js';

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];

/** A zone as the overlay outlines it: its name and polygon in 0..1 frame coordinates (ZoneConfig). */
export interface ZoneOutline {
  readonly name: string;
  readonly polygon: readonly (readonly [number, number])[];
}

/** Zone outlines: cyan, the colour the dashboard draws them in (web/zones.js), so both overlays read alike. */
export const ZONE_RGB: Rgb = [0, 229, 255];

/**
 * Draws the overlay of `rec`: zone outlines (when given) first, then the scene panel (top left), then the
 * faces; a face label that would fall under the panel goes below its box instead (issue 16: labels near the
 * top slid under the panel).
 */
export function annotateFrame(img: Picture, rec: FrameRecord, atlas: GlyphAtlas, zones: readonly ZoneOutline[] = []): void {
  const t = Math.max(2, Math.round(img.height / 300));
  for (const z of zones) outlineZone(img, z, t);
  const panel = drawPanel(img, rec, atlas);
  for (const z of zones) labelZone(img, z, t, atlas, panel);
  // Labels already drawn (and the panel): a label that would cover one moves below its box, then further down.
  const taken: Rect[] = panel ? [panel] : [];
  for (const f of rec.faces) {
    const v = f.smoothed ?? f.raw;
    const c = v?.emotion ? EMOTION_RGB[v.emotion.label] : UNKNOWN_RGB;
    const { x, y, w, h } = f.box;
    strokeRect(img, x, y, w, h, t, c);
    const label = faceLabel(f);
    const lw = atlas.measure(label) + 6;
    const lh = atlas.lineHeight;
    const ly = placeLabel(x, y, h, lw, lh, img.height, taken, panel !== undefined);
    taken.push({ x, y: ly, w: lw, h: lh });
    fillRect(img, x, ly, lw, lh, c, 0.85);
    drawText(img, atlas, label, x + 3, ly, BLACK);
  }
}

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

const overlaps = (a: Rect, b: Rect): boolean => a.x < b.x + b.w && a.x + a.w > b.x && a.y < b.y + b.h && a.y + a.h > b.y;

/**
 * Top of a face label: above the box when it fits and covers nothing already drawn (`taken[0]` is the panel
 * when there is one), else right below the box unless that covers another label (it may cover the panel: the
 * label is drawn over it), else stepped further down one line at a time (a few steps; in a crowd the label
 * keeps its last try rather than vanish).
 */
function placeLabel(x: number, y: number, h: number, lw: number, lh: number, frameH: number, taken: readonly Rect[], hasPanel: boolean): number {
  const free = (ly: number, from: number): boolean => ly >= 0 && ly + lh <= frameH && !taken.some((r, i) => i >= from && overlaps(r, { x, y: ly, w: lw, h: lh }));
  const above = y - lh - 2;
  if (free(above, 0)) return above;
  let ly = y + h + 2;
  if (free(ly, hasPanel ? 1 : 0)) return ly;
  for (let k = 0; k < 4 && !free(ly, 0); k++) ly += lh + 1;
  return free(ly, 0) ? ly : y + h + 2;
}

/** The scene panel: a title line, then one bar per emotion. Returns where it was drawn (none without a scene). */
function drawPanel(img: Picture, rec: FrameRecord, atlas: GlyphAtlas): { x: number; y: number; w: number; h: number } | undefined {
  const scene = rec.groups.find((g) => g.kind === 'scene');
  if (!scene) return undefined;
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
  return { x: 8, y: 8, w: pw, h: ph };
}

/** A polygon outline `t` px thick (squares stepped along each edge: no allocation). */
function outlineZone(img: Picture, z: ZoneOutline, t: number): void {
  const n = z.polygon.length;
  if (n < 2) return;
  const step = Math.max(1, t / 2);
  for (let i = 0; i < n; i++) {
    const [ax, ay] = z.polygon[i];
    const [bx, by] = z.polygon[(i + 1) % n];
    const x0 = ax * img.width;
    const y0 = ay * img.height;
    const dx = bx * img.width - x0;
    const dy = by * img.height - y0;
    const steps = Math.max(1, Math.ceil(Math.hypot(dx, dy) / step));
    for (let k = 0; k <= steps; k++) fillRect(img, x0 + (dx * k) / steps - t / 2, y0 + (dy * k) / steps - t / 2, t, t, ZONE_RGB);
  }
}

/** The zone's name inside its first vertex; below the scene panel when it would fall under it. */
function labelZone(img: Picture, z: ZoneOutline, t: number, atlas: GlyphAtlas, panel: { x: number; y: number; w: number; h: number } | undefined): void {
  if (z.polygon.length < 2) return;
  const [lx, ly] = z.polygon[0];
  const w = atlas.measure(z.name) + 6;
  const x = lx * img.width + t;
  let y = ly * img.height + t;
  if (panel && x < panel.x + panel.w && x + w > panel.x && y < panel.y + panel.h && y + atlas.lineHeight > panel.y) y = panel.y + panel.h + 2;
  fillRect(img, x, y, w, atlas.lineHeight, ZONE_RGB, 0.85);
  drawText(img, atlas, z.name, x + 3, y, BLACK);
}
