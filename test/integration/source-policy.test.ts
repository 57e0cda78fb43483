/**
 * The source policy and the opener agree (issue 14, item 1), checked against real loopback listeners and the real
 * opener (VideoSource over node-av's FFmpeg): whatever a source string looks like, when the API's policy (files
 * allowed, loopback forbidden) lets it through, opening it never connects to 127.0.0.1. And HTTP redirects are
 * refused unless followRedirects is set, so an allowed server cannot bounce FFmpeg to a forbidden one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { VideoSource } from '../../src/ingest/video.ts';
import { SourcePolicy } from '../../src/server/ssrf.ts';
import { parseSource } from '../../src/core/source.ts';
import { rng } from '../helpers/rng.ts';

/** A TCP listener on 127.0.0.1 that counts connections and drops them (an "RTSP-ish" target). */
class Listener {
  connections = 0;
  readonly server: Server = createServer((s) => {
    this.connections++;
    s.destroy();
  });
  port = 0;
  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

let target: Listener;
let forbidden: HttpServer;
let forbiddenHits = 0;
let forbiddenPort = 0;
let redirector: HttpServer;
let redirectorHits = 0;
let redirectorPort = 0;

const listen = async (s: HttpServer): Promise<number> => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
};

before(async () => {
  target = await new Listener().listen();
  forbidden = createHttpServer((_req, res) => {
    forbiddenHits++;
    res.writeHead(404).end();
  });
  forbiddenPort = await listen(forbidden);
  redirector = createHttpServer((_req, res) => {
    redirectorHits++;
    res.writeHead(302, { location: `http://127.0.0.1:${forbiddenPort}/internal` }).end();
  });
  redirectorPort = await listen(redirector);
});

after(async () => {
  await target.close();
  await new Promise<void>((r) => forbidden.close(() => r()));
  await new Promise<void>((r) => redirector.close(() => r()));
});

/** Source strings that name the listener in every way a parser might read as a URL, a path or a protocol. */
function variants(port: number, random: () => number): string[] {
  const hosts = ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]', '2130706433', '0x7f.1'];
  const schemes = ['http', 'https', 'rtsp', 'rtsps', 'HTTP', 'Rtsp', 'tcp', 'udp', 'rtp', 'tls', 'async:tcp', 'cache:http', 'crypto+http', 'subfile,,start,0,end,0,,:http', 'concat:http', 'hls+http', 'gopher', 'ftp', 'data'];
  const seps = ['', '/', '//', '\\\\', '/\\', ':', ' //', '///'];
  const out = ['rtsp:127.0.0.1:' + port + '/x', 'http:127.0.0.1:' + port + '/', `tcp://127.0.0.1:${port}`, `rtsp:/127.0.0.1:${port}/x`];
  for (let i = 0; i < 120; i++) {
    const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)];
    const h = pick(hosts);
    out.push(`${pick(schemes)}:${pick(seps)}${h}:${port}/${random() < 0.5 ? 'live' : '?a=b#c'}`);
  }
  return out;
}

test('property: a source the policy lets through as a file never makes the opener connect to a forbidden address', async () => {
  const policy = new SourcePolicy({ schemes: ['rtsp', 'rtsps', 'http', 'https'], allowFiles: true, allowLoopback: false, allowPrivate: true, allowLinkLocal: false });
  const random = rng(14);
  let accepted = 0;
  for (const source of variants(target.port, random)) {
    const verdict = await policy.check(source).then(() => 'allowed', (e: Error) => e.message);
    if (verdict !== 'allowed') continue;
    accepted++;
    // The policy allowed it, so it must be a file to the opener too: opening fails (no such file), no connect.
    assert.equal(parseSource(source).kind, 'file', source);
    await VideoSource.open(source, { timeoutMs: 1000 }).then(
      async (s) => {
        await s.close();
        assert.fail(`${source} opened`);
      },
      () => undefined,
    );
  }
  assert.ok(accepted > 0, 'some variants are plain file paths (the property is not vacuous)');
  assert.equal(target.connections, 0, 'nothing connected to the forbidden listener');
});

test('the opener refuses "scheme:host" without "//" and other FFmpeg protocols, before connecting', async () => {
  for (const source of [`rtsp:127.0.0.1:${target.port}/x`, `http:127.0.0.1:${target.port}/`, `tcp://127.0.0.1:${target.port}`, `async:tcp://127.0.0.1:${target.port}`]) {
    await assert.rejects(VideoSource.open(source, { timeoutMs: 1000 }), (e: Error & { code?: string }) => e.code === 'E_INPUT_INVALID', source);
  }
  assert.equal(target.connections, 0);
  // The listener does count connections: a well-formed URL reaches it (and fails, as it speaks no RTSP).
  await assert.rejects(VideoSource.open(`rtsp://127.0.0.1:${target.port}/x`, { timeoutMs: 1000 }));
  assert.ok(target.connections > 0, 'the listener sees a real connection');
  target.connections = 0;
});

test('HTTP redirects: refused with followRedirects false (the server default), so the forbidden target is never contacted', async () => {
  await assert.rejects(VideoSource.open(`http://127.0.0.1:${redirectorPort}/cam`, { timeoutMs: 2000, followRedirects: false }));
  assert.ok(redirectorHits >= 1, 'the allowed server was asked');
  assert.equal(forbiddenHits, 0, 'the redirect target was never contacted');
  // Followed when allowed: proves the redirect and the hit counter are real.
  await assert.rejects(VideoSource.open(`http://127.0.0.1:${redirectorPort}/cam`, { timeoutMs: 2000, followRedirects: true }));
  assert.ok(forbiddenHits >= 1, 'with followRedirects the target is reached');
});
