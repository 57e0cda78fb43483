import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planBalance } from '../../../src/cluster/balance.ts';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `cam${i + 1}`);

/** Runs every member's plan round after round (each acquisition wins) until nothing changes. */
function converge(members: string[], streams: string[], owners = new Map<string, string>(), rounds = 20): Map<string, string> {
  for (let r = 0; r < rounds; r++) {
    let changed = false;
    for (const me of members) {
      const plan = planBalance({ me, members, streams, owners });
      for (const s of plan.release) owners.delete(s);
      for (const s of plan.acquire) if (!owners.has(s)) owners.set(s, me);
      changed ||= plan.release.length + plan.acquire.length > 0;
    }
    if (!changed) return owners;
  }
  throw new Error('did not converge');
}

const counts = (owners: Map<string, string>, members: string[]): number[] => members.map((m) => [...owners.values()].filter((o) => o === m).length);

test('planBalance(): 6 streams on 3 members end 2/2/2; each stream has one owner', () => {
  const members = ['a', 'b', 'c'];
  const owners = converge(members, ids(6));
  assert.deepEqual(counts(owners, members), [2, 2, 2]);
  assert.equal(owners.size, 6);
});

test('planBalance(): 7 streams on 3 members end within one of each other (3/2/2), not 3/3/1', () => {
  const members = ['a', 'b', 'c'];
  // worst start: a and b took 3 each before c joined
  const start = new Map(ids(7).map((s, i): [string, string] => [s, i < 3 ? 'a' : i < 6 ? 'b' : 'c']));
  const c = counts(converge(members, ids(7), start), members).sort();
  assert.deepEqual(c, [2, 2, 3]);
});

test('planBalance(): a joining member makes the others shed down to the new target', () => {
  const all = new Map(ids(6).map((s): [string, string] => [s, 'a']));
  const plan = planBalance({ me: 'a', members: ['a', 'b'], streams: ids(6), owners: all });
  assert.equal(plan.target, 3);
  assert.equal(plan.release.length, 3);
  assert.deepEqual(plan.acquire, []);
  const joiner = planBalance({ me: 'b', members: ['a', 'b'], streams: ids(6), owners: all });
  assert.deepEqual(joiner.acquire, [], 'nothing free yet');
});

test('planBalance(): a member that left (heartbeat gone) leaves its streams to the others once its leases expire', () => {
  const members = ['a', 'c'];
  const owners = new Map([['cam1', 'a'], ['cam2', 'a'], ['cam5', 'c'], ['cam6', 'c']]); // cam3, cam4 were b's
  const after = converge(members, ids(6), owners);
  assert.deepEqual(counts(after, members), [3, 3]);
});

test('planBalance(): acquires free streams up to the target only, pinned streams are never shed', () => {
  const plan = planBalance({ me: 'a', members: ['a', 'b'], streams: ids(4), owners: new Map() });
  assert.equal(plan.acquire.length, 2);
  const owners = new Map(ids(4).map((s): [string, string] => [s, 'a']));
  const pinned = planBalance({ me: 'a', members: ['a', 'b'], streams: ids(4), owners, pinned: new Set(['cam1', 'cam2', 'cam3']) });
  assert.deepEqual(pinned.release, ['cam4']);
  assert.deepEqual(planBalance({ me: 'a', members: [], streams: [], owners: new Map() }), { acquire: [], release: [], target: 0 });
});
