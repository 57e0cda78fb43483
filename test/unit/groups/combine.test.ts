import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMOTIONS } from '../../../src/core/types.ts';
import type { FrameRecord } from '../../../src/core/records.ts';
import { cohesion } from '../../../src/pipeline/groups/aggregate.ts';
import { combineScenes, sceneSummary } from '../../../src/pipeline/groups/combine.ts';
import { VALENCE } from '../../../src/pipeline/groups/valence.ts';

const K = EMOTIONS.length;
const dist = (...v: number[]): number[] => {
  const p = [...v, ...new Array<number>(K - v.length).fill(0)];
  const s = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / s);
};

function record(probs: number[][], sceneEmotion: number[]): FrameRecord {
  return {
    frame: 0,
    time: 0,
    width: 100,
    height: 100,
    detected: true,
    faces: probs.map((p, i) => ({ trackId: i, box: { x: 0, y: 0, w: 10, h: 10 }, score: 1, status: 'ok', smoothed: { emotion: { label: 'happy', probs: p } } })),
    groups: [{ id: 'scene', kind: 'scene', name: 'Scene', faceCount: probs.length, members: [], emotion: sceneEmotion, dominant: null, valence: 0, arousal: 0, cohesion: 0, trend: 0, trendLabel: 'steady', maleRatio: null, ageBands: [] }],
  };
}

test('combineScenes(): cohesion over several cameras equals cohesion() over all their members', () => {
  const a = [dist(1, 0, 0, 3), dist(0, 0, 0, 1), dist(0, 1, 0, 1, 0, 0, 2)];
  const b = [dist(0, 0, 0, 0, 1), dist(2, 1)];
  const combined = combineScenes([sceneSummary(record(a, dist(0, 0, 0, 1)))!, sceneSummary(record(b, dist(1)))!]);
  const expected = cohesion([...a, ...b]);
  assert.ok(expected !== null && Math.abs(combined.cohesion - expected) < 1e-12, `${combined.cohesion} vs ${expected}`);
});

test('combineScenes(): emotion weighted by face counts; valence is its circumplex position; empty groups are empty', () => {
  const happy = dist(0, 0, 0, 1);
  const sad = dist(0, 0, 0, 0, 1);
  const c = combineScenes([sceneSummary(record([happy, happy, happy], happy))!, sceneSummary(record([sad], sad))!]);
  assert.equal(c.faceCount, 4);
  assert.ok(Math.abs(c.emotion[3] - 0.75) < 1e-12 && Math.abs(c.emotion[4] - 0.25) < 1e-12);
  assert.equal(c.dominant, 'happy');
  assert.ok(Math.abs(c.valence - (0.75 * VALENCE[3] + 0.25 * VALENCE[4])) < 1e-12);
  const none = combineScenes([]);
  assert.deepEqual(none, { faceCount: 0, emotion: new Array(K).fill(0), dominant: null, valence: 0, arousal: 0, cohesion: 0 });
  assert.equal(combineScenes([sceneSummary(record([happy], happy))!]).cohesion, 1, 'one member agrees with itself');
});
