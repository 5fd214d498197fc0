/**
 * Exact-search benchmark through the real gRPC server (in this process, 127.0.0.1, one client):
 * ingest rate through the client-streaming Ingest RPC, then single-query Search QPS and BatchSearch
 * (100 queries per request) QPS with `exact: true`, recall@10 against the dataset's ground truth, and
 * the collection's memory estimate. Datasets come from ../shared/datasets (VECTORDB_DATASETS
 * overrides); a missing one is skipped with a message.
 *
 * Usage: npm run bench [-- --queries 200] ; results are printed as a table and written to
 * bench/results/exact-<date>.json.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Distance, VectorDbClient, type IngestRequestInit } from "../src/client/index.js";
import { readFvecsFile, type FvecsData } from "../src/cli/vector-files.js";
import { readIvecsFile } from "../src/cli/ground-truth.js";
import { makeConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { openServer } from "../src/main.js";

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const datasetsDir = process.env.VECTORDB_DATASETS ?? resolve(projectDir, "../shared/datasets");

interface Dataset {
  name: string;
  distance: Distance;
  base: string;
  queries: string;
  groundTruth: string;
}

const datasets: Dataset[] = [
  {
    name: "sift10k",
    distance: Distance.EUCLIDEAN,
    base: join(datasetsDir, "sift10k/siftsmall_base.fvecs"),
    queries: join(datasetsDir, "sift10k/siftsmall_query.fvecs"),
    groundTruth: join(datasetsDir, "sift10k/siftsmall_groundtruth.ivecs"),
  },
  {
    name: "glove-100k",
    distance: Distance.COSINE,
    base: join(datasetsDir, "glove-100-wink/glove100_base.fvecs"),
    queries: join(datasetsDir, "glove-100-wink/glove100_query.fvecs"),
    groundTruth: join(datasetsDir, "glove-100-wink/glove100_groundtruth.ivecs"),
  },
];

const { values: options } = parseArgs({ options: { queries: { type: "string", default: "100" }, "batch-size": { type: "string", default: "1000" } } });
const queryCount = Number(options.queries);
const batchSize = Number(options["batch-size"]);

function row(data: FvecsData, i: number): number[] {
  return Array.from(data.data.subarray(i * data.dimension, (i + 1) * data.dimension));
}

function recallAt10(hits: string[][], truth: Int32Array[]): number {
  let found = 0;
  hits.forEach((ids, q) => {
    const expected = new Set(Array.from(truth[q]!.subarray(0, 10), String));
    for (const id of ids.slice(0, 10)) if (expected.has(id)) found++;
  });
  return found / (hits.length * 10);
}

async function run(): Promise<void> {
  const config = makeConfig({ host: "127.0.0.1", port: 0, logLevel: "silent" });
  const running = await openServer(config, createLogger("silent"));
  const client = new VectorDbClient(`127.0.0.1:${running.server.port}`);
  const results: Record<string, unknown>[] = [];
  try {
    for (const dataset of datasets) {
      if (![dataset.base, dataset.queries, dataset.groundTruth].every(existsSync)) {
        console.log(`skip ${dataset.name}: files not found under ${datasetsDir}`);
        continue;
      }
      const base = readFvecsFile(dataset.base);
      const queries = readFvecsFile(dataset.queries);
      const truth = readIvecsFile(dataset.groundTruth);
      const n = Math.min(queryCount, queries.count);
      await client.collections.createCollection({ name: dataset.name, dimension: base.dimension, distance: dataset.distance });

      function* batches(): Generator<IngestRequestInit> {
        for (let start = 0; start < base.count; start += batchSize) {
          const points = [];
          for (let i = start; i < Math.min(start + batchSize, base.count); i++) points.push({ id: String(i), vector: row(base, i) });
          yield { collection: dataset.name, points };
        }
      }
      const ingestStart = performance.now();
      await client.points.ingest(batches());
      const ingestSeconds = (performance.now() - ingestStart) / 1000;

      const queryVectors = Array.from({ length: n }, (_, q) => row(queries, q));
      // Warm-up so the JIT has compiled the kernels before timing.
      for (let q = 0; q < Math.min(5, n); q++) await client.points.search({ collection: dataset.name, vector: queryVectors[q]!, k: 10, exact: true });
      const singleStart = performance.now();
      const singleHits: string[][] = [];
      for (const vector of queryVectors) {
        const { hits } = await client.points.search({ collection: dataset.name, vector, k: 10, exact: true, withPayload: false });
        singleHits.push(hits.map((h) => h.id));
      }
      const singleSeconds = (performance.now() - singleStart) / 1000;

      const batchStart = performance.now();
      const batchHits: string[][] = [];
      for (let q = 0; q < n; q += 100) {
        const { results: batchResults } = await client.points.batchSearch({
          collection: dataset.name,
          queries: queryVectors.slice(q, q + 100).map((vector) => ({ vector, k: 10, exact: true, withPayload: false })),
        });
        for (const r of batchResults) batchHits.push(r.hits.map((h) => h.id));
      }
      const batchSeconds = (performance.now() - batchStart) / 1000;
      const info = (await client.collections.getCollection({ name: dataset.name })).collection!;
      const result = {
        dataset: dataset.name,
        points: base.count,
        dimension: base.dimension,
        queries: n,
        ingestSeconds: +ingestSeconds.toFixed(3),
        ingestVectorsPerSecond: Math.round(base.count / ingestSeconds),
        searchQps: +(n / singleSeconds).toFixed(1),
        batchSearchQps: +(n / batchSeconds).toFixed(1),
        recallAt10: +recallAt10(singleHits, truth).toFixed(4),
        batchRecallAt10: +recallAt10(batchHits, truth).toFixed(4),
        memoryBytes: Number(info.memoryBytes),
        bytesPerVector: Math.round(Number(info.memoryBytes) / base.count),
      };
      results.push(result);
      await client.collections.deleteCollection({ name: dataset.name });
    }
  } finally {
    client.close();
    await running.close();
  }
  console.table(results);
  const outDir = join(projectDir, "bench/results");
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `exact-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(outFile, JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2));
  console.log(`wrote ${outFile}`);
}

await run();
