/**
 * Benchmark through the real gRPC server (in this process, 127.0.0.1), per dataset:
 * - ingest rate through the client-streaming Ingest RPC, while a prober sends one Search and one
 *   health Check every 20 ms: their p50 / p99 / max latency while the Ingest call runs, and after it
 *   returned until the graph has caught up (the server must keep answering while the graph is built);
 * - seconds until every point is linked into the HNSW graph (GetCollection.indexed_point_count),
 *   counted from the start of the Ingest, beside the seconds hnswlib-node (C++, one thread, same m and
 *   ef_construction) takes to build the same points in this process when it is installed beside the
 *   project (see src/testing/hnswlib.ts);
 * - for exact search and for HNSW at each `--ef`: Search QPS with 1 client and with 8 concurrent
 *   clients, BatchSearch (100 queries per request) QPS, and recall@10 against the ground truth;
 * - the collection's memory estimate per vector.
 * Datasets come from ../shared/datasets (VECTORDB_DATASETS overrides); a missing one is skipped.
 *
 * Usage: npm run bench:server [-- --queries 1000 --ef 32,64,128 --datasets sift10k,glove-100k]
 * Prints tables and writes bench/results/server-<date>.json.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Distance, VectorDbClient, type IngestRequestInit } from "../src/client/index.js";

/** Search options a benchmark mode adds to every query. */
type SearchExtra = { exact?: boolean; ef?: number };
import { readFvecsFile, readIvecsFile, type FvecsData } from "../src/datasets/index.js";
import { makeConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { openServer } from "../src/main.js";
import { datasetsDir, loadHnswlib, projectRoot } from "../src/testing/index.js";

const projectDir = projectRoot();
const datasetsRoot = datasetsDir();

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
    base: join(datasetsRoot, "sift10k/siftsmall_base.fvecs"),
    queries: join(datasetsRoot, "sift10k/siftsmall_query.fvecs"),
    groundTruth: join(datasetsRoot, "sift10k/siftsmall_groundtruth.ivecs"),
  },
  {
    name: "glove-100k",
    distance: Distance.COSINE,
    base: join(datasetsRoot, "glove-100-wink/glove100_base.fvecs"),
    queries: join(datasetsRoot, "glove-100-wink/glove100_query.fvecs"),
    groundTruth: join(datasetsRoot, "glove-100-wink/glove100_groundtruth.ivecs"),
  },
];

const { values: options } = parseArgs({
  options: {
    queries: { type: "string", default: "1000" },
    "batch-size": { type: "string", default: "1000" },
    ef: { type: "string", default: "32,64,128" },
    datasets: { type: "string", default: "sift10k,glove-100k" },
  },
});
const queryCount = Number(options.queries);
const batchSize = Number(options["batch-size"]);
const efs = options.ef.split(",").map(Number);
const wanted = new Set(options.datasets.split(","));

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

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function latencySummary(samples: number[]): { count: number; p50Ms: number; p99Ms: number; maxMs: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x: number): number => +x.toFixed(2);
  return { count: sorted.length, p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), maxMs: round(sorted.at(-1) ?? Number.NaN) };
}

/** Search QPS with `clients` concurrent clients, each sending its share of the queries one at a time. */
async function searchQps(clients: VectorDbClient[], collection: string, queries: number[][], extra: SearchExtra): Promise<{ qps: number; hits: string[][] }> {
  const hits: string[][] = new Array(queries.length);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      for (let q = next++; q < queries.length; q = next++) {
        const response = await client.points.search({ collection, vector: queries[q]!, k: 10, withPayload: false, ...extra });
        hits[q] = response.hits.map((h) => h.id);
      }
    }),
  );
  return { qps: queries.length / ((performance.now() - start) / 1000), hits };
}

async function batchQps(client: VectorDbClient, collection: string, queries: number[][], extra: SearchExtra): Promise<{ qps: number; hits: string[][] }> {
  const hits: string[][] = [];
  const start = performance.now();
  for (let q = 0; q < queries.length; q += 100) {
    const { results } = await client.points.batchSearch({
      collection,
      queries: queries.slice(q, q + 100).map((vector) => ({ vector, k: 10, withPayload: false, ...extra })),
    });
    for (const r of results) hits.push(r.hits.map((h) => h.id));
  }
  return { qps: queries.length / ((performance.now() - start) / 1000), hits };
}

/** Probe latencies in ms, while the Ingest call runs and after it returned (the graph catching up). */
interface ProbeLatencies {
  search: number[];
  health: number[];
  searchAfterIngest: number[];
  healthAfterIngest: number[];
}

/** Search and health Check latencies measured by a prober while a bulk load is indexed. */
interface Prober {
  /** From now on, probes count as "after the ingest". */
  ingestDone(): void;
  /** Stops after the current probe and resolves with the latencies, ms. */
  stop(): Promise<ProbeLatencies>;
}

/** Starts a prober: one Search and one health Check every 20 ms, on a client of its own. */
function startProber(address: string, collection: string, queryVectors: number[][]): Prober {
  const latencies: ProbeLatencies = { search: [], health: [], searchAfterIngest: [], healthAfterIngest: [] };
  let afterIngest = false;
  let probing = true;
  const done = (async () => {
    const probeClient = new VectorDbClient(address);
    try {
      for (let i = 0; probing; i++) {
        let t = performance.now();
        const after = afterIngest;
        await probeClient.points.search({ collection, vector: queryVectors[i % queryVectors.length]!, k: 10, withPayload: false });
        (after ? latencies.searchAfterIngest : latencies.search).push(performance.now() - t);
        t = performance.now();
        await probeClient.health();
        (after ? latencies.healthAfterIngest : latencies.health).push(performance.now() - t);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      probeClient.close();
    }
  })();
  return {
    ingestDone() {
      afterIngest = true;
    },
    async stop() {
      probing = false;
      await done;
      return latencies;
    },
  };
}

/**
 * Ingests `base` into `collection` and waits until the graph has caught up; returns the seconds each
 * took from the start of the ingest, and the collection's final info.
 */
async function ingestAndIndex(client: VectorDbClient, collection: string, base: FvecsData, prober: Prober): Promise<{ ingestSeconds: number; indexedSeconds: number; memoryBytes: number }> {
  function* batches(): Generator<IngestRequestInit> {
    for (let start = 0; start < base.count; start += batchSize) {
      const points = [];
      for (let i = start; i < Math.min(start + batchSize, base.count); i++) points.push({ id: String(i), vector: row(base, i) });
      yield { collection, points };
    }
  }
  const ingestStart = performance.now();
  await client.points.ingest(batches());
  const ingestSeconds = (performance.now() - ingestStart) / 1000;
  prober.ingestDone();
  let info = (await client.collections.getCollection({ name: collection })).collection!;
  while (info.indexedPointCount < info.pointCount) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    info = (await client.collections.getCollection({ name: collection })).collection!;
  }
  const indexedSeconds = (performance.now() - ingestStart) / 1000;
  return { ingestSeconds, indexedSeconds, memoryBytes: Number(info.memoryBytes) };
}

const Hnswlib = loadHnswlib();

/**
 * Seconds hnswlib-node (C++, one thread) takes to build the same points with the same parameters
 * (m 16, ef_construction 200): the anchor for "fully indexed" above. Undefined without hnswlib-node.
 */
function hnswlibBuildSeconds(base: FvecsData, distance: Distance): number | undefined {
  if (Hnswlib === undefined) return undefined;
  const index = new Hnswlib(distance === Distance.EUCLIDEAN ? "l2" : distance === Distance.COSINE ? "cosine" : "ip", base.dimension);
  index.initIndex(base.count, 16, 200, 100);
  const rows = Array.from({ length: base.count }, (_, i) => row(base, i));
  const start = performance.now();
  for (let i = 0; i < base.count; i++) index.addPoint(rows[i]!, i);
  return +((performance.now() - start) / 1000).toFixed(2);
}

/** For exact search and each ef: recall@10, Search QPS with 1 and 8 clients, BatchSearch QPS. */
async function searchModes(client: VectorDbClient, clients8: VectorDbClient[], collection: string, queryVectors: number[][], truth: Int32Array[]): Promise<Record<string, unknown>[]> {
  const modes: { mode: string; extra: SearchExtra }[] = [
    { mode: "exact", extra: { exact: true } },
    ...efs.map((ef) => ({ mode: `hnsw ef=${ef}`, extra: { ef } })),
  ];
  const rows: Record<string, unknown>[] = [];
  for (const { mode, extra } of modes) {
    await searchQps([client], collection, queryVectors.slice(0, Math.min(50, queryVectors.length)), extra); // warm-up
    const one = await searchQps([client], collection, queryVectors, extra);
    const eight = await searchQps(clients8, collection, queryVectors, extra);
    const batch = await batchQps(client, collection, queryVectors, extra);
    rows.push({
      dataset: collection,
      mode,
      recallAt10: +recallAt10(one.hits, truth).toFixed(4),
      searchQps1: Math.round(one.qps),
      searchQps8: Math.round(eight.qps),
      batchSearchQps: Math.round(batch.qps),
      batchRecallAt10: +recallAt10(batch.hits, truth).toFixed(4),
    });
  }
  return rows;
}

async function run(): Promise<void> {
  // A data directory of its own (durable storage, fsync per group), removed at the end.
  const dataDir = mkdtempSync(join(tmpdir(), "vectordb-bench-"));
  const config = makeConfig({ host: "127.0.0.1", port: 0, logLevel: "silent", dataDir, metricsPort: 0 });
  const running = await openServer(config, createLogger("silent"));
  const address = `127.0.0.1:${running.server.port}`;
  const client = new VectorDbClient(address);
  const clients8 = Array.from({ length: 8 }, () => new VectorDbClient(address));
  const results: Record<string, unknown>[] = [];
  const searchRows: Record<string, unknown>[] = [];
  try {
    for (const dataset of datasets) {
      if (!wanted.has(dataset.name)) continue;
      if (![dataset.base, dataset.queries, dataset.groundTruth].every(existsSync)) {
        console.log(`skip ${dataset.name}: files not found under ${datasetsRoot}`);
        continue;
      }
      const base = readFvecsFile(dataset.base);
      const queries = readFvecsFile(dataset.queries);
      const truth = readIvecsFile(dataset.groundTruth);
      const n = Math.min(queryCount, queries.count);
      const queryVectors = Array.from({ length: n }, (_, q) => row(queries, q));
      await client.collections.createCollection({ name: dataset.name, dimension: base.dimension, distance: dataset.distance });
      const prober = startProber(address, dataset.name, queryVectors);
      const { ingestSeconds, indexedSeconds, memoryBytes } = await ingestAndIndex(client, dataset.name, base, prober);
      const latencies = await prober.stop();
      searchRows.push(...(await searchModes(client, clients8, dataset.name, queryVectors, truth)));
      results.push({
        dataset: dataset.name,
        points: base.count,
        dimension: base.dimension,
        queries: n,
        ingestSeconds: +ingestSeconds.toFixed(2),
        ingestVectorsPerSecond: Math.round(base.count / ingestSeconds),
        indexedSeconds: +indexedSeconds.toFixed(2),
        indexedPerSecond: Math.round(base.count / indexedSeconds),
        searchDuringIngest: latencySummary(latencies.search),
        healthDuringIngest: latencySummary(latencies.health),
        searchWhileIndexing: latencySummary(latencies.searchAfterIngest),
        healthWhileIndexing: latencySummary(latencies.healthAfterIngest),
        hnswlibBuildSeconds: hnswlibBuildSeconds(base, dataset.distance),
        memoryBytes,
        bytesPerVector: Math.round(memoryBytes / base.count),
      });
      await client.collections.deleteCollection({ name: dataset.name });
    }
  } finally {
    client.close();
    for (const c of clients8) c.close();
    await running.close({ checkpoint: false });
    rmSync(dataDir, { recursive: true, force: true });
  }
  for (const r of results) {
    const { searchDuringIngest, healthDuringIngest, searchWhileIndexing, healthWhileIndexing, ...rest } = r as Record<string, object>;
    console.log(rest);
    console.log("  Search while Ingest runs:", searchDuringIngest);
    console.log("  health Check while Ingest runs:", healthDuringIngest);
    console.log("  Search after Ingest returned, until fully indexed:", searchWhileIndexing);
    console.log("  health Check after Ingest returned, until fully indexed:", healthWhileIndexing);
  }
  console.table(searchRows);
  const outDir = join(projectDir, "bench/results");
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `server-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(outFile, JSON.stringify({ node: process.version, date: new Date().toISOString(), results, search: searchRows }, null, 2));
  console.log(`wrote ${outFile}`);
}

await run();
