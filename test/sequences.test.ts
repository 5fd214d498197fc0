import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Distance } from "../src/client/index.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// Embedded mode: write responses carry the WAL sequence, reads wait for a min_sequence in flight and
// refuse one the WAL has not assigned, GetCollection reports the applied sequence (replication_lag stays 0).
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
  await t.client.collections.createCollection({ name: "seq", dimension: 2, distance: Distance.COSINE });
});

afterAll(async () => {
  await t?.stop();
});

describe("write sequences in embedded mode", () => {
  it("numbers every write with its WAL sequence; reads wait for min_sequence of a write in flight and refuse one never assigned", async () => {
    const upserted = await t.client.points.upsert({ collection: "seq", points: [{ id: "a", vector: [1, 0] }, { id: "b", vector: [0, 1] }] });
    const payload = await t.client.points.setPayload({ collection: "seq", ids: ["a"], payload: { k: 1 } });
    const deleted = await t.client.points.delete({ collection: "seq", ids: ["b"] });
    expect([upserted.sequence, payload.sequence, deleted.sequence]).toEqual([1n, 2n, 3n]);
    const info = (await t.client.collections.getCollection({ name: "seq" })).collection!;
    expect([info.appliedSequence, info.replicationLag]).toEqual([3n, 0n]);

    const got = await t.client.points.get({ collection: "seq", ids: ["a", "b"], minSequence: deleted.sequence });
    expect(got.points.map((point) => [point.id, point.payload])).toEqual([["a", { k: 1 }]]);
    const hits = await t.client.points.search({ collection: "seq", vector: [1, 0], k: 1, minSequence: 3n });
    expect(hits.hits.map((hit) => hit.id)).toEqual(["a"]);

    // Embedded: a sequence the WAL has not assigned belongs to no acknowledged write: OUT_OF_RANGE at
    // once, not a wait until the deadline.
    const started = Date.now();
    await expect(t.client.points.scroll({ collection: "seq", minSequence: 4n }, { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: "out_of_range",
      message: expect.stringContaining("min_sequence: 4 is above the last write"),
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    // A read for a write in flight (its sequence assigned, not yet applied) waits for it.
    const upsertC = t.client.points.upsert({ collection: "seq", points: [{ id: "c", vector: [1, 1] }] });
    const waiting = (async () => {
      const collection = t.running.db.get("seq");
      while (collection.nextSequence <= 4) await new Promise((resolve) => setImmediate(resolve));
      return t.client.points.get({ collection: "seq", ids: ["c"], minSequence: 4n }, { timeoutMs: 10_000 });
    })();
    expect((await upsertC).sequence).toBe(4n);
    expect((await waiting).points.map((point) => point.id)).toEqual(["c"]);
    await expect(t.client.points.get({ collection: "seq", ids: ["a"], minSequence: 2n ** 60n })).rejects.toMatchObject({ code: "invalid_argument" });
  });
});
