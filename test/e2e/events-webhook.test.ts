/**
 * Events end to end over webhooks, real components only: `facecast serve` runs the demo stream with a rule
 * (faces in the scene for 1 s) and a webhook to a local receiver (127.0.0.1, a free port; loopback allowed
 * explicitly by events.allow.loopback, since the SSRF policy forbids it by default). The receiver answers 500
 * twice: facecast must retry with the same event, signed (HMAC-SHA256 over timestamp and body), until the third
 * attempt succeeds. The event must also reach socket.io clients, GET /api/events and the metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import type { FacecastEvent } from '../../src/events/event.ts';
import { EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '../../src/events/webhook.ts';
import { serveExit, startServe } from '../helpers/serve.ts';
import { until, untilValue } from '../helpers/wait.ts';

const SECRET = 'e2e-webhook-secret-0123456789abcdef';

test('facecast serve: a rule on the demo stream → signed webhook POST, retried after two 500s; socket.io, /api/events and metrics agree', { timeout: 180_000 }, async () => {
  const hits: { body: string; headers: IncomingMessage['headers']; verified: boolean }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const verified = verifySignature(SECRET, { signature: req.headers[SIGNATURE_HEADER] as string | undefined, timestamp: req.headers[TIMESTAMP_HEADER] as string | undefined }, body);
      hits.push({ body, headers: req.headers, verified });
      res.writeHead(hits.length <= 2 ? 500 : 204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as AddressInfo).port;

  const dir = mkdtempSync(join(tmpdir(), 'fc-events-e2e-'));
  const config = join(dir, 'facecast.yaml');
  writeFileSync(
    config,
    [
      'server: { host: 127.0.0.1, port: 0 }',
      'webrtc: { hostAddresses: [127.0.0.1] }',
      'events:',
      '  allow: { loopback: true }',
      '  rules:',
      '    - { id: faces-seen, stream: demo, when: faces, above: 0, forMs: 1000 }',
      '  webhooks:',
      `    - { id: local, url: "http://127.0.0.1:${port}/hook", secret: "${SECRET}", initialBackoffMs: 200, maxBackoffMs: 1000 }`,
      '',
    ].join('\n'),
  );
  const server = await startServe(['--config', config]);
  const socket = io(server.base, { transports: ['websocket'], reconnection: false });
  const pushed: FacecastEvent[] = [];
  socket.on('event', (e: FacecastEvent) => pushed.push(e));
  try {
    await until(() => hits.length >= 3, 90_000, 'three webhook attempts (two answered 500)');
    const [first] = hits;
    const event = JSON.parse(first.body) as FacecastEvent;
    assert.equal(event.rule, 'faces-seen');
    assert.equal(event.phase, 'fired');
    assert.equal(event.stream, 'demo');
    assert.equal(event.group.id, 'scene');
    assert.ok(typeof event.value === 'number' && event.value > 0, 'faces on the demo stream');
    assert.ok(event.window.ms >= 1000, 'the condition held for the rule duration');
    for (const h of hits) {
      assert.ok(h.verified, 'every attempt is signed with the shared secret and a fresh timestamp');
      assert.equal(h.headers[EVENT_HEADER], event.id, 'retries carry the same event');
      assert.equal(h.body, first.body);
    }

    const listed = await untilValue(async () => {
      const r = (await (await fetch(`${server.base}/api/events?rule=faces-seen`)).json()) as { events: FacecastEvent[] };
      return r.events.length > 0 && r.events;
    }, 5000, 'GET /api/events');
    assert.deepEqual(listed.at(-1), event);
    assert.equal((await fetch(`${server.base}/api/events?limit=0`)).status, 400);
    // The socket connects as soon as the server serves; the demo's first faces plus the 1 s rule take longer.
    await until(() => pushed.length > 0, 5000, 'the socket.io event');
    assert.deepEqual(pushed[0], event);

    const metrics = await untilValue(async () => {
      const text = await (await fetch(`${server.base}/metrics`)).text();
      return /facecast_webhook_deliveries_total\{target="local"\} 1\b/.test(text) && text;
    }, 5000, 'the delivery counted');
    assert.match(metrics, /facecast_webhook_failures_total\{target="local"\} 2\b/);
    assert.match(metrics, /facecast_events_total\{rule="faces-seen",phase="fired"\} 1\b/);
    assert.match(metrics, /facecast_webhook_dropped_total\{target="local",reason="queue"\} 0\b/);
  } finally {
    socket.close();
    const code = await server.stop();
    receiver.closeAllConnections();
    await new Promise<void>((r) => receiver.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, `facecast serve exits 0; stderr: ${server.stderr().slice(-1500)}`);
  }
});

test('facecast serve refuses a loopback webhook target unless events.allow.loopback (the SSRF policy), before loading models', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-events-ssrf-'));
  try {
    const config = join(dir, 'facecast.yaml');
    writeFileSync(config, 'server: { port: 0 }\nevents:\n  webhooks: [{ url: "http://127.0.0.1:9/hook" }]\n');
    const r = await serveExit(['--config', config], { FACECAST_DEMO: 'false' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /events\.webhooks\.0\.url: the host resolves to a loopback address, which is not allowed \(events\.allow\.loopback\) \[E_CONFIG_INVALID\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
