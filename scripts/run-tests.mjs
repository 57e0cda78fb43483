#!/usr/bin/env node
// Runs Node's own test runner over test/**/*.test.ts (Node 20's --test takes no globs, so we list files here).
// Usage: node scripts/run-tests.mjs [DIR_OR_FILE ...]   (default: test/)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = [];
function walk(p) {
  const st = statSync(p);
  if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
  else if (p.endsWith('.test.ts')) files.push(relative(process.cwd(), p));
}
for (const r of roots.length ? roots : ['test']) walk(r);
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const args = ['--import', 'tsx', '--import', './src/core/polyfill.ts', '--test', '--test-timeout=600000', ...passthrough, ...files];
const child = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, FACECAST_LOG: process.env.FACECAST_LOG ?? 'warn' } });
child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 1));
