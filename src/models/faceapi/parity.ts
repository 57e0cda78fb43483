/**
 * Parity of a converted face-api net with face-api's own implementation: the same NHWC 0..255 batches through
 * onnxruntime (the ONNX file) and through face-api's forwardInput on TF.js cpu (reference.ts). Used by the unit
 * test and by `facecast models verify`.
 */
import * as ort from 'onnxruntime-node';
import { fillUniform } from '../../core/rng.js';
import type { FaceApiNet } from './nets.js';
import { FACEAPI_INPUT, FACEAPI_INPUT_SIZE } from './nets.js';
import { faceApiReference } from './reference.js';

export interface FaceApiParityRow {
  input: string;
  output: string;
  maxAbs: number;
  /** max |onnx − face-api| over max |face-api| of that output */
  maxRel: number;
  /** for the softmax outputs: whether the arg-max class agrees on every item */
  argmaxAgree?: boolean;
}

export interface FaceApiInputSet {
  input: string;
  /** batch-major NHWC 112×112×3 values in 0..255 */
  data: Float32Array;
  batch: number;
}

/** Deterministic uniform 0..255 batch, so a parity run is reproducible. */
export function randomFaceApiInput(batch: number, seed: number): Float32Array {
  return fillUniform(new Float32Array(batch * FACEAPI_INPUT_SIZE * FACEAPI_INPUT_SIZE * 3), 0, 255, seed);
}

function argmaxRows(v: Float32Array, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < v.length / cols; r++) {
    let b = 0;
    for (let c = 1; c < cols; c++) if (v[r * cols + c] > v[r * cols + b]) b = c;
    out.push(b);
  }
  return out;
}

export async function faceApiParity(manifestPath: string, net: FaceApiNet, onnx: Uint8Array, sets: readonly FaceApiInputSet[]): Promise<FaceApiParityRow[]> {
  const ref = await faceApiReference(manifestPath, net);
  const session = await ort.InferenceSession.create(Buffer.from(onnx.buffer, onnx.byteOffset, onnx.byteLength), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const rows: FaceApiParityRow[] = [];
  try {
    for (const s of sets) {
      const want = await ref.run(s.data, s.batch);
      const got = await session.run({ [FACEAPI_INPUT]: new ort.Tensor('float32', s.data, [s.batch, FACEAPI_INPUT_SIZE, FACEAPI_INPUT_SIZE, 3]) });
      for (const [name, w] of Object.entries(want)) {
        const g = got[name].data as Float32Array;
        let maxAbs = 0;
        let mag = 0;
        for (let i = 0; i < w.length; i++) {
          maxAbs = Math.max(maxAbs, Math.abs(w[i] - g[i]));
          mag = Math.max(mag, Math.abs(w[i]));
        }
        const row: FaceApiParityRow = { input: s.input, output: name, maxAbs, maxRel: mag > 0 ? maxAbs / mag : maxAbs };
        if (name !== 'age') {
          const cols = w.length / s.batch;
          const a = argmaxRows(w, cols);
          const b = argmaxRows(g, cols);
          row.argmaxAgree = a.every((x, i) => x === b[i]);
        }
        rows.push(row);
      }
    }
  } finally {
    await session.release();
    ref.dispose();
  }
  return rows;
}
