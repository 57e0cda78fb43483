/** `Permissions-Policy: camera=(self)` on the go-live page only; every other response denies the camera (issue 16). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { securityHeaders } from '../../../src/server/http-security.ts';

test('only /publish.html may use the camera', async () => {
  const app = express();
  app.use(securityHeaders());
  app.use(express.static(join(import.meta.dirname, '../../../web')));
  app.get('/api/x', (_req, res) => void res.json({}));
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const addr = server.address();
    assert.ok(addr && typeof addr === 'object');
    const policy = async (path: string): Promise<string | null> => {
      const r = await fetch(`http://127.0.0.1:${addr.port}${path}`);
      await r.arrayBuffer();
      return r.headers.get('permissions-policy');
    };
    assert.match((await policy('/publish.html')) ?? '', /^camera=\(self\),/);
    for (const path of ['/', '/index.html', '/app.js', '/api/x', '/nothing']) assert.match((await policy(path)) ?? '', /^camera=\(\),/, path);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
