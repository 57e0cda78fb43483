/**
 * Zones: operator-drawn polygons in normalised frame coordinates (0..1, origin top-left), so a zone survives
 * a resolution change of the stream. A face belongs to a zone when its box centre is inside (even-odd rule,
 * which handles concave polygons; self-intersecting ones follow the even-odd convention too).
 */
import type { Box } from '../../core/types.js';

/** Bounds on what one stream may configure (config file and API alike): validation and the per-face zone test
 *  stay cheap, and an invalid list cannot produce an error response many times its size. */
export const MAX_ZONES = 64;
export const MAX_ZONE_POINTS = 1000;

export interface ZoneConfig {
  id: string;
  name: string;
  /** Vertices [x, y] in 0..1 frame coordinates; at least 3; closed implicitly (last joins first). */
  polygon: [number, number][];
}

/** A validated zone with its bounding box cached, so most faces are rejected without the polygon walk. */
export interface Zone extends ZoneConfig {
  readonly minX: number;
  readonly minY: number;
  readonly maxX: number;
  readonly maxY: number;
}

function fail(where: string, msg: string): never {
  throw new TypeError(`zone ${where}: ${msg}`);
}

/** Validates one zone config; throws TypeError naming the zone and the problem. */
export function validateZone(config: ZoneConfig): Zone {
  const c = config as unknown as Record<string, unknown> | null;
  if (typeof c !== 'object' || c === null) throw new TypeError('zone: expected an object { id, name, polygon }');
  const where = typeof c.id === 'string' && c.id.length > 0 ? `"${c.id}"` : '(no id)';
  if (typeof c.id !== 'string' || c.id.trim().length === 0) fail(where, 'id must be a non-empty string');
  if (typeof c.name !== 'string') fail(where, 'name must be a string');
  const poly = c.polygon;
  if (!Array.isArray(poly)) fail(where, 'polygon must be an array of [x, y] points');
  if (poly.length < 3) fail(where, `polygon needs at least 3 points, got ${poly.length}`);
  if (poly.length > MAX_ZONE_POINTS) fail(where, `polygon has ${poly.length} points, at most ${MAX_ZONE_POINTS}`);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const points: [number, number][] = [];
  poly.forEach((p: unknown, i: number) => {
    if (!Array.isArray(p) || p.length !== 2) fail(where, `point ${i} must be [x, y]`);
    const [x, y] = p as unknown[];
    if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x) || !Number.isFinite(y)) fail(where, `point ${i} must hold two finite numbers`);
    if (x < 0 || x > 1 || y < 0 || y > 1) fail(where, `point ${i} [${x}, ${y}] is outside 0..1 (coordinates are fractions of the frame width/height)`);
    points.push([x, y]);
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
  });
  // A polygon whose vertices are all collinear contains nothing; that is almost certainly a config mistake.
  if (!hasArea(points)) fail(where, 'polygon has zero area (points are collinear)');
  return { id: c.id as string, name: c.name as string, polygon: points, minX, minY, maxX, maxY };
}

/** Validates a list of zones, also rejecting duplicate ids (group ids derive from them). */
export function validateZones(configs: readonly ZoneConfig[]): Zone[] {
  if (!Array.isArray(configs)) throw new TypeError('zones: expected an array');
  if (configs.length > MAX_ZONES) throw new TypeError(`zones: ${configs.length} zones, at most ${MAX_ZONES}`);
  const seen = new Set<string>();
  return configs.map((z) => {
    const v = validateZone(z);
    if (seen.has(v.id)) throw new TypeError(`zone "${v.id}": duplicate id`);
    seen.add(v.id);
    return v;
  });
}

/** True when some three vertices are not collinear (checked this way rather than by signed area,
 * which is also zero for a symmetric self-intersecting bow-tie that does contain points). Linear: all points
 * are collinear iff they all lie on the line through the first point and the point farthest from it
 * (issue 14: the pairwise O(n²) walk took 3.2 s on 40 000 collinear points). */
function hasArea(points: readonly (readonly [number, number])[]): boolean {
  const [x0, y0] = points[0];
  // The point farthest from the first gives the best-conditioned line (the largest cross products).
  let a = 0;
  let far = 0;
  for (let i = 1; i < points.length; i++) {
    const d = (points[i][0] - x0) ** 2 + (points[i][1] - y0) ** 2;
    if (d > far) [a, far] = [i, d];
  }
  if (a === 0) return false; // every point is the same point
  const dx = points[a][0] - x0;
  const dy = points[a][1] - y0;
  for (let k = 1; k < points.length; k++) {
    if (Math.abs(dx * (points[k][1] - y0) - dy * (points[k][0] - x0)) > 1e-12) return true;
  }
  return false;
}

/** Even-odd point-in-polygon test (ray cast to +x). Points exactly on an edge may fall either way. */
export function pointInPolygon(x: number, y: number, polygon: readonly (readonly [number, number])[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    // Half-open rule on y (yi > y) !== (yj > y) counts a vertex on the ray once, not twice.
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether a normalised point lies in a validated zone (bounding-box check first). */
export function inZone(zone: Zone, nx: number, ny: number): boolean {
  if (nx < zone.minX || nx > zone.maxX || ny < zone.minY || ny > zone.maxY) return false;
  return pointInPolygon(nx, ny, zone.polygon);
}

/** Whether a face (pixel box) belongs to a zone: its centre, normalised by the frame size, is inside. */
export function boxInZone(zone: Zone, box: Box, frameWidth: number, frameHeight: number): boolean {
  return inZone(zone, (box.x + box.w / 2) / frameWidth, (box.y + box.h / 2) / frameHeight);
}
