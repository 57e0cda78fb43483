/**
 * RuleEngine (src/events/rules.ts), the pure core of the events feature, stepped with a hand-driven clock:
 * durations must hold, hysteresis re-arms, the minimum interval delays (never loses) a firing, dominant changes
 * must hold and lead, face-count crossings, offline/online, clusters, and the config schema's checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Emotion } from '../../../src/core/types.ts';
import { EventsSchema, type RuleConfig } from '../../../src/events/schema.ts';
import { RuleEngine, type StreamGroupLike } from '../../../src/events/rules.ts';
import type { FacecastEvent } from '../../../src/events/event.ts';

function rule(r: Record<string, unknown>): RuleConfig {
  return EventsSchema.parse({ rules: [{ id: 'r', stream: 'cam', ...r }] }).rules[0];
}

function clock(): { now: () => number; t: number; at(ms: number): void } {
  const c = { t: 1_000_000, now: () => c.t, at: (ms: number) => void (c.t = 1_000_000 + ms) };
  return c;
}

function scene(v: Partial<StreamGroupLike> = {}): StreamGroupLike {
  return { id: 'scene', kind: 'scene', name: 'Scene', faceCount: 3, valence: 0, arousal: 0, cohesion: 0.8, dominant: 'neutral', emotion: [0, 0, 0, 0.2, 0, 0, 0.8], ...v };
}

/** Feeds valence values at the given times (ms from the start); returns the events, flat. */
function feed(engine: RuleEngine, c: ReturnType<typeof clock>, steps: [ms: number, v: Partial<StreamGroupLike>][]): FacecastEvent[] {
  const out: FacecastEvent[] = [];
  for (const [ms, v] of steps) {
    c.at(ms);
    out.push(...engine.observeGroups('cam', [scene(v)]));
  }
  return out;
}

test('valence below: fires only once the condition held forMs, with the window it held over', () => {
  const c = clock();
  const e = new RuleEngine([rule({ when: 'valence', below: -0.3, forMs: 2000 })], { now: c.now, runId: 't' });
  assert.deepEqual(feed(e, c, [[0, { valence: -0.5 }], [1000, { valence: -0.5 }], [1999, { valence: -0.6 }]]), []);
  const [ev] = feed(e, c, [[2000, { valence: -0.4 }]]);
  assert.equal(ev.phase, 'fired');
  assert.equal(ev.rule, 'r');
  assert.equal(ev.stream, 'cam');
  assert.deepEqual(ev.group, { id: 'scene', kind: 'scene', name: 'Scene' });
  assert.equal(ev.value, -0.4);
  assert.deepEqual(ev.window, { from: 1_000_000, to: 1_002_000, ms: 2000 });
  assert.equal(ev.time, new Date(1_002_000).toISOString());
  assert.deepEqual(ev.condition, { below: -0.3, forMs: 2000, hysteresis: 0, minIntervalMs: 60_000 });
  assert.equal(ev.values?.faces, 3);
  assert.equal(ev.id, 't-1');
  // Active: no second event while it stays low.
  assert.deepEqual(feed(e, c, [[3000, { valence: -0.9 }], [10_000, { valence: -0.9 }]]), []);
});

test('a dip shorter than forMs does not fire, and the duration restarts after it', () => {
  const c = clock();
  const e = new RuleEngine([rule({ when: 'valence', below: -0.3, forMs: 2000, minIntervalMs: 0 })], { now: c.now });
  const evs = feed(e, c, [[0, { valence: -0.5 }], [1500, { valence: -0.5 }], [1600, { valence: 0 }], [1700, { valence: -0.5 }], [3600, { valence: -0.5 }]]);
  assert.deepEqual(evs, []);
  const [ev] = feed(e, c, [[3700, { valence: -0.5 }]]);
  assert.equal(ev.window.from, 1_001_700);
});

test('hysteresis: a value flickering around the threshold fires once; resolved only past threshold + hysteresis, then re-arms', () => {
  const c = clock();
  const e = new RuleEngine([rule({ when: 'valence', below: -0.3, hysteresis: 0.1, minIntervalMs: 0 })], { now: c.now });
  const flicker = feed(e, c, [[0, { valence: -0.31 }], [100, { valence: -0.29 }], [200, { valence: -0.31 }], [300, { valence: -0.25 }], [400, { valence: -0.35 }]]);
  assert.deepEqual(flicker.map((x) => x.phase), ['fired']);
  const [resolved] = feed(e, c, [[500, { valence: -0.15 }]]);
  assert.equal(resolved.phase, 'resolved');
  assert.deepEqual(resolved.window, { from: 1_000_000, to: 1_000_500, ms: 500 });
  assert.deepEqual(feed(e, c, [[600, { valence: -0.31 }]]).map((x) => x.phase), ['fired'], 're-armed');
});

test('minimum interval: a second firing waits in pending until the interval has passed, then fires if still true', () => {
  const c = clock();
  const e = new RuleEngine([rule({ when: 'faces', above: 4, minIntervalMs: 10_000 })], { now: c.now });
  assert.equal(feed(e, c, [[0, { faceCount: 5 }]]).length, 1);
  assert.equal(feed(e, c, [[1000, { faceCount: 2 }]])[0].phase, 'resolved');
  assert.deepEqual(feed(e, c, [[2000, { faceCount: 6 }], [9999, { faceCount: 6 }]]), [], 'inside the interval');
  const [ev] = feed(e, c, [[10_000, { faceCount: 6 }]]);
  assert.equal(ev.phase, 'fired');
  assert.equal(ev.window.from, 1_002_000, 'the window starts when the condition became true');
  // Within the interval and gone before it ends: nothing.
  feed(e, c, [[11_000, { faceCount: 1 }]]);
  assert.deepEqual(feed(e, c, [[12_000, { faceCount: 9 }], [13_000, { faceCount: 1 }], [25_000, { faceCount: 1 }]]), []);
});

test('face count crossing: above and below, strict comparisons; faces count even with no face (0 is a value)', () => {
  const c = clock();
  const e = new RuleEngine([rule({ id: 'x', when: 'faces', above: 2, minIntervalMs: 0 }), rule({ id: 'y', when: 'faces', below: 1, minIntervalMs: 0 })].map((r, i) => ({ ...r, id: ['up', 'empty'][i] })), { now: c.now });
  assert.deepEqual(feed(e, c, [[0, { faceCount: 2 }]]), []);
  assert.deepEqual(feed(e, c, [[1, { faceCount: 3 }]]).map((x) => `${x.rule}:${x.phase}:${x.value}`), ['up:fired:3']);
  assert.deepEqual(feed(e, c, [[2, { faceCount: 0 }]]).map((x) => `${x.rule}:${x.phase}:${x.value}`), ['up:resolved:0', 'empty:fired:0']);
});

test('unknown values (fewer faces than minFaces, group absent) neither start nor clear', () => {
  const c = clock();
  const e = new RuleEngine([rule({ when: 'cohesion', below: 0.5, forMs: 1000, minIntervalMs: 0, minFaces: 2 })], { now: c.now });
  // Pending, then unknown: back to idle, the duration restarts.
  assert.deepEqual(feed(e, c, [[0, { cohesion: 0.2 }], [500, { cohesion: 0.2, faceCount: 1 }], [1000, { cohesion: 0.2 }], [1999, { cohesion: 0.2 }]]), []);
  assert.equal(feed(e, c, [[2000, { cohesion: 0.2 }]]).length, 1);
  // Active, then the group vanishes: still active (no resolved), and no new firing when it is back low.
  c.at(3000);
  assert.deepEqual(e.observeGroups('cam', []), []);
  assert.deepEqual(feed(e, c, [[4000, { cohesion: 0.1 }]]), []);
  assert.equal(e.states()[0].phase, 'active');
});

test('dominant change: the first emotion is the silent baseline; a new one must hold forMs and lead by the hysteresis', () => {
  const c = clock();
  const e = new RuleEngine([rule({ when: 'dominant', forMs: 1000, hysteresis: 0.1, minIntervalMs: 0 })], { now: c.now });
  const g = (dominant: Emotion, happy: number, neutral: number): Partial<StreamGroupLike> => ({ dominant, emotion: [0, 0, 0, happy, 0, 0, neutral] });
  assert.deepEqual(feed(e, c, [[0, g('neutral', 0.2, 0.8)], [1000, g('neutral', 0.2, 0.8)]]), []);
  assert.equal(e.states()[0].dominant, 'neutral');
  // happy leads by only 0.04: not a change.
  assert.deepEqual(feed(e, c, [[2000, g('happy', 0.52, 0.48)], [4000, g('happy', 0.52, 0.48)]]), []);
  // leads by 0.3 but for 900 ms only.
  assert.deepEqual(feed(e, c, [[5000, g('happy', 0.65, 0.35)], [5900, g('happy', 0.65, 0.35)], [6000, g('neutral', 0.2, 0.8)]]), []);
  const evs = feed(e, c, [[7000, g('happy', 0.65, 0.35)], [8000, g('happy', 0.7, 0.3)]]);
  assert.equal(evs.length, 1);
  assert.equal(evs[0].value, 'happy');
  assert.equal(evs[0].previous, 'neutral');
  assert.deepEqual(evs[0].window, { from: 1_007_000, to: 1_008_000, ms: 1000 });
  assert.equal(e.states()[0].dominant, 'happy');
});

test('offline: fires after the stream stayed non-streaming forMs (default 5 s), resolved when streaming again; disabled streams are not offline', () => {
  const c = clock();
  const off = rule({ when: 'offline', minIntervalMs: 0 });
  assert.equal(off.forMs, 5000);
  const on = { ...rule({ when: 'online', minIntervalMs: 0 }), id: 'on' };
  const e = new RuleEngine([off, on], { now: c.now });
  const state = (ms: number, s: string): string[] => {
    c.at(ms);
    return e.observeState('cam', s).map((x) => `${x.rule}:${x.phase}:${x.value}`);
  };
  assert.deepEqual(state(0, 'connecting'), []);
  assert.deepEqual(state(1000, 'streaming'), ['on:fired:streaming']);
  assert.deepEqual(state(2000, 'backoff'), ['on:resolved:backoff']);
  assert.deepEqual(state(6999, 'connecting'), []);
  assert.deepEqual(state(7000, 'stalled'), ['r:fired:stalled']);
  assert.deepEqual(state(8000, 'stopped'), [], 'still offline (not cleared) until it streams');
  assert.deepEqual(state(9000, 'streaming'), ['r:resolved:streaming', 'on:fired:streaming']);
  assert.deepEqual(state(20_000, 'stopped'), ['on:resolved:stopped']);
  assert.deepEqual(state(40_000, 'stopped'), [], 'a disabled stream is not offline');
});

test('group: zone and cluster rules; each cluster keeps its own state, which goes when the cluster does', () => {
  const c = clock();
  const zone = rule({ id: 'z', group: 'zone:door', when: 'faces', above: 0, minIntervalMs: 0 });
  const clusters = rule({ id: 'k', group: 'cluster', when: 'faces', above: 1, minIntervalMs: 0 });
  const e = new RuleEngine([zone, clusters], { now: c.now });
  const cl = (id: string, faceCount: number): StreamGroupLike => ({ ...scene({ faceCount }), id, kind: 'cluster', name: id });
  const zg: StreamGroupLike = { ...scene({ faceCount: 1 }), id: 'zone:door', kind: 'zone', name: 'Door' };
  const evs = e.observeGroups('cam', [scene(), zg, cl('cluster:1', 2), cl('cluster:2', 3), cl('cluster:3', 1)]);
  assert.deepEqual(evs.map((x) => `${x.rule}:${x.group.id}:${x.group.kind}`), ['z:zone:door:zone', 'k:cluster:1:cluster', 'k:cluster:2:cluster']);
  assert.equal(e.states().filter((s) => s.rule === 'k').length, 3);
  e.observeGroups('cam', [scene(), cl('cluster:2', 3)]);
  assert.deepEqual(e.states().filter((s) => s.rule === 'k').map((s) => s.key), ['cluster:2']);
});

test('camera-group rules; other streams and rules are not touched; forgetStream starts afresh', () => {
  const c = clock();
  const cg = EventsSchema.parse({ rules: [{ id: 'room', cameraGroup: 'hall', when: 'valence', above: 0.5 }] }).rules[0];
  const e = new RuleEngine([cg, rule({ when: 'faces', above: 0 })], { now: c.now });
  assert.deepEqual(e.cameraGroups, ['hall']);
  assert.equal(e.watchesStream('other'), false);
  assert.deepEqual(e.observeGroups('other', [scene({ faceCount: 9 })]), []);
  const [ev] = e.observeCameraGroup({ ...scene({ valence: 0.7 }), id: 'hall', name: 'Hall' });
  assert.equal(ev.cameraGroup, 'hall');
  assert.equal(ev.stream, null);
  assert.equal(ev.group.kind, 'camera-group');
  assert.equal(e.observeGroups('cam', [scene()]).length, 1);
  e.forgetStream('cam');
  assert.equal(e.observeGroups('cam', [scene()]).length, 1, 'fresh state: the min interval is forgotten too');
  assert.deepEqual([...e.counts], [['room', { fired: 1, resolved: 0 }], ['r', { fired: 2, resolved: 0 }]]);
});

test('the per-frame path returns one shared empty array (no allocation) while nothing happens', () => {
  const e = new RuleEngine([rule({ when: 'valence', below: -0.9 })]);
  const a = e.observeGroups('cam', [scene()]);
  assert.equal(a, e.observeGroups('cam', [scene()]));
  assert.equal(a, e.observeGroups('nobody', []));
});

test('schema: exactly one target, thresholds only where they mean something, unique ids, known rules in webhooks', () => {
  const issues = (events: unknown): string[] => {
    const r = EventsSchema.safeParse(events);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.deepEqual(issues({ rules: [{ id: 'a', stream: 's', when: 'valence', below: 0 }] }), []);
  assert.match(issues({ rules: [{ id: 'a', when: 'valence', below: 0 }] })[0], /exactly one of stream and cameraGroup/);
  assert.match(issues({ rules: [{ id: 'a', stream: 's', cameraGroup: 'g', when: 'faces', above: 0 }] })[0], /exactly one/);
  assert.match(issues({ rules: [{ id: 'a', stream: 's', when: 'valence' }] })[0], /needs exactly one of below and above/);
  assert.match(issues({ rules: [{ id: 'a', stream: 's', when: 'valence', below: 0, above: 1 }] })[0], /exactly one of below and above/);
  assert.match(issues({ rules: [{ id: 'a', stream: 's', when: 'dominant', below: 0 }] })[0], /^rules\.0\.below: is not used/);
  assert.match(issues({ rules: [{ id: 'a', cameraGroup: 'g', when: 'offline' }] })[0], /watches a stream/);
  assert.match(issues({ rules: [{ id: 'a', stream: 's', group: 'zone:', when: 'faces', above: 1 }] })[0], /rules\.0\.group/);
  assert.match(issues({ rules: [{ id: 'a', stream: 's', when: 'faces', above: 1, bogus: 1 }] })[0], /bogus|Unrecognized/i);
  assert.match(issues({ rules: [{ id: 'a', stream: 's', when: 'faces', above: 1 }, { id: 'a', stream: 's', when: 'faces', above: 2 }] })[0], /duplicate rule id "a"/);
  assert.match(issues({ webhooks: [{ url: 'http://x.example/h', rules: ['nope'] }] })[0], /unknown rule "nope"/);
  assert.match(issues({ webhooks: [{ url: 'ftp://x.example/h' }] })[0], /http:\/\/ or https:\/\//);
  assert.match(issues({ webhooks: [{ url: 'http://x.example/h', secret: 'short' }] })[0], /at least 16/);
  assert.match(issues({ mqtt: { url: 'http://broker' } })[0], /mqtt:\/\//);
});

test('loadConfig: events is a strict section; a rule on a camera group that groups: lacks is an error naming its path', async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadConfig } = await import('../../../src/server/config.ts');
  const dir = mkdtempSync(join(tmpdir(), 'fc-events-config-'));
  try {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'groups: [{ id: hall, streams: [a] }]\nevents:\n  rules:\n    - { id: ok, cameraGroup: hall, when: faces, above: 2 }\n    - { id: bad, cameraGroup: nope, when: faces, above: 2 }\n');
    assert.throws(() => loadConfig({ file, env: {} }), /events\.rules\.1\.cameraGroup: unknown camera group "nope"/);
    writeFileSync(file, 'events: { rulez: [] }\n');
    assert.throws(() => loadConfig({ file, env: {} }), /events\.rulez: unknown key/);
    writeFileSync(file, 'events:\n  rules: [{ id: r, stream: demo, when: offline }]\n');
    const c = loadConfig({ file, env: {} });
    assert.equal(c.events.rules[0].forMs, 5000);
    assert.equal(c.events.rules[0].name, 'r');
    assert.equal(c.events.history, 200);
    assert.deepEqual(c.events.allow, { loopback: false, private: true, linkLocal: false });
    assert.ok(Object.isFrozen(c.events.rules[0]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
