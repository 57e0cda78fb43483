import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boxInZone, pointInPolygon, validateZone, validateZones } from '../../../src/pipeline/groups/zones.ts';
import type { ZoneConfig } from '../../../src/pipeline/groups/zones.ts';

test('point in a convex polygon', () => {
  const square: [number, number][] = [[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]];
  assert.equal(pointInPolygon(0.5, 0.5, square), true);
  assert.equal(pointInPolygon(0.1, 0.5, square), false);
  assert.equal(pointInPolygon(0.5, 0.9, square), false);
});

test('point in a concave (U-shaped) polygon: the notch is outside', () => {
  const u = validateZone({ id: 'u', name: 'U', polygon: [[0.1, 0.1], [0.3, 0.1], [0.3, 0.6], [0.7, 0.6], [0.7, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]] });
  const box = (cx: number, cy: number) => ({ x: cx * 1000 - 10, y: cy * 500 - 10, w: 20, h: 20 });
  assert.equal(boxInZone(u, box(0.5, 0.3), 1000, 500), false, 'inside the notch');
  assert.equal(boxInZone(u, box(0.2, 0.3), 1000, 500), true, 'left arm');
  assert.equal(boxInZone(u, box(0.8, 0.3), 1000, 500), true, 'right arm');
  assert.equal(boxInZone(u, box(0.5, 0.8), 1000, 500), true, 'base');
  assert.equal(boxInZone(u, box(0.95, 0.5), 1000, 500), false, 'right of the zone');
});

test('invalid polygons throw TypeError with a clear message', () => {
  const bad = (z: unknown, re: RegExp) => assert.throws(() => validateZone(z as ZoneConfig), (e: unknown) => e instanceof TypeError && re.test(e.message));
  bad({ id: 'a', name: 'A', polygon: [[0, 0], [1, 1]] }, /at least 3 points/);
  bad({ id: 'a', name: 'A', polygon: [[0, 0], [1.5, 0], [1, 1]] }, /outside 0\.\.1/);
  bad({ id: 'a', name: 'A', polygon: [[0, 0], [-0.1, 0], [1, 1]] }, /outside 0\.\.1/);
  bad({ id: 'a', name: 'A', polygon: [[0, 0], [0.5, Number.NaN], [1, 1]] }, /finite/);
  bad({ id: 'a', name: 'A', polygon: [[0, 0], [0.5], [1, 1]] }, /\[x, y\]/);
  bad({ id: 'a', name: 'A', polygon: [[0, 0], [0.5, 0.5], [1, 1]] }, /zero area/);
  bad({ id: '', name: 'A', polygon: [[0, 0], [1, 0], [1, 1]] }, /id/);
  bad({ id: 'a', polygon: [[0, 0], [1, 0], [1, 1]] }, /name/);
  bad({ id: 'a', name: 'A' }, /polygon/);
  const ok: ZoneConfig = { id: 'a', name: 'A', polygon: [[0, 0], [1, 0], [1, 1]] };
  assert.throws(() => validateZones([ok, ok]), /duplicate id/);
  assert.equal(validateZones([ok]).length, 1);
});
