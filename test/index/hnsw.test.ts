import { describe, expect, it } from "vitest";
import { FlatIndex, HnswIndex, VectorStore, type DistanceKind } from "../../src/index/index.js";
import { readFvecsFile } from "../../src/datasets/index.js";
import { datasetFile, readIvecs } from "../helpers/datasets.js";
import { rng } from "../helpers/random.js";

/** Clustered random vectors: `clusters` centres, points scattered around them. */
function clustered(count: number, dimension: number, clusters: number, seed: number): Float32Array[] {
  const random = rng(seed);
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dimension }, () => random() * 10 - 5));
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(random() * clusters)]!;
    return Float32Array.from(centre, (x) => x + (random() - 0.5) * 2);
  });
}

function recall(found: Uint32Array, expected: Uint32Array): number {
  const truth = new Set(expected);
  let hits = 0;
  for (const id of found) if (truth.has(id)) hits++;
  return hits / expected.length;
}

describe("HnswIndex", () => {
  it.each(["euclidean", "cosine"] as const)("finds the exact top-10 with recall >= 0.95 on 3,000 clustered 24-d vectors (%s)", (kind: DistanceKind) => {
    const vectors = clustered(3_000, 24, 30, 11);
    const hnsw = new HnswIndex({ dimension: 24, distance: kind, m: 12, efConstruction: 100, seed: 1 });
    const flat = new FlatIndex(24, kind);
    for (const v of vectors) {
      hnsw.add(v);
      flat.add(v);
    }
    hnsw.checkIntegrity();
    const queries = clustered(100, 24, 30, 12);
    let total = 0;
    for (const q of queries) total += recall(hnsw.search(q, 10, 64).ids, flat.search(q, 10).slots);
    expect(total / queries.length).toBeGreaterThanOrEqual(0.95);
  });

  it("never returns a deleted node, keeps finding the others, and stays intact", () => {
    const vectors = clustered(2_000, 16, 20, 21);
    const hnsw = new HnswIndex({ dimension: 16, distance: "euclidean", m: 16, efConstruction: 100, seed: 2 });
    const flat = new FlatIndex(16, "euclidean");
    for (const v of vectors) {
      hnsw.add(v);
      flat.add(v);
    }
    const deleted = new Set<number>();
    for (let id = 0; id < 2_000; id += 5) {
      hnsw.markDeleted(id);
      deleted.add(id);
    }
    expect(hnsw.liveCount).toBe(1_600);
    hnsw.checkIntegrity();
    let total = 0;
    for (const q of clustered(50, 16, 20, 22)) {
      const found = hnsw.search(q, 10, 64);
      for (const id of found.ids) expect(deleted.has(id)).toBe(false);
      total += recall(found.ids, flat.search(q, 10, { accept: (slot) => !deleted.has(slot) }).slots);
    }
    expect(total / 50).toBeGreaterThanOrEqual(0.95);
  });

  it("applies an accept filter to the results", () => {
    const vectors = clustered(1_000, 8, 10, 31);
    const hnsw = new HnswIndex({ dimension: 8, distance: "euclidean", m: 8, efConstruction: 64, seed: 3 });
    for (const v of vectors) hnsw.add(v);
    const found = hnsw.search(vectors[0]!, 10, 200, (id) => id % 2 === 1);
    expect(found.ids.length).toBe(10);
    for (const id of found.ids) expect(id % 2).toBe(1);
  });

  it("checkIntegrity reports a broken graph", () => {
    const hnsw = new HnswIndex({ dimension: 2, distance: "euclidean", m: 4, efConstruction: 16, seed: 4 });
    for (let i = 0; i < 50; i++) hnsw.add(Float32Array.of(i, i % 7));
    hnsw.checkIntegrity();
    // Corrupt node 3's layer-0 list to link to itself (its first link, after the count).
    hnsw.store.words[(hnsw.store.engine.nodeRecordPtr(3) >>> 2) + 4] = 3;
    expect(() => hnsw.checkIntegrity()).toThrow(/node 3 layer 0: links to itself/);
  });

  it("rejects bad parameters and wrong lengths", () => {
    expect(() => new HnswIndex({ dimension: 0, distance: "cosine", m: 16, efConstruction: 10 })).toThrow(RangeError);
    expect(() => new HnswIndex({ dimension: 4, distance: "euclidean", m: 1, efConstruction: 10 })).toThrow(/m must be/);
    expect(() => new HnswIndex({ dimension: 4, distance: "dot", m: 16, efConstruction: 10 })).toThrow(/dot product is not supported yet/);
    const hnsw = new HnswIndex({ dimension: 4, distance: "euclidean", m: 4, efConstruction: 10 });
    expect(() => hnsw.add(Float32Array.of(1))).toThrow(/1 components/);
    expect(hnsw.search(Float32Array.of(1, 2, 3, 4), 5, 10).ids).toHaveLength(0);
  });
});

const siftBase = datasetFile("sift10k", "siftsmall_base.fvecs");
const siftQueries = datasetFile("sift10k", "siftsmall_query.fvecs");
const siftTruth = datasetFile("sift10k", "siftsmall_groundtruth.ivecs");
const siftPresent = siftBase !== undefined && siftQueries !== undefined && siftTruth !== undefined;
if (!siftPresent) console.warn("SKIP HNSW on SIFT10K: ../shared/datasets/sift10k is absent");

describe.skipIf(!siftPresent)("HnswIndex on SIFT10K (m=16, ef_construction=200)", () => {
  it("reaches recall@10 >= 0.95 at ef=64 against the ground truth, with an intact graph", () => {
    const base = readFvecsFile(siftBase!);
    const queries = readFvecsFile(siftQueries!);
    const truth = readIvecs(siftTruth!);
    const hnsw = new HnswIndex({ dimension: 128, distance: "euclidean", m: 16, efConstruction: 200, seed: 5 });
    for (let i = 0; i < base.count; i++) hnsw.add(base.data.subarray(i * 128, (i + 1) * 128));
    hnsw.checkIntegrity();
    let total = 0;
    for (let q = 0; q < queries.count; q++) {
      const found = hnsw.search(queries.data.subarray(q * 128, (q + 1) * 128), 10, 64);
      total += recall(found.ids, Uint32Array.from(truth[q]!.subarray(0, 10)));
    }
    expect(total / queries.count).toBeGreaterThanOrEqual(0.95);
  });
});

describe("HnswIndex.toBytes / fromBytes", () => {
  it("restores a graph that searches identically, keeps its tombstones and accepts more inserts", () => {
    const vectors = clustered(2_000, 16, 20, 41);
    const layout = { initialCapacity: 3_000, graph: { m: 8, efConstruction: 64 } };
    const store = new VectorStore(16, "euclidean", layout);
    const hnsw = new HnswIndex({ store, m: 8, efConstruction: 64, seed: 5 });
    vectors.forEach((v, row) => {
      store.write(row, v);
      hnsw.insert(row);
    });
    for (let id = 0; id < 2_000; id += 7) hnsw.markDeleted(id);
    const bytes = hnsw.toBytes();
    // The graph lives in its store's memory: restore into a new store holding the same rows.
    const rows = new Uint8Array(2_000 * 16 * 4);
    store.copyRowsOut(0, 2_000, rows);
    const copy = new VectorStore(16, "euclidean", layout);
    copy.copyRowsIn(0, rows);
    const restored = HnswIndex.fromBytes(copy, bytes);
    restored.checkIntegrity();
    expect(restored.size).toBe(hnsw.size);
    expect(restored.liveCount).toBe(hnsw.liveCount);
    for (const q of clustered(30, 16, 20, 42)) {
      expect(Array.from(restored.search(q, 10, 50).ids)).toEqual(Array.from(hnsw.search(q, 10, 50).ids));
    }
    expect(restored.toBytes()).toEqual(bytes);
    clustered(500, 16, 20, 43).forEach((v, i) => {
      copy.write(2_000 + i, v);
      restored.insert(2_000 + i);
    });
    restored.checkIntegrity();
    expect(() => HnswIndex.fromBytes(new VectorStore(16, "euclidean", layout), bytes.subarray(0, bytes.length - 4))).toThrow(/graph bytes/);
    expect(() => HnswIndex.fromBytes(copy, bytes)).toThrow(/holds a graph already/);
  });
});
