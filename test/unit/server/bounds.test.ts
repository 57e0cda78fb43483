/**
 * Bounded work per request (issue 14, item 4) and coded system errors (item 6): zone limits and linear polygon
 * validation (a property test against the pairwise reference), error messages bounded whatever the input, the
 * per-connection in-flight bound with a real HTTP server and a client that pipelines and never reads, and Node's
 * system errors turned into coded errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { MAX_ZONES, MAX_ZONE_POINTS, validateZone, validateZones } from '../../../src/pipeline/groups/zones.ts';
import { StreamConfigSchema, formatIssues } from '../../../src/server/config.ts';
import { perConnectionLimit } from '../../../src/server/http-security.ts';
import { fromSystemError, FacecastError } from '../../../src/core/errors.ts';
import { rng } from '../../helpers/rng.ts';

/** The old O(n²) rule, as the reference: some pair (i, j) makes a non-zero cross product with point 0. */
function hasAreaReference(p: [number, number][]): boolean {
  for (let i = 1; i < p.length; i++) for (let j = i + 1; j < p.length; j++) if (Math.abs((p[i][0] - p[0][0]) * (p[j][1] - p[0][1]) - (p[i][1] - p[0][1]) * (p[j][0] - p[0][0])) > 1e-12) return true;
  return false;
}
const accepts = (polygon: [number, number][]): boolean => {
  try {
    validateZone({ id: 'z', name: 'z', polygon });
    return true;
  } catch {
    return false;
  }
};

test('property: the linear collinearity check agrees with the pairwise reference (random, collinear and repeated points)', () => {
  const r = rng(1404);
  for (let n = 0; n < 3000; n++) {
    const k = 3 + Math.floor(r() * 12);
    const kind = n % 3;
    const [ax, ay, bx, by] = [r(), r(), r(), r()];
    const pts: [number, number][] = Array.from({ length: k }, () => {
      if (kind === 0) return [r(), r()];
      // On the segment a→b (collinear), or a repeated point; one in five sets gets one point off the line.
      const t = kind === 1 ? r() : Math.floor(r() * 2);
      return [ax + (bx - ax) * t, ay + (by - ay) * t];
    });
    if (kind > 0 && r() < 0.2) pts[Math.floor(r() * k)] = [r(), r()];
    assert.equal(accepts(pts), hasAreaReference(pts), JSON.stringify(pts));
  }
});

test('zones: at most MAX_ZONE_POINTS points and MAX_ZONES zones, refused by count before any per-point work', () => {
  const line = Array.from({ length: MAX_ZONE_POINTS }, (_, i): [number, number] => [i / MAX_ZONE_POINTS, 0.5]);
  assert.equal(accepts(line), false, 'collinear');
  line[line.length - 1] = [0.5, 0.9];
  assert.equal(accepts(line), true, 'the last point makes an area');
  assert.throws(() => validateZone({ id: 'z', name: 'z', polygon: Array.from({ length: 40_000 }, (_, i): [number, number] => [i / 40_000, 0.5]) }), /at most 1000/);
  const tri: [number, number][] = [[0, 0], [1, 0], [0, 1]];
  assert.throws(() => validateZones(Array.from({ length: MAX_ZONES + 1 }, (_, i) => ({ id: `z${i}`, name: '', polygon: tri }))), /at most 64/);
});

test('property: an invalid stream config gives an error message of bounded size whatever its size', () => {
  const r = rng(1405);
  for (let n = 0; n < 20; n++) {
    const points = 100 + Math.floor(r() * 20_000);
    const zones = Array.from({ length: 1 + Math.floor(r() * 100) }, (_, i) => ({ id: `z${i}`, polygon: Array.from({ length: points / 10 }, () => (r() < 0.5 ? ['x', 'y'] : [r() * 5, -1])) }));
    const body = { id: 'cam', source: 'whip', zones, [`junk${n}`]: 1 };
    const res = StreamConfigSchema.safeParse(body);
    assert.ok(!res.success);
    const message = formatIssues(res.error).join('; ');
    assert.ok(message.length < 8000, `${JSON.stringify(body).length} B of input → ${message.length} B of message`);
    assert.match(message, /more$|unknown key|at most/);
  }
});

test('per-connection bound: 1000 pipelined requests on a socket that never reads start only a few handlers', async () => {
  let started = 0;
  let active = 0;
  let maxActive = 0;
  const app = express();
  const running = new WeakSet<object>();
  // Before the bound, so a finished request is uncounted before the bound lets the next one start.
  app.use((_req, res, next) => {
    res.on('close', () => {
      if (running.delete(res)) active--;
    });
    next();
  });
  app.use(perConnectionLimit({ inFlight: 4, queued: 2000 }));
  const big = Buffer.alloc(256 * 1024, 7); // a snapshot-sized answer: the socket buffers fill after a few
  app.get('/snap', async (_req, res) => {
    started++;
    active++;
    running.add(res);
    maxActive = Math.max(maxActive, active);
    await sleep(1);
    res.type('application/octet-stream').send(big);
  });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const sock = connect(port, '127.0.0.1');
  sock.pause(); // never reads
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write('GET /snap HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(1000));
  await sleep(1500);
  const startedWhileStuck = started;
  sock.destroy();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  assert.ok(maxActive <= 4, `at most 4 handlers at once (${maxActive})`);
  // Without the bound all 1000 start (and buffer 256 MB); with it the socket's backpressure stops the work.
  assert.ok(startedWhileStuck < 100, `${startedWhileStuck} of 1000 handlers started while the client did not read`);
});

test('per-connection bound: a connection with too many requests waiting is closed', async () => {
  const app = express();
  app.use(perConnectionLimit({ inFlight: 1, queued: 4 }));
  app.get('/slow', (_req, res) => void setTimeout(() => res.end('ok'), 2000));
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const sock = connect((server.address() as { port: number }).port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const closed = new Promise<boolean>((r) => sock.once('close', () => r(true)));
  sock.resume();
  sock.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(20));
  assert.equal(await Promise.race([closed, sleep(5000).then(() => false)]), true, 'the server closed the connection');
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

test('fromSystemError: a port in use is E_LISTEN with a hint, a file-system error E_IO; others unchanged', async () => {
  const a = createServer();
  await new Promise<void>((r) => a.listen(0, '127.0.0.1', () => r()));
  const port = (a.address() as { port: number }).port;
  const b = createServer();
  const err = await new Promise<unknown>((r) => {
    b.once('error', r);
    b.listen(port, '127.0.0.1');
  });
  a.close();
  const e = fromSystemError(err);
  assert.ok(e instanceof FacecastError);
  assert.equal(e.code, 'E_LISTEN');
  assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): the port is in use`));
  const { writeFile } = await import('node:fs/promises');
  const io = fromSystemError(await writeFile('/nonexistent-facecast-dir/x.csv', '').catch((x: unknown) => x));
  assert.ok(io instanceof FacecastError && io.code === 'E_IO', String(io));
  const plain = new Error('x');
  assert.equal(fromSystemError(plain), plain);
});

test('one validation for the config file and the API: detectSource "whip" is refused by the stream schema itself', async () => {
  const bad = StreamConfigSchema.safeParse({ id: 'nvr', source: 'rtsp://cam/main', detectSource: 'whip' });
  assert.ok(!bad.success);
  assert.match(formatIssues(bad.error).join(), /detectSource: cannot be "whip"/);
  // PATCH: the merged result goes through the same schema (registry.validate), so a patch cannot add it either.
  const { validate, merge } = await import('../../../src/server/registry.ts');
  const current = validate({ id: 'nvr', source: 'rtsp://cam/main' });
  assert.throws(() => validate(merge(current, { detectSource: 'whip' })), (e: Error & { code?: string }) => e.code === 'E_VALIDATION' && /detectSource/.test(e.message));
});
