/**
 * A small builder of TF.js graph-model node lists (GraphDef-style NodeDefs with JSON-encoded AttrValues, as
 * tensorflowjs_converter writes them). face-api ships its nets as weight manifests only and builds the graph in
 * JavaScript at run time; we write that same graph down as nodes so that facecast's converter (which reads graph
 * models, not code) can turn it into ONNX like any other model. Only the ops the face-api nets use are here.
 */
import type { TfAttrValue, TfNodeDef, TfTensorProto } from '../convert/tfjs.js';

type Padding = 'SAME' | 'VALID';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const FLOAT: TfAttrValue = { type: 'DT_FLOAT' };
const ints = (v: readonly number[]): TfAttrValue => ({ list: { i: v.map(String) } });
const str = (s: string): TfAttrValue => ({ s: b64(s) });

/** Appends nodes with unique names; every method returns the name of the node it added (its output 0). */
export class GraphDefBuilder {
  readonly nodes: TfNodeDef[] = [];
  readonly #names = new Set<string>();

  #add(name: string, op: string, input: string[], attr: Record<string, TfAttrValue>): string {
    if (this.#names.has(name)) throw new Error(`GraphDefBuilder: duplicate node name "${name}"`);
    this.#names.add(name);
    this.nodes.push({ name, op, input, attr });
    return name;
  }

  /** NHWC float input; -1 dims are dynamic (the converter makes the batch symbolic). */
  placeholder(name: string, shape: readonly number[]): string {
    return this.#add(name, 'Placeholder', [], { dtype: FLOAT, shape: { shape: { dim: shape.map((d) => ({ size: String(d) })) } } });
  }

  /**
   * A Const whose value is the weight of the same name in the weights manifest (that is how graph models bind
   * weights: by node name), so the face-api manifest is used verbatim, quantisation included.
   */
  weight(name: string): string {
    return this.#add(name, 'Const', [], { dtype: FLOAT });
  }

  /** A Const with an inline value (small constants that are not in the weight manifest). */
  constFloat(name: string, shape: readonly number[], values: readonly number[]): string {
    const tensor: TfTensorProto = { dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) }, floatVal: values.slice() };
    return this.#add(name, 'Const', [], { dtype: FLOAT, value: { tensor } });
  }

  constInt(name: string, values: readonly number[]): string {
    const tensor: TfTensorProto = { dtype: 'DT_INT32', tensorShape: { dim: [{ size: String(values.length) }] }, intVal: values.slice() };
    return this.#add(name, 'Const', [], { dtype: { type: 'DT_INT32' }, value: { tensor } });
  }

  conv2d(name: string, x: string, filter: string, stride: number, padding: Padding): string {
    return this.#add(name, 'Conv2D', [x, filter], { T: FLOAT, strides: ints([1, stride, stride, 1]), padding: str(padding), data_format: str('NHWC'), dilations: ints([1, 1, 1, 1]) });
  }

  depthwise(name: string, x: string, filter: string, stride: number, padding: Padding): string {
    return this.#add(name, 'DepthwiseConv2dNative', [x, filter], { T: FLOAT, strides: ints([1, stride, stride, 1]), padding: str(padding), data_format: str('NHWC'), dilations: ints([1, 1, 1, 1]) });
  }

  maxPool(name: string, x: string, k: number, stride: number, padding: Padding): string {
    return this.#add(name, 'MaxPool', [x], { T: FLOAT, ksize: ints([1, k, k, 1]), strides: ints([1, stride, stride, 1]), padding: str(padding), data_format: str('NHWC') });
  }

  avgPool(name: string, x: string, k: number, stride: number, padding: Padding): string {
    return this.#add(name, 'AvgPool', [x], { T: FLOAT, ksize: ints([1, k, k, 1]), strides: ints([1, stride, stride, 1]), padding: str(padding), data_format: str('NHWC') });
  }

  /** Element-wise binary op with broadcasting: AddV2, Sub, RealDiv, Mul. */
  binary(name: string, op: 'AddV2' | 'Sub' | 'RealDiv' | 'Mul', a: string, b: string): string {
    return this.#add(name, op, [a, b], { T: FLOAT });
  }

  unary(name: string, op: 'Relu' | 'Softmax', x: string): string {
    return this.#add(name, op, [x], { T: FLOAT });
  }

  reshape(name: string, x: string, shape: readonly number[]): string {
    const s = this.constInt(`${name}/shape`, shape);
    return this.#add(name, 'Reshape', [x, s], { T: FLOAT, Tshape: { type: 'DT_INT32' } });
  }

  matMul(name: string, a: string, b: string): string {
    return this.#add(name, 'MatMul', [a, b], { T: FLOAT, transpose_a: { b: false }, transpose_b: { b: false } });
  }
}
