/**
 * Turns manifest entries into ONNX files on disk: converts TF.js sources with facecast's converter and caches
 * the result keyed by the hash of the source files (and the converter revision), so a changed model or a
 * converter fix rebuilds it and nothing else does.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, accessSync, constants as fsc, readdirSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve, isAbsolute } from 'node:path';
import { ModelError } from '../core/errors.js';
import { Logger } from '../core/log.js';
import { convertTfjsGraph, loadTfjsArtifacts } from './convert/index.js';
import { FACEAPI_GRAPH_REVISION, loadFaceApiArtifacts } from './faceapi/index.js';
import { PROJECT_ROOT, type ModelEntry } from './manifest.js';

const log = new Logger('ModelStore');

/** Bump when the converter's output changes for the same source, so caches rebuild. */
export const CONVERTER_REVISION = 1;

export interface ResolvedModel {
  entry: ModelEntry;
  /** Path of the ONNX file to load. */
  onnxPath: string;
  /** TF.js model.json when the source is TF.js (for parity checks). */
  tfjsPath?: string;
  /** face-api weights manifest when the source is one of face-api's nets (graph written by src/models/faceapi). */
  faceApiPath?: string;
  /** Hex digest identifying the source (+ converter revision for converted models). */
  hash: string;
  /** True when this call converted the model (cache miss). */
  built: boolean;
  /** Milliseconds spent converting (0 on a cache hit). */
  buildMs: number;
}

function isWritableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, fsc.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** FACECAST_MODEL_CACHE, else models/onnx in the project, else ~/.cache/facecast/models (read-only installs). */
export function defaultCacheDir(): string {
  const env = process.env.FACECAST_MODEL_CACHE;
  if (env) return resolve(env);
  const local = join(PROJECT_ROOT, 'models', 'onnx');
  if (isWritableDir(local)) return local;
  return join(homedir(), '.cache', 'facecast', 'models');
}

/** Finds the model.json of a TF.js source (or the weights manifest of a face-api net). */
export function tfjsSourcePath(entry: ModelEntry): string {
  const src = entry.source;
  if (src.type === 'tfjs' || src.type === 'faceapi') {
    const require = createRequire(join(PROJECT_ROOT, 'package.json'));
    let pkgJson: string;
    try {
      pkgJson = require.resolve(`${src.package}/package.json`);
    } catch (e) {
      throw new ModelError('E_MODEL_SOURCE_MISSING', `model "${entry.id}": npm package ${src.package} is not installed (run npm install)`, { cause: e });
    }
    return join(dirname(pkgJson), src.file);
  }
  if (src.type === 'tfjs-file') return isAbsolute(src.path) ? src.path : resolve(entry.baseDir, src.path);
  throw new ModelError('E_MODEL_FORMAT', `model "${entry.id}" is not a TF.js model`);
}

function onnxSourcePath(entry: ModelEntry): string {
  if (entry.source.type !== 'onnx') throw new ModelError('E_MODEL_FORMAT', `model "${entry.id}" is not an ONNX model`);
  const p = entry.source.path;
  return isAbsolute(p) ? p : resolve(entry.baseDir, p);
}

/**
 * Hash of model.json plus every weight shard it lists; for a face-api net, of its weights manifest (a bare list of
 * groups), its shards and the revision of the graph facecast writes for it.
 */
function hashTfjsSource(jsonPath: string, faceApiNet?: string): string {
  const h = createHash('sha256');
  const json = readFileSync(jsonPath);
  h.update(json);
  const parsed = JSON.parse(json.toString('utf8')) as { weightsManifest?: { paths: string[] }[] } | { paths: string[] }[];
  const groups = Array.isArray(parsed) ? parsed : (parsed.weightsManifest ?? []);
  if (faceApiNet !== undefined) h.update(`faceapi:${faceApiNet}:${FACEAPI_GRAPH_REVISION}`);
  for (const group of groups) {
    for (const p of group.paths) {
      const shard = join(dirname(jsonPath), p);
      if (!existsSync(shard)) throw new ModelError('E_MODEL_SOURCE_MISSING', `weight shard ${shard} listed in ${jsonPath} is missing`);
      h.update(readFileSync(shard));
    }
  }
  h.update(`converter:${CONVERTER_REVISION}`);
  return h.digest('hex');
}

export class ModelStore {
  readonly cacheDir: string;
  constructor(cacheDir: string = defaultCacheDir()) {
    this.cacheDir = cacheDir;
  }

  /** Returns an ONNX file for the entry, converting (and caching) a TF.js source when needed. */
  async resolve(entry: ModelEntry, opts: { rebuild?: boolean } = {}): Promise<ResolvedModel> {
    if (entry.source.type === 'onnx') {
      const onnxPath = onnxSourcePath(entry);
      if (!existsSync(onnxPath)) throw new ModelError('E_MODEL_SOURCE_MISSING', `model "${entry.id}": ONNX file ${onnxPath} does not exist`);
      const hash = createHash('sha256').update(readFileSync(onnxPath)).digest('hex');
      return { entry, onnxPath, hash, built: false, buildMs: 0 };
    }
    const tfjsPath = tfjsSourcePath(entry);
    if (!existsSync(tfjsPath)) throw new ModelError('E_MODEL_SOURCE_MISSING', `model "${entry.id}": ${tfjsPath} does not exist`);
    const faceApiNet = entry.source.type === 'faceapi' ? entry.source.net : undefined;
    const hash = hashTfjsSource(tfjsPath, faceApiNet);
    const onnxPath = join(this.cacheDir, `${entry.id}.${hash.slice(0, 16)}.onnx`);
    // A face-api source has no model.json of its own: it is reported as faceApiPath, not tfjsPath.
    const paths = faceApiNet !== undefined ? { faceApiPath: tfjsPath } : { tfjsPath };
    if (existsSync(onnxPath) && !opts.rebuild) return { entry, onnxPath, ...paths, hash, built: false, buildMs: 0 };

    const t0 = performance.now();
    const artifacts = faceApiNet !== undefined ? await loadFaceApiArtifacts(tfjsPath, faceApiNet) : await loadTfjsArtifacts(tfjsPath);
    const result = convertTfjsGraph(artifacts, { modelName: entry.id });
    mkdirSync(this.cacheDir, { recursive: true });
    // Write then rename, so a concurrent reader never sees a half-written model.
    const tmp = `${onnxPath}.${process.pid}.tmp`;
    writeFileSync(tmp, result.onnx);
    renameSync(tmp, onnxPath);
    this.removeStale(entry.id, onnxPath);
    const buildMs = performance.now() - t0;
    log.info(`resolve() converted [model:${entry.id}] in ${buildMs.toFixed(0)} ms → ${onnxPath}`);
    return { entry, onnxPath, ...paths, hash, built: true, buildMs };
  }

  /** Removes older cached builds of the same model. */
  private removeStale(id: string, keep: string): void {
    const escaped = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = new RegExp(`^${escaped}\\.[0-9a-f]{16}\\.onnx$`);
    for (const f of readdirSync(this.cacheDir)) {
      const p = join(this.cacheDir, f);
      if (p !== keep && pattern.test(f)) {
        try {
          unlinkSync(p);
        } catch (e) {
          log.debug(`removeStale() could not remove ${p}`, e);
        }
      }
    }
  }
}
