/**
 * What the production features cost on Search, measured in one run against servers that differ only in
 * them. Four `vectordb serve` child processes on 127.0.0.1, each with SIFT10K (10,000 × 128, euclidean)
 * loaded through Ingest and fully indexed:
 *   bare          --metrics-port 0 --recall-sample-rate 0 (no metrics, no recall monitor)
 *   monitored     metrics on (scraped every --scrape-ms during the measurement) and the recall monitor
 *                 at its default rate 0.01
 *   monitored-10% as `monitored` with --recall-sample-rate 0.1
 *   tls+key       as `monitored`, over TLS (a self-signed pair made with openssl) with an API key
 * Then --rounds rounds; in each, every server in turn (the order rotates by round) serves the 100 SIFT
 * queries repeated for --seconds with --concurrency clients (Search, k = 10, ef = 64, no payloads).
 * Prints per server the median QPS, its ratio to `bare`, p50/p99 latency, and finally the recall
 * monitor's estimate against the recall measured from the ground truth, and a /metrics excerpt.
 *
 * Usage: npm run bench:operations [-- --rounds 5 --seconds 3 --concurrency 4 --scrape-ms 1000]
 * Needs ../shared/datasets/sift10k (VECTORDB_DATASETS overrides ../shared/datasets) and openssl.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Distance, VectorDbClient, type IngestRequestInit, type VectorDbClientOptions } from "../src/client/index.js";
import { readFvecsFile, readIvecsFile, type FvecsData } from "../src/datasets/index.js";
import { freePort } from "../src/testing/index.js";

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const datasetDir = join(process.env.VECTORDB_DATASETS ?? resolve(projectDir, "../shared/datasets"), "sift10k");
const collection = "sift";
const k = 10;
const ef = 64;
const serverStartTimeoutMs = 30_000;
const indexWaitMs = 300_000;

const { values: options } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "4" },
    "scrape-ms": { type: "string", default: "1000" },
  },
});
const rounds = Number(options.rounds);
const seconds = Number(options.seconds);
const concurrency = Number(options.concurrency);
const scrapeMs = Number(options["scrape-ms"]);
for (const [name, value, max] of [["rounds", rounds, 100], ["seconds", seconds, 600], ["concurrency", concurrency, 64], ["scrape-ms", scrapeMs, 60_000]] as const) {
  if (!(Number.isFinite(value) && value >= 1 && value <= max)) throw new Error(`--${name} must be 1 to ${max}`);
}

interface Contender {
  name: string;
  args: string[];
  client: VectorDbClientOptions;
  /** Serve /metrics (on a port chosen when the server starts, so no other process takes it first). */
  metrics: boolean;
}

interface Running extends Contender {
  child: ChildProcess;
  metricsPort?: number;
  address: string;
  clients: VectorDbClient[];
  qps: number[];
  latenciesMs: number[];
  /** CPU seconds the server process used (all threads) while measured, and the calls in that time. */
  cpuSeconds: number;
  calls: number;
}

/** CPU seconds (user + system, every thread) used so far by process `pid`, from /proc (Linux). */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
  // After the command: state is field 3, utime and stime fields 14 and 15 (in clock ticks of 1/100 s).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A self-signed certificate for 127.0.0.1 and localhost, made as the README shows. */
function selfSignedPair(dir: string): { cert: string; key: string } {
  const cert = join(dir, "server.crt");
  const key = join(dir, "server.key");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    { stdio: "pipe" },
  );
  return { cert, key };
}

async function start(contender: Contender, dataDir: string): Promise<Running> {
  const port = await freePort();
  const metricsPort = contender.metrics ? await freePort() : undefined;
  const metricsArgs = metricsPort === undefined ? ["--metrics-port", "0"] : ["--metrics-port", String(metricsPort)];
  const child = spawn(process.execPath, [join(projectDir, "dist/src/cli/main.js"), "serve", "--port", String(port), "--data-dir", dataDir, "--log-level", "warn", ...metricsArgs, ...contender.args], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  const address = `127.0.0.1:${port}`;
  const clients = Array.from({ length: concurrency }, () => new VectorDbClient(address, contender.client));
  const deadline = Date.now() + serverStartTimeoutMs;
  for (;;) {
    const status = await clients[0]!.health("", { timeoutMs: 1_000 }).catch(() => "UNREACHABLE");
    if (status === "SERVING") break;
    if (Date.now() > deadline) throw new Error(`${contender.name}: not SERVING after ${serverStartTimeoutMs} ms (last: ${status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...contender, child, metricsPort, address, clients, qps: [], latenciesMs: [], cpuSeconds: 0, calls: 0 };
}

function row(data: FvecsData, i: number): number[] {
  return Array.from(data.data.subarray(i * data.dimension, (i + 1) * data.dimension));
}

async function load(server: Running, base: FvecsData): Promise<void> {
  const client = server.clients[0]!;
  await client.collections.createCollection({ name: collection, dimension: base.dimension, distance: Distance.EUCLIDEAN });
  async function* batches(): AsyncGenerator<IngestRequestInit> {
    for (let i = 0; i < base.count; i += 1_000) {
      yield { collection, points: Array.from({ length: Math.min(1_000, base.count - i) }, (_, j) => ({ id: String(i + j), vector: row(base, i + j) })) };
    }
  }
  await client.points.ingest(batches());
  const deadline = Date.now() + indexWaitMs;
  for (;;) {
    const info = (await client.collections.getCollection({ name: collection })).collection!;
    if (info.indexedPointCount === info.pointCount) return;
    if (Date.now() > deadline) throw new Error(`${server.name}: not indexed after ${indexWaitMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Searches `queries` round robin for `seconds` with every client of `server`; returns QPS and latencies (ms). */
async function measure(server: Running, queries: number[][]): Promise<{ qps: number; latenciesMs: number[] }> {
  const latenciesMs: number[] = [];
  let next = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    server.clients.map(async (client) => {
      while (performance.now() < end) {
        const vector = queries[next++ % queries.length]!;
        const t0 = performance.now();
        await client.points.search({ collection, vector, k, ef, withPayload: false });
        latenciesMs.push(performance.now() - t0);
      }
    }),
  );
  return { qps: latenciesMs.length / ((performance.now() - start) / 1000), latenciesMs };
}

/** GETs /metrics every `scrapeMs` from the servers that serve it, as Prometheus would, until stopped. */
function startScraper(servers: readonly Running[]): () => Promise<void> {
  let stopped = false;
  const loops = servers
    .filter((server) => server.metricsPort !== undefined)
    .map(async (server) => {
      while (!stopped) {
        await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`).then((response) => response.text());
        await new Promise((r) => setTimeout(r, scrapeMs));
      }
    });
  return async () => {
    stopped = true;
    await Promise.all(loops);
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function run(): Promise<void> {
  const base = readFvecsFile(join(datasetDir, "siftsmall_base.fvecs"));
  const queryData = readFvecsFile(join(datasetDir, "siftsmall_query.fvecs"));
  const truth = readIvecsFile(join(datasetDir, "siftsmall_groundtruth.ivecs"));
  const queries = Array.from({ length: queryData.count }, (_, q) => row(queryData, q));
  const work = mkdtempSync(join(tmpdir(), "vectordb-ops-bench-"));
  const tls = selfSignedPair(work);
  const apiKey = "bench-key";
  const contenders: Contender[] = [
    { name: "bare", args: ["--recall-sample-rate", "0"], client: {}, metrics: false },
    { name: "monitored", args: [], client: {}, metrics: true },
    { name: "monitored-10%", args: ["--recall-sample-rate", "0.1"], client: {}, metrics: true },
    {
      name: "tls+key",
      args: ["--tls-cert-file", tls.cert, "--tls-key-file", tls.key, "--api-key", apiKey],
      client: { tls: { rootCerts: readFileSync(tls.cert), serverName: "localhost" }, apiKey },
      metrics: true,
    },
  ];
  const servers: Running[] = [];
  try {
    for (const [i, contender] of contenders.entries()) servers.push(await start(contender, join(work, `data-${i}`)));
    for (const server of servers) {
      const t0 = performance.now();
      await load(server, base);
      console.error(`${server.name}: SIFT10K loaded and indexed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    for (const server of servers) await measure(server, queries.slice(0, 20)); // warm-up
    const stopScraper = startScraper(servers);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < servers.length; i++) {
        const server = servers[(i + round) % servers.length]!;
        const cpuBefore = cpuSecondsOf(server.child.pid!);
        const { qps, latenciesMs } = await measure(server, queries);
        server.cpuSeconds += cpuSecondsOf(server.child.pid!) - cpuBefore;
        server.calls += latenciesMs.length;
        server.qps.push(qps);
        server.latenciesMs.push(...latenciesMs);
      }
      console.error(`round ${round + 1}/${rounds}: ${servers.map((s) => `${s.name} ${s.qps.at(-1)!.toFixed(0)}`).join(", ")} QPS`);
    }
    await stopScraper();

    const bareQps = median(servers[0]!.qps);
    console.log(`\nSearch on SIFT10K (k ${k}, ef ${ef}), ${concurrency} clients, ${rounds} rounds of ${seconds} s per server, /metrics scraped every ${scrapeMs} ms`);
    const bareCpuUs = (servers[0]!.cpuSeconds / servers[0]!.calls) * 1e6;
    console.log("server CPU µs per call: the server process's CPU time (all threads, /proc) over the calls it answered");
    console.log("server          median QPS   vs bare   p50 ms   p99 ms   CPU µs/call   vs bare   QPS per round");
    for (const server of servers) {
      const sorted = [...server.latenciesMs].sort((a, b) => a - b);
      const qps = median(server.qps);
      console.log(
        `${server.name.padEnd(15)} ${qps.toFixed(0).padStart(10)}   ${(qps / bareQps).toFixed(3).padStart(7)}   ${percentile(sorted, 50).toFixed(2).padStart(6)}   ${percentile(sorted, 99).toFixed(2).padStart(6)}   ${((server.cpuSeconds / server.calls) * 1e6).toFixed(0).padStart(11)}   ${((server.cpuSeconds / server.calls) * 1e6 / bareCpuUs).toFixed(3).padStart(7)}   ${server.qps.map((q) => q.toFixed(0)).join(" ")}`,
      );
    }

    // The recall monitor's estimate against the recall of the same searches measured from the ground truth.
    console.log("\nrecall monitor (ef 64): estimate from the sampled searches vs recall@10 measured on the 100 queries");
    const probe = servers[0]!.clients[0]!;
    let found = 0;
    for (let q = 0; q < queries.length; q++) {
      const { hits } = await probe.points.search({ collection, vector: queries[q]!, k, ef, withPayload: false });
      const expected = new Set(Array.from(truth[q]!.subarray(0, k), String));
      found += hits.filter((hit) => expected.has(hit.id)).length;
    }
    const measured = found / (queries.length * k);
    for (const server of servers.slice(1)) {
      const info = (await server.clients[0]!.collections.getCollection({ name: collection })).collection!;
      console.log(`${server.name.padEnd(15)} estimate ${info.recallEstimate?.toFixed(4) ?? "none"} from ${info.recallSamples} samples; measured ${measured.toFixed(4)}`);
    }

    const text = await fetch(`http://127.0.0.1:${servers[1]!.metricsPort}/metrics`).then((response) => response.text());
    const wanted = [
      /^vectordb_rpc_requests_total\{/,
      /^vectordb_rpc_duration_seconds_(count|sum)\{method="PointService\/Search"/,
      /^vectordb_rpc_duration_seconds_bucket\{le="0\.00(025|05|1|25|5)",method="PointService\/Search",code="OK"\}/,
      /^vectordb_collection_/,
      /^vectordb_wal_fsync_duration_seconds_(count|sum)/,
      /^process_resident_memory_bytes/,
    ];
    console.log(`\n/metrics of "monitored" (excerpt):`);
    for (const line of text.split("\n")) if (wanted.some((pattern) => pattern.test(line))) console.log(line);
    const stats = execFileSync(process.execPath, [join(projectDir, "dist/src/cli/main.js"), "stats", "--metrics-url", `http://127.0.0.1:${servers[1]!.metricsPort}/metrics`], { encoding: "utf8" });
    console.log(`\nvectordb stats of "monitored":\n${stats}`);
  } finally {
    for (const server of servers) {
      for (const client of server.clients) client.close();
      server.child.kill("SIGTERM");
    }
    await Promise.all(servers.map((server) => (server.child.exitCode === null ? new Promise((r) => server.child.once("exit", r)) : undefined)));
    rmSync(work, { recursive: true, force: true });
  }
}

await run();
