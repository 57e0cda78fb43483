import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistogramCounts, LATENCY_BUCKETS, STAGES, STAGE_BUCKETS, stageTimings } from '../../../src/core/stage-stats.ts';

test('HistogramCounts puts a value in the first bucket whose bound is >= it; above the last bound is +Inf', () => {
  const h = new HistogramCounts([0.01, 0.1, 1]);
  for (const v of [0, 0.01, 0.010001, 0.1, 0.5, 1, 1.5, 100]) h.observe(v);
  assert.deepEqual([...h.counts], [2, 2, 2, 2]);
  assert.equal(h.count, 8);
  assert.ok(Math.abs(h.sum - (0.01 + 0.010001 + 0.1 + 0.5 + 1 + 1.5 + 100)) < 1e-9);
});

test('HistogramCounts.observeMs stores seconds; NaN, negative and infinite values are rejected, not summed', () => {
  const h = new HistogramCounts(STAGE_BUCKETS);
  h.observeMs(3);
  for (const bad of [NaN, -1, Infinity, -Infinity]) h.observe(bad);
  assert.equal(h.count, 1);
  assert.equal(h.rejected, 4);
  assert.equal(h.sum, 0.003);
  assert.equal(h.counts[STAGE_BUCKETS.indexOf(0.005)], 1);
});

test('HistogramCounts.add sums histograms with the same bounds and refuses others; bounds must ascend', () => {
  const a = new HistogramCounts(LATENCY_BUCKETS);
  const b = new HistogramCounts(LATENCY_BUCKETS);
  a.observe(0.02);
  b.observe(0.02);
  b.observe(7);
  a.add(b);
  assert.equal(a.count, 3);
  assert.equal(a.counts[LATENCY_BUCKETS.length], 1);
  assert.throws(() => a.add(new HistogramCounts([1, 2])), TypeError);
  assert.throws(() => new HistogramCounts([]), TypeError);
  assert.throws(() => new HistogramCounts([1, 1]), TypeError);
  assert.throws(() => new HistogramCounts([2, 1]), TypeError);
  assert.throws(() => new HistogramCounts([1, Infinity]), TypeError);
});

test('stageTimings has one histogram per stage, frozen', () => {
  assert.deepEqual(Object.keys(stageTimings), [...STAGES]);
  assert.ok(Object.isFrozen(stageTimings));
  for (const s of STAGES) assert.ok(stageTimings[s] instanceof HistogramCounts);
});
