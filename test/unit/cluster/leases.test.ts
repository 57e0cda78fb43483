/**
 * LeaseManager (issue 14, item 8): the lease logic with a fake clock against a real redis-server on 127.0.0.1
 * (Debian's package; .ci/run installs it). Acquire / renew / release / loss; the fence holds without the
 * watchdog timer (checked at use time), including when Redis is paused (CLIENT PAUSE) and when the event loop is
 * blocked past the deadline; and a random property: whenever the manager says it holds a lease, Redis has not
 * let it go and no other manager holds it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseManager } from '../../../src/cluster/leases.ts';
import { KEYS, connectRedis, createRedis } from '../../../src/cluster/redis.ts';
import { RedisServer } from '../../helpers/redis.ts';
import { rng } from '../../helpers/rng.ts';
import type { Redis } from 'ioredis';

const LEASE = 3000;
let server: RedisServer;
let admin: Redis;
const clients: Redis[] = [];

async function client(role: string): Promise<Redis> {
  const c = createRedis(server.url, role, 1000);
  await connectRedis(c, server.url, 5000);
  clients.push(c);
  return c;
}

/** A manager on a fake clock whose watchdog never runs during a test (so only use-time checks expire). */
async function manager(id: string, clock: { t: number }, expired: string[] = []): Promise<LeaseManager> {
  return new LeaseManager({ redis: await client(id), instanceId: id, leaseMs: LEASE, onExpired: (s) => expired.push(s), now: () => clock.t, watchdogMs: 3_600_000 });
}

before(async () => {
  server = await RedisServer.start();
  admin = await client('admin');
});

after(async () => {
  for (const c of clients) c.disconnect();
  await server.close();
});

test('acquire is exclusive; owners() names the holder; release frees it for another instance', async () => {
  const clock = { t: 0 };
  const a = await manager('a', clock);
  const b = await manager('b', clock);
  assert.equal(await a.acquire('s1'), true);
  assert.equal(await b.acquire('s1'), false);
  assert.deepEqual([...(await b.owners(['s1', 'none']))], [['s1', 'a']]);
  assert.equal(a.holds('s1'), true);
  await a.release('s1');
  assert.equal(a.holds('s1'), false);
  assert.equal(await b.acquire('s1'), true);
  await Promise.all([a.close(), b.close()]);
});

test('the fence: a lease not renewed is invalid after 2/3 of the lease at use time, before any timer runs; onExpired once', async () => {
  const clock = { t: 1000 };
  const expired: string[] = [];
  const a = await manager('a2', clock, expired);
  assert.equal(await a.acquire('s2'), true);
  clock.t += (LEASE * 2) / 3 - 1;
  assert.equal(a.valid('s2'), true);
  clock.t += 2;
  assert.equal(a.holds('s2'), false, 'past the deadline: no longer held, whatever the watchdog');
  assert.deepEqual(a.held(), []);
  assert.deepEqual(expired, ['s2'], 'onExpired called once');
  await a.close();
});

test('renewAll extends the deadline from the time the renewal was sent; a lease taken by another is reported lost', async () => {
  const clock = { t: 0 };
  const a = await manager('a3', clock);
  assert.equal(await a.acquire('s3'), true);
  assert.equal(await a.acquire('s4'), true);
  clock.t = 1500;
  assert.deepEqual(await a.renewAll(), []);
  clock.t = 1500 + (LEASE * 2) / 3 - 1;
  assert.equal(a.holds('s3'), true, 'renewed at 1500: valid until 3500');
  // s4's key is deleted and taken by "b" behind a's back (as after an expiry in Redis).
  await admin.del(KEYS.lease('s4'));
  await admin.set(KEYS.lease('s4'), 'b', 'PX', LEASE);
  assert.deepEqual(await a.renewAll(), ['s4']);
  assert.equal(a.holds('s4'), false);
  await a.close();
});

test('Redis paused (CLIENT PAUSE): renewals fail, and the lease becomes invalid at its deadline — before Redis lets it go', async () => {
  const clock = { t: 0 };
  const expired: string[] = [];
  const a = await manager('a5', clock, expired);
  assert.equal(await a.acquire('s5'), true);
  await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
  clock.t = 1000;
  // The renewal times out (commandTimeout 1 s): had it succeeded, the lease would be valid until 3000.
  assert.deepEqual(await a.renewAll().catch(() => []), []);
  clock.t = (LEASE * 2) / 3 + 1;
  assert.equal(a.holds('s5'), false, 'not renewed: invalid at the deadline of the acquisition');
  assert.deepEqual(expired, ['s5']);
  await new Promise((r) => setTimeout(r, 600)); // the pause ends
  // Redis itself still has the key (its expiry is leaseMs after acquire on its clock): the fence came first.
  assert.equal(await admin.get(KEYS.lease('s5')), 'a5');
  await a.close();
});

test('a blocked event loop: right after the block, holds() is false although the watchdog never ran', async () => {
  const expired: string[] = [];
  const a = new LeaseManager({ redis: await client('a6'), instanceId: 'a6', leaseMs: 600, onExpired: (s) => expired.push(s) });
  assert.equal(await a.acquire('s6'), true);
  const until = performance.now() + 500; // > 600 × 2/3
  while (performance.now() < until) {
    // busy: what a long synchronous inference run does to the timers
  }
  assert.equal(a.holds('s6'), false);
  assert.deepEqual(expired, ['s6']);
  await a.close();
});

test('property: whenever a manager says it holds a lease, Redis has it as that manager’s, so no two ever do', async () => {
  // The managers' clock runs at least as fast as real time (Redis expires keys on real time) and jumps ahead.
  let ahead = 0;
  const now = (): number => performance.now() + ahead;
  const ms = ['p0', 'p1', 'p2'].map(async (id) => new LeaseManager({ redis: await client(id), instanceId: id, leaseMs: LEASE, onExpired: () => undefined, now, watchdogMs: 3_600_000 }));
  const managers = await Promise.all(ms);
  const ids = ['p0', 'p1', 'p2'];
  const streams = ['x0', 'x1', 'x2', 'x3'];
  const r = rng(1408);
  for (let step = 0; step < 300; step++) {
    const k = Math.floor(r() * managers.length);
    const m = managers[k];
    const s = streams[Math.floor(r() * streams.length)];
    const op = r();
    if (op < 0.4) await m.acquire(s);
    else if (op < 0.7) await m.renewAll();
    else if (op < 0.8) await m.release(s);
    else ahead += r() * LEASE * 0.5;
    const owners = await managers[0].owners(streams);
    for (const x of streams) {
      const holders = managers.map((h, i) => (h.holds(x) ? ids[i] : undefined)).filter((v) => v !== undefined);
      assert.ok(holders.length <= 1, `step ${step}: ${x} held by ${holders.join(', ')}`);
      if (holders.length === 1) assert.equal(owners.get(x), holders[0], `step ${step}: ${x} is held by ${holders[0]} and Redis agrees`);
    }
  }
  await Promise.all(managers.map((m) => m.close()));
});
