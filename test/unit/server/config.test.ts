import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/core/errors.ts';
import { ENV_OVERRIDES, StreamConfigSchema, StreamPatchSchema, formatIssues, loadConfig, redactUrl, redactUrls } from '../../../src/server/config.ts';

/** Writes `text` to a temp file, runs fn with its path, removes it. */
function withFile<T>(name: string, text: string, fn: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'facecast-config-'));
  try {
    const file = join(dir, name);
    writeFileSync(file, text);
    return fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, 'E_CONFIG_INVALID');
    return e;
  }
  assert.fail('expected a ConfigError');
}

test('loadConfig() with nothing gives the documented defaults, deep-frozen', () => {
  const c = loadConfig({ env: {} });
  assert.deepEqual(c, {
    server: { host: '127.0.0.1', port: 8080, bodyLimit: 1024 * 1024 },
    inference: { provider: 'cpu', threads: 1, race: false, tta: false, manifests: [], niceness: 0 },
    ingest: { maxLagMs: 500, stallTimeoutMs: 5000, rtspClient: 'native' },
    webrtc: { iceServers: [], playoutDelayMs: null },
    streams: [],
    demo: { enabled: 'auto' },
    metrics: { enabled: true },
    whip: { tokens: [], autoCreate: true, minBitrateKbps: 1000, maxBitrateKbps: 6000 },
    groups: [],
    events: { rules: [], webhooks: [], allow: { loopback: false, private: true, linkLocal: false }, history: 200 },
    security: {
      apiTokens: [],
      viewerTokens: [],
      allowInsecure: false,
      cors: { origins: [] },
      rateLimit: { enabled: true, burst: 30, perMinute: 120 },
      sources: { schemes: ['rtsp', 'rtsps', 'http', 'https'], allowFiles: false, allowLoopback: false, allowPrivate: true, allowLinkLocal: false, followRedirects: false },
    },
    privacy: { blurFaces: false },
  });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.server) && Object.isFrozen(c.streams));
  assert.throws(() => {
    (c.server as { port: number }).port = 1;
  }, TypeError);
});

test('a YAML file is read and stream defaults applied; zones get their id as default name', () => {
  const yaml = `
server: { port: 9000, bodyLimit: 64kb }
streams:
  - id: lobby
    source: rtsp://user:pass@10.0.0.5/main
    zones: [{ id: door, polygon: [[0, 0], [0.5, 0], [0.5, 1]] }]
demo: { enabled: false }
`;
  const c = withFile('facecast.yaml', yaml, (file) => loadConfig({ file, env: {} }));
  assert.equal(c.server.port, 9000);
  assert.equal(c.server.bodyLimit, 64 * 1024);
  assert.equal(c.demo.enabled, false);
  assert.deepEqual(c.streams[0], {
    id: 'lobby',
    source: 'rtsp://user:pass@10.0.0.5/main',
    rtspTransport: 'tcp',
    zones: [{ id: 'door', name: 'door', polygon: [[0, 0], [0.5, 0], [0.5, 1]] }],
    output: { mode: 'overlay' },
    enabled: true,
  });
});

test('a JSON file is read too; an empty file means all defaults', () => {
  const c = withFile('c.json', '{"inference": {"provider": "cuda", "threads": 4}}', (file) => loadConfig({ file, env: {} }));
  assert.equal(c.inference.provider, 'cuda');
  assert.equal(c.inference.threads, 4);
  assert.equal(withFile('empty.yaml', '# nothing\n', (file) => loadConfig({ file, env: {} })).server.port, 8080);
});

test('unknown keys are rejected with their full path and the file name', () => {
  const e = withFile('f.yaml', 'server: { prot: 80 }\nstreams: [{ id: a, source: x.mp4, fsp: 5 }]\nextra: 1\n', (file) => configError(() => loadConfig({ file, env: {} })));
  assert.match(e.message, /f\.yaml/);
  assert.match(e.message, /server\.prot: unknown key/);
  assert.match(e.message, /streams\.0\.fsp: unknown key/);
  assert.match(e.message, /extra: unknown key/);
});

test('bad values name the key path: port range, stream id, source scheme, duplicate ids', () => {
  const yaml = `
server: { port: 70000 }
streams:
  - { id: Lobby, source: x.mp4 }
  - { id: cam, source: "ftp://u:secret@h/x" }
  - { id: cam, source: "rtsp://h/y" }
`;
  const e = withFile('bad.yaml', yaml, (file) => configError(() => loadConfig({ file, env: {} })));
  assert.match(e.message, /server\.port: /);
  assert.match(e.message, /streams\.0\.id: must be 1-63 characters/);
  assert.match(e.message, /streams\.1\.source: unsupported scheme "ftp:"/);
  assert.match(e.message, /streams\.2\.id: duplicate stream id "cam" \(also streams\.1\)/);
  assert.doesNotMatch(e.message, /secret/, 'the message never quotes a source URL');
});

test('zones are validated with validateZones', () => {
  const yaml = 'streams: [{ id: a, source: a.mp4, zones: [{ id: z, polygon: [[0, 0], [0.5, 0.5], [1, 1]] }] }]\n';
  const e = withFile('z.yaml', yaml, (file) => configError(() => loadConfig({ file, env: {} })));
  assert.match(e.message, /streams\.0\.zones: zone "z": polygon has zero area/);
  const e2 = withFile('z2.yaml', 'streams: [{ id: a, source: a.mp4, zones: [{ id: z, polygon: [[0, 0], [2, 0], [1, 1]] }] }]\n', (file) =>
    configError(() => loadConfig({ file, env: {} })),
  );
  assert.match(e2.message, /outside 0\.\.1/);
});

test('a YAML syntax error names the file and the line, without echoing the file content', () => {
  const yaml = 'server:\n  host: 127.0.0.1\nstreams:\n  - id: a\n    source: rtsp://u:topsecret@h/x\n  bad: [1, 2\n';
  const e = withFile('syntax.yaml', yaml, (file) => configError(() => loadConfig({ file, env: {} })));
  assert.match(e.message, /syntax\.yaml:\d+:\d+: YAML syntax error at line \d+/);
  assert.doesNotMatch(e.message, /topsecret/);
  const dup = withFile('dup.yaml', 'server: {}\nserver: {}\n', (file) => configError(() => loadConfig({ file, env: {} })));
  assert.match(dup.message, /dup\.yaml:2:1: YAML syntax error at line 2, column 1: Map keys must be unique/);
});

test('a missing file is a ConfigError naming it', () => {
  const e = configError(() => loadConfig({ file: '/nonexistent/facecast.yaml', env: {} }));
  assert.match(e.message, /cannot read config file \/nonexistent\/facecast\.yaml/);
});

test('environment overrides the file, flags override the environment', () => {
  const yaml = 'server: { host: 10.0.0.1, port: 1000 }\ninference: { threads: 2 }\n';
  withFile('p.yaml', yaml, (file) => {
    const env = { FACECAST_HOST: '0.0.0.0', FACECAST_PORT: '2000', FACECAST_THREADS: '8', FACECAST_PROVIDER: 'cuda', FACECAST_TTA: 'yes', FACECAST_DEMO: 'off', FACECAST_HOST_ADDRESSES: '192.168.1.2, 10.0.0.2' };
    const fromEnv = loadConfig({ file, env });
    assert.equal(fromEnv.server.host, '0.0.0.0');
    assert.equal(fromEnv.server.port, 2000);
    assert.equal(fromEnv.inference.threads, 8);
    assert.equal(fromEnv.inference.provider, 'cuda');
    assert.equal(fromEnv.inference.tta, true);
    assert.equal(fromEnv.demo.enabled, false);
    assert.deepEqual(fromEnv.webrtc.hostAddresses, ['192.168.1.2', '10.0.0.2']);
    const fromFlags = loadConfig({ file, env, flags: { host: '::1', port: '3000' } });
    assert.equal(fromFlags.server.host, '::1');
    assert.equal(fromFlags.server.port, 3000);
    assert.equal(loadConfig({ file, env: { FACECAST_PORT: '' } }).server.port, 1000, 'an empty variable is unset');
  });
});

test('bad environment values are ConfigErrors naming the variable', () => {
  assert.match(configError(() => loadConfig({ env: { FACECAST_PORT: 'eighty' } })).message, /FACECAST_PORT: expected an integer, got "eighty"/);
  assert.match(configError(() => loadConfig({ env: { FACECAST_PORT: '99999' } })).message, /server\.port \(from FACECAST_PORT\): /);
  assert.match(configError(() => loadConfig({ env: { FACECAST_PROVIDER: 'tpu' } })).message, /inference\.provider \(from FACECAST_PROVIDER\): /);
  assert.match(configError(() => loadConfig({ env: {}, flags: { port: -1 } })).message, /server\.port \(from --port\)/);
  assert.match(configError(() => loadConfig({ env: { FACECAST_RACE: 'maybe' } })).message, /FACECAST_RACE: expected true or false/);
});

test('FACECAST_ICE_SERVERS: JSON list or one object; a parse error is a clear ConfigError without the value', () => {
  const one = loadConfig({ env: { FACECAST_ICE_SERVERS: '{"urls":"turn:t.example.org:3478","username":"u","credential":"p"}' } });
  assert.deepEqual(one.webrtc.iceServers, [{ urls: 'turn:t.example.org:3478', username: 'u', credential: 'p' }]);
  const list = loadConfig({ env: { FACECAST_ICE_SERVERS: '[{"urls":["stun:s.example.org"]}]' } });
  assert.deepEqual(list.webrtc.iceServers, [{ urls: ['stun:s.example.org'] }]);
  const e = configError(() => loadConfig({ env: { FACECAST_ICE_SERVERS: '[{"urls":"turn:x","credential":hunter2}]' } }));
  assert.match(e.message, /FACECAST_ICE_SERVERS: not valid JSON/);
  assert.doesNotMatch(e.message, /hunter2/);
  const bad = configError(() => loadConfig({ env: { FACECAST_ICE_SERVERS: '[{"urls":"http://x"}]' } }));
  assert.match(bad.message, /webrtc\.iceServers\.0\.urls \(from FACECAST_ICE_SERVERS\): each URL must start with stun:/);
});

test('metrics: own port, host and token from the file or FACECAST_METRICS_*; bad values never echo the token', () => {
  withFile('m.yaml', 'metrics: { port: 9464, token: abcdefghijklmnop0123 }\n', (file) => {
    assert.deepEqual(loadConfig({ file, env: {} }).metrics, { enabled: true, port: 9464, token: 'abcdefghijklmnop0123' });
    const env = { FACECAST_METRICS_PORT: '0', FACECAST_METRICS_HOST: '::1', FACECAST_METRICS_TOKEN: 'zyxwvutsrqponmlk9876', FACECAST_METRICS: 'off' };
    assert.deepEqual(loadConfig({ file, env }).metrics, { enabled: false, port: 0, host: '::1', token: 'zyxwvutsrqponmlk9876' });
  });
  const short = configError(() => loadConfig({ env: { FACECAST_METRICS_TOKEN: 'hunter2' } }));
  assert.match(short.message, /metrics\.token \(from FACECAST_METRICS_TOKEN\): must be at least 16 characters/);
  assert.doesNotMatch(short.message, /hunter2/);
  const spaced = configError(() => loadConfig({ env: { FACECAST_METRICS_TOKEN: 'correct horse battery staple' } }));
  assert.match(spaced.message, /metrics\.token .*printable ASCII without spaces/);
  assert.doesNotMatch(spaced.message, /horse/);
  assert.match(configError(() => loadConfig({ env: { FACECAST_METRICS_HOST: '0.0.0.0' } })).message, /metrics\.host .*: needs metrics\.port/);
  assert.match(configError(() => loadConfig({ env: { FACECAST_METRICS_PORT: '8080' } })).message, /metrics\.port .*: is the main port \(8080\)/);
  assert.match(configError(() => loadConfig({ env: { FACECAST_METRICS_PORT: '70000' } })).message, /metrics\.port \(from FACECAST_METRICS_PORT\)/);
  assert.match(configError(() => loadConfig({ env: { FACECAST_METRICS: 'perhaps' } })).message, /FACECAST_METRICS: expected true or false/);
});

test('whip: publish tokens from the file or FACECAST_WHIP_TOKENS, bitrate bounds, "whip" only as a source', () => {
  const c = loadConfig({ env: { FACECAST_WHIP_TOKENS: 'abcdefghijklmnop0123,zyxwvutsrqponmlk9876' } });
  assert.deepEqual(c.whip, { tokens: ['abcdefghijklmnop0123', 'zyxwvutsrqponmlk9876'], autoCreate: true, minBitrateKbps: 1000, maxBitrateKbps: 6000 });
  const short = configError(() => loadConfig({ env: { FACECAST_WHIP_TOKENS: 'hunter2' } }));
  assert.match(short.message, /whip\.tokens\.0 .*at least 16 characters/);
  assert.doesNotMatch(short.message, /hunter2/);
  withFile('w.yaml', 'whip: { minBitrateKbps: 8000 }\n', (file) => assert.match(configError(() => loadConfig({ file, env: {} })).message, /whip\.minBitrateKbps: is above whip\.maxBitrateKbps/));
  withFile('s.yaml', 'streams:\n  - { id: webcam, source: whip }\n  - { id: nvr, source: rtsp://cam/main, detectSource: whip }\n', (file) =>
    assert.match(configError(() => loadConfig({ file, env: {} })).message, /streams\.1\.detectSource: cannot be "whip"/));
  assert.equal(StreamConfigSchema.parse({ id: 'webcam', source: 'whip' }).source, 'whip');
});

test('ingest: skip-ahead bound, stall timeout and RTSP client validated, per-stream maxLagMs, FACECAST_MAX_LAG_MS, FACECAST_RTSP_CLIENT', () => {
  withFile('i.yaml', 'ingest: { maxLagMs: 800, stallTimeoutMs: 3000 }\nstreams: [{ id: cam, source: rtsp://10.0.0.5/live, maxLagMs: 0 }]\n', (file) => {
    const c = loadConfig({ file, env: {} });
    assert.deepEqual(c.ingest, { maxLagMs: 800, stallTimeoutMs: 3000, rtspClient: 'native' });
    assert.equal(c.streams[0].maxLagMs, 0, '0 turns skipping off for that stream');
    assert.equal(loadConfig({ file, env: { FACECAST_MAX_LAG_MS: '1000' } }).ingest.maxLagMs, 1000);
  });
  assert.match(configError(() => loadConfig({ env: { FACECAST_MAX_LAG_MS: '50' } })).message, /ingest\.maxLagMs \(from FACECAST_MAX_LAG_MS\): must be 0 \(never skip\) or at least 100/);
  withFile('j.yaml', 'ingest: { stallTimeoutMs: 10 }\n', (file) => assert.match(configError(() => loadConfig({ file, env: {} })).message, /ingest\.stallTimeoutMs/));
  assert.equal(loadConfig({ env: { FACECAST_RTSP_CLIENT: 'ffmpeg' } }).ingest.rtspClient, 'ffmpeg');
  assert.match(configError(() => loadConfig({ env: { FACECAST_RTSP_CLIENT: 'gstreamer' } })).message, /ingest\.rtspClient \(from FACECAST_RTSP_CLIENT\)/);
  withFile('k.yaml', 'ingest: { maxLag: 500 }\n', (file) => assert.match(configError(() => loadConfig({ file, env: {} })).message, /maxLag/, 'unknown keys rejected'));
  assert.equal(StreamPatchSchema.parse({ maxLagMs: null }).maxLagMs, null, 'a patch can reset it');
  assert.equal(StreamConfigSchema.safeParse({ id: 'a', source: 'rtsp://h/x', maxLagMs: -1 }).success, false);
});

test('redactUrl hides userinfo and secret query values; other strings pass through', () => {
  assert.equal(redactUrl('rtsp://user:pass@host/x'), 'rtsp://***@host/x');
  assert.equal(redactUrl('rtsp://user:p@ss@10.0.0.5:554/main?ch=1'), 'rtsp://***@10.0.0.5:554/main?ch=1');
  assert.equal(redactUrl('rtsps://admin@cam.local/stream'), 'rtsps://***@cam.local/stream');
  assert.equal(redactUrl('http://cam/snap.cgi?user=admin&pwd=secret&res=hd'), 'http://cam/snap.cgi?user=***&pwd=***&res=hd');
  assert.equal(redactUrl('rtsp://host/x'), 'rtsp://host/x');
  assert.equal(redactUrl('/videos/lobby@2x.mp4'), '/videos/lobby@2x.mp4');
  assert.equal(redactUrls('open "rtsp://a:b@h/x" failed; retry rtsp://c:d@h2/y'), 'open "rtsp://***@h/x" failed; retry rtsp://***@h2/y');
});

test('the patch schema accepts a subset and null resets; it never applies defaults', () => {
  assert.deepEqual(StreamPatchSchema.parse({ name: 'Hall' }), { name: 'Hall' });
  assert.deepEqual(StreamPatchSchema.parse({ fps: null }), { fps: null });
  const r = StreamPatchSchema.safeParse({ source: null, zonez: [] });
  assert.ok(!r.success);
  assert.deepEqual(formatIssues(r.error).sort(), ['source: Invalid input: expected string, received null', 'zonez: unknown key']);
  assert.ok(StreamConfigSchema.safeParse({ id: 'a', source: 'file:///v/a.mp4', output: { mode: 'passthrough' } }).success);
  assert.ok(!StreamConfigSchema.safeParse({ id: 'a', source: 'rtsp://' }).success, 'a URL without host');
});

test('deploy/facecast.example.yaml is valid, and docs/config.md lists every environment variable', () => {
  const c = loadConfig({ file: 'deploy/facecast.example.yaml', env: {} });
  assert.deepEqual(c.streams.map((s) => s.id), ['lobby', 'recording']);
  assert.equal(c.webrtc.iceServers.length, 0, 'no ICE server by default, not even in the example');
  const docs = readFileSync('docs/config.md', 'utf8');
  for (const o of ENV_OVERRIDES) assert.ok(docs.includes(`\`${o.env}\``), `${o.env} documented`);
});
