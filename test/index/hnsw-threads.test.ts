import { afterAll, describe, expect, it } from "vitest";
import { MemoryCollection } from "../../src/collection/index.js";
import { defaultIndexing, defaultLimits } from "../../src/config.js";
import { FlatIndex, GraphBuilderPool, HnswIndex, VectorStore, type DistanceKind } from "../../src/index/index.js";
import { lowRank, rng } from "../helpers/random.js";

/** Clustered random vectors: `clusters` centres, points scattered around them. */
function clustered(count: number, dimension: number, clusters: number, seed: number): Float32Array[] {
  const random = rng(seed);
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dimension }, () => random() * 10 - 5));
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(random() * clusters)]!;
    return Float32Array.from(centre, (x) => x + (random() - 0.5) * 2);
  });
}

function recall<T>(found: ArrayLike<T>, expected: ArrayLike<T>): number {
  const truth = new Set(Array.from(expected));
  let hits = 0;
  for (let i = 0; i < found.length; i++) if (truth.has(found[i]!)) hits++;
  return hits / expected.length;
}

const pools: GraphBuilderPool[] = [];
function pool(threads: number): GraphBuilderPool {
  const made = new GraphBuilderPool(threads);
  pools.push(made);
  return made;
}
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

function graphOf(dimension: number, distance: DistanceKind, threadSlots: number, rows: number): HnswIndex {
  const store = new VectorStore(dimension, distance, { initialCapacity: rows, graph: { m: 16, efConstruction: 100, threadSlots } });
  return new HnswIndex({ store, m: 16, efConstruction: 100, seed: 7 });
}

describe("HNSW built on builder threads", () => {
  it.each(["euclidean", "cosine"] as const)("gives the same graph, byte for byte, on one builder thread as on this thread (%s)", async (distance) => {
    const vectors = clustered(3_000, 12, 25, 51);
    const local = graphOf(12, distance, 2, vectors.length);
    const threaded = graphOf(12, distance, 2, vectors.length);
    const channel = pool(1).attach(threaded);
    vectors.forEach((v, row) => {
      local.store.write(row, v);
      local.insert(row);
      threaded.store.write(row, v);
      threaded.prepare(row);
    });
    // Jobs of 100 ids, all in flight at once: one builder takes them in order.
    const jobs: Promise<void>[] = [];
    for (let start = 0; start < vectors.length; start += 100) {
      jobs.push(channel.link(Uint32Array.from({ length: Math.min(100, vectors.length - start) }, (_, i) => start + i)));
    }
    await Promise.all(jobs);
    for (let row = 0; row < vectors.length; row++) threaded.settle(row);
    threaded.checkIntegrity();
    expect(threaded.toBytes()).toEqual(local.toBytes());
  });

  it("links on two builders while this thread searches, then has an intact graph as good as one built here", async () => {
    const vectors = lowRank(12_000, 12, 4, 52);
    const graph = graphOf(12, "euclidean", 3, vectors.length);
    const local = graphOf(12, "euclidean", 1, vectors.length);
    const flat = new FlatIndex(12, "euclidean", vectors.length);
    const channel = pool(2).attach(graph);
    vectors.forEach((v, row) => {
      graph.store.write(row, v);
      graph.prepare(row);
      local.store.write(row, v);
      local.insert(row);
      flat.add(v);
    });
    const jobs: Promise<void>[] = [];
    for (let start = 0; start < vectors.length; start += 64) {
      jobs.push(channel.link(Uint32Array.from({ length: Math.min(64, vectors.length - start) }, (_, i) => start + i)));
    }
    let done = false;
    const all = Promise.all(jobs).then(() => (done = true));
    // Search meanwhile: hits ascend, and are rows that exist.
    const queries = lowRank(100, 12, 4, 53);
    let searches = 0;
    while (!done) {
      for (const q of queries.slice(0, 20)) {
        const found = graph.search(q, 10, 32);
        for (let i = 1; i < found.distances.length; i++) expect(found.distances[i]!).toBeGreaterThanOrEqual(found.distances[i - 1]!);
        for (const id of found.ids) expect(id).toBeLessThan(vectors.length);
        searches++;
      }
      // Let the builders' answers in.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await all;
    for (let row = 0; row < vectors.length; row++) graph.settle(row);
    expect(searches).toBeGreaterThan(0);
    graph.checkIntegrity();
    expect(graph.size).toBe(vectors.length);
    let threadedRecall = 0;
    let localRecall = 0;
    for (const q of queries) {
      const truth = flat.search(q, 10).slots;
      threadedRecall += recall(graph.search(q, 10, 64).ids, truth) / queries.length;
      localRecall += recall(local.search(q, 10, 64).ids, truth) / queries.length;
    }
    expect(localRecall).toBeGreaterThanOrEqual(0.95);
    expect(threadedRecall).toBeGreaterThanOrEqual(localRecall - 0.02);
  });

  it("pauses the builders so that the graph's bytes are consistent mid-build", async () => {
    const vectors = clustered(6_000, 8, 30, 54);
    const graph = graphOf(8, "euclidean", 3, vectors.length);
    const channel = pool(2).attach(graph);
    vectors.forEach((v, row) => {
      graph.store.write(row, v);
      graph.prepare(row);
    });
    const jobs: Promise<void>[] = [];
    for (let start = 0; start < vectors.length; start += 32) {
      jobs.push(channel.link(Uint32Array.from({ length: Math.min(32, vectors.length - start) }, (_, i) => start + i)));
    }
    let snapshots = 0;
    while (snapshots < 5) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const bytes = channel.paused(() => {
        graph.checkIntegrity();
        return graph.toBytes();
      });
      const rows = new Uint8Array(vectors.length * 8 * 4);
      graph.store.copyRowsOut(0, vectors.length, rows);
      const copy = new VectorStore(8, "euclidean", { graph: { m: 16, efConstruction: 100 } });
      copy.copyRowsIn(0, rows);
      HnswIndex.fromBytes(copy, bytes).checkIntegrity();
      snapshots++;
    }
    await Promise.all(jobs);
    graph.checkIntegrity();
  });
});

describe("MemoryCollection with builder threads", () => {
  it("agrees with a collection indexed on this thread, through upserts, deletes and slot reuse while linking", async () => {
    const builders = pool(2);
    const spec = { name: "churn", dimension: 16, distance: "cosine" as const, hnsw: { m: 16, efConstruction: 100, ef: 200 } };
    const threaded = new MemoryCollection(spec, defaultLimits, { ...defaultIndexing, fullScanPointsMax: 100, builders });
    const local = new MemoryCollection(spec, defaultLimits, { ...defaultIndexing, fullScanPointsMax: 100, indexThreads: 0 });
    const vectors = lowRank(8_000, 16, 5, 55);
    const random = rng(56);
    let next = 0;
    const write = (collection: MemoryCollection, points: { id: string; vector: Float32Array }[]) => collection.upsert(points);
    for (let round = 0; round < 8; round++) {
      const points = Array.from({ length: 800 }, () => ({ id: `p${next}`, vector: vectors[next++ % vectors.length]! }));
      write(threaded, points);
      write(local, points);
      // Overwrite some vectors and delete some points while the builders link the batch.
      const rewritten = Array.from({ length: 50 }, () => {
        const id = Math.floor(random() * next);
        return { id: `p${id}`, vector: vectors[(id * 7 + round) % vectors.length]! };
      });
      const unique = [...new Map(rewritten.map((p) => [p.id, p])).values()];
      write(threaded, unique);
      write(local, unique);
      const doomed = Array.from({ length: 120 }, () => `p${Math.floor(random() * next)}`);
      threaded.deleteIds(doomed);
      local.deleteIds(doomed);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await threaded.whenIndexed();
    while (local.indexStep(1_000));
    threaded.checkIntegrity();
    local.checkIntegrity();
    expect(threaded.stats().pointCount).toBe(local.stats().pointCount);
    expect(threaded.stats().indexedPointCount).toBe(threaded.stats().pointCount);
    // Both graphs are approximate: compare each with the exact answer rather than with each other.
    let threadedRecall = 0;
    let localRecall = 0;
    const queries = lowRank(100, 16, 5, 57);
    const search = (collection: MemoryCollection, vector: Float32Array, exact: boolean) =>
      collection.search({ vector, k: 10, exact, withPayload: false, withVector: false }).map((hit) => hit.id);
    for (const vector of queries) {
      const exact = search(local, vector, true);
      threadedRecall += recall(search(threaded, vector, false), exact) / queries.length;
      localRecall += recall(search(local, vector, false), exact) / queries.length;
    }
    expect(localRecall).toBeGreaterThanOrEqual(0.95);
    expect(threadedRecall).toBeGreaterThanOrEqual(localRecall - 0.02);
    threaded.close();
    local.close();
  });
});

describe("BatchSearch on the builder threads", () => {
  it.each([false, true])("answers as the searches on this thread do (quantized: %s), filtered queries included, and drops nothing deleted meanwhile", async (quantized) => {
    const builders = pool(2);
    const spec = {
      name: "batch",
      dimension: 16,
      distance: "euclidean" as const,
      hnsw: { m: 16, efConstruction: 100, ef: 64 },
      quantization: quantized ? { type: "int8" as const, quantile: 0.99, alwaysRam: false } : undefined,
    };
    const c = new MemoryCollection(spec, defaultLimits, { ...defaultIndexing, fullScanPointsMax: 100, builders });
    c.upsert(lowRank(5_000, 16, 5, 61).map((vector, i) => ({ id: `p${i}`, vector, payload: { even: i % 2 === 0 } })));
    await c.whenIndexed();
    const queries = lowRank(40, 16, 5, 62).map((vector, i) => ({
      vector,
      k: 10,
      exact: false,
      withPayload: false,
      withVector: false,
      filter: i % 10 === 0 ? { must: [{ kind: "equals" as const, path: ["even"], value: true }], should: [], mustNot: [] } : undefined,
    }));
    const sequential = queries.map((q) => c.search(q));
    expect(await c.searchBatch(queries, (i) => `queries[${i}]`)).toEqual(sequential);
    // Deletes while the builders search: their answers never name a deleted point (the filtered
    // queries ran on this thread when the batch was called, before the deletes).
    const doomed = new Set(sequential.flatMap((hits) => hits.slice(0, 3).map((hit) => hit.id)));
    const pending = c.searchBatch(queries, (i) => `queries[${i}]`);
    c.deleteIds([...doomed]);
    (await pending).forEach((hits, i) => {
      if (queries[i]!.filter === undefined) for (const hit of hits) expect(doomed.has(hit.id)).toBe(false);
    });
    await expect(c.searchBatch([...queries, { ...queries[0]!, vector: new Float32Array(3) }], (i) => `queries[${i}]`)).rejects.toThrow(
      "queries[40].vector: has 3 components, the collection's dimension is 16",
    );
    c.close();
  });
});
