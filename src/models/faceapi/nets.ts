/**
 * The graphs of face-api's FaceExpressionNet and AgeGenderNet, written down op for op from its source
 * (@vladmandic/face-api 1.7.x, src/faceFeatureExtractor, src/faceExpressionNet, src/xception, src/ageGenderNet,
 * src/common, src/ops/normalize.ts). The order of additions follows face-api's code exactly (float addition is
 * not associative), so the converted model matches face-api's own forward pass to float rounding.
 *
 * Input: NHWC RGB 0..255, 112×112, as face-api's NetInput.toBatchTensor(112) hands it to the nets (face-api
 * pads a non-square crop to a square with zeros and resizes bilinearly before this; facecast's sampler crops
 * square, so no padding is involved). The normalisation (x − mean RGB) / 255 is part of the graph.
 */
import { GraphDefBuilder } from './graphdef.js';

export type FaceApiNet = 'expression' | 'age-gender';

/** face-api's meanRgb of FaceFeatureExtractor and TinyXception (the same values in both). */
export const FACEAPI_MEAN_RGB = [122.782, 117.001, 104.298] as const;
export const FACEAPI_INPUT_SIZE = 112;
export const FACEAPI_INPUT = 'input';
/** FaceExpressionNet's class order (FACE_EXPRESSION_LABELS). */
export const FACEAPI_EXPRESSION_LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'] as const;

export interface NetGraph {
  nodes: GraphDefBuilder['nodes'];
  input: string;
  /** Output node names in signature order. */
  outputs: string[];
}

/** normalize(x, meanRgb).div(255): the input normalisation shared by both nets. */
function normalised(b: GraphDefBuilder): string {
  const x = b.placeholder(FACEAPI_INPUT, [-1, FACEAPI_INPUT_SIZE, FACEAPI_INPUT_SIZE, 3]);
  const mean = b.constFloat('preprocess/mean_rgb', [3], FACEAPI_MEAN_RGB);
  const div = b.constFloat('preprocess/255', [1], [255]);
  return b.binary('preprocess/div', 'RealDiv', b.binary('preprocess/sub', 'Sub', x, mean), div);
}

/** common/depthwiseSeparableConv: tf.separableConv2d(x, dw, pw, stride, 'same') + bias. */
function sepConv(b: GraphDefBuilder, x: string, prefix: string, stride: number): string {
  const dw = b.depthwise(`${prefix}/depthwise`, x, b.weight(`${prefix}/depthwise_filter`), stride, 'SAME');
  // tf.separableConv2d runs the pointwise step as a 1×1 conv, stride 1, 'valid'.
  const pw = b.conv2d(`${prefix}/pointwise`, dw, b.weight(`${prefix}/pointwise_filter`), 1, 'VALID');
  return b.binary(`${prefix}/add_bias`, 'AddV2', pw, b.weight(`${prefix}/bias`));
}

/** tf.add(tf.conv2d(x, filters, stride, 'same'), bias): the plain convolutions of both nets. */
function convBias(b: GraphDefBuilder, x: string, prefix: string, stride: number): string {
  const c = b.conv2d(`${prefix}/conv`, x, b.weight(`${prefix}/filters`), stride, 'SAME');
  return b.binary(`${prefix}/add_bias`, 'AddV2', c, b.weight(`${prefix}/bias`));
}

/** faceFeatureExtractor/denseBlock.ts denseBlock4 (isScaleDown = true). */
function denseBlock4(b: GraphDefBuilder, x: string, p: string, isFirstLayer: boolean): string {
  const out1 = b.unary(`${p}/out1`, 'Relu', isFirstLayer ? convBias(b, x, `${p}/conv0`, 2) : sepConv(b, x, `${p}/conv0`, 2));
  const out2 = sepConv(b, out1, `${p}/conv1`, 1);
  const in3 = b.unary(`${p}/in3`, 'Relu', b.binary(`${p}/add3`, 'AddV2', out1, out2));
  const out3 = sepConv(b, in3, `${p}/conv2`, 1);
  const s23 = b.binary(`${p}/add4a`, 'AddV2', out2, out3);
  const in4 = b.unary(`${p}/in4`, 'Relu', b.binary(`${p}/add4`, 'AddV2', out1, s23));
  const out4 = sepConv(b, in4, `${p}/conv3`, 1);
  // tf.add(out1, tf.add(out2, tf.add(out3, out4)))
  const s34 = b.binary(`${p}/add5a`, 'AddV2', out3, out4);
  const s234 = b.binary(`${p}/add5b`, 'AddV2', out2, s34);
  return b.unary(`${p}/out`, 'Relu', b.binary(`${p}/add5`, 'AddV2', out1, s234));
}

/** common/fullyConnectedLayer: tf.add(tf.matMul(x, weights), bias). */
function fc(b: GraphDefBuilder, x: string, prefix: string, name: string): string {
  return b.binary(name, 'AddV2', b.matMul(`${prefix}/matmul`, x, b.weight(`${prefix}/weights`)), b.weight(`${prefix}/bias`));
}

/** FaceExpressionNet: FaceFeatureExtractor (4 dense blocks, avgPool 7/2 valid) → fc(256→7) → softmax. */
export function expressionGraph(): NetGraph {
  const b = new GraphDefBuilder();
  let out = normalised(b);
  out = denseBlock4(b, out, 'dense0', true);
  out = denseBlock4(b, out, 'dense1', false);
  out = denseBlock4(b, out, 'dense2', false);
  out = denseBlock4(b, out, 'dense3', false);
  out = b.avgPool('features/avg_pool', out, 7, 2, 'VALID');
  const flat = b.reshape('features/flatten', out, [-1, 256]);
  const logits = fc(b, flat, 'fc', 'fc/logits');
  const probs = b.unary('expressions', 'Softmax', logits);
  return { nodes: b.nodes, input: FACEAPI_INPUT, outputs: [probs] };
}

/** xception/TinyXception.ts reductionBlock. */
function reductionBlock(b: GraphDefBuilder, x: string, p: string, isActivateInput: boolean): string {
  let out = isActivateInput ? b.unary(`${p}/relu_in`, 'Relu', x) : x;
  out = sepConv(b, out, `${p}/separable_conv0`, 1);
  out = sepConv(b, b.unary(`${p}/relu0`, 'Relu', out), `${p}/separable_conv1`, 1);
  out = b.maxPool(`${p}/max_pool`, out, 3, 2, 'SAME');
  return b.binary(`${p}/add`, 'AddV2', out, convBias(b, x, `${p}/expansion_conv`, 2));
}

/** xception/TinyXception.ts mainBlock. */
function mainBlock(b: GraphDefBuilder, x: string, p: string): string {
  let out = sepConv(b, b.unary(`${p}/relu0`, 'Relu', x), `${p}/separable_conv0`, 1);
  out = sepConv(b, b.unary(`${p}/relu1`, 'Relu', out), `${p}/separable_conv1`, 1);
  out = sepConv(b, b.unary(`${p}/relu2`, 'Relu', out), `${p}/separable_conv2`, 1);
  return b.binary(`${p}/add`, 'AddV2', out, x);
}

/**
 * AgeGenderNet: TinyXception(2 main blocks) → avgPool 7/2 valid → fc/age (512→1, years, regression) and
 * fc/gender (512→2, softmax; class 0 = male, as predictAgeAndGender reads it).
 */
export function ageGenderGraph(): NetGraph {
  const b = new GraphDefBuilder();
  let out = normalised(b);
  out = b.unary('entry_flow/relu_in', 'Relu', convBias(b, out, 'entry_flow/conv_in', 2));
  out = reductionBlock(b, out, 'entry_flow/reduction_block_0', false);
  out = reductionBlock(b, out, 'entry_flow/reduction_block_1', true);
  for (let i = 0; i < 2; i++) out = mainBlock(b, out, `middle_flow/main_block_${i}`);
  out = reductionBlock(b, out, 'exit_flow/reduction_block', true);
  out = b.unary('exit_flow/relu_out', 'Relu', sepConv(b, out, 'exit_flow/separable_conv', 1));
  out = b.avgPool('features/avg_pool', out, 7, 2, 'VALID');
  const flat = b.reshape('features/flatten', out, [-1, 512]);
  const age = fc(b, flat, 'fc/age', 'age');
  const gender = b.unary('gender', 'Softmax', fc(b, flat, 'fc/gender', 'fc/gender/logits'));
  return { nodes: b.nodes, input: FACEAPI_INPUT, outputs: [age, gender] };
}

export function netGraph(net: FaceApiNet): NetGraph {
  return net === 'expression' ? expressionGraph() : ageGenderGraph();
}
