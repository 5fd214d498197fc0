/**
 * The synthetic data of the scale benchmark (`bench/scale-bench.ts`): Gaussian clusters around random
 * centres, generated batch by batch from a seed so that no run ever holds every point at once, and the
 * brute-force top-k over a range of those points (run on worker threads by the benchmark, scored by the
 * engine's WebAssembly kernel).
 */
import { batchRowsMax, VectorStore } from "../src/index/vector-store.js";
import { seededRandom } from "../src/random.js";

/** The parameters that fix the data set: the same values give the same points and queries. */
export interface ScaleDataSpec {
  points: number;
  dimension: number;
  clusters: number;
  queryCount: number;
  seed: number;
}

/** The generators of one data set. */
export interface ScaleData {
  /** Points `start .. start+count-1`, row-major (`count × dimension` floats), the same every time. */
  batchVectors(start: number, count: number): Float32Array;
  /** The queries, row-major (`queryCount × dimension` floats), each near a random centre. */
  queries: Float32Array;
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** The generators for `spec` (cluster centres are N(0, 1) per coordinate; points spread 0.35 around them). */
export function scaleData(spec: ScaleDataSpec): ScaleData {
  const { dimension, clusters, seed, queryCount } = spec;
  const centresRandom = seededRandom(seed);
  const centres = Float32Array.from({ length: clusters * dimension }, () => gaussian(centresRandom));
  const near = (random: () => number, out: Float32Array, offset: number): void => {
    const centre = Math.floor(random() * clusters) * dimension;
    for (let d = 0; d < dimension; d++) out[offset + d] = centres[centre + d]! + 0.35 * gaussian(random);
  };
  const batchVectors = (start: number, count: number): Float32Array => {
    const random = seededRandom(seed * 1_000_003 + start + 17);
    const out = new Float32Array(count * dimension);
    for (let i = 0; i < count; i++) near(random, out, i * dimension);
    return out;
  };
  const queryRandom = seededRandom(seed + 99);
  const queries = new Float32Array(queryCount * dimension);
  for (let q = 0; q < queryCount; q++) near(queryRandom, queries, q * dimension);
  return { batchVectors, queries };
}

/** Per query, the `k` nearest ids (ascending squared euclidean distance) and their distances. */
export interface TopKs {
  ids: Int32Array; // queryCount × k, -1 where fewer than k points were seen
  distances: Float64Array; // queryCount × k, Infinity where fewer than k points were seen
}

/** An empty {@link TopKs} for `queryCount` queries. */
export function emptyTopKs(queryCount: number, k: number): TopKs {
  return { ids: new Int32Array(queryCount * k).fill(-1), distances: new Float64Array(queryCount * k).fill(Infinity) };
}

/** Offers `id` at `distance` to query `q`'s top-k (kept sorted by insertion). */
export function offer(top: TopKs, k: number, q: number, id: number, distance: number): void {
  const base = q * k;
  if (distance >= top.distances[base + k - 1]!) return;
  let i = k - 1;
  while (i > 0 && top.distances[base + i - 1]! > distance) {
    top.distances[base + i] = top.distances[base + i - 1]!;
    top.ids[base + i] = top.ids[base + i - 1]!;
    i--;
  }
  top.distances[base + i] = distance;
  top.ids[base + i] = id;
}

/**
 * Brute-force top-k of every query over points `from .. to-1` (batches aligned to `batchSize`, as the
 * benchmark generates them): `all` over every point, `kept` over the even ids only (the points left after
 * the benchmark deletes the odd ones).
 */
export function bruteForceRange(spec: ScaleDataSpec, k: number, batchSize: number, from: number, to: number): { all: TopKs; kept: TopKs } {
  const { dimension, queryCount } = spec;
  if (batchSize > batchRowsMax) throw new RangeError(`batchSize must be at most ${batchRowsMax}, got ${batchSize}`);
  const data = scaleData(spec);
  const { queries } = data;
  const all = emptyTopKs(queryCount, k);
  const kept = emptyTopKs(queryCount, k);
  // The engine's f32x4 kernel scores a batch of rows per call (squared L2, summed in float32).
  const store = new VectorStore(dimension, "euclidean", batchSize);
  const distances = store.batchDistances;
  for (let start = from; start < to; start += batchSize) {
    const count = Math.min(batchSize, to - start);
    const vectors = data.batchVectors(start, count);
    for (let i = 0; i < count; i++) store.write(i, vectors.subarray(i * dimension, (i + 1) * dimension));
    for (let q = 0; q < queryCount; q++) {
      store.setQuery(queries.subarray(q * dimension, (q + 1) * dimension));
      store.scoreRange(0, count);
      for (let i = 0; i < count; i++) {
        const sum = distances[i]!;
        offer(all, k, q, start + i, sum);
        if ((start + i) % 2 === 0) offer(kept, k, q, start + i, sum);
      }
    }
  }
  return { all, kept };
}
