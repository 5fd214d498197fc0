/**
 * SIFT10K through the clients, against one `vectordb serve` child process on 127.0.0.1: the Python
 * client (clients/python/bench_sift.py, run with Debian's /usr/bin/python3) and the TypeScript client
 * (src/client), one after the other, each in its own collection, with the same steps:
 *   ingest 10,000 × 128 euclidean vectors through Ingest (batches of 1,000) → vectors/s;
 *   seconds until the HNSW graph has caught up; the 100 queries one Search at a time (k = 10, ef = 64,
 *   no payloads; 20 warm-up calls, then --rounds passes) → QPS, p50/p99 ms; recall@10 against the
 *   ground truth; the 100 queries in one BatchSearch, --rounds times → QPS.
 *
 * Usage: npm run bench:clients [-- --rounds 10 --ef 64]
 * Prints a table and writes bench/results/clients-<date>.json. Needs ../shared/datasets/sift10k
 * (VECTORDB_DATASETS overrides ../shared/datasets) and, for the Python side, Debian's python3-grpcio
 * and python3-numpy (scripts/setup-clients.sh python).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Distance, VectorDbClient, type IngestRequestInit } from "../src/client/index.js";
import { readFvecsFile, readIvecsFile, type FvecsData } from "../src/datasets/index.js";
import { freePort } from "../src/testing/index.js";

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const datasetDir = join(process.env.VECTORDB_DATASETS ?? resolve(projectDir, "../shared/datasets"), "sift10k");
const k = 10;
const warmupCalls = 20;
const serverStartTimeoutMs = 30_000;
const indexWaitMs = 600_000;
const pythonTimeoutMs = 900_000;

const { values: options } = parseArgs({
  options: {
    rounds: { type: "string", default: "10" },
    ef: { type: "string", default: "64" },
    "batch-size": { type: "string", default: "1000" },
    python: { type: "string", default: "/usr/bin/python3" },
  },
});
const rounds = Number(options.rounds);
const ef = Number(options.ef);
const batchSize = Number(options["batch-size"]);
if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 1000)) throw new Error("--rounds must be 1 to 1000");

type Result = Record<string, string | number>;

async function startServer(dataDir: string): Promise<{ child: ChildProcess; address: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(projectDir, "dist/src/cli/main.js"), "serve", "--port", String(port), "--data-dir", dataDir, "--log-level", "warn", "--metrics-port", "0"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  const address = `127.0.0.1:${port}`;
  const client = new VectorDbClient(address);
  const deadline = Date.now() + serverStartTimeoutMs;
  try {
    for (;;) {
      const status = await client.health("", { timeoutMs: 1_000 }).catch(() => "UNREACHABLE");
      if (status === "SERVING") return { child, address };
      if (Date.now() > deadline) throw new Error(`server on ${address} not SERVING after ${serverStartTimeoutMs} ms (last: ${status})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    client.close();
  }
}

function row(data: FvecsData, i: number): number[] {
  return Array.from(data.data.subarray(i * data.dimension, (i + 1) * data.dimension));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measureTypeScript(address: string): Promise<Result> {
  const base = readFvecsFile(join(datasetDir, "siftsmall_base.fvecs"));
  const queryData = readFvecsFile(join(datasetDir, "siftsmall_query.fvecs"));
  const truth = readIvecsFile(join(datasetDir, "siftsmall_groundtruth.ivecs"));
  const queries = Array.from({ length: queryData.count }, (_, q) => row(queryData, q));
  const collection = `bench_sift_ts_${process.pid}`;
  const client = new VectorDbClient(address);
  await client.collections.createCollection({ name: collection, dimension: base.dimension, distance: Distance.EUCLIDEAN });
  try {
    function* batches(): Generator<IngestRequestInit> {
      for (let start = 0; start < base.count; start += batchSize) {
        const points = [];
        for (let i = start; i < Math.min(start + batchSize, base.count); i++) points.push({ id: String(i), vector: row(base, i) });
        yield { collection, points };
      }
    }
    const started = performance.now();
    await client.points.ingest(batches());
    const ingestSeconds = (performance.now() - started) / 1000;
    for (const deadline = Date.now() + indexWaitMs; ; ) {
      const { collection: info } = await client.collections.getCollection({ name: collection });
      if (info !== undefined && info.indexedPointCount === info.pointCount) break;
      if (Date.now() > deadline) throw new Error(`${collection}: graph not caught up after ${indexWaitMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const indexedSeconds = (performance.now() - started) / 1000;

    for (let i = 0; i < warmupCalls; i++) await client.points.search({ collection, vector: queries[i % queries.length]!, k, ef, withPayload: false });
    const latencies: number[] = [];
    let recallHits = 0;
    const loopStarted = performance.now();
    for (let round = 0; round < rounds; round++) {
      for (let q = 0; q < queries.length; q++) {
        const t = performance.now();
        const { hits } = await client.points.search({ collection, vector: queries[q]!, k, ef, withPayload: false });
        latencies.push(performance.now() - t);
        if (round === 0) {
          const expected = new Set(Array.from(truth[q]!.subarray(0, k), String));
          recallHits += hits.filter((hit) => expected.has(hit.id)).length;
        }
      }
    }
    const searchSeconds = (performance.now() - loopStarted) / 1000;
    const batchStarted = performance.now();
    for (let round = 0; round < rounds; round++) {
      await client.points.batchSearch({ collection, queries: queries.map((vector) => ({ vector, k, ef, withPayload: false })) });
    }
    const batchSeconds = (performance.now() - batchStarted) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      client: "typescript",
      node: process.versions.node,
      points: base.count,
      batch_size: batchSize,
      ingest_s: +ingestSeconds.toFixed(3),
      ingest_vectors_per_s: Math.round(base.count / ingestSeconds),
      indexed_s: +indexedSeconds.toFixed(3),
      ef,
      search_calls: latencies.length,
      search_qps: Math.round(latencies.length / searchSeconds),
      search_p50_ms: +percentile(latencies, 50).toFixed(3),
      search_p99_ms: +percentile(latencies, 99).toFixed(3),
      batch_search_qps: Math.round((rounds * queries.length) / batchSeconds),
      recall_at_10: +(recallHits / (k * queries.length)).toFixed(4),
    };
  } finally {
    await client.collections.deleteCollection({ name: collection });
    client.close();
  }
}

function measurePython(address: string): Promise<Result> {
  const args = [join(projectDir, "clients/python/bench_sift.py"), "--address", address, "--dataset", datasetDir, "--rounds", String(rounds), "--ef", String(ef), "--batch-size", String(batchSize), "--json"];
  return new Promise((resolveResult, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: join(projectDir, "clients/python/src"), PYTHONDONTWRITEBYTECODE: "1" };
    delete env.PYTHONHOME;
    const child = spawn(options.python!, args, { env, stdio: ["ignore", "pipe", "inherit"], timeout: pythonTimeoutMs });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolveResult(JSON.parse(stdout.trim()) as Result) : reject(new Error(`bench_sift.py exited ${code}`))));
  });
}

async function main(): Promise<void> {
  if (!existsSync(join(datasetDir, "siftsmall_base.fvecs"))) {
    console.log(`SIFT10K not found in ${datasetDir}: nothing to measure`);
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), "vectordb-bench-clients-"));
  const { child, address } = await startServer(dataDir);
  const results: Result[] = [];
  try {
    results.push(await measurePython(address));
    results.push(await measureTypeScript(address));
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
  const keys = Object.keys(results[1]!).filter((key) => key !== "client" && key !== "node");
  console.log(`SIFT10K through the clients (server: vectordb serve child process on ${address}, fsync policy fsync)`);
  console.log(["measure".padEnd(22), ...results.map((r) => String(r.client).padStart(12))].join(" "));
  for (const key of keys) console.log([key.padEnd(22), ...results.map((r) => String(r[key] ?? "").padStart(12))].join(" "));
  const outDir = join(projectDir, "bench/results");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `clients-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(out, JSON.stringify({ rounds, ef, batchSize, results }, null, 2));
  console.log(`wrote ${out}`);
}

await main();
