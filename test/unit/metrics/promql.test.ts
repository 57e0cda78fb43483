import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboardExpressions, exposedNames, metricNames } from '../../helpers/promql.ts';

test('metricNames finds the selected metrics and skips functions, aggregations, keywords, labels, numbers and Grafana variables', () => {
  const cases: [string, string[]][] = [
    ['up', ['up']],
    ['facecast_faces{stream=~"$stream"}', ['facecast_faces']],
    ['sum by (stream, stage) (rate(facecast_frames_dropped_total[$__rate_interval]))', ['facecast_frames_dropped_total']],
    ['histogram_quantile(0.95, sum by (le, stage) (rate(facecast_stage_duration_seconds_bucket{stage!="x"}[5m])))', ['facecast_stage_duration_seconds_bucket']],
    ['sum without (instance) (rate(a_sum[1m])) / on (job) group_left (x) sum(rate(a_count[1m] offset 5m))', ['a_sum', 'a_count']],
    ['facecast_stream_state == 1 and bool facecast_stream_up > 1e3', ['facecast_stream_state', 'facecast_stream_up']],
    ['label_values(facecast_group_faces{stream=~"$stream"}, group)', ['facecast_group_faces']],
    ['label_values(facecast_stream_up, stream)', ['facecast_stream_up']],
    ['label_values(stream)', []],
    ['max_over_time(nodejs_eventloop_lag_p99_seconds[${__range}:1m]) * 1000', ['nodejs_eventloop_lag_p99_seconds']],
    ['{__name__="x"}', []],
    ['vector(1) unless absent(process_cpu_seconds_total)', ['process_cpu_seconds_total']],
  ];
  for (const [expr, want] of cases) assert.deepEqual(metricNames(expr).sort(), want.sort(), expr);
});

test('dashboardExpressions collects targets of nested panels and variable queries', () => {
  const d = {
    panels: [{ title: 'row', type: 'row', panels: [{ title: 'inner', targets: [{ refId: 'A', expr: 'a' }] }] }, { title: 'p', targets: [{ refId: 'B', expr: 'b' }, { refId: 'C' }] }],
    templating: { list: [{ name: 'v', query: { query: 'label_values(c, x)' } }, { name: 'w', query: 'label_values(d, y)' }, { name: 'i', query: '' }] },
  };
  assert.deepEqual(dashboardExpressions(d).map((e) => e.expr), ['a', 'b', 'label_values(c, x)', 'label_values(d, y)']);
});

test('exposedNames: sample names and the _bucket/_sum/_count series of declared histograms and summaries', () => {
  const scrape = ['# HELP h x', '# TYPE h histogram', '# TYPE s summary', 's_sum 1', '# TYPE g gauge', 'g{a="b"} 1', 'c_total 3', ''].join('\n');
  assert.deepEqual([...exposedNames(scrape)].sort(), ['c_total', 'g', 'h', 'h_bucket', 'h_count', 'h_sum', 's', 's_count', 's_sum'].sort());
});
