/**
 * Storage benchmark on GloVe-100k (100,000 × 100, cosine), through the real server in this process:
 *
 * - ingest rate through the client-streaming `Ingest` RPC (batches of 1,000) under each fsync policy
 *   (`fsync`, `interval`, `os`), each into a fresh data directory: into the cosine collection (the
 *   background HNSW build shares the CPU) and into a dot-product one (no graph: the write path alone);
 * - reopen time from WAL replay alone (the server stopped without a checkpoint, as after a crash), and
 *   how long the graph then takes to be rebuilt in the background;
 * - checkpoint (compaction) time: the synchronous snapshot pause, encoding, segment write, WAL cut, and
 *   the worst Search latency seen by a prober while it ran;
 * - reopen time from the segment (median of 3), in this process and as a child process
 *   (`vectordb serve`: from spawn to health SERVING), and a check that searches answer the same;
 * - bytes on disk per vector (WAL alone; segment after the checkpoint).
 *
 * Usage: npm run bench:storage [-- --batch-size 1000 --skip-child]
 * Prints a table and writes bench/results/storage-<date>.json. Skipped (exit 0) when the dataset is absent.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Distance, VectorDbClient, type IngestRequestInit } from "../src/client/index.js";
import { readFvecsFile, type FvecsData } from "../src/datasets/index.js";
import type { CheckpointReport } from "../src/collection/index.js";
import { makeConfig, type FsyncPolicy } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { openServer, type VectorDbServer } from "../src/main.js";
import { datasetsDir, defaultCliPath, freePort, projectRoot, waitForPort } from "../src/testing/index.js";

const projectDir = projectRoot();
const datasetsRoot = datasetsDir();
const basePath = join(datasetsRoot, "glove-100-wink/glove100_base.fvecs");
const queriesPath = join(datasetsRoot, "glove-100-wink/glove100_query.fvecs");
const collection = "glove";

const { values: options } = parseArgs({
  options: {
    "batch-size": { type: "string", default: "1000" },
    "skip-child": { type: "boolean", default: false },
  },
});
const batchSize = Number(options["batch-size"]);

function row(data: FvecsData, i: number): number[] {
  return Array.from(data.data.subarray(i * data.dimension, (i + 1) * data.dimension));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const round = (x: number, digits = 1): number => +x.toFixed(digits);

async function open(dataDir: string, fsync: FsyncPolicy = "fsync"): Promise<{ running: VectorDbServer; client: VectorDbClient; openMs: number }> {
  const started = performance.now();
  const running = await openServer(makeConfig({ host: "127.0.0.1", port: 0, logLevel: "silent", dataDir, storage: { fsync }, metricsPort: 0 }), createLogger("silent"));
  const openMs = performance.now() - started;
  return { running, client: new VectorDbClient(`127.0.0.1:${running.server.port}`), openMs };
}

async function close(server: { running: VectorDbServer; client: VectorDbClient }, checkpoint: boolean): Promise<void> {
  server.client.close();
  await server.running.close({ checkpoint });
}

async function ingest(client: VectorDbClient, base: FvecsData, name = collection, distance = Distance.COSINE): Promise<number> {
  function* batches(): Generator<IngestRequestInit> {
    for (let start = 0; start < base.count; start += batchSize) {
      const points = [];
      for (let i = start; i < Math.min(start + batchSize, base.count); i++) points.push({ id: String(i), vector: row(base, i) });
      yield { collection: name, points };
    }
  }
  await client.collections.createCollection({ name, dimension: base.dimension, distance });
  const started = performance.now();
  const response = await client.points.ingest(batches());
  if (Number(response.inserted) !== base.count) throw new Error(`ingested ${response.inserted} of ${base.count}`);
  return performance.now() - started;
}

async function waitIndexed(client: VectorDbClient): Promise<void> {
  for (;;) {
    const info = (await client.collections.getCollection({ name: collection })).collection!;
    if (info.indexedPointCount === info.pointCount) return;
    await new Promise((resolveWait) => setTimeout(resolveWait, 200));
  }
}


/**
 * Spawns `vectordb serve` on `dataDir` and measures the time from spawn to health SERVING (Node's own
 * start and module loading included). Waits for the port before the first health call, so that
 * grpc-js's reconnect backoff does not add to the figure.
 */
async function childReopenMs(dataDir: string): Promise<number> {
  const port = await freePort();
  const cli = defaultCliPath();
  const started = performance.now();
  const child = spawn(process.execPath, [cli, "serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir, "--log-level", "warn", "--metrics-port", "0"], { stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  let client: VectorDbClient | undefined;
  try {
    if (!(await waitForPort(port, () => performance.now() > started + 60_000))) throw new Error(`port ${port} did not open within 60 s`);
    client = new VectorDbClient(`127.0.0.1:${port}`);
    for (;;) {
      const state = await client.health("", { timeoutMs: 1_000 }).catch(() => "DOWN");
      if (state === "SERVING") return performance.now() - started;
      if (performance.now() - started > 60_000) throw new Error("the child server was not SERVING after 60 s");
      await new Promise((resolveWait) => setTimeout(resolveWait, 5));
    }
  } finally {
    client?.close();
    child.kill("SIGTERM");
    await exited;
  }
}

type Server = Awaited<ReturnType<typeof open>>;
type IngestFigures = { ms: number; vectorsPerSecond: number; walBytes: number; dotMs: number; dotVectorsPerSecond: number };

/**
 * 1. Ingest under each policy, each into its own directory, with the default wal_bytes_max (64 MiB:
 *    the 100k WAL stays below it, so no checkpoint runs during the ingest). Keeps `ingest-fsync/`.
 */
async function ingestUnderEachPolicy(scratch: string, base: FvecsData): Promise<Record<string, IngestFigures>> {
  const figures: Record<string, IngestFigures> = {};
  for (const fsync of ["fsync", "interval", "os"] as const) {
    const dataDir = join(scratch, `ingest-${fsync}`);
    const server = await open(dataDir, fsync);
    const ms = await ingest(server.client, base);
    const walBytes = server.running.db.get(collection).walBytes;
    await close(server, false);
    // The same vectors into a dot-product collection: no graph to build, so this is the write path alone.
    const dotDir = join(scratch, `ingest-dot-${fsync}`);
    const dotServer = await open(dotDir, fsync);
    const dotMs = await ingest(dotServer.client, base, "glove_dot", Distance.DOT);
    await close(dotServer, false);
    rmSync(dotDir, { recursive: true, force: true });
    const measured = { ms: round(ms), vectorsPerSecond: Math.round(base.count / (ms / 1000)), walBytes, dotMs: round(dotMs), dotVectorsPerSecond: Math.round(base.count / (dotMs / 1000)) };
    figures[fsync] = measured;
    console.log(`ingest under --fsync ${fsync}: ${measured.vectorsPerSecond} vectors/s with the graph build, ${measured.dotVectorsPerSecond} vectors/s without (dot)`);
    if (fsync !== "fsync") rmSync(dataDir, { recursive: true, force: true });
  }
  return figures;
}

/** 2. Reopen from WAL replay alone (the fsync run stopped without a checkpoint): 3 times, on copies. */
async function reopenFromWal(scratch: string, walOnly: string): Promise<{ openMs: number; replayMs: number }[]> {
  const replay: { openMs: number; replayMs: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const copy = join(scratch, `replay-${i}`);
    cpSync(walOnly, copy, { recursive: true });
    const server = await open(copy);
    replay.push({ openMs: server.openMs, replayMs: server.running.db.get(collection).recovery.replayMs });
    await close(server, false);
    rmSync(copy, { recursive: true, force: true });
  }
  return replay;
}

/** 4. Checkpoint (compaction) with a Search prober running; returns the report and the searches' latencies meanwhile. */
async function checkpointWhileSearching(main: Server, queryVectors: number[][]): Promise<{ checkpoint: CheckpointReport; duringCheckpoint: number[] }> {
  const durable = main.running.db.get(collection);
  const probeLatencies: number[] = [];
  let probing = true;
  const prober = (async () => {
    for (let i = 0; probing; i++) {
      const started = performance.now();
      await main.client.points.search({ collection, vector: queryVectors[i % queryVectors.length]!, k: 10, withPayload: false });
      probeLatencies.push(performance.now() - started);
    }
  })();
  await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  const baselineProbes = probeLatencies.length;
  const checkpoint = await durable.checkpoint();
  probing = false;
  await prober;
  if (checkpoint === undefined) throw new Error("the checkpoint had nothing to do");
  return { checkpoint, duringCheckpoint: probeLatencies.slice(baselineProbes) };
}

/** 5. Reopen from the segment in this process, 3 times; the first reopen's searches must equal `before`. */
async function reopenFromSegment(walOnly: string, queryVectors: number[][], before: unknown): Promise<{ segmentOpens: { openMs: number; segmentMs: number }[]; same: boolean }> {
  const segmentOpens: { openMs: number; segmentMs: number }[] = [];
  let same = true;
  for (let i = 0; i < 3; i++) {
    const server = await open(walOnly);
    const recovered = server.running.db.get(collection);
    if (recovered.recovery.replayedRecords !== 0) throw new Error("expected a reopen from the segment alone");
    segmentOpens.push({ openMs: server.openMs, segmentMs: recovered.recovery.segmentMs });
    if (i === 0) {
      const after = await Promise.all(queryVectors.map(async (vector) => (await server.client.points.search({ collection, vector, k: 10, withPayload: false })).hits));
      same = JSON.stringify(after) === JSON.stringify(before);
    }
    await close(server, true);
  }
  return { segmentOpens, same };
}

async function run(): Promise<void> {
  if (!existsSync(basePath) || !existsSync(queriesPath)) {
    console.log(`skip: ${basePath} (GloVe-100k) not found`);
    return;
  }
  const base = readFvecsFile(basePath);
  const queries = readFvecsFile(queriesPath);
  const queryVectors = Array.from({ length: 50 }, (_, q) => row(queries, q));
  const scratch = mkdtempSync(join(tmpdir(), "vectordb-storage-bench-"));
  const result: Record<string, unknown> = { node: process.version, date: new Date().toISOString(), points: base.count, dimension: base.dimension, batchSize };
  try {
    const ingest_ = await ingestUnderEachPolicy(scratch, base);
    result.ingest = ingest_;

    const walOnly = join(scratch, "ingest-fsync");
    const walBytes = statSync(join(walOnly, "collections", collection, "wal.log")).size;
    const replay = await reopenFromWal(scratch, walOnly);
    const replayOpenMs = median(replay.map((r) => r.openMs));
    console.log(`reopen from WAL replay alone (${walBytes} bytes of WAL): ${round(replayOpenMs)} ms (median of 3)`);

    // 3. Reopen once more, and time the graph rebuild that a WAL-only reopen needs in the background.
    const main = await open(walOnly);
    const rebuildStarted = performance.now();
    await waitIndexed(main.client);
    const graphRebuildMs = performance.now() - rebuildStarted;
    console.log(`graph rebuilt in the background after a WAL-only reopen: ${round(graphRebuildMs / 1000, 1)} s`);

    const { checkpoint, duringCheckpoint } = await checkpointWhileSearching(main, queryVectors);
    const collectionDir = join(walOnly, "collections", collection);
    const segmentBytes = statSync(join(collectionDir, "segment.bin")).size;
    const walAfter = statSync(join(collectionDir, "wal.log")).size;
    console.log(
      `checkpoint: pause ${round(checkpoint.pauseMs)} ms, vector copy ${round(checkpoint.vectorCopyMs)} ms, encode ${round(checkpoint.encodeMs)} ms, write ${round(checkpoint.writeMs)} ms, cut ${round(checkpoint.cutMs)} ms, total ${round(checkpoint.totalMs)} ms; ` +
        `${duringCheckpoint.length} searches meanwhile, slowest ${round(Math.max(0, ...duringCheckpoint))} ms`,
    );
    const before = await Promise.all(queryVectors.map(async (vector) => (await main.client.points.search({ collection, vector, k: 10, withPayload: false })).hits));
    await close(main, true);

    const { segmentOpens, same } = await reopenFromSegment(walOnly, queryVectors, before);
    const segmentOpenMs = median(segmentOpens.map((r) => r.openMs));
    console.log(`reopen from the segment (${segmentBytes} bytes): ${round(segmentOpenMs)} ms in process (median of 3); searches identical: ${same}`);
    let childMs: number | undefined;
    let childEmptyMs: number | undefined;
    if (!options["skip-child"]) {
      // 5 (continued). As a child process, spawn to SERVING.
      childMs = median([await childReopenMs(walOnly), await childReopenMs(walOnly), await childReopenMs(walOnly)]);
      const empty = join(scratch, "empty");
      childEmptyMs = median([await childReopenMs(empty), await childReopenMs(empty), await childReopenMs(empty)]);
      console.log(`reopen from the segment as a child process, spawn to SERVING: ${round(childMs)} ms (median of 3; ${round(childEmptyMs)} ms with an empty data directory)`);
    }

    result.reopen = {
      walReplay: { walBytes, openMs: round(replayOpenMs), runs: replay.map((r) => ({ openMs: round(r.openMs), replayMs: round(r.replayMs) })), graphRebuildMs: round(graphRebuildMs) },
      segment: { segmentBytes, openMs: round(segmentOpenMs), runs: segmentOpens.map((r) => ({ openMs: round(r.openMs), segmentMs: round(r.segmentMs) })), childProcessToServingMs: childMs === undefined ? null : round(childMs), emptyDirChildProcessToServingMs: childEmptyMs === undefined ? null : round(childEmptyMs), searchesIdentical: same },
    };
    result.checkpoint = {
      ...Object.fromEntries(Object.entries(checkpoint).map(([key, value]) => [key, round(value)])),
      searchesDuring: duringCheckpoint.length,
      slowestSearchDuringMs: round(Math.max(0, ...duringCheckpoint)),
      walBytesAfter: walAfter,
    };
    result.bytesOnDisk = {
      walPerVector: round(walBytes / base.count),
      segmentPerVector: round(segmentBytes / base.count),
      rawFloat32PerVector: base.dimension * 4,
    };

    console.table([
      ...Object.entries(ingest_).map(([policy, r]) => ({ measure: `ingest, --fsync ${policy} (cosine, graph built meanwhile)`, value: `${r.vectorsPerSecond} vectors/s` })),
      ...Object.entries(ingest_).map(([policy, r]) => ({ measure: `ingest, --fsync ${policy} (dot: no graph)`, value: `${r.dotVectorsPerSecond} vectors/s` })),
      { measure: "reopen from WAL replay alone (in process)", value: `${round(replayOpenMs)} ms` },
      { measure: "  then graph rebuild in the background", value: `${round(graphRebuildMs / 1000, 1)} s` },
      { measure: "reopen from the segment (in process)", value: `${round(segmentOpenMs)} ms` },
      ...(childMs === undefined ? [] : [{ measure: "reopen from the segment (child process, spawn → SERVING)", value: `${round(childMs)} ms` }]),
      ...(childEmptyMs === undefined ? [] : [{ measure: "  same with an empty data directory (Node start, module loading)", value: `${round(childEmptyMs)} ms` }]),
      { measure: "checkpoint: synchronous pause", value: `${round(checkpoint.pauseMs)} ms` },
      { measure: "checkpoint: vector copy (sliced, copy-on-write)", value: `${round(checkpoint.vectorCopyMs)} ms` },
      { measure: "checkpoint: total (encode, write + fsync, WAL cut)", value: `${round(checkpoint.totalMs)} ms` },
      { measure: "slowest Search during the checkpoint", value: `${round(Math.max(0, ...duringCheckpoint))} ms` },
      { measure: "bytes on disk per vector: WAL", value: `${round(walBytes / base.count)}` },
      { measure: "bytes on disk per vector: segment", value: `${round(segmentBytes / base.count)}` },
    ]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const outDir = join(projectDir, "bench/results");
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `storage-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(outFile, JSON.stringify(result, null, 2));
  console.log(`wrote ${outFile}`);
}

await run();
