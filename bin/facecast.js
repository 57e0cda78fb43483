#!/usr/bin/env node
// Entry shim: the compiled CLI lives in dist/ (built by `npm run build`, which `npm install` runs via prepare).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write('facecast: dist/cli.js is missing; run `npm run build` (npm install does it via prepare)\n');
  process.exit(2);
}
await import('../dist/cli.js');
