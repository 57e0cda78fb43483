/**
 * EventService (src/events/service.ts) without video: records emitted by a typed emitter stand in for a stream,
 * states and camera groups come from plain functions. Events reach its listeners, the history (bounded, newest
 * first, filtered) and a real webhook receiver on 127.0.0.1; only watched streams are followed; a detached
 * stream's rule state is forgotten; close() is idempotent and stops everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TypedEmitter } from '../../../src/core/emitter.ts';
import type { CameraGroupRecord, FrameRecord, GroupRecord } from '../../../src/core/records.ts';
import type { FacecastEvent } from '../../../src/events/event.ts';
import { EventsSchema } from '../../../src/events/schema.ts';
import { EventService } from '../../../src/events/service.ts';
import { until } from '../../helpers/wait.ts';

class FakeStream extends TypedEmitter<{ record: [FrameRecord] }> {
  push(faceCount: number): void {
    const g: GroupRecord = { id: 'scene', kind: 'scene', name: 'Scene', faceCount, members: [], emotion: [0, 0, 0, 1, 0, 0, 0], dominant: 'happy', valence: 0.5, arousal: 0, cohesion: 1, trend: 0, trendLabel: 'steady', maleRatio: null, ageBands: [0, 0, 0, 0, 0] };
    this.safeEmit('record', { frame: 0, time: 0, width: 64, height: 64, detected: true, faces: [], groups: [g] });
  }
}

test('records → rules → listeners, history and a webhook; states and camera groups polled; detach forgets', async () => {
  const bodies: FacecastEvent[] = [];
  const rx = createServer((req, res) => {
    let b = '';
    req.on('data', (d: Buffer) => (b += d.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(b) as FacecastEvent);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/h`;
  const config = EventsSchema.parse({
    allow: { loopback: true },
    history: 3,
    rules: [
      { id: 'busy', stream: 'cam', when: 'faces', above: 1, minIntervalMs: 0 },
      { id: 'down', stream: 'cam', when: 'offline', forMs: 0, minIntervalMs: 0 },
      { id: 'hall', cameraGroup: 'hall', when: 'valence', above: 0.2 },
    ],
    webhooks: [{ url, rules: ['busy'] }],
  });
  let state = 'streaming';
  const hall: CameraGroupRecord = { id: 'hall', name: 'Hall', streams: ['cam'], live: ['cam'], faceCount: 2, emotion: [0, 0, 0, 1, 0, 0, 0], dominant: 'happy', valence: 0.6, arousal: 0, cohesion: 1, at: 0 };
  const svc = await EventService.create({ config, clientId: 't', streamStates: () => [{ id: 'cam', state }], streamGroups: () => [], cameraGroups: () => [hall] });
  const heard: FacecastEvent[] = [];
  svc.on('event', (e) => heard.push(e));
  const cam = new FakeStream();
  const other = new FakeStream();
  try {
    svc.attachStream('cam', cam);
    svc.attachStream('other', other);
    assert.equal(other.listenerCount('record'), 0, 'no rule watches "other": not followed');
    cam.push(1);
    cam.push(2);
    cam.push(0);
    assert.deepEqual(heard.map((e) => `${e.rule}:${e.phase}`), ['busy:fired', 'busy:resolved']);
    await until(() => heard.some((e) => e.rule === 'hall'), 2000, 'the camera-group rule (polled)');
    state = 'backoff';
    await until(() => heard.some((e) => e.rule === 'down'), 2000, 'the offline rule (polled)');
    await svc.idle();
    assert.deepEqual(bodies.map((e) => `${e.rule}:${e.phase}`), ['busy:fired', 'busy:resolved'], 'the webhook takes only its rules');
    assert.equal(svc.list().length, 3, 'history bounded');
    assert.deepEqual(svc.list({ rule: 'busy' }).map((e) => e.phase), ['resolved'], 'newest first; the oldest fell out');
    assert.equal(svc.list({ limit: 1 })[0].rule, 'down');
    assert.equal(svc.list({ stream: 'cam' }).every((e) => e.stream === 'cam'), true);
    const s = svc.stats();
    assert.deepEqual(s.rules.find((r) => r.rule === 'busy'), { rule: 'busy', fired: 1, resolved: 1 });
    assert.equal(s.webhooks[0].delivered, 2);
    assert.equal(s.mqtt, undefined);

    svc.detachStream('cam');
    assert.equal(cam.listenerCount('record'), 0);
    svc.attachStream('cam', cam);
    cam.push(5);
    assert.equal(heard.filter((e) => e.rule === 'busy' && e.phase === 'fired').length, 2);
  } finally {
    await svc.close();
    await svc.close();
    rx.closeAllConnections();
    await new Promise<void>((r) => rx.close(() => r()));
  }
  assert.equal(cam.listenerCount('record'), 0, 'close() detaches');
  const n = heard.length;
  state = 'error';
  await sleep(400);
  assert.equal(heard.length, n, 'no polling after close()');
  assert.throws(() => svc.attachStream('cam', cam), /closed/);
});
