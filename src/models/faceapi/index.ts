/**
 * face-api's nets as TF.js graph models. @vladmandic/face-api ships FaceExpressionNet and AgeGenderNet as
 * weight manifests (a weights-manifest JSON + .bin shards, uint8-quantised) without a topology: face-api builds
 * the graph in code. `loadFaceApiArtifacts` pairs the shipped manifest with the graph written down in nets.ts and
 * returns what `loadTfjsArtifacts` returns for a graph model, so the ordinary converter (and its cache, in
 * ModelStore) produces the ONNX file. The weights are used verbatim; the converter's decodeWeights dequantises
 * them exactly as tf.io.decodeWeights does (q · scale + min in float32).
 */
import { readFile } from 'node:fs/promises';
import { ModelError } from '../../core/errors.js';
import { readWeightShards, type TfjsArtifacts, type TfjsModelJson, type WeightsManifestGroup } from '../convert/tfjs.js';
import { FACEAPI_INPUT_SIZE, netGraph, type FaceApiNet } from './nets.js';

export type { FaceApiNet } from './nets.js';
export { FACEAPI_EXPRESSION_LABELS, FACEAPI_INPUT, FACEAPI_INPUT_SIZE, FACEAPI_MEAN_RGB, netGraph } from './nets.js';

/** Bump when nets.ts changes the graph it writes, so cached ONNX files rebuild. */
export const FACEAPI_GRAPH_REVISION = 1;

function shape(dims: readonly number[]): { dim: { size: string }[] } {
  return { dim: dims.map((d) => ({ size: String(d) })) };
}

/** The model.json of a graph model for `net`, with `weightsManifest` as face-api ships it. */
export function faceApiModelJson(net: FaceApiNet, weightsManifest: WeightsManifestGroup[]): TfjsModelJson {
  const g = netGraph(net);
  const outShapes: Record<string, number[]> = { expressions: [-1, 7], age: [-1, 1], gender: [-1, 2] };
  const outputs = Object.fromEntries(
    g.outputs.map((o) => [o, { name: `${o}:0`, dtype: 'DT_FLOAT', tensorShape: shape(outShapes[o] ?? [-1]) }]),
  );
  const signature = {
    inputs: { [g.input]: { name: `${g.input}:0`, dtype: 'DT_FLOAT', tensorShape: shape([-1, FACEAPI_INPUT_SIZE, FACEAPI_INPUT_SIZE, 3]) } },
    outputs,
  };
  return {
    format: 'graph-model',
    generatedBy: 'facecast faceapi graph synthesis',
    convertedBy: `facecast faceapi/${net} r${FACEAPI_GRAPH_REVISION}`,
    modelTopology: { node: g.nodes },
    weightsManifest,
    signature,
  };
}

function isGroupList(x: unknown): x is WeightsManifestGroup[] {
  return Array.isArray(x) && x.every((g) => typeof g === 'object' && g !== null && Array.isArray((g as WeightsManifestGroup).paths) && Array.isArray((g as WeightsManifestGroup).weights));
}

/** Reads face-api's `<net>-weights_manifest.json` and its shards and returns graph-model artifacts for `net`. */
export async function loadFaceApiArtifacts(manifestPath: string, net: FaceApiNet): Promise<TfjsArtifacts> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (e) {
    throw new ModelError('E_MODEL_SOURCE_MISSING', `cannot read face-api weight manifest ${manifestPath}`, { cause: e });
  }
  if (!isGroupList(parsed)) throw new ModelError('E_MODEL_FORMAT', `${manifestPath}: not a TF.js weights manifest (a list of {paths, weights})`);
  const weightData = await readWeightShards(parsed, manifestPath);
  const modelJson = faceApiModelJson(net, parsed);
  // Every shipped weight must be read by the graph: a weight left over means the graph is not face-api's.
  const used = new Set(modelJson.modelTopology.node.filter((n) => n.op === 'Const').map((n) => n.name));
  const unused = parsed.flatMap((g) => g.weights.map((w) => w.name)).filter((n) => !used.has(n));
  if (unused.length > 0) throw new ModelError('E_MODEL_FORMAT', `${manifestPath}: weights not used by the ${net} graph: ${unused.join(', ')}`);
  return { modelJson, weightData, sourcePath: manifestPath };
}
