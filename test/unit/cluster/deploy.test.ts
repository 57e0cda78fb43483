/**
 * The cluster-mode deploy files agree with each other and with facecast: two compose instances on one Redis with
 * distinct ids and advertised URLs, Prometheus scraping both; the Kubernetes overlay adds Redis, 3 replicas and
 * the FACECAST_* cluster variables (pod name, pod IP) on top of the single-instance manifests, with a valid config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../src/server/config.ts';

const read = (p: string): string => readFileSync(join('deploy', p), 'utf8');
/** YAML documents, navigated by the assertions themselves. */
type Any = any;

test('docker-compose.cluster.yml: two facecast instances on one Redis, each advertising its published port; Prometheus scrapes both', () => {
  const compose = parse(read('docker-compose.cluster.yml'), { merge: true }) as Any;
  const names = Object.keys(compose.services).filter((n) => n.startsWith('facecast-'));
  assert.deepEqual(names, ['facecast-a', 'facecast-b']);
  const ids = new Set<string>();
  for (const n of names) {
    const svc = compose.services[n];
    assert.ok(existsSync(join('deploy', svc.build.context, svc.build.dockerfile)));
    const env = svc.environment as Record<string, string>;
    const config = loadConfig({ env });
    assert.equal(config.cluster?.redisUrl, 'redis://redis:6379');
    assert.ok(compose.services.redis, 'the redis service the URL names');
    ids.add(config.cluster!.instanceId);
    const hostPort = (svc.ports as string[])[0].split(':').at(-2);
    assert.equal(config.cluster?.advertiseUrl, `http://localhost:${hostPort}`, `${n} advertises its published port`);
  }
  assert.equal(ids.size, 2, 'distinct instance ids');
  const scrape = parse(read('prometheus/prometheus-cluster.yml')) as Any;
  assert.deepEqual(scrape.scrape_configs[0].static_configs[0].targets, names.map((n) => `${n}:8080`));
  assert.ok((compose.services.prometheus.volumes as string[]).includes('./prometheus/prometheus-cluster.yml:/etc/prometheus/prometheus.yml:ro'));
});

test('kubernetes/cluster: the base manifests plus Redis; 3 replicas with the cluster variables from the downward API', () => {
  const k = parse(read('kubernetes/cluster/kustomization.yaml')) as Any;
  assert.ok(k.resources.includes('../'));
  for (const r of [...k.resources, ...k.patches.map((p: Any) => p.path)]) assert.ok(existsSync(join('deploy/kubernetes/cluster', r)), r);
  const redis = parseAllDocuments(read('kubernetes/cluster/redis.yaml')).map((d) => d.toJS() as Any);
  const svc = redis.find((d) => d.kind === 'Service');
  const patch = parse(read('kubernetes/cluster/facecast-cluster.yaml')) as Any;
  const base = parseAllDocuments(read('kubernetes/deployment.yaml')).map((d) => d.toJS() as Any).find((d) => d.kind === 'Deployment');
  assert.equal(patch.metadata.name, base.metadata.name, 'the patch targets the base Deployment');
  assert.equal(patch.spec.replicas, 3);
  const c = patch.spec.template.spec.containers[0];
  assert.equal(c.name, base.spec.template.spec.containers[0].name);
  const env = Object.fromEntries((c.env as Any[]).map((e) => [e.name, e.value ?? e.valueFrom.fieldRef.fieldPath]));
  assert.equal(env.FACECAST_REDIS_URL, `redis://${svc.metadata.name}:${svc.spec.ports[0].port}`);
  assert.equal(env.POD_IP, 'status.podIP');
  assert.equal(env.FACECAST_INSTANCE_ID, '$(POD_NAME)');
  assert.equal(env.FACECAST_ADVERTISE_URL, `http://$(POD_IP):${base.spec.template.spec.containers[0].ports[0].containerPort}`);
  // What the pod's environment resolves to is a valid cluster config.
  const config = loadConfig({ env: { FACECAST_REDIS_URL: env.FACECAST_REDIS_URL, FACECAST_INSTANCE_ID: 'facecast-7d9f-abcde', FACECAST_ADVERTISE_URL: 'http://10.1.2.3:8080' } });
  assert.equal(config.cluster?.leaseMs, 5000);
});
