/**
 * Serving at the transport's speed (issue 15): one `vectordb serve` child process on 127.0.0.1 and
 * this process as its client, as a new user would write one: `@grpc/grpc-js` with
 * `@grpc/proto-loader` over proto/ (not the project's client). SIFT10K (10,000 × 128, euclidean):
 *   Upsert, 1,000 points a call, one in flight → vectors/s (collection "upsert");
 *   Ingest, one stream of batches of 1,000 → vectors/s (collection "ingest", then searched);
 *   wait until the HNSW graph has caught up;
 *   closed loops at 1, 8 and 32 calls in flight of grpc.health.v1 Check (the cheapest call on this
 *   server: the ceiling) and of Search (k = 10, the default ef, the 100 queries round-robin), the two
 *   alternated so both see the same machine → QPS, p50/p99 ms, CPU per call of each process (utime +
 *   stime from /proc over the phase), recall@10 of the Search answers;
 *   BatchSearch of the 100 queries, 1 and 2 in flight → queries/s;
 *   the server's RSS at the end.
 * Ratios: Search QPS / Check QPS at each concurrency; server CPU per Search / per Check.
 * First, in this process: the CPU time to turn the bytes of an Upsert (1,000 × 128) and of a Search
 * into vectors, by protobuf-es (number[]) plus a copy into a Float32Array (what the server did before
 * issue 15) and by the server's deserializer (straight into Float32Array), alternated.
 *
 * Usage: npm run bench:serving [-- --seconds 3 --rounds 1 --profile DIR --server-cli PATH --label NAME]
 *   --seconds: length of each closed-loop phase; --rounds: how many times the Check/Search pairs run
 *   (each figure is the best round); --profile DIR: run the server under `node --cpu-prof` and write
 *   its profile to DIR when it exits (summarise it with scripts/cpu-profile-summary.mjs);
 *   --server-cli: another build's dist/src/cli/main.js (to compare two versions on the same machine,
 *   run alternately); --server-node-args: node options for the server (e.g. "--max-semi-space-size=32");
 *   --label: a name stored in the JSON.
 * Prints a table and writes bench/results/serving-<date>.json. Needs ../shared/datasets/sift10k
 * (VECTORDB_DATASETS overrides ../shared/datasets).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { readFvecsFile, readIvecsFile } from "../src/datasets/index.js";
import { tolerantDeserializer } from "../src/rpc/index.js";
import { SearchRequestSchema, UpsertRequestSchema } from "../gen/vectordb/v1/point_service_pb.js";
import { freePort, sleep } from "../src/testing/index.js";
import { commandLine } from "./cli-options.js";

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const datasetDir = join(process.env.VECTORDB_DATASETS ?? resolve(projectDir, "../shared/datasets"), "sift10k");
const k = 10;
const batchSize = 1_000;
const concurrencies = [1, 8, 32];
const clockTicksPerSecond = 100; // USER_HZ on Linux
const cli = commandLine("npm run bench:serving -- [--seconds 3] [--rounds 1] [--profile DIR] [--server-cli PATH] [--server-node-args ARGS] [--label NAME]");
const { values: options } = parseArgs({
  options: { seconds: { type: "string" }, rounds: { type: "string" }, profile: { type: "string" }, "server-cli": { type: "string" }, label: { type: "string" }, "server-node-args": { type: "string" } },
});
const serverCli = resolve(options["server-cli"] ?? join(projectDir, "dist/src/cli/main.js"));
const phaseMs = cli.integer("seconds", options.seconds, 3, 1) * 1000;
const rounds = cli.integer("rounds", options.rounds, 1, 1);

type Call = (i: number) => Promise<unknown>;

/** Seconds of CPU (user + system) a process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond; // utime, stime (fields 14, 15)
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
}

function unary<T>(client: grpc.Client, method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (r: unknown, cb: (e: grpc.ServiceError | null, v: T) => void) => void>)[method]!(request, (error, value) =>
      error ? reject(error) : resolve(value),
    );
  });
}

interface LoopResult {
  calls: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMsPerCall: number;
  clientCpuMsPerCall: number;
  serverCores: number;
  clientCores: number;
}

/** Runs `call` in a closed loop with `inFlight` callers for `phaseMs`; latencies, rate and CPU. */
async function closedLoop(serverPid: number, inFlight: number, call: Call, unitsPerCall = 1): Promise<LoopResult> {
  const latencies: number[] = [];
  let next = 0;
  const serverCpu0 = cpuSeconds(serverPid);
  const clientCpu0 = process.cpuUsage();
  const started = performance.now();
  const end = started + phaseMs;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await call(next++);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const serverCpu = cpuSeconds(serverPid) - serverCpu0;
  const clientCpuUsage = process.cpuUsage(clientCpu0);
  const clientCpu = (clientCpuUsage.user + clientCpuUsage.system) / 1e6;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  const calls = latencies.length;
  return {
    calls,
    qps: (calls * unitsPerCall) / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    serverCpuMsPerCall: (serverCpu * 1000) / calls,
    clientCpuMsPerCall: (clientCpu * 1000) / calls,
    serverCores: serverCpu / seconds,
    clientCores: clientCpu / seconds,
  };
}

async function startServer(dataDir: string): Promise<{ child: ChildProcess; address: string }> {
  const port = await freePort();
  const nodeArgs = [...(options["server-node-args"] ?? "").split(" ").filter(Boolean), ...(options.profile === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", resolve(options.profile)])];
  const child = spawn(process.execPath, [...nodeArgs, serverCli, "serve", "--port", String(port), "--metrics-port", "0", "--data-dir", dataDir, "--log-level", "warn"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  return { child, address: `127.0.0.1:${port}` };
}

/**
 * CPU µs per request to get Float32Array vectors out of the request bytes: protobuf-es then a copy,
 * against the server's deserializer; rounds alternate, the best round of each counts.
 */
function decodeCost(vectors: number[][]): { upsert: { protobufEsUs: number; serverUs: number }; search: { protobufEsUs: number; serverUs: number } } {
  const upsertBytes = toBinary(UpsertRequestSchema, create(UpsertRequestSchema, { collection: "c", points: vectors.slice(0, 1000).map((vector, i) => ({ id: String(i), vector })) }));
  const searchBytes = toBinary(SearchRequestSchema, create(SearchRequestSchema, { collection: "c", vector: vectors[0], k: 10 }));
  const serverUpsert = tolerantDeserializer(UpsertRequestSchema, 100);
  const serverSearch = tolerantDeserializer(SearchRequestSchema, 100);
  let sink = 0;
  const time = (calls: number, decode: () => void): number => {
    const before = process.cpuUsage();
    for (let i = 0; i < calls; i++) decode();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / calls;
  };
  const bestOf = (calls: number, a: () => void, b: () => void): { protobufEsUs: number; serverUs: number } => {
    let protobufEsUs = Infinity;
    let serverUs = Infinity;
    for (let round = 0; round < 5; round++) {
      protobufEsUs = Math.min(protobufEsUs, time(calls, a));
      serverUs = Math.min(serverUs, time(calls, b));
    }
    return { protobufEsUs, serverUs };
  };
  const upsert = bestOf(
    20,
    () => (sink += fromBinary(UpsertRequestSchema, upsertBytes).points.map((point) => Float32Array.from(point.vector)).length),
    () => (sink += (serverUpsert(upsertBytes) as unknown as { points: { vector: Float32Array }[] }).points.map((point) => point.vector).length),
  );
  const search = bestOf(
    5_000,
    () => (sink += Float32Array.from(fromBinary(SearchRequestSchema, searchBytes).vector).length),
    () => (sink += (serverSearch(searchBytes) as unknown as { vector: Float32Array }).vector.length),
  );
  if (sink < 0) console.log(sink);
  return { upsert, search };
}

const best = (results: LoopResult[]): LoopResult => results.reduce((a, b) => (b.qps > a.qps ? b : a));
const fixed = (value: number, digits: number): string => value.toFixed(digits);

async function main(): Promise<void> {
  const base = readFvecsFile(join(datasetDir, "siftsmall_base.fvecs"));
  const queries = readFvecsFile(join(datasetDir, "siftsmall_query.fvecs"));
  const truth = readIvecsFile(join(datasetDir, "siftsmall_groundtruth.ivecs"));
  const row = (data: typeof base, i: number): number[] => Array.from(data.data.subarray(i * data.dimension, (i + 1) * data.dimension));
  const points = Array.from({ length: base.count }, (_, i) => ({ id: String(i), vector: row(base, i) }));
  const queryVectors = Array.from({ length: queries.count }, (_, i) => row(queries, i));
  const decode = decodeCost(points.map((point) => point.vector));

  const definition = protoLoader.loadSync(["vectordb/v1/point_service.proto", "vectordb/v1/collection_service.proto"], {
    includeDirs: [join(projectDir, "proto")],
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { vectordb: { v1: Record<string, grpc.ServiceClientConstructor> } };
  const dataDir = mkdtempSync(join(tmpdir(), "vectordb-serving-"));
  const { child, address } = await startServer(join(dataDir, "data"));
  const serverPid = child.pid!;
  const channelOptions = { "grpc.max_receive_message_length": 64 << 20, "grpc.max_send_message_length": 64 << 20 };
  const points$ = new loaded.vectordb.v1.PointService!(address, grpc.credentials.createInsecure(), channelOptions);
  const collections = new loaded.vectordb.v1.CollectionService!(address, grpc.credentials.createInsecure(), channelOptions);
  const health = new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions);
  const identity = (b: Buffer): Buffer => b;
  const empty = Buffer.alloc(0);
  const check = (): Promise<Buffer> =>
    new Promise((resolve, reject) => health.makeUnaryRequest("/grpc.health.v1.Health/Check", identity, identity, empty, (error, value) => (error ? reject(error) : resolve(value!))));
  try {
    for (let deadline = Date.now() + 30_000; ; ) {
      const ok = await check().then(
        (bytes) => bytes.length === 2 && bytes[1] === 1, // status: SERVING
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`server on ${address} not SERVING after 30 s`);
      await sleep(100);
    }
    const rssStart = rssMiB(serverPid);
    for (const name of ["upsert", "ingest"]) await unary(collections, "createCollection", { name, dimension: base.dimension, distance: "DISTANCE_EUCLIDEAN" });

    // Upsert, 1,000 a call, one in flight.
    let cpu0 = cpuSeconds(serverPid);
    let t0 = performance.now();
    for (let start = 0; start < points.length; start += batchSize) {
      await unary(points$, "upsert", { collection: "upsert", points: points.slice(start, start + batchSize) });
    }
    const upsertSeconds = (performance.now() - t0) / 1000;
    const upsert = { vectorsPerSecond: points.length / upsertSeconds, serverCores: (cpuSeconds(serverPid) - cpu0) / upsertSeconds };

    // Ingest: one stream, batches of 1,000.
    cpu0 = cpuSeconds(serverPid);
    t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const call = (points$ as unknown as { ingest(cb: (e: grpc.ServiceError | null) => void): grpc.ClientWritableStream<unknown> }).ingest((error) => (error ? reject(error) : resolve()));
      void (async () => {
        for (let start = 0; start < points.length; start += batchSize) {
          const message = { collection: start === 0 ? "ingest" : "", points: points.slice(start, start + batchSize) };
          if (!call.write(message)) await new Promise((drained) => call.once("drain", drained));
        }
        call.end();
      })();
    });
    const ingestSeconds = (performance.now() - t0) / 1000;
    const ingest = { vectorsPerSecond: points.length / ingestSeconds, serverCores: (cpuSeconds(serverPid) - cpu0) / ingestSeconds };

    t0 = performance.now();
    for (;;) {
      const info = await unary<{ collection: { pointCount: string; indexedPointCount: string } }>(collections, "getCollection", { name: "ingest" });
      if (info.collection.indexedPointCount === info.collection.pointCount) break;
      await sleep(100);
    }
    const indexedSeconds = (performance.now() - t0) / 1000;
    const rssLoaded = rssMiB(serverPid);

    let correct = 0;
    let answered = 0;
    const search: Call = async (i) => {
      const q = i % queryVectors.length;
      const response = await unary<{ hits: { id: string }[] }>(points$, "search", { collection: "ingest", vector: queryVectors[q], k });
      const expected = new Set(Array.from(truth[q]!.subarray(0, k), String));
      for (const hit of response.hits) if (expected.has(hit.id)) correct++;
      answered++;
    };
    for (let i = 0; i < 200; i++) await search(i); // warm-up
    correct = 0;
    answered = 0;
    const checks = new Map<number, LoopResult[]>();
    const searches = new Map<number, LoopResult[]>();
    for (let round = 0; round < rounds; round++) {
      for (const inFlight of concurrencies) {
        checks.set(inFlight, [...(checks.get(inFlight) ?? []), await closedLoop(serverPid, inFlight, check)]);
        searches.set(inFlight, [...(searches.get(inFlight) ?? []), await closedLoop(serverPid, inFlight, search)]);
      }
    }
    const recall = correct / (answered * k);
    const batchRequest = { collection: "ingest", queries: queryVectors.map((vector) => ({ vector, k })) };
    const batch = [1, 2].map((inFlight) => ({ inFlight, result: closedLoop.bind(undefined, serverPid, inFlight, () => unary(points$, "batchSearch", batchRequest), queryVectors.length) }));
    const batchResults: { inFlight: number; result: LoopResult }[] = [];
    for (const { inFlight, result } of batch) batchResults.push({ inFlight, result: await result() });
    const rssEnd = rssMiB(serverPid);

    const rows: string[][] = [["measure", ...concurrencies.map((c) => `${c} in flight`)]];
    const s = concurrencies.map((c) => best(searches.get(c)!));
    const h = concurrencies.map((c) => best(checks.get(c)!));
    rows.push(["Search q/s", ...s.map((r) => fixed(r.qps, 0))]);
    rows.push(["Search p50 / p99 ms", ...s.map((r) => `${fixed(r.p50Ms, 2)} / ${fixed(r.p99Ms, 2)}`)]);
    rows.push(["Check q/s", ...h.map((r) => fixed(r.qps, 0))]);
    rows.push(["Check p50 / p99 ms", ...h.map((r) => `${fixed(r.p50Ms, 2)} / ${fixed(r.p99Ms, 2)}`)]);
    rows.push(["Search / Check q/s", ...s.map((r, i) => fixed(r.qps / h[i]!.qps, 2))]);
    rows.push(["server CPU ms/call Search", ...s.map((r) => fixed(r.serverCpuMsPerCall, 3))]);
    rows.push(["server CPU ms/call Check", ...h.map((r) => fixed(r.serverCpuMsPerCall, 3))]);
    rows.push(["client CPU ms/call Search", ...s.map((r) => fixed(r.clientCpuMsPerCall, 3))]);
    rows.push(["client CPU ms/call Check", ...h.map((r) => fixed(r.clientCpuMsPerCall, 3))]);
    rows.push(["cores server / client Search", ...s.map((r) => `${fixed(r.serverCores, 2)} / ${fixed(r.clientCores, 2)}`)]);
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log(`\n${options.label ?? serverCli}: SIFT10K, k ${k}, default ef, ${phaseMs / 1000} s a phase, best of ${rounds} round(s); recall@10 ${fixed(recall, 4)}`);
    for (const r of rows) console.log(r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  "));
    for (const { inFlight, result } of batchResults) {
      console.log(`BatchSearch (100 a call), ${inFlight} in flight: ${fixed(result.qps, 0)} queries/s, server ${fixed(result.serverCores, 2)} cores`);
    }
    console.log(`Upsert (1,000 a call, 1 in flight): ${fixed(upsert.vectorsPerSecond, 0)} vectors/s, server ${fixed(upsert.serverCores, 2)} cores`);
    console.log(`Ingest (batches of 1,000): ${fixed(ingest.vectorsPerSecond, 0)} vectors/s, server ${fixed(ingest.serverCores, 2)} cores; graph caught up ${fixed(indexedSeconds, 1)} s later`);
    console.log(
      `vectors out of request bytes, CPU per request: Upsert 1,000 × 128 ${fixed(decode.upsert.protobufEsUs / 1000, 2)} ms protobuf-es + copy, ${fixed(decode.upsert.serverUs / 1000, 2)} ms the server's deserializer; ` +
        `Search ${fixed(decode.search.protobufEsUs, 1)} µs, ${fixed(decode.search.serverUs, 1)} µs`,
    );
    console.log(`server RSS: ${fixed(rssStart, 0)} MiB at start, ${fixed(rssLoaded, 0)} MiB loaded (2 × 10k × 128 points), ${fixed(rssEnd, 0)} MiB after the run`);

    const result = {
      date: new Date().toISOString(),
      label: options.label ?? "",
      serverCli,
      dataset: "sift10k",
      k,
      phaseSeconds: phaseMs / 1000,
      rounds,
      recallAt10: recall,
      search: Object.fromEntries(concurrencies.map((c, i) => [c, s[i]])),
      check: Object.fromEntries(concurrencies.map((c, i) => [c, h[i]])),
      searchOverCheckQps: Object.fromEntries(concurrencies.map((c, i) => [c, s[i]!.qps / h[i]!.qps])),
      batchSearch: batchResults,
      upsert,
      ingest,
      indexedSeconds,
      rssMiB: { start: rssStart, loaded: rssLoaded, end: rssEnd },
      decodeCpuUs: decode,
    };
    const resultsDir = join(projectDir, "bench/results");
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `serving-${result.date.replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2));
    console.log(`wrote ${file}`);
  } finally {
    points$.close();
    collections.close();
    health.close();
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
