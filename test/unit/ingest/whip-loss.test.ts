import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LossMonitor } from '../../../src/ingest/whip/loss.ts';

test('LossMonitor: a gap filled by a retransmission within the grace period asks for nothing', () => {
  const m = new LossMonitor(150);
  for (const s of [10, 11, 12, 14, 15]) m.add(s, 0);
  assert.deepEqual(m.stats, { missing: 1, recovered: 0, lost: 0 });
  m.add(13, 40); // the NACKed packet comes back
  assert.equal(m.check(200), false);
  assert.deepEqual(m.stats, { missing: 1, recovered: 1, lost: 0 });
});

test('LossMonitor: a packet missing past the grace period is lost once (one PLI), then forgotten', () => {
  const m = new LossMonitor(150);
  for (const s of [100, 101, 104, 105]) m.add(s, 1000);
  assert.equal(m.check(1100), false, 'still within the grace period');
  assert.equal(m.check(1151), true);
  assert.equal(m.stats.lost, 2);
  assert.equal(m.check(1300), false, 'already reported');
  m.add(102, 1310); // far too late: not counted as recovered any more
  assert.equal(m.stats.recovered, 0);
});

test('LossMonitor: sequence wrap-around, duplicates and sender restarts', () => {
  const m = new LossMonitor(150);
  for (const s of [65534, 65535, 0, 1, 1, 3]) m.add(s, 0);
  assert.deepEqual(m.stats, { missing: 1, recovered: 0, lost: 0 }, 'only 2 is missing across the wrap');
  m.add(30000, 10); // a jump of ~30000: a restart, not 29996 lost packets
  assert.equal(m.check(1000), false);
  assert.equal(m.stats.missing, 1);
});
