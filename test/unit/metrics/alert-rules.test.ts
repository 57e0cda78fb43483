/**
 * The shipped Prometheus alert rules (deploy/prometheus/alerts.yml): promtool accepts them and their unit tests
 * (`promtool test rules deploy/prometheus/alerts.test.yml`) pass; both compose files mount them where
 * prometheus.yml's rule_files finds them; and every metric they name is one facecast exposes (a real render of
 * FacecastMetrics with a stream, a group, webhooks and MQTT).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import type { GroupRecord } from '../../../src/core/records.ts';
import { HistogramCounts, LATENCY_BUCKETS } from '../../../src/core/stage-stats.ts';
import { FacecastMetrics } from '../../../src/metrics/metrics.ts';
import type { StreamStatus } from '../../../src/server/service.ts';
import { PROMTOOL_BIN, prometheusUnavailable } from '../../helpers/prometheus.ts';
import { exposedNames, metricNames } from '../../helpers/promql.ts';

const DIR = 'deploy/prometheus';

interface RuleFile {
  groups: { name: string; rules: { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[];
}

const rules = (): RuleFile => parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as RuleFile;

test('promtool: the alert rules are valid and their unit tests (alerts.test.yml) pass', () => {
  assert.equal(prometheusUnavailable(), undefined, 'promtool is needed (Debian package prometheus)');
  execFileSync(PROMTOOL_BIN, ['check', 'rules', 'alerts.yml'], { cwd: DIR, stdio: 'pipe' });
  const out = execFileSync(PROMTOOL_BIN, ['test', 'rules', 'alerts.test.yml'], { cwd: DIR, stdio: 'pipe' }).toString();
  assert.match(out, /SUCCESS/);
  // Each alert has at least one test case that expects it to fire.
  const tested = readFileSync(join(DIR, 'alerts.test.yml'), 'utf8');
  for (const r of rules().groups.flatMap((g) => g.rules)) {
    assert.match(tested, new RegExp(`alertname: ${r.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${r.alert} is tested firing`);
    assert.ok(r.labels?.severity && r.annotations?.summary && r.annotations.description, `${r.alert}: severity, summary, description`);
  }
  const names = rules().groups.flatMap((g) => g.rules.map((r) => r.alert));
  for (const want of ['FacecastGroupValenceLow', 'FacecastStreamDown', 'FacecastFramesDroppedHigh', 'FacecastLatencyHigh']) assert.ok(names.includes(want), want);
});

test('compose: both Prometheus services mount alerts.yml where rule_files of their prometheus.yml resolves it', () => {
  for (const [compose, conf] of [['docker-compose.yml', 'prometheus.yml'], ['docker-compose.cluster.yml', 'prometheus-cluster.yml']] as const) {
    const c = parse(readFileSync(join('deploy', compose), 'utf8')) as { services: { prometheus: { volumes: string[] } } };
    const mounts = c.services.prometheus.volumes.map((v) => v.split(':'));
    const configDst = mounts.find(([src]) => src === `./prometheus/${conf}`)?.[1];
    assert.ok(configDst, `${compose} mounts ${conf}`);
    const p = parse(readFileSync(join(DIR, conf), 'utf8')) as { rule_files?: string[] };
    assert.ok(p.rule_files?.length, `${conf} has rule_files`);
    for (const f of p.rule_files) {
      const dst = posix.join(posix.dirname(configDst), f);
      const src = mounts.find(([, d]) => d === dst)?.[0];
      assert.equal(src, './prometheus/alerts.yml', `${compose}: ${dst} is mounted from the shipped rules`);
    }
  }
  execFileSync(PROMTOOL_BIN, ['check', 'config', join(DIR, 'prometheus.yml')], { stdio: 'pipe' });
});

test('every metric the alert rules name is exposed by facecast', async () => {
  const g: GroupRecord = { id: 'scene', kind: 'scene', name: 'Scene', faceCount: 2, members: [], emotion: [0, 0, 0, 1, 0, 0, 0], dominant: 'happy', valence: 0.5, arousal: 0, cohesion: 1, trend: 0, trendLabel: 'steady', maleRatio: null, ageBands: [0, 0, 0, 0, 0] };
  const status = { state: 'streaming', inputFps: 25, analysedFps: 25, outputFps: 0, latencyMs: 40, viewers: 0, faces: 2, framesReceived: 10, framesDropped: 1, videoFramesDropped: 0 } as StreamStatus;
  const latency = new HistogramCounts(LATENCY_BUCKETS);
  latency.observe(0.05);
  const metrics = new FacecastMetrics(
    {
      streams: () => [{ id: 'cam', status: () => status, runtime: { status: () => ({ framesAnalysed: 9, reconnects: 0 }), latency }, groups: () => [g] }],
      events: () => ({
        rules: [{ rule: 'r', fired: 1, resolved: 0 }],
        webhooks: [{ id: 'w', delivered: 1, failedAttempts: 0, dropped: { queue: 0, expired: 0, rejected: 0, forbidden: 0 }, queued: 0 }],
        mqtt: { connected: true, connects: 1, eventsPublished: 1, statesPublished: 1, eventsDropped: 0, queued: 0 },
      }),
    },
    { defaultMetrics: false },
  );
  const exposed = exposedNames(await metrics.render());
  for (const r of rules().groups.flatMap((x) => x.rules)) {
    const names = metricNames(r.expr);
    assert.ok(names.length > 0, r.alert);
    for (const n of names) assert.ok(exposed.has(n), `${r.alert}: ${n} is exposed`);
  }
});
