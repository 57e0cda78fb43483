/**
 * WebhookTarget (src/events/webhook.ts) against a real local HTTP receiver on 127.0.0.1: signed POSTs that the
 * receiver verifies, retries with backoff after 5xx, permanent failures, timeouts, the bounded queue, and the
 * retry window (an outage shorter than it loses nothing; a longer one drops, counted). Short windows keep it fast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../../src/core/errors.ts';
import type { FacecastEvent } from '../../../src/events/event.ts';
import { EventsSchema, type WebhookConfig } from '../../../src/events/schema.ts';
import { EventService } from '../../../src/events/service.ts';
import { EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookTarget, signPayload, verifySignature } from '../../../src/events/webhook.ts';
import { until } from '../../helpers/wait.ts';

const SECRET = 'a-long-webhook-secret-0123456789';

interface Hit {
  at: number;
  body: string;
  headers: IncomingMessage['headers'];
}

/** A receiver answering with `answer(n)` for its n-th request (0-based); 'hang' never answers. */
class Receiver {
  readonly hits: Hit[] = [];
  server: Server;
  port = 0;
  answer: (n: number) => number | 'hang' = () => 200;

  constructor() {
    this.server = this.#make();
  }

  #make(): Server {
    return createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const n = this.hits.length;
        this.hits.push({ at: performance.now(), body, headers: req.headers });
        const a = this.answer(n);
        if (a === 'hang') return;
        res.writeHead(a, a === 302 ? { location: 'http://127.0.0.1:1/elsewhere' } : {}).end();
      });
    });
  }

  async listen(port = 0): Promise<this> {
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Down: the port refuses connections. */
  async down(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    this.server = this.#make();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

let seq = 0;
function event(rule = 'r'): FacecastEvent {
  const at = Date.now();
  return {
    id: `test-${++seq}`, version: 1, rule, ruleName: rule, when: 'faces', phase: 'fired', stream: 'cam', cameraGroup: null,
    group: { id: 'scene', kind: 'scene', name: 'Scene' }, condition: { above: 0, forMs: 0, hysteresis: 0, minIntervalMs: 0 },
    value: 1, previous: null, values: null, window: { from: at, to: at, ms: 0 }, at, time: new Date(at).toISOString(),
  };
}

function config(url: string, over: Partial<WebhookConfig> = {}): WebhookConfig {
  return { ...EventsSchema.parse({ webhooks: [{ url, secret: SECRET }] }).webhooks[0], ...over };
}

test('POST with a timestamp and an HMAC-SHA256 signature the receiver verifies; a tampered body or old timestamp fails', async () => {
  const rx = await new Receiver().listen();
  const t = new WebhookTarget('w', config(rx.url));
  try {
    const e = event();
    t.send(e);
    await t.idle();
    assert.equal(rx.hits.length, 1);
    const h = rx.hits[0];
    assert.equal(h.headers['content-type'], 'application/json');
    assert.equal(h.headers[EVENT_HEADER], e.id);
    assert.deepEqual(JSON.parse(h.body), e);
    const headers = { signature: h.headers[SIGNATURE_HEADER] as string, timestamp: h.headers[TIMESTAMP_HEADER] as string };
    assert.match(headers.signature, /^sha256=[0-9a-f]{64}$/);
    assert.ok(verifySignature(SECRET, headers, h.body));
    assert.equal(verifySignature(SECRET, headers, h.body.replace('"cam"', '"cbm"')), false, 'tampered body');
    assert.equal(verifySignature('another-secret-0123456789', headers, h.body), false, 'wrong key');
    assert.equal(verifySignature(SECRET, headers, h.body, Number(headers.timestamp) + 301), false, 'replayed too late');
    assert.equal(signPayload(SECRET, 1, 'x'), signPayload(SECRET, 1, 'x'));
    assert.deepEqual(t.stats(), { delivered: 1, failedAttempts: 0, dropped: { queue: 0, expired: 0, rejected: 0, forbidden: 0 }, queued: 0 });
  } finally {
    await t.close();
    await rx.close();
  }
});

test('5xx twice, then 200: retried with doubling backoff, same event id each time, delivered once', async () => {
  const rx = await new Receiver().listen();
  rx.answer = (n) => (n < 2 ? 500 : 200);
  const t = new WebhookTarget('w', config(rx.url, { initialBackoffMs: 100, maxBackoffMs: 1000 }));
  try {
    t.send(event());
    await t.idle();
    assert.equal(rx.hits.length, 3);
    assert.equal(new Set(rx.hits.map((h) => h.headers[EVENT_HEADER])).size, 1);
    const gaps = [rx.hits[1].at - rx.hits[0].at, rx.hits[2].at - rx.hits[1].at];
    assert.ok(gaps[0] >= 95 && gaps[1] >= 195, `backoff 100 then 200 ms (got ${gaps.map((g) => g.toFixed(0)).join(', ')})`);
    for (const h of rx.hits) assert.ok(verifySignature(SECRET, { signature: h.headers[SIGNATURE_HEADER] as string, timestamp: h.headers[TIMESTAMP_HEADER] as string }, h.body));
    const s = t.stats();
    assert.equal(s.delivered, 1);
    assert.equal(s.failedAttempts, 2);
  } finally {
    await t.close();
    await rx.close();
  }
});

test('4xx and redirects are permanent (no retry, counted as rejected; the redirect is not followed); 429 is retried', async () => {
  const rx = await new Receiver().listen();
  const answers = [400, 302, 429, 200];
  rx.answer = (n) => answers[n] ?? 200;
  const t = new WebhookTarget('w', config(rx.url, { initialBackoffMs: 20 }));
  try {
    t.send(event());
    t.send(event());
    t.send(event());
    await t.idle();
    assert.equal(rx.hits.length, 4, 'the 302 target was never requested');
    const s = t.stats();
    assert.equal(s.dropped.rejected, 2);
    assert.equal(s.delivered, 1);
    assert.equal(s.failedAttempts, 1);
  } finally {
    await t.close();
    await rx.close();
  }
});

test('a receiver that never answers: each attempt times out and is retried until the window ends (expired, counted)', async () => {
  const rx = await new Receiver().listen();
  rx.answer = () => 'hang';
  const t = new WebhookTarget('w', config(rx.url, { timeoutMs: 100, initialBackoffMs: 50, retryWindowMs: 400 }));
  try {
    const t0 = performance.now();
    t.send(event());
    await t.idle();
    const s = t.stats();
    assert.equal(s.dropped.expired, 1);
    assert.equal(s.delivered, 0);
    assert.ok(s.failedAttempts >= 2, `${s.failedAttempts} attempts`);
    assert.ok(performance.now() - t0 >= 400, 'retried for the whole window');
  } finally {
    await t.close();
    await rx.close();
  }
});

test('bounded queue: beyond queueSize the oldest waiting event is dropped and counted; the rest arrive in order', async () => {
  const rx = await new Receiver().listen();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  rx.answer = () => 200;
  const slowFetch: typeof fetch = async (input, init) => {
    await gate;
    return fetch(input, init);
  };
  const t = new WebhookTarget('w', config(rx.url, { queueSize: 2 }), { fetch: slowFetch });
  try {
    const sent = [event(), event(), event(), event(), event()];
    for (const e of sent) t.send(e);
    assert.equal(t.stats().queued, 3, 'one in flight and two waiting');
    assert.equal(t.stats().dropped.queue, 2);
    release();
    await t.idle();
    assert.deepEqual(rx.hits.map((h) => h.headers[EVENT_HEADER]), [sent[0].id, sent[3].id, sent[4].id]);
    assert.equal(t.stats().delivered, 3);
  } finally {
    await t.close();
    await rx.close();
  }
});

test('receiver down for less than the retry window: every event arrives, in order, none dropped', async () => {
  const rx = await new Receiver().listen();
  const port = rx.port;
  await rx.down();
  const t = new WebhookTarget('w', config(`http://127.0.0.1:${port}/hook`, { initialBackoffMs: 50, maxBackoffMs: 2000, retryWindowMs: 3000 }));
  try {
    const sent = [event(), event(), event()];
    for (const e of sent) t.send(e);
    await until(() => t.stats().failedAttempts >= 3, 5000, 'a few failed attempts while the receiver is down');
    await rx.listen(port);
    await t.idle();
    assert.deepEqual(rx.hits.map((h) => h.headers[EVENT_HEADER]), sent.map((e) => e.id));
    const s = t.stats();
    assert.equal(s.delivered, 3);
    assert.deepEqual(s.dropped, { queue: 0, expired: 0, rejected: 0, forbidden: 0 });
  } finally {
    await t.close();
    await rx.close();
  }
});

test('receiver down for longer than the retry window: those events are dropped (expired, counted); later ones arrive', async () => {
  const rx = await new Receiver().listen();
  const port = rx.port;
  await rx.down();
  const t = new WebhookTarget('w', config(`http://127.0.0.1:${port}/hook`, { initialBackoffMs: 20, maxBackoffMs: 50, retryWindowMs: 150 }));
  try {
    t.send(event());
    t.send(event());
    await t.idle();
    assert.equal(t.stats().dropped.expired, 2);
    await rx.listen(port);
    const late = event();
    t.send(late);
    await t.idle();
    assert.deepEqual(rx.hits.map((h) => h.headers[EVENT_HEADER]), [late.id]);
  } finally {
    await t.close();
    await rx.close();
  }
});

test('SSRF policy: a loopback target is a config error unless events.allow.loopback; a check failing later drops as forbidden', async () => {
  const base = { clientId: 'x', streamStates: () => [], streamGroups: () => [], cameraGroups: () => [] };
  await assert.rejects(
    EventService.create({ ...base, config: EventsSchema.parse({ webhooks: [{ url: 'http://127.0.0.1:9/hook' }] }) }),
    (e: unknown) => e instanceof ConfigError && e.code === 'E_CONFIG_INVALID' && /events\.webhooks\.0\.url: the host resolves to a loopback address, which is not allowed \(events\.allow\.loopback\)$/.test(e.message),
  );
  await assert.rejects(EventService.create({ ...base, config: EventsSchema.parse({ webhooks: [{ url: 'http://169.254.169.254/' }] }) }), /link-local address, which is not allowed \(events\.allow\.linkLocal\)/);
  const ok = await EventService.create({ ...base, config: EventsSchema.parse({ webhooks: [{ url: 'http://127.0.0.1:9/hook' }], allow: { loopback: true } }) });
  await ok.close();
  const t = new WebhookTarget('w', config('http://127.0.0.1:9/hook'), { check: () => Promise.reject(new Error('now resolves to 10.0.0.1')) });
  t.send(event());
  await t.idle();
  assert.equal(t.stats().dropped.forbidden, 1);
  await t.close();
  await assert.rejects(async () => t.send(event()), /closed/);
});

test('fake clock: a 10-minute retry window survives an outage of 9 min 59 s (last attempt at the window end) but not one of 10 min 1 s', async () => {
  for (const [downMs, delivered] of [[599_000, true], [601_000, false]] as const) {
    let now = 1_000_000;
    const upAt = now + downMs;
    const rx = await new Receiver().listen();
    rx.answer = () => (now < upAt ? 503 : 200); // a real receiver, down until the fake clock reaches upAt
    const waits: number[] = [];
    const t = new WebhookTarget('w', config(rx.url, { initialBackoffMs: 1000, maxBackoffMs: 60_000, retryWindowMs: 600_000 }), {
      now: () => now,
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
      },
    });
    try {
      t.send(event());
      await t.idle();
      const s = t.stats();
      assert.equal(s.delivered, delivered ? 1 : 0, `down ${downMs} ms`);
      assert.equal(s.dropped.expired, delivered ? 0 : 1);
      assert.deepEqual(waits.slice(0, 8), [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000], 'doubling, capped');
      assert.equal(waits.reduce((a, b) => a + b, 0), 600_000, 'the last wait ends exactly at the window end (the receiver was back 1 s before it, or 1 s after)');
    } finally {
      await t.close();
      await rx.close();
    }
  }
});
