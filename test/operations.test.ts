import { describe, expect, it } from "vitest";
import { Distance, type IngestRequestInit, type VectorDbClient } from "../src/client/index.js";
import { histogramQuantile, rpcHistograms } from "../src/cli/stats-command.js";
import { configFromSettings } from "../src/config.js";
import { readFvecsFile } from "../src/datasets/index.js";
import { freePort } from "../src/testing/index.js";
import { datasetFile, readIvecs } from "./helpers/datasets.js";
import { captureLogs, logLevels } from "./helpers/logs.js";
import { startTestServer, waitIndexed } from "./helpers/server.js";

/** The value of the first sample of `metric` whose labels include every `labels` pair, from Prometheus text. */
function sample(text: string, metric: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

describe("logs", () => {
  it("log one line per call at debug (method, collection, status, ms, bytes), and collection create and drop at info", async () => {
    const logs = captureLogs("debug");
    const t = await startTestServer({}, { logger: logs.logger });
    try {
      await t.client.collections.createCollection({ name: "logged", dimension: 2, distance: Distance.EUCLIDEAN });
      await t.client.points.upsert({ collection: "logged", points: [{ id: "a", vector: [1, 2] }] });
      await t.client.points.search({ collection: "logged", vector: [1, 2], k: 1 });
      await t.client.points.search({ collection: "missing", vector: [1, 2], k: 1 }).catch(() => undefined);
      await t.client.collections.deleteCollection({ name: "logged" });
      const calls = logs.lines.filter((line) => line.msg === "call");
      const upsert = calls.find((line) => line.method === "PointService/Upsert");
      expect(upsert).toMatchObject({ level: logLevels.debug, collection: "logged", status: "OK", requestBytes: expect.any(Number), responseBytes: expect.any(Number) });
      expect(upsert!.requestBytes as number).toBeGreaterThan(8);
      expect(upsert!.ms as number).toBeGreaterThanOrEqual(0);
      const search = calls.find((line) => line.method === "PointService/Search" && line.status === "OK");
      expect(search!.responseBytes as number).toBeGreaterThan(0);
      // A failed call: logged at debug with its status, no response.
      const failed = calls.find((line) => line.collection === "missing");
      expect(failed).toMatchObject({ level: logLevels.debug, status: "NOT_FOUND", requestBytes: expect.any(Number) });
      expect(failed).not.toHaveProperty("responseBytes");
      expect(logs.lines.find((line) => line.msg === "collection created")).toMatchObject({ level: logLevels.info, collection: "logged", dimension: 2 });
      expect(logs.lines.find((line) => line.msg === "collection dropped")).toMatchObject({ level: logLevels.info, collection: "logged", points: 1 });
    } finally {
      await t.stop();
    }
  });
});

describe("Prometheus metrics", () => {
  it("serves GET /metrics on their own port: collection gauges, the fsync histogram, process metrics; 404 elsewhere", async () => {
    const metricsPort = await freePort();
    const t = await startTestServer({}, { metricsPort });
    try {
      expect(t.running.metricsListener?.port).toBe(metricsPort);
      await t.client.collections.createCollection({ name: "m", dimension: 3, distance: Distance.EUCLIDEAN });
      await t.client.points.upsert({ collection: "m", points: [{ id: "a", vector: [1, 2, 3] }, { id: "b", vector: [3, 2, 1] }] });
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/plain");
      const text = await response.text();
      expect(sample(text, "vectordb_collection_points", { collection: "m" })).toBe(2);
      expect(sample(text, "vectordb_collection_points_written_total", { collection: "m" })).toBe(2);
      expect(sample(text, "vectordb_collection_wal_bytes", { collection: "m" })).toBeGreaterThan(0);
      expect(sample(text, "vectordb_collection_vector_bytes", { collection: "m" })).toBeGreaterThan(0);
      // The default fsync policy fdatasyncs every write: the histogram counted them.
      expect(sample(text, "vectordb_wal_fsync_duration_seconds_count")).toBeGreaterThanOrEqual(1);
      expect(text).toContain('vectordb_wal_fsync_duration_seconds_bucket{le="0.001"}');
      expect(sample(text, "vectordb_rpc_requests_total", { method: "PointService/Upsert", code: "OK" })).toBe(1);
      expect(sample(text, "vectordb_rpc_duration_seconds_count", { method: "CollectionService/CreateCollection", code: "OK" })).toBe(1);
      expect(text).toContain('vectordb_rpc_duration_seconds_bucket{le="0.0001",method="PointService/Upsert",code="OK"}');
      expect(sample(text, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
      expect(sample(text, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
      const missing = await t.client.collections.getCollection({ name: "nope" }).catch(() => undefined);
      expect(missing).toBeUndefined();
      const after = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(sample(after, "vectordb_rpc_requests_total", { method: "CollectionService/GetCollection", code: "NOT_FOUND" })).toBe(1);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: "POST" })).status).toBe(405);
    } finally {
      await t.stop();
    }
  });

  it("estimates p50 / p95 / p99 from the buckets as Prometheus's histogram_quantile does (vectordb stats)", () => {
    const text = [
      'vectordb_rpc_duration_seconds_bucket{le="0.001",method="PointService/Search",code="OK"} 50',
      'vectordb_rpc_duration_seconds_bucket{le="0.01",method="PointService/Search",code="OK"} 90',
      'vectordb_rpc_duration_seconds_bucket{le="0.1",method="PointService/Search",code="OK"} 100',
      'vectordb_rpc_duration_seconds_bucket{le="+Inf",method="PointService/Search",code="OK"} 100',
      'vectordb_rpc_duration_seconds_sum{method="PointService/Search",code="OK"} 0.5',
      'vectordb_rpc_duration_seconds_count{method="PointService/Search",code="OK"} 100',
      'vectordb_rpc_duration_seconds_bucket{le="0.001",method="PointService/Search",code="NOT_FOUND"} 10',
      'vectordb_rpc_duration_seconds_bucket{le="0.01",method="PointService/Search",code="NOT_FOUND"} 10',
      'vectordb_rpc_duration_seconds_bucket{le="0.1",method="PointService/Search",code="NOT_FOUND"} 10',
      'vectordb_rpc_duration_seconds_bucket{le="+Inf",method="PointService/Search",code="NOT_FOUND"} 10',
      'vectordb_rpc_duration_seconds_count{method="PointService/Search",code="NOT_FOUND"} 10',
    ].join("\n");
    const { latency, failed } = rpcHistograms(text);
    const search = latency.get("PointService/Search")!;
    expect(search.count).toBe(110);
    expect(failed.get("PointService/Search")).toBe(10);
    // 60 of 110 calls took at most 1 ms: the median (rank 55) lies 55/60 of the way through that bucket.
    expect(histogramQuantile(search, 0.5)).toBeCloseTo((0.001 * 55) / 60, 9);
    expect(histogramQuantile(search, 0.99)).toBeCloseTo(0.01 + 0.09 * ((108.9 - 100) / 10), 9);
  });

  it("refuses a metrics port that is taken, naming the address", async () => {
    const first = await startTestServer({}, { metricsPort: await freePort() });
    try {
      await expect(startTestServer({}, { metricsPort: first.running.metricsListener!.port })).rejects.toThrow(/the metrics listener cannot bind 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      await first.stop();
    }
  });

  it("reads the new settings and refuses bad ones naming the flag", () => {
    const config = configFromSettings({ metricsPort: "0", "indexing.recallSampleRate": "0.5", "auth.reflectionWithoutKey": "true", logFormat: "pretty" });
    expect(config.metricsPort).toBe(0);
    expect(config.indexing.recallSampleRate).toBe(0.5);
    expect(config.auth.reflectionWithoutKey).toBe(true);
    expect(config.logFormat).toBe("pretty");
    expect(() => configFromSettings({ "indexing.recallSampleRate": "1.5" })).toThrow("--recall-sample-rate (VECTORDB_RECALL_SAMPLE_RATE): 1.5 is outside 0..1");
    expect(() => configFromSettings({ "indexing.recallSampleRate": "often" })).toThrow('--recall-sample-rate (VECTORDB_RECALL_SAMPLE_RATE): "often" is not a number');
    expect(() => configFromSettings({ metricsPort: "70000" })).toThrow("--metrics-port (VECTORDB_METRICS_PORT): 70000 is outside 0..65535");
    expect(() => configFromSettings({ logFormat: "xml" })).toThrow('--log-format (VECTORDB_LOG_FORMAT): "xml" is not one of json, pretty');
    expect(() => configFromSettings({ "auth.reflectionWithoutKey": "maybe" })).toThrow('--reflection-without-key (VECTORDB_REFLECTION_WITHOUT_KEY): "maybe" is not true or false');
  });
});

const siftBase = datasetFile("sift10k", "siftsmall_base.fvecs");
const siftQueries = datasetFile("sift10k", "siftsmall_query.fvecs");
const siftTruth = datasetFile("sift10k", "siftsmall_groundtruth.ivecs");

async function load(client: VectorDbClient, collection: string): Promise<void> {
  const data = readFvecsFile(siftBase!);
  function* batches(): Generator<IngestRequestInit> {
    for (let start = 0; start < data.count; start += 1_000) {
      const points = [];
      for (let i = start; i < start + 1_000; i++) points.push({ id: String(i), vector: Array.from(data.data.subarray(i * 128, (i + 1) * 128)) });
      yield { collection, points };
    }
  }
  await client.points.ingest(batches());
  await waitIndexed(client, collection);
}

describe.skipIf(siftBase === undefined)("live recall monitor", () => {
  it("estimates on SIFT10K a lower recall at ef 16 than at ef 256, each of ef 16, 64 and 256 within 0.03 of the recall measured against the ground truth", { timeout: 180_000 }, async () => {
    // Every unfiltered graph search sampled; the graph plan needs more points than an exact scan takes.
    const t = await startTestServer({}, { indexing: { recallSampleRate: 1, fullScanPointsMax: 1_000 } });
    try {
      const queries = readFvecsFile(siftQueries!);
      const truth = readIvecs(siftTruth!);
      const measured: Record<string, number> = {};
      for (const [collection, ef] of [
        ["low", 16],
        ["mid", 64],
        ["high", 256],
      ] as const) {
        await t.client.collections.createCollection({ name: collection, dimension: 128, distance: Distance.EUCLIDEAN });
        await load(t.client, collection);
        let found = 0;
        // One query at a time: at most 16 samples wait, and each Search leaves time for its scan.
        for (let q = 0; q < queries.count; q++) {
          const { hits } = await t.client.points.search({ collection, vector: Array.from(queries.data.subarray(q * 128, (q + 1) * 128)), k: 10, ef, withPayload: false });
          const expected = new Set(Array.from(truth[q]!.subarray(0, 10), String));
          found += hits.filter((hit) => expected.has(hit.id)).length;
          if (q % 8 === 7) await t.running.db.get(collection, "collection").recallSettled();
        }
        measured[collection] = found / (queries.count * 10);
        await t.running.db.get(collection, "collection").recallSettled();
      }
      const estimate = async (name: string): Promise<{ value: number; samples: bigint }> => {
        const { collection } = await t.client.collections.getCollection({ name });
        return { value: collection!.recallEstimate!, samples: collection!.recallSamples };
      };
      const low = await estimate("low");
      const mid = await estimate("mid");
      const high = await estimate("high");
      console.log(
        `recall monitor on SIFT10K: ef 16 estimate ${low.value.toFixed(3)} (${low.samples} samples), measured ${measured.low!.toFixed(3)}; ` +
          `ef 64 estimate ${mid.value.toFixed(3)}, measured ${measured.mid!.toFixed(3)}; ef 256 estimate ${high.value.toFixed(3)}, measured ${measured.high!.toFixed(3)}`,
      );
      expect(Math.abs(mid.value - measured.mid!)).toBeLessThanOrEqual(0.03);
      expect(low.samples).toBeGreaterThanOrEqual(90n);
      expect(high.samples).toBeGreaterThanOrEqual(90n);
      expect(low.value).toBeLessThan(high.value);
      expect(Math.abs(low.value - measured.low!)).toBeLessThanOrEqual(0.03);
      expect(Math.abs(high.value - measured.high!)).toBeLessThanOrEqual(0.03);
    } finally {
      await t.stop();
    }
  });
});
