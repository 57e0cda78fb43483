/** The project's seeded PRNG (src/core/rng.ts), under the name the tests use. */
export { seededRandom as rng } from '../../src/core/rng.ts';
