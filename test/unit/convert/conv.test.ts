import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { A, GraphBuilder, checkParity, convAttrs, fusedAttrs } from './harness.js';
import type { Quant } from './harness.js';

describe('convert: Conv2D', () => {
  it('SAME, stride 2 on an even input pads asymmetrically (extra row/col at the end)', async () => {
    const b = new GraphBuilder(1);
    b.input('x', [1, 8, 8, 3]);
    b.constF('w', [3, 3, 3, 4]);
    b.op('y', 'Conv2D', ['x', 'w'], convAttrs({ stride: 2, padding: 'SAME' }));
    const { report, result } = await checkParity(b.build(['y']), [1, 8, 8, 3]);
    assert.deepEqual(report.outputs[0].dims, [1, 4, 4, 4]);
    assert.deepEqual(result.outputs, [{ name: 'y', shape: ['N', 4, 4, 4] }]);
  });

  it('SAME, stride 2 on an odd input and a 4x4 kernel', async () => {
    const b = new GraphBuilder(2);
    b.input('x', [1, 9, 7, 2]);
    b.constF('w', [4, 4, 2, 3]);
    b.op('y', 'Conv2D', ['x', 'w'], convAttrs({ stride: 2, padding: 'SAME' }));
    await checkParity(b.build(['y']), [1, 9, 7, 2]);
  });

  it('VALID with a non-square kernel', async () => {
    const b = new GraphBuilder(3);
    b.input('x', [1, 7, 6, 3]);
    b.constF('w', [3, 2, 3, 5]);
    b.op('y', 'Conv2D', ['x', 'w'], convAttrs({ padding: 'VALID' }));
    const { report } = await checkParity(b.build(['y']), [1, 7, 6, 3]);
    assert.deepEqual(report.outputs[0].dims, [1, 5, 5, 5]);
  });

  it('SAME with dilation 2', async () => {
    const b = new GraphBuilder(4);
    b.input('x', [1, 10, 10, 2]);
    b.constF('w', [3, 3, 2, 4]);
    b.op('y', 'Conv2D', ['x', 'w'], convAttrs({ padding: 'SAME', dilation: 2 }));
    await checkParity(b.build(['y']), [1, 10, 10, 2]);
  });

  it('VALID with dilation 2 and stride 1', async () => {
    const b = new GraphBuilder(5);
    b.input('x', [1, 9, 9, 2]);
    b.constF('w', [2, 3, 2, 3]);
    b.op('y', 'Conv2D', ['x', 'w'], convAttrs({ padding: 'VALID', dilation: 2 }));
    await checkParity(b.build(['y']), [1, 9, 9, 2]);
  });

  it('EXPLICIT padding', async () => {
    const b = new GraphBuilder(6);
    b.input('x', [1, 6, 6, 2]);
    b.constF('w', [3, 3, 2, 3]);
    b.op('y', 'Conv2D', ['x', 'w'], convAttrs({ padding: 'EXPLICIT', stride: 2, explicit: [0, 0, 2, 1, 0, 3, 0, 0] }));
    await checkParity(b.build(['y']), [1, 6, 6, 2]);
  });
});

describe('convert: DepthwiseConv2dNative', () => {
  for (const m of [1, 2]) {
    it(`multiplier ${m}, SAME stride 2`, async () => {
      const b = new GraphBuilder(10 + m);
      b.input('x', [1, 8, 8, 3]);
      b.constF('w', [3, 3, 3, m]);
      b.op('y', 'DepthwiseConv2dNative', ['x', 'w'], convAttrs({ stride: 2, padding: 'SAME' }));
      const { report } = await checkParity(b.build(['y']), [1, 8, 8, 3]);
      assert.deepEqual(report.outputs[0].dims, [1, 4, 4, 3 * m]);
    });
  }

  it('multiplier 2, VALID, dilation 2, after a conv', async () => {
    const b = new GraphBuilder(13);
    b.input('x', [1, 11, 11, 2]);
    b.constF('w0', [1, 1, 2, 4]);
    b.op('c', 'Conv2D', ['x', 'w0'], convAttrs({ padding: 'VALID' }));
    b.constF('w', [3, 3, 4, 2]);
    b.op('y', 'DepthwiseConv2dNative', ['c', 'w'], convAttrs({ padding: 'VALID', dilation: 2 }));
    await checkParity(b.build(['y']), [1, 11, 11, 2]);
  });
});

describe('convert: fused convolutions', () => {
  const activations: [string[], number][] = [
    [['BiasAdd'], 1],
    [['BiasAdd', 'Relu'], 1],
    [['BiasAdd', 'Relu6'], 1],
    [['BiasAdd', 'Prelu'], 2],
    [['BiasAdd', 'Elu'], 1],
    [['BiasAdd', 'Sigmoid'], 1],
    [['BiasAdd', 'LeakyRelu'], 1],
  ];
  for (const op of ['_FusedConv2D', 'FusedDepthwiseConv2dNative']) {
    for (const [fused, numArgs] of activations) {
      it(`${op} with ${fused.join('+')}`, async () => {
        const b = new GraphBuilder(fused.length * 31 + numArgs);
        b.input('x', [1, 8, 8, 3]);
        const depthwise = op === 'FusedDepthwiseConv2dNative';
        const cout = depthwise ? 6 : 5;
        // Large weights so that Relu6 actually clips.
        b.constF('w', depthwise ? [3, 3, 3, 2] : [3, 3, 3, 5], Array.from({ length: depthwise ? 54 : 135 }, () => (b.r() - 0.5) * 8));
        b.constF('bias', [cout]);
        const ins = ['x', 'w', 'bias'];
        if (fused[1] === 'Prelu') ins.push(b.constF('alpha', [cout], Array.from({ length: cout }, (_, i) => 0.1 * (i + 1))));
        const attrs = fusedAttrs(fused, numArgs, convAttrs({ stride: 2, padding: 'SAME' }));
        if (fused[1] === 'LeakyRelu') attrs.leakyrelu_alpha = A.f(0.3);
        b.op('y', op, ins, attrs);
        let reference;
        if (depthwise && fused[1] === 'LeakyRelu') {
          // TF.js 4.22's cpu fusedDepthwiseConv2D drops leakyreluAlpha (negative outputs become NaN),
          // so the reference is the same computation unfused.
          const u = new GraphBuilder(fused.length * 31 + numArgs);
          u.input('x', [1, 8, 8, 3]);
          u.constF('w', [3, 3, 3, 2], Array.from({ length: 54 }, () => (u.r() - 0.5) * 8));
          u.constF('bias', [cout]);
          u.op('dw', 'DepthwiseConv2dNative', ['x', 'w'], convAttrs({ stride: 2, padding: 'SAME' }));
          u.op('ba', 'BiasAdd', ['dw', 'bias'], { data_format: A.s('NHWC') });
          u.op('y', 'LeakyRelu', ['ba'], { alpha: A.f(0.3) });
          reference = u.build(['y']);
        }
        const { report } = await checkParity(b.build(['y']), [1, 8, 8, 3], { reference });
        if (fused[1] === 'Relu6') assert.ok(report.outputs[0].maxAbsRef === 6, 'Relu6 test must reach the clip');
      });
    }
  }

  it('Prelu with a [1,1,C] alpha', async () => {
    const b = new GraphBuilder(40);
    b.input('x', [1, 6, 6, 2]);
    b.constF('w', [3, 3, 2, 4]);
    b.constF('bias', [4]);
    b.constF('alpha', [1, 1, 4], [0.1, 0.2, 0.3, 0.4]);
    b.op('y', '_FusedConv2D', ['x', 'w', 'bias', 'alpha'], fusedAttrs(['BiasAdd', 'Prelu'], 2, convAttrs({ padding: 'VALID' })));
    await checkParity(b.build(['y']), [1, 6, 6, 2]);
  });

  const quants: Quant[] = ['float16', 'uint8', 'uint16', 'uint16-scale-first'];
  for (const q of quants) {
    it(`${q}-quantized filter and bias`, async () => {
      const b = new GraphBuilder(50);
      b.input('x', [1, 7, 7, 3]);
      b.constF('w', [3, 3, 3, 4], undefined, q);
      b.constF('bias', [4], undefined, q);
      b.op('y', '_FusedConv2D', ['x', 'w', 'bias'], fusedAttrs(['BiasAdd', 'Relu'], 1, convAttrs({ stride: 2, padding: 'SAME' })));
      await checkParity(b.build(['y']), [1, 7, 7, 3]);
    });
  }

  it('a conv chain with a dynamic batch runs batched in ONNX', async () => {
    const b = new GraphBuilder(60);
    b.input('x', [-1, 8, 8, 2]);
    b.constF('w1', [3, 3, 2, 4]);
    b.constF('b1', [4]);
    b.op('c1', '_FusedConv2D', ['x', 'w1', 'b1'], fusedAttrs(['BiasAdd', 'Relu'], 1, convAttrs({ stride: 2 })));
    b.constF('w2', [3, 3, 4, 1]);
    b.op('y', 'DepthwiseConv2dNative', ['c1', 'w2'], convAttrs({}));
    const { result } = await checkParity(b.build(['y']), [3, 8, 8, 2]);
    assert.deepEqual(result.inputs, [{ name: 'x', shape: ['N', 8, 8, 2] }]);
  });
});
