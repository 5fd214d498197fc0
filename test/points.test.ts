import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Distance } from "../src/client/index.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { rejection } from "./helpers/assertions.js";

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ kMax: 100, batchPointsMax: 50, idBytesMax: 16, payloadBytesMax: 512, idsPerRequestMax: 20, batchQueriesMax: 4 });
});
afterAll(async () => {
  await t.stop();
});


describe("CollectionService", () => {
  it("creates, gets, lists and deletes collections", async () => {
    const created = await t.client.collections.createCollection({ name: "c1", dimension: 4, distance: Distance.EUCLIDEAN, hnsw: { m: 8 } });
    expect(created.collection).toMatchObject({ name: "c1", dimension: 4, distance: Distance.EUCLIDEAN, pointCount: 0n });
    expect(created.collection?.hnsw).toMatchObject({ m: 8, efConstruction: 200, ef: 64 });
    await t.client.collections.createCollection({ name: "c0", dimension: 2, distance: Distance.DOT });
    const listed = await t.client.collections.listCollections({});
    expect(listed.collections.map((c) => c.name)).toEqual(["c0", "c1"]);
    await t.client.points.upsert({ collection: "c1", points: [{ id: "a", vector: [1, 2, 3, 4] }] });
    const got = await t.client.collections.getCollection({ name: "c1" });
    expect(got.collection?.pointCount).toBe(1n);
    expect(got.collection?.memoryBytes).toBeGreaterThan(16n);
    expect((await t.client.collections.deleteCollection({ name: "c1" })).deletedPoints).toBe(1n);
    expect((await t.client.collections.deleteCollection({ name: "c0" })).deletedPoints).toBe(0n);
    expect((await t.client.collections.listCollections({})).collections).toEqual([]);
  });

  it("answers each bad request with the right status and a message naming the field and limit", async () => {
    const create = t.client.collections.createCollection;
    await create({ name: "dup", dimension: 2, distance: Distance.COSINE });
    const cases: [Promise<unknown>, number, RegExp][] = [
      [create({ name: "dup", dimension: 2, distance: Distance.COSINE }), status.ALREADY_EXISTS, /^\[already_exists\] name: collection "dup" already exists$/],
      [create({ name: "../etc", dimension: 2, distance: Distance.COSINE }), status.INVALID_ARGUMENT, /name: "\.\.\/etc" is not a valid collection name: 1 to 64 characters from \[A-Za-z0-9_-\]/],
      [create({ name: "", dimension: 2, distance: Distance.COSINE }), status.INVALID_ARGUMENT, /name: "" is not a valid/],
      [create({ name: "x".repeat(65), dimension: 2, distance: Distance.COSINE }), status.INVALID_ARGUMENT, /not a valid collection name/],
      [create({ name: "d0", dimension: 0, distance: Distance.COSINE }), status.INVALID_ARGUMENT, /dimension: 0 is outside 1\.\.65536 \(dimension_max\)/],
      [create({ name: "d1", dimension: 70_000, distance: Distance.COSINE }), status.INVALID_ARGUMENT, /dimension: 70000 is outside 1\.\.65536/],
      [create({ name: "d2", dimension: 2 }), status.INVALID_ARGUMENT, /distance: must be DISTANCE_COSINE, DISTANCE_DOT or DISTANCE_EUCLIDEAN, got 0/],
      [create({ name: "d3", dimension: 2, distance: 7 as Distance }), status.INVALID_ARGUMENT, /distance: .* got 7/],
      [create({ name: "d4", dimension: 2, distance: Distance.DOT, hnsw: { m: 1000 } }), status.INVALID_ARGUMENT, /hnsw\.m: 1000 is outside 2\.\.128/],
      [create({ name: "d5", dimension: 2, distance: Distance.DOT, hnsw: { ef: 5000 } }), status.INVALID_ARGUMENT, /hnsw\.ef: 5000 is above ef_max 4096/],
      [t.client.collections.getCollection({ name: "nope" }), status.NOT_FOUND, /^\[not_found\] name: collection "nope" does not exist$/],
      [t.client.collections.deleteCollection({ name: "nope" }), status.NOT_FOUND, /collection "nope" does not exist/],
    ];
    for (const [call, code, message] of cases) {
      const error = await rejection(call);
      expect(error.status, error.details).toBe(code);
      expect(error.details).toMatch(message);
    }
    await t.client.collections.deleteCollection({ name: "dup" });
  });
});

describe("PointService", () => {
  beforeAll(async () => {
    await t.client.collections.createCollection({ name: "p", dimension: 3, distance: Distance.EUCLIDEAN });
    await t.client.collections.createCollection({ name: "cos", dimension: 2, distance: Distance.COSINE });
    await t.client.collections.createCollection({ name: "dot", dimension: 2, distance: Distance.DOT });
  });

  it("upserts, reports inserted and updated, gets and replaces", async () => {
    const first = await t.client.points.upsert({
      collection: "p",
      points: [
        { id: "a", vector: [0, 0, 0], payload: { color: "red", n: 1 } },
        { id: "b", vector: [1, 0, 0], payload: { color: "blue", n: 2 } },
      ],
    });
    expect(first).toMatchObject({ inserted: 2, updated: 0 });
    const second = await t.client.points.upsert({
      collection: "p",
      points: [
        { id: "b", vector: [2, 0, 0], payload: { color: "green" } },
        { id: "c", vector: [3, 0, 0] },
      ],
    });
    expect(second).toMatchObject({ inserted: 1, updated: 1 });
    const got = await t.client.points.get({ collection: "p", ids: ["c", "missing", "b"] });
    expect(got.points.map((p) => p.id)).toEqual(["c", "b"]);
    expect(got.points[1]).toMatchObject({ vector: [2, 0, 0], payload: { color: "green" } });
    expect(got.points[0]!.payload).toBeUndefined();
    const bare = await t.client.points.get({ collection: "p", ids: ["b"], withPayload: false, withVector: false });
    expect(bare.points[0]).toMatchObject({ id: "b", vector: [] });
    expect(bare.points[0]!.payload).toBeUndefined();
  });

  it("searches best first with euclidean distance as the score, threshold and payload options", async () => {
    const result = await t.client.points.search({ collection: "p", vector: [0.1, 0, 0], k: 2 });
    expect(result.hits.map((h) => h.id)).toEqual(["a", "b"]);
    expect(result.hits[0]!.score).toBeCloseTo(0.1, 5);
    expect(result.hits[1]!.score).toBeCloseTo(1.9, 5);
    expect(result.hits[0]!.payload).toEqual({ color: "red", n: 1 });
    expect(result.hits[0]!.vector).toEqual([]);
    const thresholded = await t.client.points.search({ collection: "p", vector: [0, 0, 0], k: 10, scoreThreshold: 2, withPayload: false, withVector: true });
    expect(thresholded.hits.map((h) => h.id)).toEqual(["a", "b"]);
    expect(thresholded.hits[1]!.vector).toEqual([2, 0, 0]);
    expect(thresholded.hits[1]!.payload).toBeUndefined();
    const none = await t.client.points.search({ collection: "p", vector: [0, 0, 0], k: 10, scoreThreshold: -1 });
    expect(none.hits).toEqual([]);
  });

  it("scores cosine as similarity of normalised vectors and dot as the raw product", async () => {
    await t.client.points.upsert({ collection: "cos", points: [{ id: "x", vector: [10, 0] }, { id: "y", vector: [1, 1] }, { id: "z", vector: [-3, 0] }] });
    const cos = await t.client.points.search({ collection: "cos", vector: [2, 0], k: 3, withVector: true });
    expect(cos.hits.map((h) => h.id)).toEqual(["x", "y", "z"]);
    expect(cos.hits.map((h) => h.score)).toEqual([expect.closeTo(1, 6), expect.closeTo(Math.SQRT1_2, 6), expect.closeTo(-1, 6)]);
    expect(cos.hits[0]!.vector).toEqual([1, 0]);
    const cosThreshold = await t.client.points.search({ collection: "cos", vector: [2, 0], k: 3, scoreThreshold: 0.5 });
    expect(cosThreshold.hits.map((h) => h.id)).toEqual(["x", "y"]);
    await t.client.points.upsert({ collection: "dot", points: [{ id: "x", vector: [10, 0] }, { id: "y", vector: [1, 1] }] });
    const dot = await t.client.points.search({ collection: "dot", vector: [2, 1], k: 2 });
    expect(dot.hits.map((h) => [h.id, h.score])).toEqual([["x", 20], ["y", 3]]);
  });

  it("runs a batch of queries, one result per query in order", async () => {
    const batch = await t.client.points.batchSearch({
      collection: "p",
      queries: [
        { vector: [3, 0, 0], k: 1 },
        { vector: [0, 0, 0], k: 2, filter: { must: [{ condition: { case: "field", value: { key: "color", match: { case: "equals", value: { kind: { case: "stringValue", value: "green" } } } } } }] } },
      ],
    });
    expect(batch.results.map((r) => r.hits.map((h) => h.id))).toEqual([["c"], ["b"]]);
  });

  it("deletes by ids and by filter", async () => {
    await t.client.collections.createCollection({ name: "del", dimension: 1, distance: Distance.EUCLIDEAN });
    await t.client.points.upsert({
      collection: "del",
      points: Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, vector: [i], payload: { even: i % 2 === 0 } })),
    });
    expect((await t.client.points.delete({ collection: "del", ids: ["p1", "p3", "nope"] })).deleted).toBe(2);
    const byFilter = await t.client.points.delete({
      collection: "del",
      filter: { must: [{ condition: { case: "field", value: { key: "even", match: { case: "equals", value: { kind: { case: "boolValue", value: true } } } } } }] },
    });
    expect(byFilter.deleted).toBe(5);
    const left = await t.client.points.search({ collection: "del", vector: [0], k: 10 });
    expect(left.hits.map((h) => h.id).sort()).toEqual(["p5", "p7", "p9"]);
    // The points that moved into deleted slots are still found by id.
    expect((await t.client.points.get({ collection: "del", ids: ["p9", "p5"] })).points.map((p) => p.id)).toEqual(["p9", "p5"]);
  });

  it("rejects bad points, ids, k, ef, batches and filters with INVALID_ARGUMENT naming the field and limit", async () => {
    const up = (points: { id: string; vector: number[]; payload?: Record<string, unknown> }[]) =>
      t.client.points.upsert({ collection: "p", points: points as never });
    const cases: [Promise<unknown>, number, RegExp][] = [
      [up([{ id: "ok", vector: [1, 2, 3] }, { id: "bad", vector: [1, 2] }]), status.INVALID_ARGUMENT, /points\[1\] \(id "bad"\)\.vector: has 2 components, the collection's dimension is 3/],
      [up([{ id: "nan", vector: [1, Number.NaN, 3] }]), status.INVALID_ARGUMENT, /points\[0\] \(id "nan"\)\.vector\[1\]: is NaN, components must be finite/],
      [up([{ id: "inf", vector: [1, Number.POSITIVE_INFINITY, 3] }]), status.INVALID_ARGUMENT, /vector\[1\]: is Infinity/],
      [up([{ id: "", vector: [1, 2, 3] }]), status.INVALID_ARGUMENT, /points\[0\]\.id: must not be empty/],
      [up([{ id: "x".repeat(17), vector: [1, 2, 3] }]), status.INVALID_ARGUMENT, /points\[0\]\.id: is 17 bytes, the limit is id_bytes_max 16/],
      [up([{ id: "d", vector: [1, 2, 3] }, { id: "d", vector: [1, 2, 3] }]), status.INVALID_ARGUMENT, /points\[1\]\.id: "d" appears more than once in points/],
      [up([{ id: "big", vector: [1, 2, 3], payload: { s: "x".repeat(600) } }]), status.INVALID_ARGUMENT, /payload: is 608 bytes of JSON, the limit is payload_bytes_max 512/],
      [up([]), status.INVALID_ARGUMENT, /points: must hold at least one point/],
      [up(Array.from({ length: 51 }, (_, i) => ({ id: `b${i}`, vector: [1, 2, 3] }))), status.INVALID_ARGUMENT, /points: has 51 points, the limit is batch_points_max 50/],
      [t.client.points.upsert({ collection: "nope", points: [{ id: "a", vector: [1] }] }), status.NOT_FOUND, /collection: collection "nope" does not exist/],
      [t.client.points.upsert({ collection: "a/b", points: [{ id: "a", vector: [1] }] }), status.INVALID_ARGUMENT, /collection: "a\/b" is not a valid collection name/],
      [t.client.points.upsert({ collection: "cos", points: [{ id: "zero", vector: [0, 0] }] }), status.INVALID_ARGUMENT, /zero vector/],
      [t.client.points.search({ collection: "p", vector: [1, 2, 3], k: 0 }), status.INVALID_ARGUMENT, /^\[invalid_argument\] k: 0 is outside 1\.\.100 \(k_max\)$/],
      [t.client.points.search({ collection: "p", vector: [1, 2, 3], k: 101 }), status.INVALID_ARGUMENT, /k: 101 is outside 1\.\.100 \(k_max\)/],
      [t.client.points.search({ collection: "p", vector: [1, 2, 3], k: 1, ef: 5000 }), status.INVALID_ARGUMENT, /ef: 5000 is above ef_max 4096/],
      [t.client.points.search({ collection: "p", vector: [1, 2], k: 1 }), status.INVALID_ARGUMENT, /vector: has 2 components, the collection's dimension is 3/],
      [t.client.points.search({ collection: "p", vector: [1, 2, Number.NaN], k: 1 }), status.INVALID_ARGUMENT, /vector\[2\]: is NaN/],
      [t.client.points.search({ collection: "p", vector: [1, 2, 3], k: 1, scoreThreshold: Number.NaN }), status.INVALID_ARGUMENT, /score_threshold: must be a number/],
      [t.client.points.search({ collection: "nope", vector: [1, 2, 3], k: 1 }), status.NOT_FOUND, /collection "nope" does not exist/],
      [t.client.points.get({ collection: "p", ids: [] }), status.INVALID_ARGUMENT, /ids: must list at least one id/],
      [t.client.points.get({ collection: "p", ids: Array.from({ length: 21 }, (_, i) => `${i}`) }), status.INVALID_ARGUMENT, /ids: has 21 ids, the limit is ids_per_request_max 20/],
      [t.client.points.delete({ collection: "p" }), status.INVALID_ARGUMENT, /ids, filter: give exactly one of ids and filter/],
      [t.client.points.delete({ collection: "p", ids: ["a"], filter: {} }), status.INVALID_ARGUMENT, /give exactly one/],
      [t.client.points.delete({ collection: "p", filter: {} }), status.INVALID_ARGUMENT, /^\[invalid_argument\] filter: is empty and would delete every point/],
      [t.client.points.batchSearch({ collection: "p", queries: [] }), status.INVALID_ARGUMENT, /queries: must hold at least one query/],
      [t.client.points.batchSearch({ collection: "p", queries: Array.from({ length: 5 }, () => ({ vector: [1, 2, 3], k: 1 })) }), status.INVALID_ARGUMENT, /queries: has 5 queries, the limit is batch_queries_max 4/],
      [t.client.points.batchSearch({ collection: "p", queries: [{ vector: [1, 2, 3], k: 1 }, { vector: [1, 2, 3], k: 0 }] }), status.INVALID_ARGUMENT, /queries\[1\]\.k: 0 is outside/],
      [t.client.points.batchSearch({ collection: "p", queries: [{ vector: [1, 2, 3], k: 1 }, { vector: [1], k: 1 }] }), status.INVALID_ARGUMENT, /queries\[1\]\.vector: has 1 components/],
    ];
    for (const [call, code, message] of cases) {
      const error = await rejection(call);
      expect(error.status, error.details).toBe(code);
      expect(error.details).toMatch(message);
    }
    // Nothing of the rejected batches was written, and the server still answers.
    const got = await t.client.points.get({ collection: "p", ids: ["ok", "nan", "d", "big", "b0"] });
    expect(got.points).toEqual([]);
    expect((await t.client.collections.getCollection({ name: "p" })).collection?.pointCount).toBe(3n);
  });

  it("refuses a message above message_bytes_max with RESOURCE_EXHAUSTED and stays up", async () => {
    const small = await startTestServer({ messageBytesMax: 4096 });
    try {
      await small.client.collections.createCollection({ name: "m", dimension: 2000, distance: Distance.DOT });
      const error = await rejection(small.client.points.upsert({ collection: "m", points: [{ id: "a", vector: Array.from({ length: 2000 }, () => 1) }] }));
      expect(error.status).toBe(status.RESOURCE_EXHAUSTED);
      expect(error.details).toMatch(/^\[resource_exhausted\] request: the message is \d+ bytes, the limit is message_bytes_max 4096$/);
      expect((await small.client.collections.getCollection({ name: "m" })).collection?.pointCount).toBe(0n);
    } finally {
      await small.stop();
    }
  });

  it("refuses points past collection_points_max with RESOURCE_EXHAUSTED", async () => {
    const small = await startTestServer({ collectionPointsMax: 3 });
    try {
      await small.client.collections.createCollection({ name: "cap", dimension: 1, distance: Distance.DOT });
      await small.client.points.upsert({ collection: "cap", points: [{ id: "a", vector: [1] }, { id: "b", vector: [1] }] });
      const error = await rejection(small.client.points.upsert({ collection: "cap", points: [{ id: "a", vector: [2] }, { id: "c", vector: [1] }, { id: "d", vector: [1] }] }));
      expect(error.status).toBe(status.RESOURCE_EXHAUSTED);
      expect(error.details).toMatch(/holds 2 points; 2 more would exceed collection_points_max 3/);
      expect((await small.client.points.upsert({ collection: "cap", points: [{ id: "a", vector: [2] }, { id: "c", vector: [1] }] })).inserted).toBe(1);
    } finally {
      await small.stop();
    }
  });
});
