/** mulberry32: a small seeded PRNG, uniform in [0, 1), so seeded runs (scene eval, randomised tests) reproduce. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Fills `out` with xorshift32 values uniform in [lo, hi], seeded: the reproducible random inputs of the model
 * parity checks (`facecast models verify`, the face-api parity test). Its own generator rather than
 * seededRandom, so that the parity figures recorded with it stay reproducible.
 */
export function fillUniform(out: Float32Array, lo: number, hi: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = lo + ((s >>> 0) / 0xffffffff) * (hi - lo);
  }
  return out;
}
