import { describe, expect, it } from "vitest";
import { Distance, type IngestRequestInit } from "../src/client/index.js";
import { readFvecsFile } from "../src/datasets/index.js";
import { datasetFile, readIvecs } from "./helpers/datasets.js";
import { startTestServer, waitIndexed } from "./helpers/server.js";

const base = datasetFile("sift10k", "siftsmall_base.fvecs");
const queries = datasetFile("sift10k", "siftsmall_query.fvecs");
const groundTruth = datasetFile("sift10k", "siftsmall_groundtruth.ivecs");
const present = base !== undefined && queries !== undefined && groundTruth !== undefined;
if (!present) console.warn("SKIP sift10k: ../shared/datasets/sift10k is absent (set VECTORDB_DATASETS to its parent folder)");

describe.skipIf(!present)("SIFT10K (128-d, euclidean) through the gRPC server", () => {
  it("ingests the 10,000 base vectors through the stream and finds the exact top-10 of all 100 queries", async () => {
    const t = await startTestServer();
    try {
      const data = readFvecsFile(base!);
      const query = readFvecsFile(queries!);
      const truth = readIvecs(groundTruth!);
      expect(data.count).toBe(10_000);
      expect(query.count).toBe(100);
      await t.client.collections.createCollection({ name: "sift", dimension: 128, distance: Distance.EUCLIDEAN });
      const batchSize = 500;
      function* batches(): Generator<IngestRequestInit> {
        for (let start = 0; start < data.count; start += batchSize) {
          const points = [];
          for (let i = start; i < Math.min(start + batchSize, data.count); i++) {
            points.push({ id: String(i), vector: Array.from(data.data.subarray(i * 128, (i + 1) * 128)) });
          }
          yield { collection: "sift", points };
        }
      }
      const ingested = await t.client.points.ingest(batches());
      expect(ingested.inserted).toBe(10_000n);

      const k = 10;
      const { results } = await t.client.points.batchSearch({
        collection: "sift",
        queries: Array.from({ length: query.count }, (_, q) => ({
          vector: Array.from(query.data.subarray(q * 128, (q + 1) * 128)),
          k,
          exact: true,
          withPayload: false,
        })),
      });
      let found = 0;
      for (let q = 0; q < query.count; q++) {
        const hits = results[q]!.hits;
        expect(hits).toHaveLength(k);
        // Ties: a hit counts when its distance is no larger than the k-th true neighbour's distance.
        const kthTrue = truth[q]![k - 1]!;
        const kthDistance = Math.hypot(...Array.from({ length: 128 }, (_, j) => query.data[q * 128 + j]! - data.data[kthTrue * 128 + j]!));
        const truthSet = new Set(Array.from(truth[q]!.subarray(0, k), String));
        for (const hit of hits) if (truthSet.has(hit.id) || hit.score <= kthDistance * (1 + 1e-6)) found++;
      }
      const recallAt10 = found / (query.count * k);
      expect(recallAt10).toBe(1);
      // The sanity values from the dataset's README: query 0's nearest neighbours and squared distances.
      expect(results[0]!.hits.slice(0, 3).map((h) => h.id)).toEqual(["2176", "3752", "882"]);
      expect(results[0]!.hits.slice(0, 3).map((h) => Math.round(h.score * h.score))).toEqual([76608, 77004, 79702]);
    } finally {
      await t.stop();
    }
  });

  it("reaches recall@10 >= 0.95 through the HNSW graph at the default ef, after background indexing", async () => {
    const t = await startTestServer();
    try {
      const data = readFvecsFile(base!);
      const query = readFvecsFile(queries!);
      const truth = readIvecs(groundTruth!);
      await t.client.collections.createCollection({ name: "sift_hnsw", dimension: 128, distance: Distance.EUCLIDEAN });
      function* batches(): Generator<IngestRequestInit> {
        for (let start = 0; start < data.count; start += 1_000) {
          const points = [];
          for (let i = start; i < start + 1_000; i++) points.push({ id: String(i), vector: Array.from(data.data.subarray(i * 128, (i + 1) * 128)) });
          yield { collection: "sift_hnsw", points };
        }
      }
      await t.client.points.ingest(batches());
      await waitIndexed(t.client, "sift_hnsw");
      const { results } = await t.client.points.batchSearch({
        collection: "sift_hnsw",
        queries: Array.from({ length: query.count }, (_, q) => ({ vector: Array.from(query.data.subarray(q * 128, (q + 1) * 128)), k: 10, withPayload: false })),
      });
      let found = 0;
      results.forEach((result, q) => {
        const expected = new Set(Array.from(truth[q]!.subarray(0, 10), String));
        for (const hit of result.hits) if (expected.has(hit.id)) found++;
      });
      const recallAt10 = found / (query.count * 10);
      console.log(`SIFT10K through HNSW (m=16, ef_construction=200, ef=64): recall@10 = ${recallAt10.toFixed(3)}`);
      expect(recallAt10).toBeGreaterThanOrEqual(0.95);
    } finally {
      await t.stop();
    }
  });
});
