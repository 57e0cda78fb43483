import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { A, GraphBuilder, checkParity, convAttrs, fusedAttrs } from './harness.js';

/** x → Conv2D (so the value is channels-first in ONNX) → `build(conv)` */
function afterConv(seed: number, cout: number, build: (b: GraphBuilder, c: string) => string): ReturnType<GraphBuilder['build']> {
  const b = new GraphBuilder(seed);
  b.input('x', [1, 5, 6, 2]);
  b.constF('w', [3, 3, 2, cout]);
  const c = b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
  return b.build([build(b, c)]);
}

describe('convert: element-wise with broadcast constants', () => {
  const cases: [string, (b: GraphBuilder) => string, boolean][] = [
    ['Add per-channel [C]', (b) => b.constF('k', [4]), false],
    ['Mul per-channel [1,1,1,C]', (b) => b.constF('k', [1, 1, 1, 4]), false],
    ['AddV2 full [1,H,W,C]', (b) => b.constF('k', [1, 5, 6, 4]), false],
    ['Sub with the constant first, [1,1,C]', (b) => b.constF('k', [1, 1, 4]), true],
    ['RealDiv by a per-channel constant', (b) => b.constF('k', [4], [1.5, -2, 3, 0.5]), false],
    ['Maximum with a scalar', (b) => b.constF('k', [], [0.1]), false],
    ['Minimum with a scalar', (b) => b.constF('k', [], [0.2]), true],
    ['Mul by a [H,1,1] constant (broadcast over rows)', (b) => b.constF('k', [5, 1, 1]), false],
  ];
  const ops = ['Add', 'Mul', 'AddV2', 'Sub', 'RealDiv', 'Maximum', 'Minimum', 'Mul'];
  cases.forEach(([title, mk, constFirst], i) => {
    it(title, async () => {
      const a = afterConv(100 + i, 4, (b, c) => {
        const k = mk(b);
        return b.op('y', ops[i], constFirst ? [k, c] : [c, k]);
      });
      await checkParity(a, [1, 5, 6, 2]);
    });
  });

  it('BiasAdd, then a batch-norm style Mul + Add (as in gear/faceres)', async () => {
    const a = afterConv(120, 3, (b, c) => {
      b.constF('bias', [3]);
      b.op('ba', 'BiasAdd', [c, 'bias'], { data_format: A.s('NHWC') });
      b.constF('scale', [3]);
      b.constF('offset', [3]);
      b.op('m', 'Mul', ['ba', 'scale']);
      return b.op('y', 'Add', ['m', 'offset']);
    });
    await checkParity(a, [1, 5, 6, 2]);
  });

  it('relu6 written as Relu → Minimum(6) → Maximum(0) (as in faceres)', async () => {
    const a = afterConv(121, 3, (b, c) => {
      b.op('r', 'Relu', [c]);
      b.constF('six', [], [6]);
      b.constF('zero', [], [0]);
      b.op('mn', 'Minimum', ['r', 'six']);
      return b.op('y', 'Maximum', ['mn', 'zero']);
    });
    await checkParity(a, [1, 5, 6, 2], { range: [-8, 8] });
  });

  it('Add of a channels-first tensor and a TF-layout one (conv output + input)', async () => {
    const a = afterConv(122, 2, (b, c) => b.op('y', 'AddV2', [c, 'x']));
    await checkParity(a, [1, 5, 6, 2]);
  });

  it('Mul of the raw input by a per-channel constant stays in TF layout', async () => {
    const b = new GraphBuilder(123);
    b.input('x', [1, 4, 4, 3]);
    b.constF('k', [3]);
    b.op('y', 'Mul', ['x', 'k']);
    const { result } = await checkParity(b.build(['y']), [1, 4, 4, 3]);
    assert.equal(result.onnxOpCounts.Transpose ?? 0, 0);
  });
});

describe('convert: activations', () => {
  for (const op of ['Relu', 'Relu6', 'Elu', 'Sigmoid', 'Tanh', 'LeakyRelu']) {
    it(`${op} after a conv`, async () => {
      const a = afterConv(130, 3, (b, c) => b.op('y', op, [c], op === 'LeakyRelu' ? { alpha: A.f(0.1) } : {}));
      await checkParity(a, [1, 5, 6, 2], { range: [-6, 6] });
    });
  }

  it('Prelu with a per-channel alpha', async () => {
    const a = afterConv(131, 3, (b, c) => {
      b.constF('alpha', [3], [0.1, 0.25, 0.5]);
      return b.op('y', 'Prelu', [c, 'alpha']);
    });
    await checkParity(a, [1, 5, 6, 2]);
  });
});

describe('convert: MatMul and _FusedMatMul', () => {
  for (const [ta, tb] of [
    [false, false],
    [false, true],
    [true, false],
  ] as const) {
    it(`MatMul transpose_a=${ta} transpose_b=${tb}`, async () => {
      const b = new GraphBuilder(140);
      b.input('x', ta ? [6, 3] : [3, 6]);
      b.constF('w', tb ? [4, 6] : [6, 4]);
      b.op('y', 'MatMul', ['x', 'w'], { transpose_a: A.b(ta), transpose_b: A.b(tb) });
      await checkParity(b.build(['y']), ta ? [6, 3] : [3, 6], { convert: { dynamicBatch: false } });
    });
  }

  for (const [fused, n] of [
    [['BiasAdd'], 1],
    [['BiasAdd', 'Relu'], 1],
    [['BiasAdd', 'Relu6'], 1],
    [['BiasAdd', 'Prelu'], 2],
  ] as const) {
    it(`_FusedMatMul with ${fused.join('+')} after global pooling, then Softmax`, async () => {
      const b = new GraphBuilder(150);
      b.input('x', [-1, 6, 6, 3]);
      b.constF('w', [3, 3, 3, 8]);
      b.op('c', 'Conv2D', ['x', 'w'], convAttrs({ stride: 2 }));
      b.constI('axes', [2], [1, 2]);
      b.op('g', 'Max', ['c', 'axes'], { keep_dims: A.b(false) });
      b.constF('fw', [8, 5], Array.from({ length: 40 }, () => (b.r() - 0.5) * 20));
      b.constF('fb', [5]);
      const ins = ['g', 'fw', 'fb'];
      if (fused[1] === 'Prelu') ins.push(b.constF('alpha', [5], [0.1, 0.2, 0.3, 0.4, 0.5]));
      b.op('d', '_FusedMatMul', ins, fusedAttrs([...fused], n, { transpose_a: A.b(false), transpose_b: A.b(false) }));
      b.op('y', 'Softmax', ['d']);
      const { report } = await checkParity(b.build(['d', 'y']), [2, 6, 6, 3], { range: [-2, 2] });
      assert.equal(report.outputs[1].argmaxAgreement, 1);
    });
  }
});
