import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Assigner, linearAssignment } from '../../../src/pipeline/track/assign.ts';
import { rng } from './synth.ts';

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const p of permutations(n - 1)) for (let k = 0; k <= p.length; k++) out.push([...p.slice(0, k), n - 1, ...p.slice(k)]);
  return out;
}

const total = (cost: number[][], r2c: number[]): number => r2c.reduce((s, c, r) => s + (c >= 0 ? cost[r][c] : 0), 0);

/** Gated objective: matched costs plus maxCost/2 for every unmatched row and column. */
function gatedTotal(cost: number[][], r2c: number[], maxCost: number): number {
  const rows = cost.length;
  const cols = cost[0].length;
  const matched = r2c.filter((c) => c >= 0).length;
  return total(cost, r2c) + ((rows - matched) + (cols - matched)) * (maxCost / 2);
}

/** Every partial injection rows → cols allowed by the gate (brute force). */
function bestGated(cost: number[][], maxCost: number): number {
  const rows = cost.length;
  const cols = cost[0].length;
  let best = Infinity;
  const used = new Array<boolean>(cols).fill(false);
  const r2c = new Array<number>(rows).fill(-1);
  const rec = (r: number): void => {
    if (r === rows) {
      best = Math.min(best, gatedTotal(cost, r2c, maxCost));
      return;
    }
    r2c[r] = -1;
    rec(r + 1);
    for (let c = 0; c < cols; c++) {
      if (used[c] || !(cost[r][c] <= maxCost)) continue;
      used[c] = true;
      r2c[r] = c;
      rec(r + 1);
      used[c] = false;
      r2c[r] = -1;
    }
  };
  rec(0);
  return best;
}

const randomMatrix = (rand: () => number, rows: number, cols: number): number[][] => Array.from({ length: rows }, () => Array.from({ length: cols }, () => rand()));

test('complete assignment is optimal on random 5×5 matrices (brute force over all 120 permutations)', () => {
  const rand = rng(1);
  const perms = permutations(5);
  for (let trial = 0; trial < 200; trial++) {
    const cost = randomMatrix(rand, 5, 5);
    const r2c = linearAssignment(cost);
    assert.deepEqual([...r2c].sort(), [0, 1, 2, 3, 4], 'a permutation');
    const best = Math.min(...perms.map((p) => total(cost, p)));
    assert.ok(Math.abs(total(cost, r2c) - best) < 1e-9, `trial ${trial}: ${total(cost, r2c)} vs ${best}`);
  }
});

test('rectangular matrices match min(rows, cols) pairs optimally, either orientation', () => {
  const rand = rng(2);
  for (let trial = 0; trial < 50; trial++) {
    const wide = randomMatrix(rand, 3, 5);
    const tall = wide[0].map((_, c) => wide.map((row) => row[c]));
    const w = linearAssignment(wide);
    const t = linearAssignment(tall);
    assert.equal(w.filter((c) => c >= 0).length, 3);
    assert.equal(t.filter((c) => c >= 0).length, 3);
    assert.ok(Math.abs(total(wide, w) - total(tall, t)) < 1e-9, 'same optimum transposed');
    const best = Math.min(...permutations(5).map((p) => p.slice(0, 3).reduce((s, c, r) => s + wide[r][c], 0)));
    assert.ok(Math.abs(total(wide, w) - best) < 1e-9);
  }
});

test('gated assignment is optimal against brute force over partial matchings', () => {
  const rand = rng(3);
  for (let trial = 0; trial < 200; trial++) {
    const rows = 1 + Math.floor(rand() * 5);
    const cols = 1 + Math.floor(rand() * 5);
    const cost = randomMatrix(rand, rows, cols);
    const maxCost = 0.2 + rand() * 0.6;
    const r2c = linearAssignment(cost, maxCost);
    for (let r = 0; r < rows; r++) if (r2c[r] >= 0) assert.ok(cost[r][r2c[r]] <= maxCost, 'respects the gate');
    assert.equal(new Set(r2c.filter((c) => c >= 0)).size, r2c.filter((c) => c >= 0).length, 'one-to-one');
    assert.ok(Math.abs(gatedTotal(cost, r2c, maxCost) - bestGated(cost, maxCost)) < 1e-9, `trial ${trial}`);
  }
});

test('gating prefers one good match over two mediocre ones, and never matches forbidden pairs', () => {
  // Track A fits detection a (IoU 0.9); the cross pairs only reach IoU 0.35; B-b is gated.
  const cost = [
    [0.1, 0.65],
    [0.65, Infinity],
  ];
  assert.deepEqual(linearAssignment(cost, 0.7), [0, -1]);
  // Without a gate the complete assignment must still avoid the forbidden entry when it can.
  assert.deepEqual(linearAssignment(cost), [1, 0]);
  assert.deepEqual(linearAssignment([[Infinity, Infinity]]), [-1]);
  assert.deepEqual(linearAssignment([], 0.5), []);
});

test('an Assigner reused across sizes gives the same answers', () => {
  const a = new Assigner();
  const out = new Int32Array(8);
  assert.equal(a.solve(Float64Array.from([0.9, 0.1, 0.1, 0.9]), 2, 2, Infinity, out), 2);
  assert.deepEqual(Array.from(out.subarray(0, 2)), [1, 0]);
  assert.equal(a.solve(Float64Array.from([0.5, 0.2, 0.3, 0.1, 0.44, 0.6]), 3, 2, 0.45, out), 2);
  assert.deepEqual(Array.from(out.subarray(0, 3)), [1, 0, -1]);
});
