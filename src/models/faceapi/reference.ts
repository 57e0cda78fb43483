/**
 * face-api's own JavaScript implementation of its nets, run on TF.js's cpu backend: the reference the converted
 * ONNX files are checked against (test/unit/faceapi-parity.test.ts, `facecast models verify`). Only parity checks
 * load this module; @tensorflow/tfjs is a devDependency.
 *
 * face-api's tfjs-less ESM build (dist/face-api.esm-nobundle.js) imports `@tensorflow/tfjs/dist/index.js` and the
 * webgl/wasm backends' `dist/index.js`; those are extension-less ESM files that Node cannot load, so a resolve
 * hook maps the three specifiers to the packages' own entry points (CommonJS builds Node loads). The hook only
 * rewrites those three specifiers and is registered once, when a parity check first needs face-api.
 */
import { readFile } from 'node:fs/promises';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import type { FaceApiNet } from './nets.js';

interface TfTensor {
  shape: number[];
  dataSync(): Float32Array | Int32Array | Uint8Array;
  dispose(): void;
}

interface TfLike {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  enableProdMode(): void;
  tensor(data: Float32Array, shape: number[], dtype: 'float32'): TfTensor;
  unstack(x: TfTensor): TfTensor[];
  io: { decodeWeights(buffer: ArrayBuffer, specs: unknown[]): Record<string, TfTensor> };
}

interface FaceApiNetLike {
  loadFromWeightMap(map: Record<string, TfTensor>): void;
  forwardInput(input: unknown): TfTensor | { age: TfTensor; gender: TfTensor };
  dispose(): void;
}

interface FaceApiModule {
  tf: TfLike;
  toNetInput(inputs: TfTensor[]): Promise<unknown>;
  FaceExpressionNet: new () => FaceApiNetLike;
  AgeGenderNet: new () => FaceApiNetLike;
}

const HOOK = `export async function resolve(spec, ctx, next) {
  const m = /^@tensorflow\\/(tfjs|tfjs-backend-webgl|tfjs-backend-wasm)\\/dist\\/index\\.js$/.exec(spec);
  return next(m ? '@tensorflow/' + m[1] : spec, ctx);
}`;

let loaded: Promise<FaceApiModule> | undefined;

/** face-api (tfjs-less ESM build) on TF.js's cpu backend; `packageDir` is @vladmandic/face-api's folder. */
export function loadFaceApi(packageDir: string): Promise<FaceApiModule> {
  loaded ??= (async (): Promise<FaceApiModule> => {
    register(`data:text/javascript,${encodeURIComponent(HOOK)}`, pathToFileURL(join(packageDir, 'package.json')).href);
    const url = pathToFileURL(join(packageDir, 'dist', 'face-api.esm-nobundle.js')).href;
    const mod = (await import(url)) as unknown as FaceApiModule;
    mod.tf.enableProdMode();
    await mod.tf.setBackend('cpu');
    await mod.tf.ready();
    return mod;
  })();
  return loaded;
}

export interface ReferenceOutputs {
  /** Output name (as in the ONNX file) → values, batch-major. */
  [output: string]: Float32Array;
}

/** A face-api net loaded from its shipped weights manifest, run by face-api's own forwardInput. */
export interface FaceApiReference {
  run(input: Float32Array, batch: number): Promise<ReferenceOutputs>;
  dispose(): void;
}

/**
 * Loads `net` the way face-api does (tf.io.decodeWeights of the shipped shards, then the net class's
 * loadFromWeightMap) and returns a runner on NHWC RGB 0..255 batches of 112×112 images.
 */
export async function faceApiReference(manifestPath: string, net: FaceApiNet): Promise<FaceApiReference> {
  const packageDir = resolve(dirname(manifestPath), '..');
  const fa = await loadFaceApi(packageDir);
  const groups = JSON.parse(await readFile(manifestPath, 'utf8')) as { paths: string[]; weights: unknown[] }[];
  const parts: Buffer[] = [];
  for (const g of groups) for (const p of g.paths) parts.push(await readFile(join(dirname(manifestPath), p)));
  const all = Buffer.concat(parts);
  const buffer = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  const map = fa.tf.io.decodeWeights(buffer, groups.flatMap((g) => g.weights));
  const model = net === 'expression' ? new fa.FaceExpressionNet() : new fa.AgeGenderNet();
  model.loadFromWeightMap(map);
  return {
    async run(input: Float32Array, batch: number): Promise<ReferenceOutputs> {
      const x = fa.tf.tensor(input, [batch, 112, 112, 3], 'float32');
      const items = fa.tf.unstack(x);
      try {
        const out = model.forwardInput(await fa.toNetInput(items));
        const list: [string, TfTensor][] = 'age' in out ? [['age', out.age], ['gender', out.gender]] : [['expressions', out]];
        const res: ReferenceOutputs = {};
        for (const [name, t] of list) {
          res[name] = Float32Array.from(t.dataSync());
          t.dispose();
        }
        return res;
      } finally {
        for (const t of items) t.dispose();
        x.dispose();
      }
    },
    dispose(): void {
      model.dispose();
    },
  };
}
