/**
 * FacecastMetrics over streams made of plain data (the counters a RuntimeHandle would report), rendered and
 * parsed back; and /metrics served over real HTTP on 127.0.0.1 with and without a bearer token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GroupRecord } from '../../../src/core/records.ts';
import { HistogramCounts, LATENCY_BUCKETS, STAGES, STAGE_BUCKETS, type StageName } from '../../../src/core/stage-stats.ts';
import { FacecastMetrics, type MetricsStream } from '../../../src/metrics/metrics.ts';
import { MetricsServer, metricsHandler } from '../../../src/metrics/http.ts';
import type { StreamStatus } from '../../../src/server/service.ts';

function group(id: string, kind: GroupRecord['kind'], emotion: number[], faceCount: number): GroupRecord {
  return { id, kind, name: id, faceCount, members: [], emotion, dominant: 'happy', valence: 0.4, arousal: -0.1, cohesion: 0.8, trend: 0, trendLabel: 'steady', maleRatio: null, ageBands: [0, 0, 0, 0, 0] };
}

function status(over: Partial<StreamStatus> = {}): StreamStatus {
  return { state: 'streaming', inputFps: 25, analysedFps: 20, outputFps: 0, latencyMs: 40, processingMs: 10, ingestLagMs: 120, sinceFrameMs: 30, viewers: 2, faces: 3, framesReceived: 100, framesAnalysed: 80, framesDropped: 7, framesSkipped: 12, videoFramesDropped: 1, ...over };
}

function stream(id: string, over: Partial<StreamStatus> = {}, groups: GroupRecord[] = []): MetricsStream {
  const latency = new HistogramCounts(LATENCY_BUCKETS);
  latency.observe(0.04);
  latency.observe(0.3);
  return { id, status: () => status(over), runtime: { status: () => ({ framesAnalysed: 93, reconnects: 2 }), latency }, groups: () => groups };
}

/** name{labels} → value, from exposition text. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    assert.ok(m, `exposition line: ${line}`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

test('render() reports streams, groups, viewers, drops and histograms from the sources, with fixed low-cardinality labels', async () => {
  const stages = Object.fromEntries(STAGES.map((s) => [s, new HistogramCounts(STAGE_BUCKETS)])) as Record<StageName, HistogramCounts>;
  stages.detect.observe(0.012);
  const scene = group('scene', 'scene', [0, 0, 0, 0.75, 0, 0, 0.25], 3);
  const zone = group('zone:door "A"', 'zone', [0, 0, 0, 1, 0, 0, 0], 1);
  const cluster = group('cluster:41', 'cluster', [0, 0, 0, 1, 0, 0, 0], 2);
  const streams = [stream('lobby', {}, [scene, zone, cluster]), { id: 'off', status: () => status({ state: 'stopped', faces: 0, framesReceived: 0, framesAnalysed: 0, framesDropped: 0, viewers: 0, videoFramesDropped: 0 }), runtime: undefined, groups: () => [] }];
  const metrics = new FacecastMetrics(
    { streams: () => streams, socketSubscribers: (id) => (id === 'lobby' ? 4 : 0), batchers: () => [{ name: 'emotion', stats: { batches: 3, items: 5, sizes: [0, 2, 0, 1], cancelled: 0 } }], stages },
    { defaultMetrics: false },
  );
  const text = await metrics.render();
  const v = parse(text);
  assert.equal(v.get('facecast_stream_up{stream="lobby"}'), 1);
  assert.equal(v.get('facecast_stream_up{stream="off"}'), 0);
  assert.equal(v.get('facecast_stream_state{stream="off",state="stopped"}'), 1);
  assert.equal(v.get('facecast_stream_state{stream="off",state="streaming"}'), 0);
  assert.equal(v.get('facecast_frames_received_total{stream="lobby"}'), 100);
  assert.equal(v.get('facecast_frames_processed_total{stream="lobby"}'), 93);
  assert.equal(v.get('facecast_frames_processed_total{stream="off"}'), 0);
  assert.equal(v.get('facecast_frames_dropped_total{stream="lobby",stage="analyze"}'), 7);
  assert.equal(v.get('facecast_frames_dropped_total{stream="lobby",stage="encode"}'), 1);
  assert.equal(v.get('facecast_frames_dropped_total{stream="lobby",stage="ingest"}'), 12, 'skip-ahead drops');
  assert.equal(v.get('facecast_ingest_lag_seconds{stream="lobby"}'), 0.12);
  assert.equal(v.get('facecast_stream_state{stream="lobby",state="stalled"}'), 0, 'stalled is one of the states');
  assert.equal(v.get('facecast_stream_reconnects_total{stream="lobby"}'), 2);
  assert.equal(v.get('facecast_faces{stream="lobby"}'), 3);
  assert.equal(v.get('facecast_viewers{stream="lobby",transport="whep"}'), 2);
  assert.equal(v.get('facecast_viewers{stream="lobby",transport="socketio"}'), 4);
  assert.equal(v.get('facecast_group_emotion_ratio{stream="lobby",group="scene",emotion="happy"}'), 0.75);
  assert.equal(v.get('facecast_group_emotion_ratio{stream="lobby",group="scene",emotion="neutral"}'), 0.25);
  assert.equal(v.get('facecast_group_faces{stream="lobby",group="zone:door \\"A\\""}'), 1, 'label values are escaped');
  assert.equal(v.get('facecast_group_cohesion_ratio{stream="lobby",group="scene"}'), 0.8);
  assert.equal(v.get('facecast_group_valence{stream="lobby",group="scene"}'), 0.4);
  assert.equal(v.get('facecast_group_arousal{stream="lobby",group="scene"}'), -0.1);
  // clusters are counted, never labelled (their ids grow without end)
  assert.equal(v.get('facecast_clusters{stream="lobby"}'), 1);
  assert.ok(![...v.keys()].some((k) => k.includes('cluster:')), 'no cluster id as a label value');
  assert.equal(v.get('facecast_frame_latency_seconds_count{stream="lobby"}'), 2);
  assert.equal(v.get('facecast_frame_latency_seconds_bucket{stream="lobby",le="0.05"}'), 1);
  assert.equal(v.get('facecast_stage_duration_seconds_count{stage="detect"}'), 1);
  assert.equal(v.get('facecast_stage_duration_seconds_bucket{stage="detect",le="0.01"}'), 0);
  assert.equal(v.get('facecast_stage_duration_seconds_bucket{stage="detect",le="0.025"}'), 1);
  assert.equal(v.get('facecast_inference_batch_size_sum{model="emotion"}'), 5);
  assert.equal(v.get('facecast_inference_batch_size_count{model="emotion"}'), 3);
  // the label names in use are exactly the low-cardinality ones
  const labelNames = new Set([...v.keys()].flatMap((k) => [...k.matchAll(/([a-z_]+)="/g)].map((m) => m[1])));
  assert.deepEqual([...labelNames].sort(), ['emotion', 'group', 'instance_id', 'le', 'model', 'stage', 'state', 'stream', 'transport']);
  assert.ok(!/process_cpu/.test(text), 'defaultMetrics: false');

  // a removed stream's series vanish at the next scrape
  streams.pop();
  const again = parse(await metrics.render());
  assert.equal(again.get('facecast_stream_up{stream="off"}'), undefined);
  assert.equal(again.get('facecast_stream_up{stream="lobby"}'), 1);
  assert.equal(metrics.scrapes, 2);
});

test('/metrics over HTTP: bearer token required when configured (401 + WWW-Authenticate), GET/HEAD only, own port serves only /metrics', async () => {
  const metrics = new FacecastMetrics({ streams: () => [stream('cam')] });
  const token = 'tok-0123456789abcdef';
  await using server = await MetricsServer.listen(metricsHandler(metrics, { token }), { host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${server.port}/metrics`;
  const denied = await fetch(url);
  assert.equal(denied.status, 401);
  assert.match(denied.headers.get('www-authenticate') ?? '', /^Bearer /);
  assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'E_UNAUTHORIZED');
  assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token}x` } })).status, 401);
  assert.equal((await fetch(url, { headers: { authorization: token } })).status, 401, 'the scheme is required');
  const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await ok.text();
  assert.match(text, /^facecast_stream_up\{stream="cam"\} 1$/m);
  assert.match(text, /^process_cpu_seconds_total /m, 'default process metrics');
  assert.match(text, /^nodejs_eventloop_lag_seconds /m, 'default Node.js metrics');
  const head = await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  const post = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  assert.equal((await fetch(`http://127.0.0.1:${server.port}/api/streams`)).status, 404);
  await server.close();
  await server.close(); // idempotent
  assert.ok(server.closed);
});

test('render(): facecast_instance_info names the instance, facecast_stream_owned lists its streams, camera groups come under stream="_groups"', async () => {
  const stream = { id: 'cam1', status: () => ({ state: 'streaming' as const, inputFps: 0, analysedFps: 0, outputFps: 0, latencyMs: 0, processingMs: 0, ingestLagMs: 0, sinceFrameMs: 0, viewers: 0, faces: 2, framesReceived: 0, framesAnalysed: 0, framesDropped: 0, framesSkipped: 0, videoFramesDropped: 0 }), runtime: undefined, groups: () => [] };
  const m = new FacecastMetrics(
    { streams: () => [stream], instanceId: 'pod-a', cameraGroups: () => [{ id: 'room', faceCount: 5, emotion: [0, 0, 0, 0.5, 0, 0, 0.5], valence: 0.3, arousal: 0.1, cohesion: 0.8 }] },
    { defaultMetrics: false },
  );
  const text = await m.render();
  assert.match(text, /^facecast_instance_info\{instance_id="pod-a"\} 1$/m);
  assert.match(text, /^facecast_stream_owned\{stream="cam1"\} 1$/m);
  assert.match(text, /^facecast_group_faces\{stream="_groups",group="room"\} 5$/m);
  assert.match(text, /^facecast_group_emotion_ratio\{stream="_groups",group="room",emotion="happy"\} 0\.5$/m);
  assert.match(text, /^facecast_group_cohesion_ratio\{stream="_groups",group="room"\} 0\.8$/m);
});
