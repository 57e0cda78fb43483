import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createOnnxSession, loadTfjsGraphModel, runOnnxModel, runTfjsModel } from '../../../src/models/parity.js';
import { A, GraphBuilder, checkParity, convAttrs, randomArray, rng } from './harness.js';

function convThen(seed: number, build: (b: GraphBuilder) => string, inShape = [1, 6, 6, 2], cout = 3): ReturnType<GraphBuilder['build']> {
  const b = new GraphBuilder(seed);
  b.input('x', inShape);
  b.constF('w', [3, 3, inShape[3], cout]);
  b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
  return b.build([build(b)]);
}

describe('convert: Pad', () => {
  it('spatial padding of a channels-first tensor', async () => {
    const a = convThen(1, (b) => {
      b.constI('p', [4, 2], [0, 0, 1, 2, 3, 0, 0, 0]);
      return b.op('y', 'Pad', ['c', 'p'], { Tpaddings: { type: 'DT_INT32' } });
    });
    const { report } = await checkParity(a, [1, 6, 6, 2]);
    assert.deepEqual(report.outputs[0].dims, [1, 9, 9, 3]);
  });

  it('padding on the channel axis (blazeface widens channels this way) feeding an Add', async () => {
    const b = new GraphBuilder(2);
    b.input('x', [1, 6, 6, 2]);
    b.constF('w', [3, 3, 2, 3]);
    b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
    b.constI('p', [4, 2], [0, 0, 0, 0, 0, 0, 0, 3]);
    b.op('pad', 'Pad', ['c', 'p']);
    b.constF('w2', [1, 1, 3, 6]);
    b.op('c2', 'Conv2D', ['c', 'w2'], convAttrs({}));
    b.op('y', 'AddV2', ['c2', 'pad']);
    const { report, result } = await checkParity(b.build(['y']), [1, 6, 6, 2]);
    assert.deepEqual(report.outputs[0].dims, [1, 6, 6, 6]);
    assert.equal(result.onnxOpCounts.Transpose, 2);
  });

  it('padding the raw input (TF layout) and PadV2 with a constant value', async () => {
    const b = new GraphBuilder(3);
    b.input('x', [1, 4, 5, 2]);
    b.constI('p', [4, 2], [0, 0, 2, 1, 0, 1, 1, 0]);
    b.constF('v', [], [0.75]);
    b.op('y', 'PadV2', ['x', 'p', 'v']);
    await checkParity(b.build(['y']), [1, 4, 5, 2]);
  });

  it('MirrorPad REFLECT after a conv', async () => {
    const a = convThen(4, (b) => {
      b.constI('p', [4, 2], [0, 0, 2, 1, 1, 2, 0, 0]);
      return b.op('y', 'MirrorPad', ['c', 'p'], { mode: A.s('REFLECT') });
    });
    await checkParity(a, [1, 6, 6, 2]);
  });
});

describe('convert: Reshape, Squeeze, ExpandDims', () => {
  it('flatten after a conv keeps NHWC element order', async () => {
    const a = convThen(10, (b) => {
      b.constI('s', [2], [1, -1]);
      return b.op('y', 'Reshape', ['c', 's']);
    }, [1, 5, 4, 2], 3);
    const { report } = await checkParity(a, [1, 5, 4, 2]);
    assert.deepEqual(report.outputs[0].dims, [1, 60]);
  });

  it('flatten then a dense layer', async () => {
    const b = new GraphBuilder(11);
    b.input('x', [1, 4, 4, 2]);
    b.constF('w', [3, 3, 2, 3]);
    b.op('c', 'Conv2D', ['x', 'w'], convAttrs({ stride: 2 }));
    b.constI('s', [2], [-1, 12]);
    b.op('f', 'Reshape', ['c', 's']);
    b.constF('d', [12, 4]);
    b.op('y', 'MatMul', ['f', 'd'], { transpose_a: A.b(false), transpose_b: A.b(false) });
    await checkParity(b.build(['y']), [1, 4, 4, 2]);
  });

  it('blazeface-style reshape with a baked batch of 1 becomes batch-dynamic', async () => {
    const b = new GraphBuilder(12);
    b.input('x', [1, 4, 4, 2]);
    b.constF('w', [1, 1, 2, 6]);
    b.constF('bias', [6]);
    b.op('c', '_FusedConv2D', ['x', 'w', 'bias'], { ...convAttrs({}), fused_ops: A.strs(['BiasAdd']), num_args: A.i(1) });
    b.constI('s', [3], [1, 32, 3]);
    b.op('r', 'Reshape', ['c', 's']);
    b.op('y', 'Identity', ['r']);
    const a = b.build(['y']);
    const { result } = await checkParity(a, [1, 4, 4, 2]);
    assert.deepEqual(result.outputs, [{ name: 'y', shape: ['N', 32, 3] }]);

    // Batch of 3 through ONNX: each row must equal TF.js on that image alone.
    const r = rng(99);
    const imgs = [0, 1, 2].map(() => randomArray(32, r));
    const batch = new Float32Array(96);
    imgs.forEach((im, i) => batch.set(im, i * 32));
    const session = await createOnnxSession(result.onnx);
    const [out] = await runOnnxModel(session, 'x', batch, [3, 4, 4, 2], ['y']);
    assert.deepEqual(out.dims, [3, 32, 3]);
    const model = await loadTfjsGraphModel(a);
    for (let i = 0; i < 3; i++) {
      const [ref] = await runTfjsModel(model, 'x', imgs[i], [1, 4, 4, 2], ['y']);
      const row = out.data.subarray(i * 96, (i + 1) * 96);
      const diff = Math.max(...ref.data.map((v, j) => Math.abs(v - row[j])));
      assert.ok(diff < 1e-5, `batch row ${i} differs by ${diff}`);
    }
  });

  it('with dynamicBatch=false the reshape constant and input dims stay as TF has them', async () => {
    const b = new GraphBuilder(13);
    b.input('x', [1, 4, 4, 2]);
    b.constF('w', [1, 1, 2, 3]);
    b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
    b.constI('s', [3], [1, 16, 3]);
    b.op('y', 'Reshape', ['c', 's']);
    const { result } = await checkParity(b.build(['y']), [1, 4, 4, 2], { convert: { dynamicBatch: false } });
    assert.deepEqual(result.inputs, [{ name: 'x', shape: [1, 4, 4, 2] }]);
    assert.deepEqual(result.outputs, [{ name: 'y', shape: [1, 16, 3] }]);
  });

  it('Mean keep_dims → Squeeze [1,2] needs no transpose back', async () => {
    const a = convThen(14, (b) => {
      b.constI('axes', [2], [1, 2]);
      b.op('m', 'Mean', ['c', 'axes'], { keep_dims: A.b(true) });
      return b.op('y', 'Squeeze', ['m'], { squeeze_dims: A.ints([1, 2]) });
    });
    const { result, report } = await checkParity(a, [1, 6, 6, 2]);
    assert.deepEqual(report.outputs[0].dims, [1, 3]);
    assert.equal(result.onnxOpCounts.Transpose, 1);
  });

  it('ExpandDims and Squeeze with negative axes', async () => {
    const b = new GraphBuilder(15);
    b.input('x', [2, 3]);
    b.constI('ax', [], [-1]);
    b.op('e', 'ExpandDims', ['x', 'ax'], { Tdim: { type: 'DT_INT32' } });
    b.constF('k', [1, 3, 1]);
    b.op('m', 'Mul', ['e', 'k']);
    b.op('y', 'Squeeze', ['m'], { squeeze_dims: A.ints([-1]) });
    b.op('z', 'Squeeze', ['m'], { squeeze_dims: A.ints([]) });
    const { report } = await checkParity(b.build(['y', 'z']), [2, 3], { convert: { dynamicBatch: false } });
    assert.deepEqual(report.outputs[0].dims, [2, 3]);
    assert.deepEqual(report.outputs[1].dims, [2, 3]);
  });
});

describe('convert: StridedSlice', () => {
  const ss = (bm: number, em: number, sm: number): Record<string, ReturnType<typeof A.i>> => ({
    Index: { type: 'DT_INT32' },
    begin_mask: A.i(bm),
    end_mask: A.i(em),
    shrink_axis_mask: A.i(sm),
    ellipsis_mask: A.i(0),
    new_axis_mask: A.i(0),
  });

  it('x[:, k] (SSR-Net: begin/end masks on axis 0, shrink on axis 1), last column via -1', async () => {
    const b = new GraphBuilder(16);
    b.input('x', [1, 3, 4]);
    b.constF('w', [1, 3, 4]);
    b.op('m', 'Mul', ['x', 'w']);
    b.constI('b0', [2], [0, 1]);
    b.constI('e0', [2], [0, 2]);
    b.constI('s0', [2], [1, 1]);
    b.op('y', 'StridedSlice', ['m', 'b0', 'e0', 's0'], ss(1, 1, 2));
    b.constI('b1', [2], [0, -1]);
    b.constI('e1', [2], [0, 0]);
    b.op('z', 'StridedSlice', ['m', 'b1', 'e1', 's0'], ss(1, 1, 2));
    const { report } = await checkParity(b.build(['y', 'z']), [1, 3, 4]);
    assert.deepEqual(report.outputs[0].dims, [1, 4]);
    assert.deepEqual(report.outputs[1].dims, [1, 4]);
  });

  it('a strided, reversed range on a channels-first tensor (sliced in TF layout)', async () => {
    const a = convThen(17, (b) => {
      b.constI('b', [4], [0, 1, 5, 0]);
      b.constI('e', [4], [0, 6, 0, 2]);
      b.constI('s', [4], [1, 2, -2, 1]);
      return b.op('y', 'StridedSlice', ['c', 'b', 'e', 's'], ss(1, 9, 0));
    });
    const { report } = await checkParity(a, [1, 6, 6, 2]);
    assert.deepEqual(report.outputs[0].dims, [1, 3, 3, 3]);
  });
});
