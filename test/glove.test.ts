import { describe, expect, it } from "vitest";
import { Distance, type IngestRequestInit } from "../src/client/index.js";
import { readFvecsFile } from "../src/datasets/index.js";
import { datasetFile, readIvecs } from "./helpers/datasets.js";
import { startTestServer, waitIndexed } from "./helpers/server.js";

const base = datasetFile("glove-100-wink", "glove100_base.fvecs");
const queries = datasetFile("glove-100-wink", "glove100_query.fvecs");
const groundTruth = datasetFile("glove-100-wink", "glove100_groundtruth.ivecs");
const present = base !== undefined && queries !== undefined && groundTruth !== undefined;
if (!present) console.warn("SKIP glove: ../shared/datasets/glove-100-wink is absent (set VECTORDB_DATASETS to its parent folder)");

describe.skipIf(!present)("GloVe 100k (100-d, cosine) through the gRPC server", () => {
  it("reaches recall@10 >= 0.95 through the HNSW graph at the default ef", { timeout: 300_000 }, async () => {
    const t = await startTestServer();
    try {
      const data = readFvecsFile(base!);
      const query = readFvecsFile(queries!);
      const truth = readIvecs(groundTruth!);
      const dimension = data.dimension;
      expect(data.count).toBe(100_000);
      await t.client.collections.createCollection({ name: "glove", dimension, distance: Distance.COSINE });
      function* batches(): Generator<IngestRequestInit> {
        for (let start = 0; start < data.count; start += 1_000) {
          const points = [];
          for (let i = start; i < start + 1_000; i++) points.push({ id: String(i), vector: Array.from(data.data.subarray(i * dimension, (i + 1) * dimension)) });
          yield { collection: "glove", points };
        }
      }
      await t.client.points.ingest(batches());
      await waitIndexed(t.client, "glove");
      const count = Math.min(200, query.count);
      const { results } = await t.client.points.batchSearch({
        collection: "glove",
        queries: Array.from({ length: count }, (_, q) => ({ vector: Array.from(query.data.subarray(q * dimension, (q + 1) * dimension)), k: 10, withPayload: false })),
      });
      let found = 0;
      results.forEach((result, q) => {
        const expected = new Set(Array.from(truth[q]!.subarray(0, 10), String));
        for (const hit of result.hits) if (expected.has(hit.id)) found++;
      });
      const recallAt10 = found / (count * 10);
      console.log(`GloVe 100k through HNSW (m=16, ef_construction=200, default ef): recall@10 = ${recallAt10.toFixed(3)} over ${count} queries`);
      expect(recallAt10).toBeGreaterThanOrEqual(0.95);
    } finally {
      await t.stop();
    }
  });
});
