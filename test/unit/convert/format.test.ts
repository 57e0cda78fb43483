import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelError } from '../../../src/core/errors.js';
import { convertTfjsGraph, decodeFloat16, loadTfjsArtifacts, supportedOps } from '../../../src/models/convert/index.js';
import { ProtoWriter } from '../../../src/models/convert/protobuf.js';
import { A, GraphBuilder, b64, checkParity, convAttrs, fusedAttrs } from './harness.js';

function expectModelError(fn: () => unknown, code: string, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ModelError, `expected ModelError, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
    return true;
  });
}

describe('convert: errors', () => {
  it('an unsupported op names the op and the node', () => {
    const b = new GraphBuilder();
    b.input('x', [1, 4, 4, 3]);
    b.op('block/odd_op', 'Cumprod', ['x']);
    expectModelError(() => convertTfjsGraph(b.build(['block/odd_op'])), 'E_MODEL_UNSUPPORTED_OP', '"Cumprod"', '"block/odd_op"');
  });

  it('unsupported ops the outputs do not depend on are ignored (TF.js never runs them either)', async () => {
    const b = new GraphBuilder();
    b.input('x', [1, 4, 4, 3]);
    b.op('dead', 'Cumprod', ['x']);
    b.op('y', 'Relu', ['x']);
    await checkParity(b.build(['y']), [1, 4, 4, 3]);
  });

  it('fused_ops outside [BiasAdd, activation] are refused', () => {
    const b = new GraphBuilder();
    b.input('x', [1, 4, 4, 3]);
    b.constF('w', [1, 1, 3, 2]);
    b.constF('s', [2]);
    b.op('y', '_FusedConv2D', ['x', 'w', 's'], fusedAttrs(['FusedBatchNorm', 'Relu'], 1, convAttrs({})));
    expectModelError(() => convertTfjsGraph(b.build(['y'])), 'E_MODEL_UNSUPPORTED_OP', 'FusedBatchNorm', '"y"');
  });

  it('MirrorPad SYMMETRIC is refused', () => {
    const b = new GraphBuilder();
    b.input('x', [1, 4, 4, 3]);
    b.constI('p', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0]);
    b.op('y', 'MirrorPad', ['x', 'p'], { mode: A.s('SYMMETRIC') });
    expectModelError(() => convertTfjsGraph(b.build(['y'])), 'E_MODEL_UNSUPPORTED_OP', 'SYMMETRIC');
  });

  it('a Const without a value is a format error naming the node', () => {
    const b = new GraphBuilder();
    b.input('x', [1, 4]);
    b.nodes.push({ name: 'ghost', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' } } });
    b.op('y', 'Add', ['x', 'ghost']);
    expectModelError(() => convertTfjsGraph(b.build(['y'])), 'E_MODEL_FORMAT', '"ghost"');
  });

  it('too few weight bytes is a format error naming the weight', () => {
    const b = new GraphBuilder();
    b.input('x', [1, 4]);
    b.constF('k1', [4]);
    b.constF('k2', [4]);
    b.op('a', 'Add', ['x', 'k1']);
    b.op('y', 'Add', ['a', 'k2']);
    const art = b.build(['y']);
    expectModelError(() => convertTfjsGraph({ ...art, weightData: art.weightData.subarray(0, 20) }), 'E_MODEL_FORMAT', '"k2"');
    const longer = new Uint8Array(art.weightData.byteLength + 4);
    longer.set(art.weightData);
    expectModelError(() => convertTfjsGraph({ ...art, weightData: longer }), 'E_MODEL_FORMAT', '36 bytes', '32 bytes');
  });

  it('unknown dtypes and quantization dtypes are format errors', () => {
    const b = new GraphBuilder();
    b.input('x', [1, 2]);
    b.constF('k', [2]);
    b.op('y', 'Add', ['x', 'k']);
    const art = b.build(['y']);
    const badDtype = structuredClone(art.modelJson);
    Object.assign(badDtype.weightsManifest[0].weights[0], { dtype: 'float64' });
    expectModelError(() => convertTfjsGraph({ ...art, modelJson: badDtype }), 'E_MODEL_FORMAT', '"k"', 'float64');
    const badQuant = structuredClone(art.modelJson);
    Object.assign(badQuant.weightsManifest[0].weights[0], { quantization: { dtype: 'int4' } });
    expectModelError(() => convertTfjsGraph({ ...art, modelJson: badQuant }), 'E_MODEL_FORMAT', '"k"', 'int4');
    const noMin = structuredClone(art.modelJson);
    Object.assign(noMin.weightsManifest[0].weights[0], { quantization: { dtype: 'uint8', scale: 0.1 } });
    expectModelError(() => convertTfjsGraph({ ...art, modelJson: noMin }), 'E_MODEL_FORMAT', '"k"', 'min');
  });

  it('while-loop cycles are unsupported control flow; other cycles are format errors', () => {
    const b = new GraphBuilder();
    b.input('x', [1, 2]);
    b.op('merge', 'Merge', ['x', 'next']);
    b.op('body', 'Relu', ['merge']);
    b.op('next', 'NextIteration', ['body']);
    b.op('y', 'Identity', ['body']);
    expectModelError(() => convertTfjsGraph(b.build(['y'])), 'E_MODEL_UNSUPPORTED_OP', 'control flow');
    const c = new GraphBuilder();
    c.input('x', [1, 2]);
    c.op('p', 'Add', ['x', 'q']);
    c.op('q', 'Relu', ['p']);
    expectModelError(() => convertTfjsGraph(c.build(['q'])), 'E_MODEL_FORMAT', 'cycle');
  });

  it('a model.json that is not a graph model is rejected', () => {
    expectModelError(() => convertTfjsGraph({ modelJson: JSON.parse('{"modelTopology":{}}'), weightData: new Uint8Array() }), 'E_MODEL_FORMAT', 'modelTopology');
  });
});

describe('convert: constants, names and signatures', () => {
  it('inline Const values (floatVal, tensorContent, intVal) are used', async () => {
    const make = (inline: boolean): ReturnType<GraphBuilder['build']> => {
      const b = new GraphBuilder(5);
      b.input('x', [1, 3, 3, 2]);
      const w = [0.5, -1, 2, 0.25, -0.75, 1.5, 1, 0.1];
      if (inline) {
        b.nodes.push({
          name: 'w',
          op: 'Const',
          attr: {
            dtype: { type: 'DT_FLOAT' },
            value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [1, 1, 2, 4].map((s) => ({ size: String(s) })) }, tensorContent: Buffer.from(Float32Array.from(w).buffer).toString('base64') } },
          },
        });
        b.nodes.push({ name: 'k', op: 'Const', attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '4' }] }, floatVal: [0.5, 1, 1.5, 2] } } } });
        b.nodes.push({ name: 'axes', op: 'Const', attr: { value: { tensor: { dtype: 'DT_INT32', tensorShape: { dim: [{ size: '2' }] }, intVal: [1, 2] } } } });
      } else {
        b.constF('w', [1, 1, 2, 4], w);
        b.constF('k', [4], [0.5, 1, 1.5, 2]);
        b.constI('axes', [2], [1, 2]);
      }
      b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
      b.op('m', 'Mul', ['c', 'k']);
      b.op('y', 'Mean', ['m', 'axes'], { keep_dims: A.b(false) });
      return b.build(['y']);
    };
    // TF.js cannot read inline values, so it runs the manifest twin.
    await checkParity(make(true), [1, 3, 3, 2], { reference: make(false) });
  });

  it('outputs follow the signature order, drop ":0", and prefer userDefinedMetadata.signature', () => {
    const b = new GraphBuilder();
    b.input('x', [1, 2]);
    b.op('scope/a', 'Relu', ['x']);
    b.op('scope/b', 'Sigmoid', ['x']);
    b.op('Identity_1', 'Identity', ['scope/a']);
    const art = b.build(['scope/b', 'Identity_1'], 'userDefinedMetadata');
    // A stale top-level signature must lose against userDefinedMetadata, as in TF.js.
    art.modelJson.signature = { outputs: { 'scope/a:0': { name: 'scope/a:0' } } };
    const r = convertTfjsGraph(art);
    assert.deepEqual(r.outputs.map((o) => o.name), ['scope/b', 'Identity_1']);
    assert.deepEqual(r.inputs, [{ name: 'x', shape: ['N', 2] }]);
  });

  it('without a signature the sink nodes are the outputs', () => {
    const b = new GraphBuilder();
    b.input('x', [1, 2]);
    b.op('r', 'Relu', ['x']);
    b.op('s', 'Sigmoid', ['r']);
    b.op('t', 'Tanh', ['x']);
    const r = convertTfjsGraph(b.build([], 'none'));
    assert.deepEqual(r.outputs.map((o) => o.name), ['s', 't']);
    assert.deepEqual(r.opCounts, { Placeholder: 1, Relu: 1, Sigmoid: 1, Tanh: 1 });
  });

  it('one tensor exported under two names, and an input passed straight through', async () => {
    const b = new GraphBuilder();
    b.input('x', [1, 3, 3, 2]);
    b.constF('w', [1, 1, 2, 2]);
    b.op('c', 'Conv2D', ['x', 'w'], convAttrs({}));
    b.op('Identity', 'Identity', ['c']);
    b.op('Identity_1', 'Identity', ['c']);
    b.op('Identity_2', 'Identity', ['x']);
    await checkParity(b.build(['Identity', 'Identity_1', 'Identity_2']), [1, 3, 3, 2]);
  });

  it('supportedOps lists what the real models need', () => {
    const ops = supportedOps();
    for (const op of ['_FusedConv2D', 'DepthwiseConv2dNative', 'AddV2', 'Relu', 'MaxPool', 'Pad', 'Reshape', 'Identity', 'Mean', 'Softmax', 'Conv2D', 'Add', 'Minimum', 'Maximum', 'Mul', '_FusedMatMul', 'Sigmoid', 'Max']) {
      assert.ok(ops.includes(op), op);
    }
  });
});

describe('convert: loading from disk', () => {
  it('concatenates shards in manifest order; missing files are E_MODEL_SOURCE_MISSING', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'facecast-conv-'));
    try {
      const b = new GraphBuilder(9);
      b.input('x', [1, 4]);
      b.constF('k1', [4]);
      b.constF('k2', [4]);
      b.op('a', 'Add', ['x', 'k1']);
      b.op('y', 'Mul', ['a', 'k2']);
      const art = b.build(['y']);
      const json = structuredClone(art.modelJson);
      json.weightsManifest[0].paths = ['part%201.bin', 'part2.bin'];
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      await writeFile(join(dir, 'part 1.bin'), art.weightData.subarray(0, 12));
      await writeFile(join(dir, 'part2.bin'), art.weightData.subarray(12));
      const loaded = await loadTfjsArtifacts(join(dir, 'model.json'));
      assert.deepEqual(Array.from(loaded.weightData), Array.from(art.weightData));
      await checkParity(loaded, [1, 4]);

      await rm(join(dir, 'part2.bin'));
      await assert.rejects(loadTfjsArtifacts(join(dir, 'model.json')), (e: unknown) => e instanceof ModelError && e.code === 'E_MODEL_SOURCE_MISSING' && e.message.includes('part2.bin'));
      await assert.rejects(loadTfjsArtifacts(join(dir, 'nope.json')), (e: unknown) => e instanceof ModelError && e.code === 'E_MODEL_SOURCE_MISSING');
      await writeFile(join(dir, 'bad.json'), '{ not json');
      await assert.rejects(loadTfjsArtifacts(join(dir, 'bad.json')), (e: unknown) => e instanceof ModelError && e.code === 'E_MODEL_FORMAT');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('convert: wire format', () => {
  it('varints, negative int64, floats and nested messages', () => {
    assert.deepEqual(Array.from(new ProtoWriter().varint(1).finish()), [1]);
    assert.deepEqual(Array.from(new ProtoWriter().varint(300).finish()), [0xac, 0x02]);
    assert.deepEqual(Array.from(new ProtoWriter().varint(2 ** 35).finish()), [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert.deepEqual(Array.from(new ProtoWriter().varint(-1).finish()), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.deepEqual(Array.from(new ProtoWriter().int(3, -2).finish()), [0x18, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.deepEqual(Array.from(new ProtoWriter().float(2, 1).finish()), [0x15, 0, 0, 0x80, 0x3f]);
    const inner = new ProtoWriter().string(1, 'ab');
    assert.deepEqual(Array.from(new ProtoWriter().message(7, inner).finish()), [0x3a, 4, 0x0a, 2, 0x61, 0x62]);
    assert.deepEqual(Array.from(new ProtoWriter().packedInts(1, [1, 300]).finish()), [0x0a, 3, 1, 0xac, 0x02]);
    const big = new Uint8Array(1000).fill(7);
    const out = new ProtoWriter().string(1, 'x').bytes(9, big).int(2, 5).finish();
    assert.equal(out.length, 3 + 3 + 1000 + 2);
    assert.deepEqual(Array.from(out.subarray(3, 6)), [0x4a, 0xe8, 0x07]);
    assert.equal(out[6 + 999], 7);
    assert.deepEqual(Array.from(out.subarray(1006)), [0x10, 5]);
  });

  it('float16 decoding is exact, including subnormals and infinities', () => {
    const h = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x3555]);
    const f = decodeFloat16(h);
    assert.deepEqual(Array.from(f.subarray(0, 3)), [1, -2, 65504]);
    assert.equal(f[3], 2 ** -24);
    assert.equal(f[4], 2 ** -14);
    assert.equal(f[5], Infinity);
    assert.equal(f[6], -Infinity);
    assert.ok(Object.is(f[7], 0) && Object.is(f[8], -0));
    assert.equal(f[9], Math.fround(0.333251953125));
    assert.ok(Number.isNaN(decodeFloat16(Uint16Array.of(0x7e00))[0]));
  });

  it('base64 attribute helper matches the model.json encoding', () => {
    assert.equal(b64('SAME'), 'U0FNRQ==');
  });
});
