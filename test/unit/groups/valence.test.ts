import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CIRCUMPLEX, valenceArousal, valenceOf } from '../../../src/pipeline/groups/valence.ts';
import { EMOTIONS } from '../../../src/core/types.ts';
import type { Emotion } from '../../../src/core/types.ts';

const oneHot = (e: Emotion): number[] => EMOTIONS.map((x) => (x === e ? 1 : 0));

test('pure happy is pleasant, pure sad unpleasant and low-arousal, neutral the centre', () => {
  const happy = valenceArousal(oneHot('happy'));
  const sad = valenceArousal(oneHot('sad'));
  const neutral = valenceArousal(oneHot('neutral'));
  assert.ok(happy.valence > 0.9);
  assert.ok(sad.valence < -0.8 && sad.arousal < 0);
  assert.deepEqual(neutral, { valence: 0, arousal: 0 });
  assert.ok(valenceArousal(oneHot('angry')).arousal > 0.9);
  assert.ok(valenceArousal(oneHot('fear')).valence < 0);
  assert.ok(valenceArousal(oneHot('disgust')).valence < 0);
});

test('a face is the probability-weighted mean position; all positions lie within the unit circle', () => {
  const mix = [0, 0, 0, 0.5, 0.5, 0, 0];
  assert.ok(Math.abs(valenceOf(mix) - (CIRCUMPLEX.happy.valence + CIRCUMPLEX.sad.valence) / 2) < 1e-12);
  for (const e of EMOTIONS) assert.ok(Math.hypot(CIRCUMPLEX[e].valence, CIRCUMPLEX[e].arousal) <= 1 + 1e-12, e);
  assert.throws(() => valenceOf([1, 0]), RangeError);
});
