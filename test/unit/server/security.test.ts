/**
 * The pure cores of the server's security: address classification and the source policy (SSRF), the token
 * roles and the start-up exposure check, the rate limiter's token bucket, and the security config section.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourcePolicy, classifyAddress, hostOf, type SourcePolicyOptions } from '../../../src/server/ssrf.ts';
import { Access, TokenSet, exposureProblem, isLoopbackHost } from '../../../src/core/auth.ts';
import { RateLimiter } from '../../../src/server/rate-limit.ts';
import { HttpError } from '../../../src/core/http-errors.ts';
import { loadConfig } from '../../../src/server/config.ts';

test('classifyAddress: loopback, private, link-local, multicast, unspecified, and IPv4 inside IPv6', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['::1', 'loopback'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.10', 'private'], ['100.64.0.1', 'private'], ['fd12::1', 'private'], ['fc00::1', 'private'],
    ['169.254.169.254', 'link-local'], ['fe80::1%eth0', 'link-local'], ['febf::1', 'link-local'],
    ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'],
    ['0.0.0.0', 'unspecified'], ['::', 'unspecified'], ['255.255.255.255', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:169.254.169.254', 'link-local'], ['64:ff9b::a9fe:a9fe', 'link-local'], ['2002:7f00:1::', 'loopback'],
    ['8.8.8.8', 'public'], ['172.32.0.1', 'public'], ['100.128.0.1', 'public'], ['2001:4860::8888', 'public'],
  ];
  for (const [a, kind] of cases) assert.equal(classifyAddress(a), kind, a);
});

test('hostOf: the host every parser agrees on; ambiguous URLs are refused', () => {
  assert.equal(hostOf('rtsp://u:p@cam.local:554/x'), 'cam.local');
  assert.equal(hostOf('rtsp://a@b@10.0.0.1/x'), '10.0.0.1');
  assert.equal(hostOf('rtsp://[::1]:554/x'), '::1');
  assert.equal(hostOf('rtsp://evil.example\\@127.0.0.1/x'), undefined);
  assert.equal(hostOf('rtsp://cam .local/x'), undefined);
  assert.equal(hostOf('rtsp:///x'), undefined);
});

const DEFAULTS: SourcePolicyOptions = { schemes: ['rtsp', 'rtsps', 'http', 'https'], allowFiles: false, allowLoopback: false, allowPrivate: true, allowLinkLocal: false };
/** A resolver from a table: no DNS in unit tests. */
const table: Record<string, string[]> = { 'localhost': ['127.0.0.1', '::1'], 'cam.lan': ['192.168.1.20'], 'cam.example': ['93.184.216.34'], 'rebind.example': ['93.184.216.34', '169.254.169.254'], '2130706433': ['127.0.0.1'] };
const lookup = async (h: string): Promise<string[]> => {
  const r = table[h];
  if (!r) throw new Error('ENOTFOUND');
  return r;
};

async function rejection(p: Promise<void>, code: string): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HttpError, String(e));
    assert.equal(e.code, code, e.message);
    return e.message;
  }
  assert.fail('expected a rejection');
}

test('SourcePolicy: defaults deny loopback, link-local and files, allow LAN cameras and public hosts; never echo the URL', async () => {
  const p = new SourcePolicy(DEFAULTS, lookup);
  await p.check('rtsp://admin:pw@cam.lan/main');
  await p.check('rtsp://10.0.0.5/main');
  await p.check('https://cam.example/live.m3u8');
  await p.check('whip');
  for (const [src, rule] of [
    ['rtsp://169.254.169.254/latest/meta-data', /link-local.*allowLinkLocal/],
    ['http://127.0.0.1:8080/api', /loopback.*allowLoopback/],
    ['rtsp://[::1]/x', /loopback/],
    ['rtsp://localhost/x', /loopback/],
    ['rtsp://2130706433/x', /loopback/],
    ['rtsp://0.0.0.0/x', /unspecified.*allowLoopback/],
    ['rtsp://[::ffff:127.0.0.1]/x', /loopback/],
    ['rtsp://rebind.example/x', /link-local/],
    ['/etc/passwd', /local files.*allowFiles/],
    ['file:///etc/passwd', /local files/],
    ['rtsp://224.1.1.1/x', /multicast address, which is not allowed$/],
  ] as const) {
    const msg = await rejection(p.check(src), 'E_SOURCE_FORBIDDEN');
    assert.match(msg, rule, src);
  }
  const msg = await rejection(p.check('rtsp://user:s3cr3t@127.0.0.1/x', 'detectSource'), 'E_SOURCE_FORBIDDEN');
  assert.match(msg, /^detectSource: /);
  assert.ok(!msg.includes('s3cr3t') && !msg.includes('127.0.0.1'), msg);
  await rejection(p.check('rtsp://nowhere.invalid/x'), 'E_VALIDATION');
});

test('SourcePolicy: what the config allows is allowed; schemes are an allowlist', async () => {
  const open = new SourcePolicy({ ...DEFAULTS, allowFiles: true, allowLoopback: true, allowLinkLocal: true }, lookup);
  for (const s of ['rtsp://127.0.0.1:8554/x', 'rtsp://localhost/x', 'rtsp://[::1]/x', '/videos/a.mp4', 'file:///videos/a.mp4', 'rtsp://169.254.1.1/x']) await open.check(s);
  const rtspOnly = new SourcePolicy({ ...DEFAULTS, schemes: ['rtsp'], allowPrivate: false }, lookup);
  assert.match(await rejection(rtspOnly.check('https://cam.example/x'), 'E_SOURCE_FORBIDDEN'), /scheme "https:" is not allowed/);
  assert.match(await rejection(rtspOnly.check('rtsp://cam.lan/x'), 'E_SOURCE_FORBIDDEN'), /private address.*allowPrivate/);
});

test('Access: control, viewer and publish roles; a viewer token on a control route is 403, a wrong one 401', () => {
  const api = 'api-token-0123456789';
  const viewer = 'viewer-token-0123456789';
  const a = new Access({ apiTokens: [api], viewerTokens: [viewer], publishTokens: [] });
  assert.equal(a.allows('control', api), true);
  assert.equal(a.allows('viewer', api), true, 'an API token also views');
  assert.equal(a.allows('publish', api), true, 'and publishes');
  assert.equal(a.allows('viewer', viewer), true);
  assert.equal(a.allows('control', viewer), false);
  assert.throws(() => a.check('control', viewer), (e: unknown) => e instanceof HttpError && e.code === 'E_FORBIDDEN');
  assert.throws(() => a.check('control', 'nope-nope-nope-nope'), (e: unknown) => e instanceof HttpError && e.code === 'E_UNAUTHORIZED');
  assert.throws(() => a.check('viewer', undefined), (e: unknown) => e instanceof HttpError && e.code === 'E_UNAUTHORIZED');
  const open = new Access({ apiTokens: [], viewerTokens: [], publishTokens: [] });
  assert.equal(open.allows('control', undefined), true);
  const apiOnly = new Access({ apiTokens: [api], viewerTokens: [], publishTokens: [] });
  assert.equal(apiOnly.allows('viewer', undefined), true, 'viewing stays open without viewer tokens');
  assert.equal(apiOnly.allows('publish', undefined), false, 'API tokens close WHIP publishing too');
  assert.equal(new TokenSet(['a'.repeat(16)]).has('a'.repeat(15)), false);
});

test('exposureProblem: beyond loopback without an API token is refused, saying why and how', () => {
  for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost', '[::1]']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['0.0.0.0', '::', '192.168.1.2', 'example.org']) assert.equal(isLoopbackHost(host), false, host);
  const c = (host: string, apiTokens: string[] = [], allowInsecure = false) => ({ server: { host }, security: { apiTokens, allowInsecure } });
  assert.equal(exposureProblem(c('127.0.0.1')), undefined);
  const why = exposureProblem(c('0.0.0.0'));
  assert.match(why ?? '', /refusing to serve on 0\.0\.0\.0 without an API token: anyone who can reach/);
  assert.match(why ?? '', /FACECAST_API_TOKENS/);
  assert.match(why ?? '', /FACECAST_ALLOW_INSECURE/);
  assert.equal(exposureProblem(c('0.0.0.0', ['x'.repeat(16)])), undefined);
  assert.equal(exposureProblem(c('0.0.0.0', [], true)), undefined);
});

test('RateLimiter: a burst, then one request per refill interval; Retry-After in whole seconds; bounded memory', () => {
  const r = new RateLimiter({ burst: 3, perMinute: 6, maxClients: 2 }); // one token every 10 s
  for (let i = 0; i < 3; i++) assert.deepEqual(r.take('a', 0), { ok: true });
  assert.deepEqual(r.take('a', 0), { ok: false, retryAfterSec: 10 });
  assert.deepEqual(r.take('a', 4000), { ok: false, retryAfterSec: 6 });
  assert.deepEqual(r.take('b', 4000), { ok: true }, 'buckets are per client');
  assert.deepEqual(r.take('a', 10_000), { ok: true });
  r.take('c', 10_000);
  assert.equal(r.size, 2, 'the least recently seen client is forgotten');
});

test('config: the security and privacy sections, strict, with env overrides', () => {
  const d = loadConfig({ env: {} });
  assert.deepEqual(d.security.sources, { schemes: ['rtsp', 'rtsps', 'http', 'https'], allowFiles: false, allowLoopback: false, allowPrivate: true, allowLinkLocal: false, followRedirects: false });
  assert.equal(d.security.rateLimit.enabled, true);
  assert.deepEqual(d.security.cors.origins, []);
  assert.equal(d.privacy.blurFaces, false);
  const e = loadConfig({ env: { FACECAST_API_TOKENS: 'aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb', FACECAST_SOURCES_ALLOW_LOOPBACK: '1', FACECAST_BLUR_FACES: 'true', FACECAST_CORS_ORIGINS: 'https://Example.org', FACECAST_SOURCE_SCHEMES: 'rtsp' } });
  assert.deepEqual(e.security.apiTokens, ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
  assert.equal(e.security.sources.allowLoopback, true);
  assert.deepEqual(e.security.sources.schemes, ['rtsp']);
  assert.deepEqual(e.security.cors.origins, ['https://example.org']);
  assert.equal(e.privacy.blurFaces, true);
  assert.throws(() => loadConfig({ env: { FACECAST_API_TOKENS: 'short' } }), /security\.apiTokens\.0 \(from FACECAST_API_TOKENS\): must be at least 16 characters/);
  assert.throws(() => loadConfig({ env: { FACECAST_CORS_ORIGINS: 'https://example.org/path' } }), /security\.cors\.origins\.0.*must be "\*" or an origin/);
  assert.throws(() => loadConfig({ env: { FACECAST_SOURCE_SCHEMES: 'ftp' } }), /security\.sources\.schemes\.0/);
});
