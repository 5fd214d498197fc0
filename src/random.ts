/**
 * The one seeded pseudo-random generator of the project (mulberry32), for whatever must be
 * reproducible: the search planner's sample, benchmark data, the tests and the crash harness. Not for
 * anything secret.
 */

/** Deterministic pseudo-random numbers, uniform in [0, 1), from a 32-bit seed (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed derived from a seed and a stream number (a round, a worker), well mixed (murmur3 finaliser). */
export function deriveSeed(seed: number, stream: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
