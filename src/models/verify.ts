/**
 * `facecast models verify` for one manifest entry: build (convert) it, load it in onnxruntime, check the
 * inputs/outputs the manifest names, and, for TF.js sources, compare ONNX with TF.js on random inputs and on a
 * real face photo prepared by the same sampler the engine uses.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { fillUniform } from '../core/rng.js';
import type { RgbImage } from '../core/types.js';
import { decodeImage } from '../ingest/image.js';
import { makeNormaliser, sampleRegion, tensorSize } from '../inference/preprocess.js';
import { OnnxSession } from '../inference/session.js';
import { loadTfjsArtifacts } from './convert/index.js';
import { PROJECT_ROOT, type ModelEntry } from './manifest.js';
import type { ModelStore } from './store.js';

export interface ParityRow {
  input: 'random' | 'face photo';
  output: string;
  maxAbs: number;
  maxRel: number;
  argmaxAgree?: boolean;
}

export interface VerifyReport {
  id: string;
  ok: boolean;
  onnxPath?: string;
  loadMs: number;
  provider?: string;
  parity: ParityRow[];
  note?: string;
  error?: string;
}

/** Relative difference (to the output's largest magnitude) above which a conversion is called wrong. */
export const PARITY_TOLERANCE = 1e-3;

/** A group photo shipped in a devDependency, and one face in it (source pixels). */
const FACE_PHOTO = { pkg: '@vladmandic/face-api', file: 'demo/sample6.jpg', face: { cx: 781, cy: 496, side: 241 } };

async function loadFacePhoto(): Promise<RgbImage | undefined> {
  try {
    const require = createRequire(join(PROJECT_ROOT, 'package.json'));
    const dir = join(require.resolve(`${FACE_PHOTO.pkg}/package.json`), '..');
    const p = join(dir, FACE_PHOTO.file);
    return existsSync(p) ? await decodeImage(readFileSync(p), p) : undefined;
  } catch {
    return undefined;
  }
}

function manifestOutputs(e: ModelEntry): string[] {
  return e.task === 'face-detection' ? e.decoder.heads.flatMap((h) => [h.scores, h.boxes]) : [...new Set(e.heads.map((h) => h.output))];
}

function randomInput(e: ModelEntry, seed: number): Float32Array {
  const [lo, hi] = e.input.range;
  return fillUniform(new Float32Array(e.input.width * e.input.height * (e.input.colour === 'grey' ? 1 : 3)), lo, hi, seed);
}

function photoInput(e: ModelEntry, img: RgbImage): Float32Array {
  const norm = makeNormaliser(e.input);
  const out = new Float32Array(tensorSize(norm));
  const f = FACE_PHOTO.face;
  const region =
    e.task === 'face-detection'
      ? { cx: img.width / 2, cy: img.height / 2, width: Math.max(img.width, img.height), height: Math.max(img.width, img.height), angle: 0, flip: false }
      : { cx: f.cx, cy: f.cy, width: f.side * e.crop.scale, height: f.side * e.crop.scale, angle: 0, flip: false };
  sampleRegion(img, region, norm, out, 0);
  return out;
}

export async function verifyModel(e: ModelEntry, store: ModelStore): Promise<VerifyReport> {
  const report: VerifyReport = { id: e.id, ok: false, loadMs: 0, parity: [] };
  let session: OnnxSession | undefined;
  try {
    const r = await store.resolve(e);
    report.onnxPath = r.onnxPath;
    const t0 = performance.now();
    session = await OnnxSession.create(e.id, r.onnxPath);
    report.loadMs = performance.now() - t0;
    report.provider = session.provider;
    session.assertIo(e.input.name, manifestOutputs(e));
    if (r.faceApiPath && e.source.type === 'faceapi') return await verifyFaceApi(e, r.faceApiPath, e.source.net, r.onnxPath, report);
    if (!r.tfjsPath) {
      report.ok = true;
      report.note = 'ONNX source: no TF.js reference to compare with';
      return report;
    }
    if (e.input.layout !== 'NHWC') throw new Error('TF.js sources are NHWC; the manifest says NCHW');
    let parity: typeof import('./parity.js');
    try {
      parity = await import('./parity.js');
      await parity.loadTfjs();
    } catch (err) {
      report.ok = true;
      report.note = `loads and matches the manifest; parity not checked: ${errorMessage(err)}`;
      return report;
    }
    const artifacts = await loadTfjsArtifacts(r.tfjsPath);
    const bytes = new Uint8Array(readFileSync(r.onnxPath));
    const tfModel = await parity.loadTfjsGraphModel(artifacts);
    const C = e.input.colour === 'grey' ? 1 : 3;
    const shape = [1, e.input.height, e.input.width, C];
    const outputs = manifestOutputs(e);
    const sets: { input: ParityRow['input']; data: Float32Array[] }[] = [{ input: 'random', data: [randomInput(e, 1), randomInput(e, 2)] }];
    const photo = await loadFacePhoto();
    if (photo) sets.push({ input: 'face photo', data: [photoInput(e, photo)] });
    else report.note = `face photo unavailable (${FACE_PHOTO.pkg} not installed): random inputs only`;
    const onnx = await parity.createOnnxSession(bytes);
    try {
      for (const s of sets) {
        const rep = await parity.compareModel(artifacts, onnx, s.data, shape, { inputName: e.input.name, outputNames: outputs, tfjsModel: tfModel });
        for (const o of rep.outputs) {
          const row: ParityRow = { input: s.input, output: o.name, maxAbs: o.maxAbsDiff, maxRel: o.maxRelDiff };
          if (o.argmaxAgreement !== null) row.argmaxAgree = o.argmaxAgreement === 1;
          report.parity.push(row);
        }
      }
    } finally {
      await onnx.release();
      tfModel.dispose();
    }
    report.ok = report.parity.every((p) => p.maxRel <= PARITY_TOLERANCE && p.argmaxAgree !== false);
    if (!report.ok) report.error = `outputs differ from TF.js beyond ${PARITY_TOLERANCE} (relative)`;
  } catch (err) {
    report.error = errorMessage(err);
  } finally {
    await session?.close();
  }
  return report;
}

/** face-api nets have no TF.js graph of their own: the reference is face-api's JS on TF.js (src/models/faceapi/parity.ts). */
async function verifyFaceApi(e: ModelEntry, manifestPath: string, net: 'expression' | 'age-gender', onnxPath: string, report: VerifyReport): Promise<VerifyReport> {
  let fp: typeof import('./faceapi/parity.js');
  try {
    fp = await import('./faceapi/parity.js');
  } catch (err) {
    report.ok = true;
    report.note = `loads and matches the manifest; parity not checked: ${errorMessage(err)}`;
    return report;
  }
  const sets = [{ input: 'random', data: fp.randomFaceApiInput(2, 1), batch: 2 }];
  const photo = await loadFacePhoto();
  if (photo) sets.push({ input: 'face photo', data: photoInput(e, photo), batch: 1 });
  const rows = await fp.faceApiParity(manifestPath, net, new Uint8Array(readFileSync(onnxPath)), sets);
  for (const r of rows) {
    const row: ParityRow = { input: r.input === 'random' ? 'random' : 'face photo', output: r.output, maxAbs: r.maxAbs, maxRel: r.maxRel };
    if (r.argmaxAgree !== undefined) row.argmaxAgree = r.argmaxAgree;
    report.parity.push(row);
  }
  report.note = "reference: face-api's own JS (its net classes) on TF.js cpu";
  report.ok = report.parity.every((p) => p.maxRel <= PARITY_TOLERANCE && p.argmaxAgree !== false);
  if (!report.ok) report.error = `outputs differ from face-api beyond ${PARITY_TOLERANCE} (relative)`;
  return report;
}
