import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { A, GraphBuilder, checkParity, convAttrs } from './harness.js';

function poolAttrs(k: number, stride: number, padding: 'SAME' | 'VALID'): Record<string, ReturnType<typeof A.s>> {
  return { ksize: A.ints([1, k, k, 1]), strides: A.ints([1, stride, stride, 1]), padding: A.s(padding), data_format: A.s('NHWC') };
}

describe('convert: pooling', () => {
  for (const op of ['MaxPool', 'AvgPool']) {
    for (const [padding, size, k, stride] of [
      ['SAME', 8, 3, 2],
      ['SAME', 7, 2, 2],
      ['VALID', 9, 3, 2],
      ['VALID', 8, 2, 2],
    ] as const) {
      it(`${op} ${padding} k${k} s${stride} on ${size}x${size}`, async () => {
        const b = new GraphBuilder(size * 10 + k);
        b.input('x', [1, size, size, 3]);
        b.op('y', op, ['x'], poolAttrs(k, stride, padding));
        await checkParity(b.build(['y']), [1, size, size, 3]);
      });
    }
  }

  it('MaxPool after a conv stays channels-first (no transpose in between)', async () => {
    const b = new GraphBuilder(3);
    b.input('x', [1, 8, 8, 2]);
    b.constF('w', [3, 3, 2, 4]);
    b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
    b.op('y', 'MaxPool', ['c'], poolAttrs(2, 2, 'SAME'));
    const { result } = await checkParity(b.build(['y']), [1, 8, 8, 2]);
    // One transpose in (NHWC → NCHW), one out for the rank-4 output.
    assert.equal(result.onnxOpCounts.Transpose, 2);
  });
});

function reduceGraph(op: string, axes: number[], keep: boolean, seed: number): GraphBuilder {
  const b = new GraphBuilder(seed);
  b.input('x', [1, 6, 5, 4]);
  b.constF('w', [3, 3, 4, 3]);
  b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
  b.constI('axes', [axes.length], axes);
  b.op('y', op, ['c', 'axes'], { keep_dims: A.b(keep), Tidx: { type: 'DT_INT32' } });
  return b;
}

describe('convert: reductions', () => {
  for (const op of ['Mean', 'Max', 'Min', 'Sum']) {
    for (const keep of [false, true]) {
      it(`${op} over [1,2] (global pooling), keep_dims=${keep}`, async () => {
        const b = reduceGraph(op, [1, 2], keep, 5);
        const { report, result } = await checkParity(b.build(['y']), [1, 6, 5, 4]);
        assert.deepEqual(report.outputs[0].dims, keep ? [1, 1, 1, 3] : [1, 3]);
        // Axes are remapped instead of transposing: only the input transpose (and one for a rank-4 output).
        assert.equal(result.onnxOpCounts.Transpose, keep ? 2 : 1);
      });
    }
  }

  it('Mean over the channel axis (-1) with keep_dims', async () => {
    await checkParity(reduceGraph('Mean', [-1], true, 6).build(['y']), [1, 6, 5, 4]);
  });

  it('Max over H only without keep_dims (needs TF order afterwards)', async () => {
    const { report } = await checkParity(reduceGraph('Max', [1], false, 7).build(['y']), [1, 6, 5, 4]);
    assert.deepEqual(report.outputs[0].dims, [1, 5, 3]);
  });

  it('Sum over [1,2,3] without keep_dims', async () => {
    await checkParity(reduceGraph('Sum', [1, 2, 3], false, 8).build(['y']), [1, 6, 5, 4]);
  });

  it('Mean on a TF-layout input (no conv before it)', async () => {
    const b = new GraphBuilder(9);
    b.input('x', [1, 4, 4, 3]);
    b.constI('axes', [2], [1, 2]);
    b.op('y', 'Mean', ['x', 'axes'], { keep_dims: A.b(false) });
    await checkParity(b.build(['y']), [1, 4, 4, 3]);
  });
});

describe('convert: Softmax and ConcatV2', () => {
  it('Softmax on a rank-4 channels-first tensor and on rank 2', async () => {
    const b = new GraphBuilder(20);
    b.input('x', [1, 5, 5, 3]);
    b.constF('w', [3, 3, 3, 6]);
    b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
    b.op('s4', 'Softmax', ['c']);
    b.constI('axes', [2], [1, 2]);
    b.op('m', 'Mean', ['c', 'axes'], { keep_dims: A.b(false) });
    b.op('s2', 'Softmax', ['m']);
    const { report } = await checkParity(b.build(['s4', 's2']), [1, 5, 5, 3], { range: [-4, 4] });
    assert.equal(report.outputs[1].argmaxAgreement, 1);
  });

  it('ConcatV2 on the channel axis of two conv outputs', async () => {
    const b = new GraphBuilder(21);
    b.input('x', [1, 6, 6, 2]);
    b.constF('w1', [3, 3, 2, 3]);
    b.constF('w2', [1, 1, 2, 4]);
    b.op('c1', 'Conv2D', ['x', 'w1'], convAttrs({}));
    b.op('c2', 'Conv2D', ['x', 'w2'], convAttrs({}));
    b.constI('axis', [], [3]);
    b.op('y', 'ConcatV2', ['c1', 'c2', 'axis'], { N: A.i(2), Tidx: { type: 'DT_INT32' } });
    const { report, result } = await checkParity(b.build(['y']), [1, 6, 6, 2]);
    assert.deepEqual(report.outputs[0].dims, [1, 6, 6, 7]);
    assert.equal(result.onnxOpCounts.Transpose, 2);
  });

  it('ConcatV2 with axis -1 mixing a conv output, the raw input and a constant', async () => {
    const b = new GraphBuilder(22);
    b.input('x', [1, 4, 4, 2]);
    b.constF('w', [3, 3, 2, 3]);
    b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
    b.constF('k', [1, 4, 4, 1]);
    b.constI('axis', [], [-1]);
    b.op('y', 'ConcatV2', ['c', 'x', 'k', 'axis'], { N: A.i(3) });
    await checkParity(b.build(['y']), [1, 4, 4, 2]);
  });

  it('ConcatV2 on the H axis', async () => {
    const b = new GraphBuilder(23);
    b.input('x', [1, 4, 4, 2]);
    b.constF('w', [3, 3, 2, 2]);
    b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
    b.constI('axis', [], [1]);
    b.op('y', 'ConcatV2', ['c', 'c', 'axis'], { N: A.i(2) });
    const { report } = await checkParity(b.build(['y']), [1, 4, 4, 2]);
    assert.deepEqual(report.outputs[0].dims, [1, 8, 4, 2]);
  });
});
