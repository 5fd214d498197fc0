/**
 * Data API benchmark on GloVe-100k (100,000 × 100, cosine, each point with a payload `{word, n,
 * group}`), through two real servers in this process:
 *
 * - load rate through the resumable `IngestStream` (batches of 1,000), then the time until the graph
 *   has caught up;
 * - `CreateSnapshot`: time and file size, and the slowest `Search` a prober saw meanwhile;
 * - `DownloadSnapshot`: time and MB/s;
 * - `RestoreSnapshot` on a second server (another data directory): time from the first chunk sent to
 *   the collection answering, and that it answers the queries exactly as the original;
 * - `Scroll` throughput over every point in pages of 1,000: ids only, with payloads, with vectors;
 *   `Count` with a filter.
 *
 * Usage: npm run bench:data [-- --skip-index-wait]
 * Prints a table and writes bench/results/data-api-<date>.json. Skipped (exit 0) when the dataset is absent.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Distance, VectorDbClient, type SnapshotInfo } from "../src/client/index.js";
import { readFvecsFile, type FvecsData } from "../src/datasets/index.js";
import { makeConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { openServer, type VectorDbServer } from "../src/main.js";
import { datasetsDir, projectRoot } from "../src/testing/index.js";

const folder = join(datasetsDir(), "glove-100-wink");
const collection = "glove";
const { values: options } = parseArgs({ options: { "skip-index-wait": { type: "boolean", default: false } } });

const round = (x: number, digits = 1): number => +x.toFixed(digits);

interface Server {
  running: VectorDbServer;
  client: VectorDbClient;
  dataDir: string;
}

async function open(): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), "vectordb-data-bench-"));
  const running = await openServer(makeConfig({ host: "127.0.0.1", port: 0, logLevel: "silent", dataDir }), createLogger("silent"));
  return { running, client: new VectorDbClient(`127.0.0.1:${running.server.port}`), dataDir };
}

async function close(server: Server): Promise<void> {
  server.client.close();
  await server.running.close({ checkpoint: false });
  rmSync(server.dataDir, { recursive: true, force: true });
}

/** Loads the base vectors through IngestStream; returns the time, ms. */
async function load(client: VectorDbClient, base: FvecsData, words: string[]): Promise<number> {
  await client.collections.createCollection({ name: collection, dimension: base.dimension, distance: Distance.COSINE });
  const started = performance.now();
  const stream = client.points.ingestStream();
  const reading = (async () => {
    let last = 0n;
    for await (const response of stream.responses) last = response.durableBatchSeq;
    return last;
  })();
  await stream.send({ collection, ingestId: "bench" });
  let seq = 0;
  for (let start = 0; start < base.count; start += 1_000) {
    const points = [];
    for (let i = start; i < Math.min(start + 1_000, base.count); i++) {
      points.push({ id: String(i), vector: Array.from(base.data.subarray(i * base.dimension, (i + 1) * base.dimension)), payload: { word: words[i] ?? "", n: i, group: i % 10 } });
    }
    await stream.send({ batchSeq: BigInt(++seq), points });
  }
  stream.end();
  if (Number(await reading) !== seq) throw new Error("the load did not end with every batch durable");
  return performance.now() - started;
}

async function waitIndexed(client: VectorDbClient): Promise<void> {
  for (;;) {
    const info = (await client.collections.getCollection({ name: collection })).collection!;
    if (info.indexedPointCount === info.pointCount) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Runs `work` while a prober searches back to back; returns its time and the slowest search, ms. */
async function whileSearching<T>(client: VectorDbClient, queries: FvecsData, work: () => Promise<T>): Promise<{ result: T; ms: number; slowestSearchMs: number; searches: number }> {
  let stop = false;
  let slowest = 0;
  let searches = 0;
  const prober = (async () => {
    for (let i = 0; !stop; i++) {
      const started = performance.now();
      const q = i % queries.count;
      await client.points.search({ collection, vector: Array.from(queries.data.subarray(q * queries.dimension, (q + 1) * queries.dimension)), k: 10 });
      slowest = Math.max(slowest, performance.now() - started);
      searches++;
    }
  })();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  stop = true;
  await prober;
  return { result, ms, slowestSearchMs: slowest, searches };
}

async function download(client: VectorDbClient, snapshot: SnapshotInfo): Promise<{ bytes: Buffer; ms: number }> {
  const started = performance.now();
  const parts: Uint8Array[] = [];
  for await (const message of client.snapshots.downloadSnapshot({ collection, name: snapshot.name })) parts.push(message.chunk);
  const bytes = Buffer.concat(parts);
  if (createHash("sha256").update(bytes).digest("hex") !== snapshot.sha256) throw new Error("the download does not match its sha256");
  return { bytes, ms: performance.now() - started };
}

/** Scrolls every point in pages of 1,000; returns points/s. */
async function scrollRate(client: VectorDbClient, withPayload: boolean, withVector: boolean): Promise<number> {
  const started = performance.now();
  let points = 0;
  let cursor = "";
  do {
    const page = await client.points.scroll({ collection, cursor, limit: 1_000, withPayload, withVector });
    points += page.points.length;
    cursor = page.nextCursor;
  } while (cursor !== "");
  return points / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const basePath = join(folder, "glove100_base.fvecs");
  if (!existsSync(basePath)) {
    console.log(`skipped: ${basePath} is absent`);
    return;
  }
  const base = readFvecsFile(basePath);
  const queries = readFvecsFile(join(folder, "glove100_query.fvecs"));
  const words = readFileSync(join(folder, "glove100_base_words.txt"), "utf8").split("\n");
  const a = await open();
  const b = await open();
  try {
    const loadMs = await load(a.client, base, words);
    const indexStarted = performance.now();
    if (!options["skip-index-wait"]) await waitIndexed(a.client);
    const indexMs = performance.now() - indexStarted;
    // The same prober for as long, without a snapshot: what the machine gives a search anyway.
    const idle = await whileSearching(a.client, queries, () => new Promise((resolve) => setTimeout(resolve, 3_000)));
    const snap = await whileSearching(a.client, queries, async () => (await a.client.snapshots.createSnapshot({ collection })).snapshot!);
    const snapshot = snap.result;
    const downloaded = await download(a.client, snapshot);
    const restoreStarted = performance.now();
    const chunk = 1024 * 1024;
    const messages = Array.from({ length: Math.ceil(downloaded.bytes.length / chunk) }, (_, i) => ({ ...(i === 0 ? { collection, sha256: snapshot.sha256 } : {}), chunk: downloaded.bytes.subarray(i * chunk, (i + 1) * chunk) }));
    await b.client.snapshots.restoreSnapshot(messages);
    const restoreMs = performance.now() - restoreStarted;
    let same = 0;
    for (let q = 0; q < 100; q++) {
      const vector = Array.from(queries.data.subarray(q * queries.dimension, (q + 1) * queries.dimension));
      const [left, right] = await Promise.all([a.client.points.search({ collection, vector, k: 10 }), b.client.points.search({ collection, vector, k: 10 })]);
      if (JSON.stringify(left.hits) === JSON.stringify(right.hits)) same++;
    }
    const scroll = { idsOnly: await scrollRate(a.client, false, false), withPayload: await scrollRate(a.client, true, false), withVector: await scrollRate(a.client, true, true) };
    const countStarted = performance.now();
    const counted = await a.client.points.count({ collection, filter: { must: [{ condition: { case: "field", value: { key: "group", match: { case: "equals", value: { kind: { case: "numberValue", value: 3 } } } } } }] } });
    const countMs = performance.now() - countStarted;
    const result = {
      dataset: "glove-100k",
      points: base.count,
      loadVectorsPerS: Math.round(base.count / (loadMs / 1000)),
      indexCatchUpS: round(indexMs / 1000),
      snapshot: {
        ms: Math.round(snap.ms),
        sizeBytes: Number(snapshot.sizeBytes),
        bytesPerPoint: round(Number(snapshot.sizeBytes) / base.count),
        slowestSearchMs: round(snap.slowestSearchMs),
        searchesMeanwhile: snap.searches,
        slowestSearchWithoutSnapshotMs: round(idle.slowestSearchMs),
      },
      download: { ms: Math.round(downloaded.ms), mbPerS: round(downloaded.bytes.length / 1e6 / (downloaded.ms / 1000)) },
      restore: { ms: Math.round(restoreMs), identicalTop10Of100: same },
      scrollPointsPerS: { idsOnly: Math.round(scroll.idsOnly), withPayload: Math.round(scroll.withPayload), withVector: Math.round(scroll.withVector) },
      count: { matched: Number(counted.count), ms: round(countMs) },
    };
    console.table({
      "load (IngestStream)": `${result.loadVectorsPerS} vectors/s; graph caught up ${result.indexCatchUpS} s later`,
      CreateSnapshot: `${result.snapshot.ms} ms, ${(result.snapshot.sizeBytes / 1e6).toFixed(1)} MB (${result.snapshot.bytesPerPoint} B/point), slowest search meanwhile ${result.snapshot.slowestSearchMs} ms (${result.snapshot.slowestSearchWithoutSnapshotMs} ms over 3 s without)`,
      DownloadSnapshot: `${result.download.ms} ms (${result.download.mbPerS} MB/s)`,
      RestoreSnapshot: `${result.restore.ms} ms; ${same}/100 queries answer identically`,
      Scroll: `${result.scrollPointsPerS.idsOnly} points/s ids only, ${result.scrollPointsPerS.withPayload} with payloads, ${result.scrollPointsPerS.withVector} with vectors`,
      Count: `${result.count.matched} matching in ${result.count.ms} ms`,
    });
    const outDir = join(projectRoot(), "bench/results");
    mkdirSync(outDir, { recursive: true });
    const outFile = join(outDir, `data-api-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(outFile, JSON.stringify(result, null, 2));
    console.log(`wrote ${outFile}`);
  } finally {
    await close(a);
    await close(b);
  }
}

await main();
