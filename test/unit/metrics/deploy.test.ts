/**
 * The deploy/ files agree with each other and with facecast: compose mounts exist and match the Grafana and
 * Prometheus paths, the dashboard uses the provisioned data source, the Kubernetes probes hit /healthz and
 * /readyz on the port the Service and the ServiceMonitor use, and the config they ship is valid.
 * (Prometheus itself checks prometheus.yml in test/e2e/prometheus.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadManifest } from '../../../src/models/manifest.ts';
import { tfjsSourcePath } from '../../../src/models/store.ts';
import { loadConfig } from '../../../src/server/config.ts';

const DEPLOY = 'deploy';
const read = (p: string): string => readFileSync(join(DEPLOY, p), 'utf8');
/** YAML and JSON documents, navigated by the assertions themselves. */
type Any = any;

test('docker-compose: facecast built from deploy/Dockerfile; every mounted file exists; Prometheus and Grafana point at each other', () => {
  const compose = parse(read('docker-compose.yml')) as Any;
  const { facecast, prometheus, grafana } = compose.services;
  assert.ok(existsSync(join(DEPLOY, facecast.build.context, facecast.build.dockerfile)), 'the Dockerfile the compose file builds');
  assert.equal(resolve(DEPLOY, facecast.build.context), resolve('.'), 'built from the repository root');
  // Published on the host's loopback only, which is what makes FACECAST_ALLOW_INSECURE safe there (docs/config.md#security).
  assert.deepEqual(facecast.ports, ['127.0.0.1:8080:8080']);
  assert.equal(facecast.environment.FACECAST_ALLOW_INSECURE, 'true');
  const mounts = (svc: Any): [string, string][] => (svc.volumes as string[]).map((v) => v.split(':') as [string, string]).filter(([src]) => src.startsWith('./'));
  for (const svc of [prometheus, grafana]) for (const [src] of mounts(svc)) assert.ok(existsSync(join(DEPLOY, src)), `${src} exists`);

  const scrape = parse(read('prometheus/prometheus.yml')) as Any;
  const job = scrape.scrape_configs.find((j: Any) => j.job_name === 'facecast');
  assert.deepEqual(job.static_configs[0].targets, ['facecast:8080'], 'Prometheus scrapes the facecast service');
  assert.equal(job.metrics_path, '/metrics');
  assert.ok(prometheus.command.includes('--config.file=/etc/prometheus/prometheus.yml'));
  assert.ok(mounts(prometheus).some(([src, dst]) => src === './prometheus/prometheus.yml' && dst === '/etc/prometheus/prometheus.yml'));

  const ds = (parse(read('grafana/provisioning/datasources/prometheus.yml')) as Any).datasources[0];
  assert.equal(ds.url, 'http://prometheus:9090');
  assert.equal(ds.jsonData.timeInterval, scrape.global.scrape_interval, "Grafana's $__rate_interval follows the scrape interval");
  const provider = (parse(read('grafana/provisioning/dashboards/facecast.yml')) as Any).providers[0];
  assert.ok(mounts(grafana).some(([src, dst]) => src === './grafana/dashboards' && dst === provider.options.path), 'the dashboards are mounted where the provider reads them');
  assert.ok(mounts(grafana).some(([src, dst]) => src === './grafana/provisioning' && dst === '/etc/grafana/provisioning'));
  assert.equal(grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, `${provider.options.path}/facecast.json`);
});

test('the Grafana dashboard: unique panel ids, every query on the provisioned data source, variables for stream and group', () => {
  const ds = (parse(read('grafana/provisioning/datasources/prometheus.yml')) as Any).datasources[0];
  const d = JSON.parse(read('grafana/dashboards/facecast.json')) as Any;
  assert.equal(d.uid, 'facecast');
  const ids = (d.panels as Any[]).map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const p of d.panels as Any[]) {
    if (p.type === 'row') continue;
    assert.deepEqual(p.datasource, { type: 'prometheus', uid: ds.uid }, p.title);
    assert.ok(p.targets.length > 0 && p.targets.every((t: Any) => typeof t.expr === 'string' && t.expr.length > 0), p.title);
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
  }
  assert.deepEqual((d.templating.list as Any[]).map((v) => v.name), ['stream', 'group', 'instance']);
  const instance = (d.templating.list as Any[])[2];
  assert.ok(instance.includeAll && instance.allValue === '.*', 'the instance variable defaults to every instance');
  assert.ok((d.panels as Any[]).some((p) => p.repeat === 'group'), 'one emotion panel per group');
});

test('Kubernetes: probes on /healthz and /readyz, the Service and ServiceMonitor on the same named port, a valid config', () => {
  const docs = ['configmap.yaml', 'deployment.yaml', 'service.yaml', 'servicemonitor.yaml'].flatMap((f) => parseAllDocuments(read(`kubernetes/${f}`)).map((doc) => doc.toJS() as Any));
  const kind = (k: string): Any => docs.find((d) => d.kind === k);
  const dep = kind('Deployment');
  const svc = kind('Service');
  const sm = kind('ServiceMonitor');
  const cm = kind('ConfigMap');
  assert.deepEqual(dep.spec.selector.matchLabels, dep.spec.template.metadata.labels);
  const c = dep.spec.template.spec.containers[0];
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  const port = c.ports.find((p: Any) => p.name === 'http');
  assert.equal(port.containerPort, 8080);
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) assert.equal(probe.httpGet.port, 'http');
  assert.deepEqual(svc.spec.selector, dep.spec.template.metadata.labels);
  assert.equal(svc.spec.ports[0].targetPort, 'http');
  assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  assert.deepEqual(sm.spec.selector.matchLabels, svc.metadata.labels);
  assert.equal(sm.spec.endpoints[0].port, svc.spec.ports[0].name);
  assert.equal(sm.spec.endpoints[0].path, '/metrics');
  assert.deepEqual(c.args, ['--config', `${c.volumeMounts[0].mountPath}/facecast.yaml`]);
  assert.equal(dep.spec.template.spec.volumes[0].configMap.name, cm.metadata.name);
  const kustomization = parse(read('kubernetes/kustomization.yaml')) as Any;
  for (const r of kustomization.resources) assert.ok(existsSync(join(DEPLOY, 'kubernetes', r)), r);

  const dir = mkdtempSync(join(tmpdir(), 'fc-deploy-'));
  try {
    writeFileSync(join(dir, 'facecast.yaml'), cm.data['facecast.yaml']);
    const config = loadConfig({ file: join(dir, 'facecast.yaml'), env: {} });
    assert.equal(config.server.port, port.containerPort);
    assert.equal(config.server.host, '0.0.0.0', 'reachable by the kubelet probes and the Service');
    assert.equal(config.metrics.enabled, true);
    assert.equal(config.metrics.port, undefined, '/metrics on the port the ServiceMonitor scrapes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Dockerfile: node 20 bookworm-slim, npm ci, facecast serve on 0.0.0.0, the overlay font installed', () => {
  const df = read('Dockerfile');
  assert.match(df, /^FROM node:20-bookworm-slim$/m);
  assert.match(df, /npm ci\b/);
  assert.match(df, /fonts-dejavu-core/);
  assert.match(df, /^ENV FACECAST_HOST=0\.0\.0\.0$/m);
  assert.match(df, /^ENTRYPOINT \["node", "bin\/facecast\.js", "serve"\]$/m);
  assert.match(df, /^EXPOSE 8080$/m);
  // COPY --from=<stage> copies out of the build stage, not from the repository.
  for (const m of df.matchAll(/^COPY (?!.*--from=)(?:--\S+ )*(.+) \S+$/gm)) for (const src of m[1].split(' ')) if (src !== '.') assert.ok(existsSync(src), `COPY ${src}`);
  // The image itself installs production dependencies only (issue 16); the build stage has them all.
  const stages = df.split(/^FROM /m).slice(1);
  assert.equal(stages.length, 2, 'a build stage and the image');
  assert.match(stages[1], /npm ci --omit=dev\b/);
  assert.match(stages[1], /node deploy\/prune-image\.mjs/);
  assert.doesNotMatch(stages[1], /npm run prepare|npm ci --ignore-scripts --no-audit/);
  // jemalloc as the server's malloc (bench/results/soak-jemalloc.md): installed, linked where LD_PRELOAD points.
  const preload = /^ENV LD_PRELOAD=(\S+)$/m.exec(stages[1])?.[1];
  assert.ok(preload, 'LD_PRELOAD set in the image');
  assert.match(stages[1], /apt-get install [^\n]*\blibjemalloc2\b/);
  assert.ok(stages[1].includes(`libjemalloc.so.2" ${preload}`), `${preload} is linked to the installed libjemalloc.so.2`);
});

test('image pruning keeps every file the default models and the demo read (a pruned source fails only in the image)', async () => {
  const { filesToKeep } = await import('../../../deploy/prune-keep.mjs');
  const require = createRequire(resolve('package.json'));
  const models = [...loadManifest().models.values()];
  const keep = filesToKeep(models, require);
  const kept = (file: string): boolean => [...keep].some(([dir, set]) => set.has(relative(dir, file)) && !relative(dir, file).startsWith('..'));
  let checked = 0;
  for (const m of models) {
    if (m.source.type === 'onnx' || m.source.type === 'tfjs-file') continue; // not in node_modules
    const json = tfjsSourcePath(m);
    assert.ok(kept(json), `${m.id}: ${json} kept`);
    const parsed = JSON.parse(readFileSync(json, 'utf8')) as { weightsManifest?: { paths: string[] }[] } | { paths: string[] }[];
    for (const g of Array.isArray(parsed) ? parsed : (parsed.weightsManifest ?? [])) for (const p of g.paths) assert.ok(kept(join(dirname(json), p)), `${m.id}: shard ${p} kept`);
    checked++;
  }
  assert.ok(models.some((m) => m.source.type === 'faceapi') && checked >= 5, `every packaged source type checked (${checked} models)`);
  const faceApi = dirname(require.resolve('@vladmandic/face-api/package.json'));
  assert.ok(kept(join(faceApi, 'demo', 'sample1.jpg')), 'the demo photos are kept');
});
