import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/server/config.ts';

function load(doc: unknown, env: Record<string, string> = {}): ReturnType<typeof loadConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'fc-cluster-config-'));
  try {
    writeFileSync(join(dir, 'c.json'), JSON.stringify(doc));
    return loadConfig({ file: join(dir, 'c.json'), env });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('config cluster: absent by default (single instance); FACECAST_REDIS_URL/INSTANCE_ID/ADVERTISE_URL turn it on; defaults', () => {
  assert.equal(load({}).cluster, undefined);
  const c = load({}, { FACECAST_REDIS_URL: 'redis://redis:6379', FACECAST_INSTANCE_ID: 'pod-a', FACECAST_ADVERTISE_URL: 'http://10.0.0.5:8080' }).cluster;
  assert.deepEqual(c, { redisUrl: 'redis://redis:6379', instanceId: 'pod-a', advertiseUrl: 'http://10.0.0.5:8080', leaseMs: 5000 });
  assert.match(load({ cluster: { redisUrl: 'redis://x' } }).cluster!.instanceId, /^[A-Za-z0-9][A-Za-z0-9._-]*-\d+$/, 'hostname-pid');
});

test('config cluster: bad values are errors with their key path (URL scheme, renewMs above leaseMs/3, unknown keys, duplicate group ids)', () => {
  assert.throws(() => load({ cluster: { redisUrl: 'http://x' } }), /cluster\.redisUrl: must be a redis:\/\/ or rediss:\/\/ URL/);
  assert.throws(() => load({ cluster: { redisUrl: 'redis://x', leaseMs: 3000, renewMs: 1500 } }), /cluster\.renewMs: must be at most cluster\.leaseMs \/ 3 \(1000\)/);
  assert.throws(() => load({ cluster: { redisUrl: 'redis://x', lease: 3 } }), /cluster\.lease: unknown key/);
  assert.throws(() => load({ cluster: { instanceId: 'a' } }), /cluster\.redisUrl/);
  assert.throws(() => load({ groups: [{ id: 'room', streams: ['a'] }, { id: 'room', streams: ['b'] }] }), /groups\.1\.id: duplicate group id "room"/);
  assert.throws(() => load({ groups: [{ id: 'room', streams: [] }] }), /groups\.0\.streams/);
  assert.deepEqual(load({ groups: [{ id: 'room', streams: ['a', 'b'] }] }).groups, [{ id: 'room', streams: ['a', 'b'] }]);
});
