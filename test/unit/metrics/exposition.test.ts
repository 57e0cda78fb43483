import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistogramCounts } from '../../../src/core/stage-stats.ts';
import { batchSizeSeries, escapeLabelValue, formatHistogram, formatValue, seriesOf } from '../../../src/metrics/exposition.ts';

test('formatHistogram writes cumulative buckets, +Inf, _sum and _count per series (text format 0.0.4)', () => {
  const h = new HistogramCounts([0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(3);
  const text = formatHistogram({ name: 'x_seconds', help: 'A test.\nSecond line \\ backslash', bounds: h.bounds, series: [seriesOf(h, { stage: 'detect' })] });
  assert.equal(
    text,
    [
      '# HELP x_seconds A test.\\nSecond line \\\\ backslash',
      '# TYPE x_seconds histogram',
      'x_seconds_bucket{stage="detect",le="0.1"} 1',
      'x_seconds_bucket{stage="detect",le="1"} 2',
      'x_seconds_bucket{stage="detect",le="+Inf"} 3',
      'x_seconds_sum{stage="detect"} 3.55',
      'x_seconds_count{stage="detect"} 3',
    ].join('\n'),
  );
});

test('a family without series is still announced; label values are escaped; bad names throw', () => {
  assert.equal(formatHistogram({ name: 'y', help: 'h', bounds: [1], series: [] }), '# HELP y h\n# TYPE y histogram');
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const s = { labels: { group: 'zone:"door"' }, counts: [0, 0], sum: 0 };
  assert.match(formatHistogram({ name: 'y', help: 'h', bounds: [1], series: [s] }), /^y_count\{group="zone:\\"door\\""\} 0$/m);
  assert.throws(() => formatHistogram({ name: 'bad-name', help: 'h', bounds: [1], series: [] }), TypeError);
  assert.throws(() => formatHistogram({ name: 'y', help: 'h', bounds: [1], series: [{ ...s, labels: { le: '1' } }] }), TypeError);
  assert.throws(() => formatHistogram({ name: 'y', help: 'h', bounds: [1, 2], series: [s] }), TypeError, 'counts must fit the bounds');
  assert.deepEqual([NaN, Infinity, -Infinity, 0.25].map(formatValue), ['NaN', '+Inf', '-Inf', '0.25']);
});

test('batchSizeSeries turns per-size batch counts into buckets: sum = items, count = batches', () => {
  // sizes[n] = batches of n items: 5 of 1, 2 of 3, 1 of 9
  const sizes = [0, 5, 0, 2, 0, 0, 0, 0, 0, 1];
  const s = batchSizeSeries(sizes, [1, 2, 4, 8], { model: 'emotion' });
  assert.deepEqual(s.counts, [5, 0, 2, 0, 1]);
  assert.equal(s.sum, 5 + 6 + 9);
  const text = formatHistogram({ name: 'b', help: 'h', bounds: [1, 2, 4, 8], series: [s] });
  assert.match(text, /^b_bucket\{model="emotion",le="4"\} 7$/m);
  assert.match(text, /^b_bucket\{model="emotion",le="\+Inf"\} 8$/m);
  assert.match(text, /^b_count\{model="emotion"\} 8$/m);
});
