// The tests' seeded generator is the project's one (mulberry32).
import { seededRandom } from "../../src/random.js";

export { seededRandom as rng };


/**
 * Vectors near a `rank`-dimensional subspace of `dimension`-d space (a random linear map of uniform
 * latent points, plus a little noise): data with a low intrinsic dimension, like real embeddings, on
 * which a small graph reaches a high recall.
 */
export function lowRank(count: number, dimension: number, rank: number, seed: number): Float32Array[] {
  const random = seededRandom(seed);
  const basis = Array.from({ length: rank }, () => Float32Array.from({ length: dimension }, () => random() * 2 - 1));
  return Array.from({ length: count }, () => {
    const vector = Float32Array.from({ length: dimension }, () => (random() - 0.5) * 0.02);
    for (const axis of basis) {
      const weight = random() * 4 - 2;
      for (let i = 0; i < dimension; i++) vector[i]! += weight * axis[i]!;
    }
    return vector;
  });
}

