/**
 * Single-search fan-out over segments: the segments searched one after another on the main thread
 * (`SegmentedCollection.search`) against all at once on the builder threads (`searchFanOut` with its
 * bounds set to 0), on clustered
 * synthetic data (bench/scale-data.ts) in segments of `--segment-points` points, for several dimensions
 * and ef. Latency per query (one at a time, the two ways alternating in rounds, best round counts) and
 * the main thread's busy time per query (event-loop utilisation), so the bounds in `fanOutBounds`
 * (dimension × ef, collection size) can be read off where the threads start to win.
 *
 * Usage: npm run bench:fan-out -- [--dimensions 96,128,256,512,768]
 *          [--segments 4] [--segment-points 10000] [--queries 200] [--threads 2]
 * Prints a table and writes bench/results/fan-out-<date>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { SearchParams } from "../src/collection/index.js";
import { fanOutBounds, SegmentedCollection } from "../src/collection/segmented-collection.js";
import { defaultIndexing, defaultLimits } from "../src/config.js";
import { GraphBuilderPool } from "../src/index/hnsw/builder-pool.js";
import { projectRoot } from "../src/testing/index.js";
import { commandLine } from "./cli-options.js";
import { scaleData } from "./scale-data.js";

const cli = commandLine("npm run bench:fan-out -- [--dimensions 96,128,256,512,768] [--segments 4] [--segment-points 10000] [--queries 200] [--threads 2]");
const { values: options } = parseArgs({
  options: {
    dimensions: { type: "string" },
    segments: { type: "string" },
    "segment-points": { type: "string" },
    queries: { type: "string" },
    threads: { type: "string" },
  },
});
const dimensions = (options.dimensions ?? "96,128,256,512,768").split(",").map((text) => cli.integer("dimensions", text, 0, 2));
const segmentCount = cli.integer("segments", options.segments, 4, 2);
const segmentPoints = cli.integer("segment-points", options["segment-points"], 10_000, 100);
const queryCount = cli.integer("queries", options.queries, 200, 10);
const threads = cli.integer("threads", options.threads, 2, 1);
const efs = [64, 128];
/** The bounds the server uses (this benchmark sets them to 0 to always take the fan-out path). */
const serverBounds = { ...fanOutBounds };
const rounds = 3;
const batchSize = 1_000;

interface Row {
  dimension: number;
  ef: number;
  work: number;
  mainThreadMs: number;
  buildersMs: number;
  speedup: number;
  mainThreadBusyMsOnBuilders: number;
  /** p99 over every round's queries, ms. */
  mainThreadP99Ms: number;
  buildersP99Ms: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

async function measure(collection: SegmentedCollection, queries: SearchParams[]): Promise<{ main: number; builders: number; busy: number; mainP99: number; buildersP99: number }> {
  let main = Number.POSITIVE_INFINITY;
  let builders = Number.POSITIVE_INFINITY;
  let busy = Number.POSITIVE_INFINITY;
  const mainLatencies: number[] = [];
  const builderLatencies: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let started = performance.now();
    for (const query of queries) {
      const at = performance.now();
      collection.search(query);
      mainLatencies.push(performance.now() - at);
    }
    main = Math.min(main, (performance.now() - started) / queries.length);
    const before = performance.eventLoopUtilization();
    started = performance.now();
    for (const query of queries) {
      const at = performance.now();
      await collection.searchFanOut(query);
      builderLatencies.push(performance.now() - at);
    }
    builders = Math.min(builders, (performance.now() - started) / queries.length);
    busy = Math.min(busy, performance.eventLoopUtilization(before).active / queries.length);
  }
  mainLatencies.sort((a, b) => a - b);
  builderLatencies.sort((a, b) => a - b);
  return { main, builders, busy, mainP99: percentile(mainLatencies, 0.99), buildersP99: percentile(builderLatencies, 0.99) };
}

async function main(): Promise<void> {
  console.log(`fan-out: ${segmentCount} segments of ${segmentPoints.toLocaleString("en")} points, ${queryCount} queries, ${threads} builder threads, k 10; the server's fanOutBounds = ${JSON.stringify(serverBounds)}`);
  // Every search of the threaded side takes the fan-out path, whatever the bounds.
  fanOutBounds.workMin = 0;
  fanOutBounds.pointsMin = 0;
  const pool = new GraphBuilderPool(threads);
  const rows: Row[] = [];
  try {
    for (const dimension of dimensions) {
      const points = segmentCount * segmentPoints;
      const data = scaleData({ points, dimension, clusters: 64, queryCount, seed: 7 });
      const collection = new SegmentedCollection(
        { name: "fan-out", dimension, distance: "euclidean", hnsw: { m: 16, efConstruction: 100, ef: 64 } },
        { ...defaultLimits, collectionPointsMax: points },
        { ...defaultIndexing, indexThreads: threads, builders: pool, segmentPointsMax: segmentPoints, recallSampleRate: 0 },
      );
      try {
        const started = performance.now();
        for (let start = 0; start < points; start += batchSize) {
          const vectors = data.batchVectors(start, batchSize);
          collection.upsert(Array.from({ length: batchSize }, (_, i) => ({ id: String(start + i), vector: vectors.subarray(i * dimension, (i + 1) * dimension) })));
        }
        await collection.whenIndexed();
        const buildMs = performance.now() - started;
        for (const ef of efs) {
          const queries = Array.from({ length: queryCount }, (_, q) => ({ vector: data.queries.subarray(q * dimension, (q + 1) * dimension), k: 10, ef, exact: false, withPayload: false, withVector: false }));
          const { main, builders, busy, mainP99, buildersP99 } = await measure(collection, queries);
          const row = { dimension, ef, work: dimension * ef, mainThreadMs: main, buildersMs: builders, speedup: main / builders, mainThreadBusyMsOnBuilders: busy, mainThreadP99Ms: mainP99, buildersP99Ms: buildersP99 };
          rows.push(row);
          console.log(
            `d ${dimension} ef ${ef} (work ${row.work}, ${collection.segmentEntries.length} segments, built in ${(buildMs / 1000).toFixed(1)} s): main thread ${main.toFixed(3)} ms (p99 ${mainP99.toFixed(3)}), builders ${builders.toFixed(3)} ms (p99 ${buildersP99.toFixed(3)}; ${row.speedup.toFixed(2)}×), main thread busy ${busy.toFixed(3)} ms a query on builders`,
          );
        }
      } finally {
        collection.close();
      }
    }
  } finally {
    await pool.close();
  }
  console.log("\n| dimension | ef | dimension × ef | main thread, ms a query (p99) | builder threads, ms a query (p99) | speed-up | main thread busy on builders, ms |\n|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.dimension} | ${r.ef} | ${r.work} | ${r.mainThreadMs.toFixed(3)} (${r.mainThreadP99Ms.toFixed(3)}) | ${r.buildersMs.toFixed(3)} (${r.buildersP99Ms.toFixed(3)}) | ${r.speedup.toFixed(2)}× | ${r.mainThreadBusyMsOnBuilders.toFixed(3)} |`);
  const dir = join(projectRoot(), "bench/results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `fan-out-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify({ segmentCount, segmentPoints, queryCount, threads, fanOutBounds: serverBounds, rows }, null, 2));
  console.log(`\nwritten to ${file}`);
}

await main();
