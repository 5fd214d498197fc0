import { describe, expect, it } from "vitest";
import { MemoryCollection, type Filter, type PointInput } from "../src/collection/index.js";
import { defaultIndexing, defaultLimits, type IndexingConfig } from "../src/config.js";
import type { DistanceKind } from "../src/index/index.js";
import { rng } from "./helpers/random.js";

/**
 * Clustered points of low intrinsic dimension, like real embeddings: 40 cluster centres, each point a
 * centre plus a 6-d latent offset mapped into `dimension` components by a fixed random projection,
 * plus a little noise. Payload `bucket = i mod 100`, so `bucket < p` matches p % of the points.
 */
function clusteredPoints(count: number, dimension: number, seed: number, prefix = "p"): PointInput[] {
  const layout = rng(dimension);
  const clusters = 40;
  const latent = 6;
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dimension }, () => layout() * 20 - 10));
  const projection = Array.from({ length: latent }, () => Float32Array.from({ length: dimension }, () => layout() * 2 - 1));
  const random = rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const vector = Float32Array.from(centres[Math.floor(random() * clusters)]!);
    for (const axis of projection) {
      const weight = (random() - 0.5) * 4;
      for (let j = 0; j < dimension; j++) vector[j] = vector[j]! + weight * axis[j]!;
    }
    for (let j = 0; j < dimension; j++) vector[j] = vector[j]! + (random() - 0.5) * 0.2;
    return { id: `${prefix}${i}`, vector, payload: { bucket: i % 100 } };
  });
}

function collection(distance: DistanceKind, dimension: number, indexing: Partial<IndexingConfig> = {}): MemoryCollection {
  return new MemoryCollection(
    { name: "t", dimension, distance, hnsw: { m: 16, efConstruction: 100, ef: 64 } },
    defaultLimits,
    { ...defaultIndexing, ...indexing },
  );
}

function indexAll(c: MemoryCollection): void {
  while (c.indexStep(1_000));
}

/** Mean recall@k of the default search against `exact: true`, over `queries`. */
function recallAgainstExact(c: MemoryCollection, queries: Float32Array[], k: number, filter?: Filter): number {
  let found = 0;
  let expected = 0;
  for (const vector of queries) {
    const base = { vector, k, filter, withPayload: false, withVector: false };
    const truth = c.search({ ...base, exact: true });
    const approx = c.search({ ...base, exact: false });
    const ids = new Set(truth.map((h) => h.id));
    expected += truth.length;
    for (const hit of approx) if (ids.has(hit.id)) found++;
  }
  return found / expected;
}

const queriesOf = (seed: number, count: number, dimension: number): Float32Array[] => clusteredPoints(count, dimension, seed).map((p) => p.vector);

describe("Collection with HNSW", () => {
  it("starts small: an empty collection of dimension 65,536 holds a few MiB, and grows on demand", () => {
    const c = collection("cosine", 65_536);
    expect(c.memoryBytes()).toBeLessThan(4 * 1024 * 1024);
    c.upsert(clusteredPoints(20, 65_536, 1));
    expect(c.size).toBe(20);
    expect(c.memoryBytes()).toBeGreaterThan(20 * 65_536 * 4);
  });

  it("agrees with exact search on a small collection when ef covers every point", () => {
    const c = collection("euclidean", 12, { fullScanPointsMax: 0 });
    c.upsert(clusteredPoints(400, 12, 1));
    indexAll(c);
    c.checkIntegrity();
    for (const vector of queriesOf(2, 20, 12)) {
      const exact = c.search({ vector, k: 10, exact: true, withPayload: false, withVector: false });
      expect(c.lastPlan).toBe("exact");
      const graph = c.search({ vector, k: 10, ef: 400, exact: false, withPayload: false, withVector: false });
      expect(c.lastPlan).toBe("graph");
      expect(graph.map((h) => h.id)).toEqual(exact.map((h) => h.id));
      graph.forEach((h, i) => expect(h.score).toBeCloseTo(exact[i]!.score, 4));
    }
  });

  it.each(["euclidean", "cosine"] as const)("keeps recall@10 >= 0.95 after deleting 20%% and re-inserting, and reuses the freed slots (%s)", (distance) => {
    const c = collection(distance, 32);
    const points = clusteredPoints(12_000, 32, 3);
    c.upsert(points);
    indexAll(c);
    c.checkIntegrity();
    const queries = queriesOf(4, 100, 32);
    expect(recallAgainstExact(c, queries, 10)).toBeGreaterThanOrEqual(0.95);
    expect(c.lastPlan).toBe("graph");
    const memoryBefore = c.memoryBytes();

    const doomed = points.filter((_, i) => i % 5 === 0).map((p) => p.id);
    expect(c.deleteIds(doomed)).toBe(2_400);
    for (const hit of c.search({ vector: queries[0]!, k: 50, exact: false, withPayload: false, withVector: false })) {
      expect(Number(hit.id.slice(1)) % 5).not.toBe(0);
    }
    expect(recallAgainstExact(c, queries, 10)).toBeGreaterThanOrEqual(0.95);
    c.checkIntegrity();

    // Re-insert under new ids: they take the freed slots, so memory does not grow.
    c.upsert(clusteredPoints(2_400, 32, 5, "again"));
    indexAll(c);
    c.checkIntegrity();
    expect(c.size).toBe(12_000);
    expect(c.memoryBytes()).toBeLessThanOrEqual(memoryBefore * 1.05);
    expect(recallAgainstExact(c, queries, 10)).toBeGreaterThanOrEqual(0.95);
  });

  it("stays bounded under a delete-heavy workload (10 rounds of deleting and inserting 20%)", () => {
    const c = collection("euclidean", 16);
    c.upsert(clusteredPoints(8_000, 16, 6));
    indexAll(c);
    const peak = c.memoryBytes();
    for (let round = 0; round < 10; round++) {
      const ids = Array.from({ length: 1_600 }, (_, i) => (round === 0 ? `p${i * 5}` : `r${round - 1}-${i}`));
      expect(c.deleteIds(ids)).toBe(1_600);
      c.upsert(clusteredPoints(1_600, 16, 100 + round, `r${round}-`));
      indexAll(c);
    }
    c.checkIntegrity();
    expect(c.size).toBe(8_000);
    expect(c.memoryBytes()).toBeLessThanOrEqual(peak * 1.05);
    expect(recallAgainstExact(c, queriesOf(7, 50, 16), 10)).toBeGreaterThanOrEqual(0.95);
  });

  it("replaces a vector on upsert of an existing id", () => {
    const c = collection("euclidean", 16);
    const points = clusteredPoints(8_000, 16, 8);
    c.upsert(points);
    indexAll(c);
    const moved = points.slice(0, 500).map((p, i) => ({ id: p.id, vector: Float32Array.from(p.vector, (x) => x + 40 + i * 0.01), payload: { moved: true } }));
    expect(c.upsert(moved)).toEqual({ inserted: 0, updated: 500 });
    // Searchable at once (pending points are scored exactly) and after linking.
    for (const phase of ["pending", "linked"]) {
      if (phase === "linked") indexAll(c);
      for (const p of moved.slice(0, 50)) {
        const [top] = c.search({ vector: p.vector, k: 1, exact: false, withPayload: true, withVector: false });
        expect(top?.id, phase).toBe(p.id);
        expect(top?.payload).toEqual({ moved: true });
      }
    }
    c.checkIntegrity();
    expect(recallAgainstExact(c, queriesOf(9, 50, 16), 10)).toBeGreaterThanOrEqual(0.95);
  });

  it("answers with points not linked yet: a write is visible to the next search", () => {
    const c = collection("cosine", 16);
    c.upsert(clusteredPoints(10_000, 16, 10));
    // No indexStep has run: every point is pending, and the search must still be exact.
    expect(c.indexedPointCount()).toBe(0);
    const queries = queriesOf(11, 20, 16);
    expect(recallAgainstExact(c, queries, 10)).toBe(1);
    c.indexStep(20);
    const partial = c.indexedPointCount();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(10_000);
    expect(recallAgainstExact(c, queries, 10)).toBeGreaterThanOrEqual(0.95);
    indexAll(c);
    expect(c.indexedPointCount()).toBe(10_000);
  });

  it("links a reused slot whose earlier point was deleted before its turn came (the graph returns it)", () => {
    const c = collection("euclidean", 8);
    const points = clusteredPoints(6_000, 8, 20);
    c.upsert(points);
    indexAll(c);
    // Queued but not linked: delete it, and let a new point take its slot before the indexer runs.
    c.upsert([{ id: "doomed", vector: Float32Array.from({ length: 8 }, (_, i) => 50 + i) }]);
    c.deleteIds(["doomed"]);
    const reused = Float32Array.from({ length: 8 }, (_, i) => -50 - i);
    c.upsert([{ id: "reused", vector: reused }]);
    indexAll(c);
    expect(c.indexedPointCount()).toBe(6_001);
    const [hit] = c.search({ vector: reused, k: 1, exact: false, withPayload: false, withVector: false });
    expect(c.lastPlan).toBe("graph");
    expect(hit?.id).toBe("reused");
    c.checkIntegrity();
  });

  describe("filtered search", () => {
    const c = collection("euclidean", 24);
    c.upsert(clusteredPoints(30_000, 24, 12));
    indexAll(c);
    const queries = queriesOf(13, 100, 24);
    const below = (percent: number): Filter => ({ must: [{ kind: "range", path: ["bucket"], lt: percent }], should: [], mustNot: [] });

    it.each([
      [1, "filtered-exact"],
      [10, "filtered-graph"],
      [50, "filtered-graph"],
    ] as const)("reaches recall@10 >= 0.95 when %i%% of points match (plan %s)", (percent, plan) => {
      expect(recallAgainstExact(c, queries, 10, below(percent))).toBeGreaterThanOrEqual(0.95);
      expect(c.lastPlan).toBe(plan);
    });

    it("walks the graph with a 1% filter when told to, and still finds k allowed hits with recall >= 0.95", () => {
      const graphOnly = collection("euclidean", 24, { filteredScanPointsMax: 0 });
      graphOnly.upsert(clusteredPoints(30_000, 24, 12));
      indexAll(graphOnly);
      expect(recallAgainstExact(graphOnly, queries.slice(0, 40), 10, below(1))).toBeGreaterThanOrEqual(0.95);
      expect(graphOnly.lastPlan).toBe("filtered-graph");
      const hits = graphOnly.search({ vector: queries[0]!, k: 10, filter: below(1), exact: false, withPayload: true, withVector: false });
      expect(hits).toHaveLength(10);
      for (const hit of hits) expect((hit.payload as { bucket: number }).bucket).toBeLessThan(1);
    });
  });
});
