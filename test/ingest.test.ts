import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Distance, type IngestRequestInit, type PointInit } from "../src/client/index.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { rejection } from "./helpers/assertions.js";
import { rng } from "./helpers/random.js";

type IngestInit = IngestRequestInit;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.stop());


function batchOf(start: number, size: number, dimension: number, random: () => number): PointInit[] {
  return Array.from({ length: size }, (_, i) => ({
    id: `v${start + i}`,
    vector: Array.from({ length: dimension }, () => random()),
    payload: { n: start + i },
  }));
}


describe("Ingest", () => {
  it("streams 100,000 128-d vectors with the producer held back by flow control", async () => {
    const name = "bulk";
    await t.client.collections.createCollection({ name, dimension: 128, distance: Distance.EUCLIDEAN });
    const collection = t.running.db.get(name);
    const batchSize = 100;
    const batches = 1_000;
    const random = rng(7);
    let maxLagPoints = 0;
    let heapPeakBytes = 0;
    const heapStartBytes = process.memoryUsage().heapUsed;
    async function* produce(): AsyncGenerator<IngestInit> {
      for (let b = 0; b < batches; b++) {
        // Points produced so far minus points the server has applied: what sits in buffers.
        maxLagPoints = Math.max(maxLagPoints, b * batchSize - collection.size);
        if (b % 50 === 0) heapPeakBytes = Math.max(heapPeakBytes, process.memoryUsage().heapUsed);
        yield { collection: b === 0 ? name : "", points: batchOf(b * batchSize, batchSize, 128, random) };
      }
    }
    const response = await t.client.points.ingest(produce());
    expect(response).toMatchObject({ batches: 1000n, inserted: 100000n, updated: 0n });
    expect(collection.size).toBe(100_000);
    // Without backpressure the generator would run ahead by tens of thousands of points. With it, at
    // most the client's and server's stream buffers (16 messages each) and the HTTP/2 windows are in flight.
    if (process.env.VECTORDB_TEST_VERBOSE) console.log({ maxLagPoints, heapGrowthBytes: heapPeakBytes - heapStartBytes });
    expect(maxLagPoints).toBeLessThanOrEqual(50 * batchSize);
    // 100k×128 float32 is 51 MB in the collection; the buffered batches must not add a multiple of that.
    expect(heapPeakBytes - heapStartBytes).toBeLessThan(400 * 1024 * 1024);
    const got = await t.client.points.get({ collection: name, ids: ["v99999"] });
    expect(got.points[0]?.payload).toEqual({ n: 99999 });
    await t.client.collections.deleteCollection({ name });
  });

  it("ends the stream at a bad batch with INVALID_ARGUMENT naming the batch and point; earlier batches stay applied", async () => {
    await t.client.collections.createCollection({ name: "partial", dimension: 4, distance: Distance.DOT });
    const random = rng(1);
    const good = (b: number): IngestInit => ({ collection: "partial", points: batchOf(b * 10, 10, 4, random) });
    const bad: IngestInit = { points: [...batchOf(20, 5, 4, random), { id: "broken", vector: [1, 2] }, ...batchOf(26, 4, 4, random)] };
    const afterwards = good(3);
    const error = await rejection(t.client.points.ingest([good(0), good(1), bad, afterwards]));
    expect(error.status).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toBe(`[invalid_argument] batches[2].points[5] (id "broken").vector: has 2 components, the collection's dimension is 4`);
    const info = await t.client.collections.getCollection({ name: "partial" });
    expect(info.collection?.pointCount).toBe(20n);
    expect((await t.client.points.get({ collection: "partial", ids: ["v20", "v30"] })).points).toEqual([]);
  });

  it("rejects a stream that does not name its collection, names another one, or an unknown one", async () => {
    await t.client.collections.createCollection({ name: "named", dimension: 1, distance: Distance.DOT });
    const noName = await rejection(t.client.points.ingest([{ points: [{ id: "a", vector: [1] }] }]));
    expect(noName.status).toBe(status.INVALID_ARGUMENT);
    expect(noName.details).toMatch(/batches\[0\]\.collection: the first message must name the collection/);
    const switched = await rejection(t.client.points.ingest([{ collection: "named", points: [] }, { collection: "other", points: [] }]));
    expect(switched.details).toMatch(/batches\[1\]\.collection: "other" differs from "named" named by the first message/);
    const unknown = await rejection(t.client.points.ingest([{ collection: "ghost", points: [] }]));
    expect(unknown.status).toBe(status.NOT_FOUND);
    expect(unknown.details).toMatch(/batches\[0\]\.collection: collection "ghost" does not exist/);
    const tooBig = await startTestServer({ batchPointsMax: 2 });
    try {
      await tooBig.client.collections.createCollection({ name: "b", dimension: 1, distance: Distance.DOT });
      const error = await rejection(tooBig.client.points.ingest([{ collection: "b", points: [{ id: "1", vector: [1] }, { id: "2", vector: [1] }, { id: "3", vector: [1] }] }]));
      expect(error.details).toMatch(/batches\[0\]\.points: has 3 points, the limit is batch_points_max 2/);
    } finally {
      await tooBig.stop();
    }
  });

  it("refuses an Ingest stream past ingest_streams_max with RESOURCE_EXHAUSTED, and admits one once a stream ends", async () => {
    const limited = await startTestServer({ ingestStreamsMax: 1 });
    try {
      await limited.client.collections.createCollection({ name: "s", dimension: 1, distance: Distance.DOT });
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let firstSent!: () => void;
      const sent = new Promise<void>((resolve) => (firstSent = resolve));
      async function* slow(): AsyncGenerator<IngestInit> {
        yield { collection: "s", points: [{ id: "a", vector: [1] }] };
        firstSent();
        await held;
      }
      const open = limited.client.points.ingest(slow());
      await sent;
      // Wait until the server has applied the first batch, so the stream is surely open there.
      while (limited.running.db.get("s").size === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const error = await rejection(limited.client.points.ingest([{ collection: "s", points: [{ id: "b", vector: [1] }] }]));
      expect(error.status).toBe(status.RESOURCE_EXHAUSTED);
      expect(error.details).toMatch(/ingest_streams_max 1 Ingest streams are open already/);
      release();
      expect(await open).toMatchObject({ inserted: 1n });
      expect(await limited.client.points.ingest([{ collection: "s", points: [{ id: "b", vector: [1] }] }])).toMatchObject({ inserted: 1n });
    } finally {
      await limited.stop();
    }
  });

  it("accepts an empty stream and reports zero", async () => {
    expect(await t.client.points.ingest([])).toMatchObject({ batches: 0n, inserted: 0n, updated: 0n });
  });

  it("survives a client that cancels mid-stream; what was applied stays, the server keeps serving", async () => {
    await t.client.collections.createCollection({ name: "cancel", dimension: 8, distance: Distance.EUCLIDEAN });
    const controller = new AbortController();
    const random = rng(3);
    async function* produce(): AsyncGenerator<IngestInit> {
      for (let b = 0; b < 10_000; b++) {
        if (b === 20) controller.abort();
        yield { collection: "cancel", points: batchOf(b * 10, 10, 8, random) };
      }
    }
    const error = await rejection(t.client.points.ingest(produce(), { signal: controller.signal }));
    expect(error.status).toBe(status.CANCELLED);
    // A batch whose WAL append was in flight when the client cancelled is still applied once it is
    // durable (its outcome is unknown to the client either way): wait until the count settles.
    const pointCount = async (): Promise<number> => Number((await t.client.collections.getCollection({ name: "cancel" })).collection?.pointCount);
    let count = await pointCount();
    for (let previous = -1; count !== previous; count = await pointCount()) {
      previous = count;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(count % 10).toBe(0);
    expect(count).toBeLessThanOrEqual(210);
    expect((await t.client.points.search({ collection: "cancel", vector: new Array(8).fill(0), k: 1 })).hits).toHaveLength(count > 0 ? 1 : 0);
  });
});
