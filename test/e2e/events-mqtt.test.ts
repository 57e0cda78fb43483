/**
 * Events end to end over MQTT, real components only: a real Mosquitto (Debian's `mosquitto`, /usr/sbin/mosquitto)
 * started by the test with its own config on a free loopback port, `facecast serve` on the demo stream with a
 * rule and events.mqtt pointing at it, and an MQTT.js client subscribed to everything. The event, the retained
 * per-group state, the Home Assistant discovery messages and the status must arrive; then the broker is killed
 * and started again on the same port: facecast must reconnect and publish again, without re-firing the rule
 * (its state survives the broker).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import type { FacecastEvent } from '../../src/events/event.ts';
import { freePort, stopChild } from '../helpers/process.ts';
import { startServe } from '../helpers/serve.ts';
import { until, untilValue } from '../helpers/wait.ts';

const MOSQUITTO = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

/** Starts Mosquitto on 127.0.0.1:port and waits until it accepts connections (at most 10 s). */
async function startMosquitto(dir: string, port: number): Promise<{ child: ChildProcess; log: () => string }> {
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-10_000)));
  const accepts = (): Promise<boolean> =>
    new Promise((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  await untilValue(async () => (child.exitCode !== null ? Promise.reject(new Error(`mosquitto exited: ${log}`)) : accepts()), 10_000, 'mosquitto listening');
  return { child, log: () => log };
}

interface Msg {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

test('facecast serve → Mosquitto: event, retained state, Home Assistant discovery; publishing resumes after a broker restart', { timeout: 240_000 }, async () => {
  assert.ok(existsSync(MOSQUITTO), `${MOSQUITTO} not found: install Debian's "mosquitto" package (.ci/run does)`);
  const dir = mkdtempSync(join(tmpdir(), 'fc-mqtt-e2e-'));
  const port = await freePort();
  let broker = await startMosquitto(dir, port);
  const config = join(dir, 'facecast.yaml');
  writeFileSync(
    config,
    [
      'server: { host: 127.0.0.1, port: 0 }',
      'webrtc: { hostAddresses: [127.0.0.1] }',
      'events:',
      `  mqtt: { url: "mqtt://127.0.0.1:${port}", reconnectMs: 300, stateIntervalMs: 500 }`,
      '  rules:',
      '    - { id: faces-seen, stream: demo, when: faces, above: 0, forMs: 500 }',
      '',
    ].join('\n'),
  );
  const msgs: Msg[] = [];
  const client: MqttClient = connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 200, connectTimeout: 2000 });
  client.on('error', () => undefined); // refused while the broker restarts: reconnects by itself
  client.on('message', (topic, payload, packet) => msgs.push({ topic, payload: payload.toString(), retain: packet.retain, at: Date.now() }));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(['facecast/#', 'homeassistant/#'], { qos: 1 }, (e) => (e ? reject(e) : resolve())));
  });
  const server = await startServe(['--config', config]);
  const metric = async (re: RegExp): Promise<boolean> => re.test(await (await fetch(`${server.base}/metrics`)).text());
  try {
    await until(() => msgs.some((m) => m.topic === 'facecast/events/faces-seen'), 90_000, 'the event on facecast/events/faces-seen');
    const event = JSON.parse(msgs.find((m) => m.topic === 'facecast/events/faces-seen')?.payload ?? '') as FacecastEvent;
    assert.equal(event.rule, 'faces-seen');
    assert.equal(event.stream, 'demo');
    assert.equal(event.phase, 'fired');

    await until(() => msgs.some((m) => m.topic === 'facecast/state/demo/scene'), 10_000, 'the scene state');
    const state = JSON.parse(msgs.filter((m) => m.topic === 'facecast/state/demo/scene').at(-1)?.payload ?? '') as Record<string, unknown>;
    assert.equal(state.stream, 'demo');
    assert.equal(state.group, 'scene');
    for (const k of ['faces', 'valence', 'arousal', 'cohesion']) assert.equal(typeof state[k], 'number', k);

    const disco = msgs.find((m) => m.topic === 'homeassistant/sensor/facecast_demo_scene/valence/config');
    assert.ok(disco, `discovery for the scene's valence; topics: ${[...new Set(msgs.map((m) => m.topic))].join(', ')}`);
    const d = JSON.parse(disco.payload) as Record<string, unknown>;
    assert.equal(d.state_topic, 'facecast/state/demo/scene');
    assert.equal(d.value_template, '{{ value_json.valence }}');
    assert.equal(d.availability_topic, 'facecast/status');
    for (const f of ['faces', 'cohesion', 'dominant']) assert.ok(msgs.some((m) => m.topic === `homeassistant/sensor/facecast_demo_scene/${f}/config`), f);
    assert.ok(msgs.some((m) => m.topic === 'facecast/status' && m.payload === 'online'));
    assert.ok(await metric(/^facecast_mqtt_connected 1$/m));

    // The broker dies and comes back on the same port (no persistence: retained messages are gone).
    const gone = new Promise((r) => broker.child.once('exit', r));
    broker.child.kill('SIGKILL');
    await gone;
    await untilValue(() => metric(/^facecast_mqtt_connected 0$/m), 10_000, 'facecast sees the broker gone');
    broker = await startMosquitto(dir, port);
    const restarted = Date.now();
    await until(() => msgs.some((m) => m.at > restarted && m.topic === 'facecast/state/demo/scene'), 20_000, 'state published again after the restart');
    await until(() => msgs.some((m) => m.at > restarted && m.topic === 'homeassistant/sensor/facecast_demo_scene/valence/config'), 10_000, 'discovery re-sent to the new broker');
    assert.ok(await metric(/^facecast_mqtt_connects_total 2$/m));
    assert.ok(await metric(/^facecast_events_total\{rule="faces-seen",phase="fired"\} 1$/m), 'the rule kept its state: no second firing');
    assert.equal(msgs.filter((m) => m.topic === 'facecast/events/faces-seen' && (JSON.parse(m.payload) as FacecastEvent).phase === 'fired').length, 1);
  } finally {
    client.end(true);
    const code = await server.stop();
    await stopChild(broker.child, 2000);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, `facecast serve exits 0; stderr: ${server.stderr().slice(-1500)}`);
  }
});
