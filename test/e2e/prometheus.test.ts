/**
 * Observability end to end, with real components only: `facecast serve` runs the demo stream with /metrics on a
 * port of its own behind a bearer token; headless Chromium watches the dashboard (a WHEP and a socket.io viewer,
 * and the screenshot of the README: FACECAST_SERVE_SCREENSHOT=path, else a temp file); a real Prometheus
 * (Debian's package) scrapes facecast every second. Its HTTP API must return the group emotion series, fps and
 * the latency histograms with sane values, and every query of the shipped Grafana dashboard must name only
 * metrics of a real scrape and return data. Loopback only; every wait is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';
import { EMOTIONS } from '../../src/core/types.ts';
import { startServe } from '../helpers/serve.ts';
import { pageFn } from '../helpers/page-fn.ts';
import { PROMTOOL_BIN, PrometheusServer, prometheusUnavailable, type Sample } from '../helpers/prometheus.ts';
import { dashboardExpressions, exposedNames, metricNames } from '../helpers/promql.ts';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'];
const DASHBOARD = 'deploy/grafana/dashboards/facecast.json';

/** The one value of a single-series result. */
function only(r: Sample[], what: string): number {
  assert.equal(r.length, 1, `${what}: one series, got ${JSON.stringify(r)}`);
  return r[0].value;
}

test('Prometheus scrapes facecast serve: group emotion, fps and latency histograms are sane; the Grafana dashboard asks only for exposed metrics', { timeout: 240_000 }, async () => {
  const missing = prometheusUnavailable();
  assert.equal(missing, undefined, `this test runs a real Prometheus: ${missing}`);
  const dir = mkdtempSync(join(tmpdir(), 'fc-prom-e2e-'));
  const token = randomBytes(16).toString('hex');
  const config = join(dir, 'facecast.yaml');
  writeFileSync(config, `server: { host: 127.0.0.1, port: 0 }\nwebrtc: { hostAddresses: [127.0.0.1] }\nmetrics: { port: 0, token: ${token} }\n`);
  const server = await startServe(['--config', config], { FACECAST_MODEL_CACHE: join(dir, 'models') });
  const { base, stderr } = server;
  let browser: Browser | undefined;
  let prom: PrometheusServer | undefined;
  let code: Awaited<ReturnType<typeof server.stop>> | undefined;
  try {
    let metricsUrl = '';
    for (let i = 0; i < 50 && !metricsUrl; i++) {
      metricsUrl = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr())?.[1] ?? '';
      if (!metricsUrl) await sleep(100);
    }
    assert.ok(metricsUrl, `the metrics listener is announced; stderr: ${stderr().slice(-1500)}`);

    // Own port, bearer token: 401 without it, 200 with it; nothing on the main port.
    assert.equal((await fetch(metricsUrl)).status, 401);
    assert.equal((await fetch(`${base}/metrics`)).status, 404, 'with metrics.port, /metrics is not on the main port');
    const scrape = async (): Promise<string> => {
      const r = await fetch(metricsUrl, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200);
      return r.text();
    };

    // A viewer: the dashboard plays the demo over WHEP (server overlay: the overlay and encode stages run) and
    // subscribes over socket.io.
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 20_000 });
    const page = await browser.newPage({ viewport: { width: 1000, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base, { timeout: 10_000 });
    await page.waitForFunction(pageFn('(() => { const v = document.querySelector("video.live"); return !!v && !v.hidden && v.videoWidth > 0 && v.currentTime > 0; })()'), null, { timeout: 30_000 });
    await page.waitForFunction(pageFn(`/^[1-9]\\d* faces?$/.test(document.querySelector('.card .faces')?.textContent ?? '')`), null, { timeout: 15_000 });

    prom = await PrometheusServer.start({ targets: [new URL(metricsUrl).host], bearerToken: token });
    const up = await prom.until('up{job="facecast"}', (r) => r.length === 1 && r[0].value === 1, 30_000);
    assert.equal(only(up, 'up'), 1, `Prometheus scrapes facecast with the token; prometheus log: ${prom.log().slice(-1000)}`);
    // 20 s of samples, so that rate() and histogram_quantile() over [10s]/[20s] windows have data.
    const history = await prom.until('count_over_time(facecast_frames_processed_total{stream="demo"}[25s])', (r) => r.length === 1 && r[0].value >= 20, 60_000);
    assert.ok(history.length === 1 && history[0].value >= 20, `20 scrapes stored: ${JSON.stringify(history)}`);
    const q = (e: string): Promise<Sample[]> => prom!.query(e);

    // The stream
    assert.equal(only(await q('facecast_stream_up{stream="demo"}'), 'up'), 1);
    assert.equal(only(await q('facecast_stream_state{stream="demo",state="streaming"}'), 'state'), 1);
    assert.equal((await q('facecast_stream_state{stream="demo"}')).length, 7, 'one series per state');
    // Over the window, not the last sample: the latest analysed frame may be one where a face is turned away.
    assert.ok(only(await q('max_over_time(facecast_faces{stream="demo"}[25s])'), 'faces') >= 1);
    assert.equal(only(await q('facecast_viewers{stream="demo",transport="whep"}'), 'whep viewers'), 1);
    assert.equal(only(await q('facecast_viewers{stream="demo",transport="socketio"}'), 'socket.io viewers'), 1);

    // fps: the demo clip plays in real time at 25 fps; analysis keeps up with most of it
    const fpsIn = only(await q('rate(facecast_frames_received_total{stream="demo"}[10s])'), 'fps in');
    const fpsOut = only(await q('rate(facecast_frames_processed_total{stream="demo"}[10s])'), 'fps analysed');
    assert.ok(fpsIn > 15 && fpsIn < 35, `input ${fpsIn} fps`);
    assert.ok(fpsOut > 2 && fpsOut <= fpsIn + 1, `analysed ${fpsOut} fps (input ${fpsIn})`);
    const dropped = await q('facecast_frames_dropped_total{stream="demo"}');
    assert.deepEqual(dropped.map((s) => s.metric.stage).sort(), ['analyze', 'encode', 'ingest']);
    // The demo is a file played in real time: never skipped, and never behind its own pacing by a second.
    assert.equal(dropped.find((s) => s.metric.stage === 'ingest')?.value, 0);
    const lag = only(await q('facecast_ingest_lag_seconds{stream="demo"}'), 'ingest lag');
    assert.ok(lag >= 0 && lag < 1, `ingest lag ${lag} s`);

    // Group emotion: the scene's distribution over the seven emotions, a probability distribution
    const emotion = await q('facecast_group_emotion_ratio{stream="demo",group="scene"}');
    assert.deepEqual(emotion.map((s) => s.metric.emotion).sort(), [...EMOTIONS].sort());
    for (const s of emotion) assert.ok(s.value >= 0 && s.value <= 1, `${s.metric.emotion} ratio ${s.value}`);
    const total = emotion.reduce((a, s) => a + s.value, 0);
    assert.ok(Math.abs(total - 1) < 0.01, `emotion ratios sum to 1: ${total}`);
    const valence = only(await q('facecast_group_valence{stream="demo",group="scene"}'), 'valence');
    const arousal = only(await q('facecast_group_arousal{stream="demo",group="scene"}'), 'arousal');
    const cohesion = only(await q('facecast_group_cohesion_ratio{stream="demo",group="scene"}'), 'cohesion');
    assert.ok(valence >= -1 && valence <= 1 && arousal >= -1 && arousal <= 1, `valence ${valence}, arousal ${arousal}`);
    assert.ok(cohesion >= 0 && cohesion <= 1, `cohesion ${cohesion}`);
    assert.ok(only(await q('facecast_group_faces{stream="demo",group="scene"}'), 'group faces') >= 1);
    const history2 = await q('count_over_time(facecast_group_emotion_ratio{stream="demo",group="scene",emotion="happy"}[20s])');
    assert.ok(only(history2, 'emotion history') >= 15, 'the emotion series has a history (emotion over time)');

    // Latency histograms: frame in → out per stream, and every stage's time per frame
    const p50 = only(await q('histogram_quantile(0.5, rate(facecast_frame_latency_seconds_bucket{stream="demo"}[20s]))'), 'latency p50');
    const p95 = only(await q('histogram_quantile(0.95, rate(facecast_frame_latency_seconds_bucket{stream="demo"}[20s]))'), 'latency p95');
    assert.ok(p50 > 0 && p50 <= p95 && p95 <= 5, `frame latency p50 ${p50} s, p95 ${p95} s`);
    const mean = only(await q('rate(facecast_frame_latency_seconds_sum{stream="demo"}[20s]) / rate(facecast_frame_latency_seconds_count{stream="demo"}[20s])'), 'mean latency');
    assert.ok(mean > 0 && mean < 2, `mean frame latency ${mean} s`);
    const stages: Record<string, number> = {};
    for (const stage of ['decode', 'detect', 'track', 'classify', 'group', 'overlay', 'encode']) {
      assert.ok(only(await q(`increase(facecast_stage_duration_seconds_count{stage="${stage}"}[20s])`), `${stage} count`) > 0, `stage ${stage} observed in the last 20 s`);
      stages[stage] = only(await q(`histogram_quantile(0.95, rate(facecast_stage_duration_seconds_bucket{stage="${stage}"}[20s]))`), `${stage} p95`);
      assert.ok(stages[stage] > 0 && stages[stage] < 1, `stage ${stage} p95 ${stages[stage]} s`);
    }
    const batches = await q('sum by (model) (facecast_inference_batch_size_count)');
    assert.ok(batches.length >= 2 && batches.every((s) => s.value > 0), `batch sizes per model: ${JSON.stringify(batches)}`);
    const meanBatch = only(await q('sum(rate(facecast_inference_batch_size_sum{model="emotion"}[20s])) / sum(rate(facecast_inference_batch_size_count{model="emotion"}[20s]))'), 'mean batch');
    assert.ok(meanBatch >= 1 && meanBatch <= 8, `mean emotion batch ${meanBatch}`);
    assert.ok((await q('process_cpu_seconds_total{job="facecast"}')).length === 1, 'default process metrics');
    assert.ok((await q('nodejs_eventloop_lag_p99_seconds{job="facecast"}')).length === 1, 'default Node.js metrics');

    // The shipped dashboard: each query names only metrics of a real scrape, is valid PromQL and returns data.
    const text = await scrape();
    const exposed = exposedNames(text);
    const dashboard: unknown = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    const exprs = dashboardExpressions(dashboard);
    assert.ok(exprs.length >= 20, `${exprs.length} dashboard queries`);
    const named = new Set<string>();
    for (const { where, expr } of exprs) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `${where}: names a metric: ${expr}`);
      for (const n of names) {
        assert.ok(exposed.has(n), `${where}: ${n} is not exposed by facecast (${expr})`);
        named.add(n);
      }
      if (expr.startsWith('label_values(')) continue; // a Grafana function, not PromQL
      const promql = expr.replaceAll('$__rate_interval', '10s').replaceAll('$stream', 'demo').replaceAll('$group', 'scene').replaceAll('$instance', '.*');
      const r = await q(promql);
      assert.ok(r.length > 0, `${where}: no data for ${promql}`);
    }
    for (const m of ['facecast_group_emotion_ratio', 'facecast_group_cohesion_ratio', 'facecast_group_valence', 'facecast_group_arousal', 'facecast_faces', 'facecast_frames_received_total', 'facecast_frames_dropped_total', 'facecast_stage_duration_seconds_bucket', 'facecast_stream_reconnects_total']) {
      assert.ok(named.has(m), `the dashboard shows ${m}`);
    }

    // Naming conventions, as Prometheus's own linter sees them (prom-client's default nodejs_* metrics have
    // findings of their own; facecast's must have none).
    let lint = '';
    try {
      execFileSync(PROMTOOL_BIN, ['check', 'metrics'], { input: text, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer };
      lint = `${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`;
    }
    assert.deepEqual(lint.split('\n').filter((l) => l.startsWith('facecast_')), [], `promtool check metrics: ${lint}`);
    // The shipped scrape config is valid for this Prometheus.
    execFileSync(PROMTOOL_BIN, ['check', 'config', 'deploy/prometheus/prometheus.yml'], { stdio: 'pipe' });

    // The README's screenshot of the web dashboard (live video with the burnt-in overlay, charts).
    await page.screenshot({ path: process.env.FACECAST_SERVE_SCREENSHOT ?? join(dir, 'dashboard.png'), timeout: 10_000 });
    assert.deepEqual(errors, [], 'no page errors');
    const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    process.stderr.write(`metrics: ${text.length} bytes, ${series.length} series (${series.filter((l) => l.startsWith('facecast_')).length} facecast_*); stage p95 ms ${JSON.stringify(Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round(v * 1e4) / 10])))}; frame latency p50 ${Math.round(p50 * 1000)} ms p95 ${Math.round(p95 * 1000)} ms; ${fpsIn.toFixed(1)} fps in, ${fpsOut.toFixed(1)} analysed\n`);
  } finally {
    await browser?.close();
    await prom?.close();
    code = await server.stop();
  }
  // After the finally, not in it: a failed assertion in finally would replace the test's real failure.
  assert.equal(code, 0, `serve exit code; stderr: ${stderr().slice(-1500)}`);
});
