import { describe, expect, it } from "vitest";
import { Distance, ScalarType, type IngestRequestInit, type VectorDbClient } from "../src/client/index.js";
import { MemoryCollection, type CollectionSpec, type PointInput } from "../src/collection/index.js";
import { decodeStateSections, encodeStateSections } from "../src/collection/disk/segment-sections.js";
import { decodeSpec, encodeSpec } from "../src/collection/disk/spec-file.js";
import { defaultIndexing, defaultLimits, quantizationDefaults } from "../src/config.js";
import { readFvecsFile } from "../src/datasets/index.js";
import { rejection } from "./helpers/assertions.js";
import { datasetFile, readIvecs } from "./helpers/datasets.js";
import { lowRank, rng } from "./helpers/random.js";
import { startTestServer, waitIndexed } from "./helpers/server.js";

const indexing = { ...defaultIndexing, fullScanPointsMax: 100 };

function spec(distance: "cosine" | "euclidean", dimension: number, quantile = 0.99): CollectionSpec {
  return { name: "q", dimension, distance, hnsw: { m: 16, efConstruction: 100, ef: 64 }, quantization: { type: "int8", quantile, alwaysRam: false } };
}

/** Clustered points with ids `${prefix}${i}`, components scaled by `spread` and moved by `shift`. */
function points(count: number, dimension: number, seed: number, prefix = "p", shift = 0): PointInput[] {
  const random = rng(seed);
  const centres = Array.from({ length: 20 }, () => Float32Array.from({ length: dimension }, () => random() * 4 - 2));
  return Array.from({ length: count }, (_, i) => {
    const centre = centres[Math.floor(random() * centres.length)]!;
    return { id: `${prefix}${i}`, vector: Float32Array.from(centre, (x) => x + (random() - 0.5) + shift) };
  });
}

function indexAll(c: MemoryCollection): void {
  while (c.indexStep(1_000));
}

function search(c: MemoryCollection, vector: Float32Array, options: { exact?: boolean; rescore?: boolean; oversampling?: number; ef?: number } = {}) {
  return c.search({ vector, k: 10, exact: options.exact ?? false, rescore: options.rescore, oversampling: options.oversampling, ef: options.ef, withPayload: false, withVector: false });
}

describe("int8 scalar quantization in a collection", () => {
  it("trains when the collection first holds 1,000 points, then codes every write; reports the bytes of vectors and codes", () => {
    const c = new MemoryCollection(spec("euclidean", 24), defaultLimits, indexing);
    c.upsert(points(quantizationDefaults.trainingPoints - 1, 24, 1));
    expect(c.stats().quantizationTrained).toBe(false);
    c.upsert(points(1, 24, 2, "last"));
    const stats = c.stats();
    expect(stats.quantizationTrained).toBe(true);
    expect(stats.vectorBytes).toBeGreaterThanOrEqual(1_000 * 24 * 4);
    // 24 components round up to 32 code bytes, plus 16 for the correction term and padding.
    expect(stats.quantizedVectorBytes / stats.vectorBytes).toBeCloseTo(48 / 96, 5);
  });

  it.each(["euclidean", "cosine"] as const)("keeps recall@10 with rescoring as high as float32's, and rescored scores are the exact ones (%s)", (distance) => {
    const quantized = new MemoryCollection(spec(distance, 32), defaultLimits, indexing);
    const plain = new MemoryCollection({ ...spec(distance, 32), quantization: undefined }, defaultLimits, indexing);
    const data = lowRank(6_000, 32, 6, 3).map((vector, i) => ({ id: `p${i}`, vector }));
    for (const c of [quantized, plain]) {
      c.upsert(data);
      indexAll(c);
    }
    const queries = lowRank(100, 32, 6, 4);
    let recall = 0;
    let recallFloat = 0;
    let recallWithout = 0;
    for (const vector of queries) {
      const exact = search(plain, vector, { exact: true });
      const exactScore = new Map(exact.map((hit) => [hit.id, hit.score]));
      const rescored = search(quantized, vector);
      expect(quantized.lastPlan).toBe("graph");
      for (const hit of rescored) {
        const score = exactScore.get(hit.id);
        if (score !== undefined) expect(hit.score).toBeCloseTo(score, 4);
      }
      const share = (hits: { id: string }[]): number => hits.filter((hit) => exactScore.has(hit.id)).length / 10 / queries.length;
      recall += share(rescored);
      recallFloat += share(search(plain, vector));
      recallWithout += share(search(quantized, vector, { rescore: false }));
    }
    expect(recallFloat).toBeGreaterThanOrEqual(0.95);
    expect(recall).toBeGreaterThanOrEqual(recallFloat - 0.02);
    // Without rescoring hits come in code-distance order: a little lower.
    expect(recallWithout).toBeGreaterThanOrEqual(recall - 0.1);
    quantized.checkIntegrity();
  });

  it("answers exact searches on float32, unchanged by quantization", () => {
    const quantized = new MemoryCollection(spec("euclidean", 16), defaultLimits, indexing);
    const plain = new MemoryCollection({ ...spec("euclidean", 16), quantization: undefined }, defaultLimits, indexing);
    const data = points(2_000, 16, 5);
    quantized.upsert(data);
    plain.upsert(data);
    for (const p of points(10, 16, 6, "q")) expect(search(quantized, p.vector, { exact: true })).toEqual(search(plain, p.vector, { exact: true }));
  });

  it("keeps its ranges through a segment round trip, and searches the same afterwards", async () => {
    const s = spec("cosine", 20);
    const c = new MemoryCollection(s, defaultLimits, indexing);
    c.upsert(points(3_000, 20, 7));
    c.deleteIds(["p1", "p2"]);
    indexAll(c);
    const state = c.snapshot();
    expect(state.quantization).toBeDefined();
    const sections = await encodeStateSections(state, s);
    const segment = { sequence: state.sequence, sections: new Map(sections.map((section) => [section.kind, section.bytes as Uint8Array])), sizeBytes: 0 };
    const decoded = decodeStateSections(segment, s, "segment.bin");
    expect(Array.from(decoded.quantization!.scales)).toEqual(Array.from(state.quantization!.scales));
    expect(decodeSpec(encodeSpec(s), "collection.json")).toEqual(s);
    const restored = MemoryCollection.restore(s, defaultLimits, indexing, decoded);
    expect(restored.stats().quantizationTrained).toBe(true);
    for (const p of points(20, 20, 8, "q")) {
      expect(search(restored, p.vector)).toEqual(search(c, p.vector));
      expect(search(restored, p.vector, { rescore: false })).toEqual(search(c, p.vector, { rescore: false }));
    }
  });

  it("trains again at a checkpoint when new vectors fall outside the ranges (drift)", () => {
    const c = new MemoryCollection(spec("euclidean", 8), defaultLimits, indexing);
    c.upsert(points(2_000, 8, 9));
    expect(c.retrainQuantizationIfDrifted()).toBe(false);
    // The same shapes, moved far outside the trained ranges: nearly every value clips.
    c.upsert(points(2_000, 8, 10, "moved", 50));
    const before = c.snapshot().quantization!;
    c.beginSnapshot();
    const after = c.snapshot().quantization!;
    expect(Array.from(after.offsets)).not.toEqual(Array.from(before.offsets));
    expect(c.retrainQuantizationIfDrifted()).toBe(false);
  });
});

const siftBase = datasetFile("sift10k", "siftsmall_base.fvecs");
const siftQueries = datasetFile("sift10k", "siftsmall_query.fvecs");
const siftTruth = datasetFile("sift10k", "siftsmall_groundtruth.ivecs");
const gloveBase = datasetFile("glove-100-wink", "glove100_base.fvecs");
const gloveQueries = datasetFile("glove-100-wink", "glove100_query.fvecs");

/** GloVe points loaded by the server test: a prefix of the 100k, so that the suite stays short; its exact truth is computed here. */
const glovePrefixPoints = 30_000;

async function load(client: VectorDbClient, collection: string, file: string, countMax = Infinity): Promise<void> {
  const data = readFvecsFile(file);
  const count = Math.min(countMax, data.count);
  function* batches(): Generator<IngestRequestInit> {
    for (let start = 0; start < count; start += 1_000) {
      const points = [];
      for (let i = start; i < Math.min(start + 1_000, count); i++) points.push({ id: String(i), vector: Array.from(data.data.subarray(i * data.dimension, (i + 1) * data.dimension)) });
      yield { collection, points };
    }
  }
  await client.points.ingest(batches());
  await waitIndexed(client, collection);
}

/**
 * The exact top-`k` row numbers by cosine similarity of the first `queryCount` queries over the first
 * `baseCount` rows of `baseFile` (a brute-force scan: the ground truth of a prefix of a dataset).
 */
function exactCosineTruth(baseFile: string, baseCount: number, queriesFile: string, queryCount: number, k: number): Int32Array[] {
  const base = readFvecsFile(baseFile);
  const queries = readFvecsFile(queriesFile);
  const { dimension } = base;
  const norms = new Float64Array(baseCount);
  for (let i = 0; i < baseCount; i++) {
    let sum = 0;
    for (let d = 0; d < dimension; d++) sum += base.data[i * dimension + d]! ** 2;
    norms[i] = Math.sqrt(sum) || 1;
  }
  return Array.from({ length: queryCount }, (_, q) => {
    const query = queries.data.subarray(q * dimension, (q + 1) * dimension);
    const scores = new Float64Array(baseCount);
    for (let i = 0; i < baseCount; i++) {
      let dot = 0;
      for (let d = 0; d < dimension; d++) dot += query[d]! * base.data[i * dimension + d]!;
      scores[i] = dot / norms[i]!;
    }
    const order = Array.from({ length: baseCount }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
    return Int32Array.from(order.slice(0, k));
  });
}

async function recallThroughServer(client: VectorDbClient, collection: string, queriesFile: string, truth: string | Int32Array[], count: number, extra: { ef?: number; rescore?: boolean }): Promise<number> {
  const queries = readFvecsFile(queriesFile);
  if (typeof truth === "string") truth = readIvecs(truth);
  const n = Math.min(count, queries.count);
  const { results } = await client.points.batchSearch({
    collection,
    queries: Array.from({ length: n }, (_, q) => ({ vector: Array.from(queries.data.subarray(q * queries.dimension, (q + 1) * queries.dimension)), k: 10, withPayload: false, ...extra })),
  });
  let found = 0;
  results.forEach((result, q) => {
    const expected = new Set(Array.from(truth[q]!.subarray(0, 10), String));
    for (const hit of result.hits) if (expected.has(hit.id)) found++;
  });
  return found / (n * 10);
}

const int8 = { method: { case: "scalar" as const, value: { type: ScalarType.INT8 } } };

describe("int8 scalar quantization through the gRPC server", () => {
  it("refuses bad quantization and search parameters with INVALID_ARGUMENT naming the field", async () => {
    const t = await startTestServer();
    try {
      const create = (quantization: object, distance = Distance.COSINE) =>
        rejection(t.client.collections.createCollection({ name: "bad", dimension: 4, distance, quantization: quantization as never }));
      for (const [quantization, field] of [
        [{ method: { case: "scalar", value: { type: ScalarType.INT8, quantile: 0.4 } } }, "quantization.scalar.quantile: 0.4"],
        [{ method: { case: "scalar", value: { type: ScalarType.INT8, quantile: 1.5 } } }, "quantization.scalar.quantile: 1.5"],
        [{ method: { case: "scalar", value: { type: ScalarType.UNSPECIFIED } } }, "quantization.scalar.type"],
        [{}, "quantization: sets no method"],
      ] as const) {
        const error = await create(quantization);
        expect(error.statusName).toBe("INVALID_ARGUMENT");
        expect(error.details).toContain(field);
      }
      expect((await create(int8, Distance.DOT)).details).toContain("quantization: DISTANCE_DOT");
      const { collection } = await t.client.collections.createCollection({ name: "ok", dimension: 4, distance: Distance.COSINE, quantization: int8 });
      expect(collection?.quantization?.method.case).toBe("scalar");
      expect(collection?.quantization?.method.value?.quantile).toBeCloseTo(0.99, 5);
      expect(collection?.quantizationTrained).toBe(false);
      for (const [oversampling, k, message] of [
        [0.5, 10, "oversampling: 0.5 is outside 1..100"],
        [101, 10, "oversampling: 101 is outside 1..100"],
        [50, 100, "oversampling: 50 × k 100 keeps more candidates than ef_max 4096"],
      ] as const) {
        const error = await rejection(t.client.points.search({ collection: "ok", vector: [1, 0, 0, 0], k, oversampling }));
        expect(error.statusName).toBe("INVALID_ARGUMENT");
        expect(error.details).toContain(message);
      }
      const batch = await rejection(t.client.points.batchSearch({ collection: "ok", queries: [{ vector: [1, 0, 0, 0], k: 1, oversampling: Number.NaN }] }));
      expect(batch.details).toContain("queries[0].oversampling");
    } finally {
      await t.stop();
    }
  });

  it.skipIf(siftBase === undefined || gloveBase === undefined)(
    "reaches recall@10 >= 0.95 on SIFT10K (default ef) and the first 30,000 GloVe points (ef 128), and keeps the ranges across a restart",
    { timeout: 300_000 },
    async () => {
      const t = await startTestServer();
      let dataDir = t.config.dataDir;
      try {
        await t.client.collections.createCollection({ name: "sift", dimension: 128, distance: Distance.EUCLIDEAN, quantization: int8 });
        await t.client.collections.createCollection({ name: "glove", dimension: 100, distance: Distance.COSINE, quantization: int8 });
        await Promise.all([load(t.client, "sift", siftBase!), load(t.client, "glove", gloveBase!, glovePrefixPoints)]);
        const { collection: info } = await t.client.collections.getCollection({ name: "glove" });
        expect(info?.quantizationTrained).toBe(true);
        expect(Number(info?.quantizedVectorBytes)).toBeLessThan(Number(info?.vectorBytes) / 3);
        const sift = await recallThroughServer(t.client, "sift", siftQueries!, siftTruth!, 100, {});
        const glove = await recallThroughServer(t.client, "glove", gloveQueries!, exactCosineTruth(gloveBase!, glovePrefixPoints, gloveQueries!, 200, 10), 200, { ef: 128 });
        console.log(`int8 + rescoring: SIFT10K recall@10 ${sift.toFixed(3)} (ef 64), GloVe first ${glovePrefixPoints} points ${glove.toFixed(3)} (ef 128)`);
        expect(sift).toBeGreaterThanOrEqual(0.95);
        expect(glove).toBeGreaterThanOrEqual(0.95);
        dataDir = t.config.dataDir;
        await t.running.close();
        const again = await startTestServer({}, { dataDir });
        try {
          const { collection } = await again.client.collections.getCollection({ name: "sift" });
          expect(collection?.quantizationTrained).toBe(true);
          expect(await recallThroughServer(again.client, "sift", siftQueries!, siftTruth!, 100, {})).toBeCloseTo(sift, 5);
        } finally {
          await again.stop();
        }
      } finally {
        await t.stop().catch(() => undefined);
      }
    },
  );
});
