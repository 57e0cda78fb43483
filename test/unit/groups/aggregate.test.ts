import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupAggregator, cohesion } from '../../../src/pipeline/groups/aggregate.ts';
import type { GroupFace, GroupStats } from '../../../src/pipeline/groups/aggregate.ts';
import { CIRCUMPLEX } from '../../../src/pipeline/groups/valence.ts';
import { EMOTIONS } from '../../../src/core/types.ts';
import type { Emotion } from '../../../src/core/types.ts';

const oneHot = (e: Emotion): number[] => EMOTIONS.map((x) => (x === e ? 1 : 0));
const mix = (a: Emotion, b: Emotion, s: number): number[] => EMOTIONS.map((x) => (x === a ? 1 - s : 0) + (x === b ? s : 0));
const face = (trackId: number, cx: number, cy: number, probs?: number[], extra: Partial<GroupFace> = {}): GroupFace => ({ trackId, box: { x: cx - 25, y: cy - 25, w: 50, h: 50 }, emotionProbs: probs, ...extra });
const byId = (stats: GroupStats[], id: string): GroupStats => {
  const g = stats.find((s) => s.id === id);
  assert.ok(g, `group ${id} present`);
  return g;
};

test('cohesion is 1 for identical members and falls monotonically as they disagree', () => {
  assert.equal(cohesion([]), null);
  assert.equal(cohesion([oneHot('happy')]), 1);
  assert.equal(cohesion([oneHot('happy'), oneHot('happy'), oneHot('happy')]), 1);
  const uniform = EMOTIONS.map(() => 1 / 7);
  assert.ok(Math.abs(cohesion([uniform, uniform])! - 1) < 1e-12, 'agreeing on uncertainty is still agreement');
  let prev = 1.0000001;
  for (let s = 0; s <= 1.0001; s += 0.1) {
    const c = cohesion([oneHot('happy'), oneHot('happy'), mix('happy', 'sad', s), mix('happy', 'sad', s)])!;
    assert.ok(c < prev, `cohesion ${c} at s=${s.toFixed(1)} below ${prev}`);
    prev = c;
  }
  assert.ok(Math.abs(cohesion([oneHot('happy'), oneHot('sad')])!) < 1e-12, 'two certain, opposite members: 0');
  const c3 = cohesion([oneHot('happy'), oneHot('happy'), oneHot('sad')])!;
  assert.ok(c3 > 0 && c3 < 1);
  // The README's worked examples.
  assert.ok(Math.abs(cohesion([oneHot('happy'), oneHot('happy'), oneHot('sad'), oneHot('sad')])! - 0.5) < 1e-12);
  assert.ok(Math.abs(cohesion([oneHot('happy'), oneHot('happy'), oneHot('happy'), oneHot('sad')])! - 0.594) < 1e-3);
});

test('scene stats: distribution, dominant, valence, members, individuals and demographics', () => {
  const agg = new GroupAggregator();
  const stats = agg.update({
    ts: 0,
    frameWidth: 1920,
    frameHeight: 1080,
    faces: [
      face(1, 100, 100, oneHot('happy'), { age: 25, gender: { male: 0.9 } }),
      face(2, 900, 100, oneHot('happy'), { age: 70, gender: { male: 0.2 } }),
      face(3, 1500, 800, oneHot('neutral'), { age: 12 }),
      face(4, 1800, 900),
      face(1, 100, 100, oneHot('sad')), // duplicate track id in one frame: counted once
    ],
  });
  const scene = byId(stats, 'scene');
  assert.equal(scene.kind, 'scene');
  assert.equal(scene.faceCount, 4);
  assert.deepEqual(scene.members, [1, 2, 3, 4]);
  assert.equal(scene.samples, 3);
  assert.equal(scene.dominant, 'happy');
  assert.ok(Math.abs(scene.distribution![EMOTIONS.indexOf('happy')] - 2 / 3) < 1e-12);
  assert.ok(Math.abs(scene.valence! - (2 * CIRCUMPLEX.happy.valence) / 3) < 1e-12);
  assert.deepEqual(scene.individuals.map((m) => [m.trackId, m.label]), [[1, 'happy'], [2, 'happy'], [3, 'neutral']]);
  assert.deepEqual(scene.demographics, { withGender: 2, male: 1, female: 1, maleRatio: 0.5, withAge: 3, ageBands: { '0-17': 1, '18-29': 1, '30-44': 0, '45-59': 0, '60+': 1 } });
  assert.equal(stats.length, 1, 'no zones configured, no faces close enough to cluster');
});

test('zones and clusters are groups too, with ids and names', () => {
  const agg = new GroupAggregator({ zones: [{ id: 'bar', name: 'Bar', polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]] }] });
  const stats = agg.update({
    ts: 0,
    frameWidth: 1000,
    frameHeight: 1000,
    faces: [face(1, 100, 100, oneHot('happy')), face(2, 180, 100, oneHot('happy')), face(3, 800, 800, oneHot('sad'))],
  });
  assert.deepEqual(stats.map((s) => s.id), ['scene', 'zone:bar', 'cluster:1']);
  const zone = byId(stats, 'zone:bar');
  assert.equal(zone.name, 'Bar');
  assert.deepEqual(zone.members, [1, 2]);
  assert.equal(zone.cohesion, 1);
  assert.deepEqual(byId(stats, 'cluster:1').members, [1, 2]);
  assert.ok(byId(stats, 'scene').cohesion! < 1);
});

test('trend is rising when members go from sad to happy over the window, falling the other way', () => {
  const run = (from: Emotion, to: Emotion): GroupStats => {
    const agg = new GroupAggregator();
    let last: GroupStats[] = [];
    for (let i = 0; i <= 100; i++) {
      const s = i / 100;
      last = agg.update({ ts: 1000 + i * 0.1, frameWidth: 1000, frameHeight: 1000, faces: [face(1, 100, 100, mix(from, to, s)), face(2, 500, 500, mix(from, to, s))] });
    }
    return byId(last, 'scene');
  };
  const up = run('sad', 'happy');
  assert.equal(up.trend.label, 'rising');
  // Valence goes from sad (−0.89) to happy (0.99) in 10 s: ≈ 11 per minute.
  const expected = ((CIRCUMPLEX.happy.valence - CIRCUMPLEX.sad.valence) / 10) * 60;
  assert.ok(Math.abs(up.trend.slopePerMinute - expected) < 0.5, `slope ${up.trend.slopePerMinute} ≈ ${expected}`);
  assert.equal(run('happy', 'sad').trend.label, 'falling');
  const flat = run('neutral', 'neutral');
  assert.equal(flat.trend.label, 'steady');
  assert.equal(flat.trend.slopePerMinute, 0);
});

test('a change over too short a span is not called a trend', () => {
  const agg = new GroupAggregator();
  let scene: GroupStats | undefined;
  for (let i = 0; i <= 10; i++) scene = byId(agg.update({ ts: i * 0.1, frameWidth: 100, frameHeight: 100, faces: [face(1, 10, 10, mix('sad', 'happy', i / 10))] }), 'scene');
  assert.ok(scene!.trend.slopePerMinute > 50);
  assert.equal(scene!.trend.label, 'steady');
});

test('the window forgets old frames', () => {
  const agg = new GroupAggregator({ windowSeconds: 10 });
  for (let i = 0; i < 50; i++) agg.push({ ts: i * 0.1, frameWidth: 100, frameHeight: 100, faces: [face(1, 10, 10, oneHot('sad'))] });
  for (let i = 0; i < 150; i++) agg.push({ ts: 20 + i * 0.1, frameWidth: 100, frameHeight: 100, faces: [face(1, 10, 10, oneHot('happy'))] });
  const scene = byId(agg.stats(), 'scene');
  assert.equal(scene.dominant, 'happy');
  assert.equal(scene.distribution![EMOTIONS.indexOf('sad')], 0);
  assert.ok(scene.frames <= 101 && scene.frames >= 99, `frames ${scene.frames}`);
});

test('memory stays bounded over 10 000 frames with churning tracks and clusters', () => {
  const agg = new GroupAggregator({ zones: [{ id: 'z', name: 'Z', polygon: [[0, 0], [1, 0], [1, 1], [0, 1]] }] });
  let maxGroups = 0;
  for (let i = 0; i < 10_000; i++) {
    // A new pair of tracks (a new cluster) every 30 frames; one loner throughout.
    const pair = Math.floor(i / 30);
    const faces = [face(2 * pair + 10, 100, 100, oneHot('happy')), face(2 * pair + 11, 180, 100, oneHot('sad')), face(1, 900, 900, oneHot('neutral'))];
    agg.push({ ts: i / 30, frameWidth: 1000, frameHeight: 1000, faces });
    maxGroups = Math.max(maxGroups, agg.sizes().groups);
  }
  const sizes = agg.sizes();
  assert.ok(maxGroups <= 2 + 12, `groups peaked at ${maxGroups}`);
  assert.ok(sizes.rememberedClusters <= 4, `remembered clusters ${sizes.rememberedClusters}`);
  assert.equal(sizes.binsPerGroup, 20);
  assert.equal(agg.stats().filter((s) => s.kind === 'cluster').length, 1);
});

test('time going backwards starts over; bad input throws', () => {
  const agg = new GroupAggregator();
  agg.push({ ts: 100, frameWidth: 100, frameHeight: 100, faces: [face(1, 10, 10, oneHot('sad'))] });
  const s = byId(agg.update({ ts: 5, frameWidth: 100, frameHeight: 100, faces: [face(1, 10, 10, oneHot('happy'))] }), 'scene');
  assert.equal(s.samples, 1);
  assert.equal(s.dominant, 'happy');
  assert.throws(() => agg.push({ ts: 6, frameWidth: 0, frameHeight: 100, faces: [] }), RangeError);
  assert.throws(() => agg.push({ ts: 6, frameWidth: 100, frameHeight: 100, faces: [face(1, 10, 10, [1, 0])] }), RangeError);
  assert.throws(() => new GroupAggregator({ zones: [{ id: 'z', name: 'Z', polygon: [[0, 0], [1, 0]] }] }), TypeError);
  const empty = byId(new GroupAggregator().update({ ts: 0, frameWidth: 10, frameHeight: 10, faces: [] }), 'scene');
  assert.equal(empty.distribution, null);
  assert.equal(empty.cohesion, null);
  assert.equal(empty.trend.label, 'steady');
});
