import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterTracker, clusterIndices } from '../../../src/pipeline/groups/clusters.ts';
import type { ClusterFace } from '../../../src/pipeline/groups/clusters.ts';

const face = (trackId: number, cx: number, cy: number, w = 50): ClusterFace => ({ trackId, box: { x: cx - w / 2, y: cy - w / 2, w, h: w } });

test('two groups of faces far apart give two clusters; an isolated face forms none', () => {
  const faces = [face(1, 100, 100), face(2, 200, 100), face(3, 150, 180), face(4, 1000, 100), face(5, 1090, 120), face(6, 600, 600)];
  const groups = clusterIndices(faces);
  assert.deepEqual(groups, [[0, 1, 2], [3, 4]]);
  assert.deepEqual(clusterIndices([face(1, 100, 100)]), []);
  assert.deepEqual(clusterIndices([face(1, 100, 100), face(2, 400, 100)]), [], '6 face widths apart');
});

test('neighbour distance scales with face size (k × mean width)', () => {
  // 200 px apart: neighbours for 100 px faces (limit 250), not for 50 px faces (limit 125).
  assert.equal(clusterIndices([face(1, 0, 0, 100), face(2, 200, 0, 100)]).length, 1);
  assert.equal(clusterIndices([face(1, 0, 0, 50), face(2, 200, 0, 50)]).length, 0);
});

test('single linkage chains neighbours into one cluster', () => {
  const chain = [face(1, 0, 0), face(2, 100, 0), face(3, 200, 0), face(4, 300, 0)];
  assert.deepEqual(clusterIndices(chain), [[0, 1, 2, 3]]);
});

test('cluster ids stay stable while one member leaves and another joins', () => {
  const t = new ClusterTracker();
  const a0 = t.update(0, [face(1, 100, 100), face(2, 200, 100), face(3, 150, 180), face(10, 1000, 100), face(11, 1100, 100)]);
  assert.equal(a0.length, 2);
  const idA = a0.find((c) => c.members.includes(1))!.id;
  const idB = a0.find((c) => c.members.includes(10))!.id;
  assert.notEqual(idA, idB);
  // Track 3 leaves, track 4 joins group A; group B is listed first this time.
  const a1 = t.update(0.1, [face(10, 1000, 100), face(11, 1100, 100), face(1, 100, 100), face(2, 200, 100), face(4, 120, 20)]);
  assert.equal(a1.find((c) => c.members.includes(1))!.id, idA);
  assert.deepEqual(a1.find((c) => c.members.includes(1))!.members, [1, 2, 4]);
  assert.equal(a1.find((c) => c.members.includes(10))!.id, idB);
  // A pair that swaps one of two members ({10,11} → {10,12}, Jaccard 1/3) keeps its id too.
  const a2 = t.update(0.2, [face(10, 1000, 100), face(12, 1080, 100)]);
  assert.equal(a2[0].id, idB);
});

test('a group missing for a frame keeps its id; a new group gets a new one; memory is bounded', () => {
  const t = new ClusterTracker({ retainSeconds: 2 });
  const id = t.update(0, [face(1, 0, 0), face(2, 100, 0)])[0].id;
  assert.equal(t.update(0.1, [face(1, 0, 0)]).length, 0);
  assert.equal(t.update(0.2, [face(1, 0, 0), face(2, 100, 0)])[0].id, id);
  const other = t.update(0.3, [face(7, 0, 0), face(8, 100, 0)])[0].id;
  assert.notEqual(other, id);
  for (let i = 0; i < 1000; i++) t.update(1 + i * 0.1, [face(100 + 2 * i, 0, 0), face(101 + 2 * i, 100, 0)]);
  assert.ok(t.rememberedCount <= 25, `remembered ${t.rememberedCount}`);
});
