// Which files of the model packages the container image keeps (deploy/prune-image.mjs removes the rest). Apart so
// that a test can check it against the manifest: a model whose source files were pruned would fail to load in the
// image only (the converted ONNX is cached by a hash of those files, so they are read at every start).
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';

/**
 * Package directory → paths relative to it to keep: for each TF.js model its model.json and weight shards, for
 * each face-api net (source type faceapi: the graph is facecast's, the weights face-api's) its weights manifest and
 * shards; in @vladmandic/face-api also the demo photos (src/server/demo.ts); package.json and the licence everywhere.
 * @param {Iterable<{ source: { type: string, package?: string, file?: string } }>} models
 * @param {NodeJS.Require} require resolves packages from the project root
 * @returns {Map<string, Set<string>>}
 */
export function filesToKeep(models, require) {
  const keep = new Map();
  const setFor = (pkgDir) => keep.get(pkgDir) ?? keep.set(pkgDir, new Set(['package.json', 'LICENSE', 'README.md'])).get(pkgDir);
  for (const m of models) {
    if (m.source.type !== 'tfjs' && m.source.type !== 'faceapi') continue;
    const pkgDir = dirname(require.resolve(`${m.source.package}/package.json`));
    const set = setFor(pkgDir);
    const json = join(pkgDir, m.source.file);
    set.add(relative(pkgDir, json));
    // model.json lists its shards under weightsManifest; a face-api weights manifest is the bare list of groups.
    const parsed = JSON.parse(readFileSync(json, 'utf8'));
    for (const g of Array.isArray(parsed) ? parsed : (parsed.weightsManifest ?? [])) for (const p of g.paths) set.add(relative(pkgDir, join(dirname(json), p)));
  }
  const faceApi = dirname(require.resolve('@vladmandic/face-api/package.json'));
  const photos = setFor(faceApi);
  for (const f of readdirSync(join(faceApi, 'demo'))) if (/^sample\d+\.jpg$/.test(f)) photos.add(`demo/${f}`);
  return keep;
}
