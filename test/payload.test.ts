import { rmSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Distance, FilterSchema, type Filter, type VectorDbClient } from "../src/client/index.js";
import { ServerProcess } from "../src/testing/crash/index.js";
import { rejection } from "./helpers/assertions.js";
import { cliPath, ensureServerBuilt } from "./helpers/build.js";
import { rng } from "./helpers/random.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const filter = (json: JsonValue): Filter => fromJson(FilterSchema, json);

/** The payloads of `ids` as Get returns them (undefined for none), keyed by id. */
async function payloads(client: VectorDbClient, collection: string, ids: string[]): Promise<Record<string, JsonObject | undefined>> {
  const { points } = await client.points.get({ collection, ids, withVector: false });
  return Object.fromEntries(points.map((point) => [point.id, point.payload as JsonObject | undefined]));
}

describe("payload updates", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ payloadBytesMax: 200 });
    await t.client.collections.createCollection({ name: "docs", dimension: 2, distance: Distance.EUCLIDEAN });
    await t.client.points.upsert({
      collection: "docs",
      points: [
        { id: "a", vector: [1, 0], payload: { lang: "en", meta: { k: 1, keep: true }, n: 1 } },
        { id: "b", vector: [0, 1], payload: { lang: "fr", n: 2 } },
        { id: "c", vector: [1, 1] },
      ],
    });
  });
  afterAll(async () => t.stop());

  it("sets keys, overwrites, deletes keys (nested too) and clears, by ids and by filter, counting the points changed", async () => {
    const { client } = t;
    expect(await client.points.setPayload({ collection: "docs", ids: ["a", "c", "missing", "a"], payload: { n: 10, tags: ["x"] } })).toMatchObject({ updated: 2 });
    expect(await payloads(client, "docs", ["a", "b", "c"])).toEqual({ a: { lang: "en", meta: { k: 1, keep: true }, n: 10, tags: ["x"] }, b: { lang: "fr", n: 2 }, c: { n: 10, tags: ["x"] } });
    expect(await client.points.setPayload({ collection: "docs", filter: filter({ must: [{ field: { key: "n", equals: 10 } }] }), payload: { seen: true } })).toMatchObject({ updated: 2 });
    expect(await client.points.deletePayloadKeys({ collection: "docs", ids: ["a"], keys: ["meta.k", "tags", "absent", "lang.deeper"] })).toMatchObject({ updated: 1 });
    expect((await payloads(client, "docs", ["a"])).a).toEqual({ lang: "en", meta: { keep: true }, n: 10, seen: true });
    expect(await client.points.overwritePayload({ collection: "docs", ids: ["b"], payload: { only: "this" } })).toMatchObject({ updated: 1 });
    expect(await client.points.overwritePayload({ collection: "docs", ids: ["c"] })).toMatchObject({ updated: 1 });
    expect(await client.points.clearPayload({ collection: "docs", filter: filter({ must: [{ field: { key: "seen", exists: true } }] }) })).toMatchObject({ updated: 1 });
    expect(await payloads(client, "docs", ["a", "b", "c"])).toEqual({ a: undefined, b: { only: "this" }, c: {} });
    // The vectors are untouched, and filters see the new payloads at once.
    const { points } = await client.points.get({ collection: "docs", ids: ["a", "b"], withPayload: false });
    expect(points.map((p) => p.vector)).toEqual([[1, 0], [0, 1]]);
    expect((await client.points.count({ collection: "docs", filter: filter({ must: [{ field: { key: "only", equals: "this" } }] }) })).count).toBe(1n);
    const hits = await client.points.search({ collection: "docs", vector: [0, 1], k: 1, filter: filter({ must: [{ field: { key: "only", exists: true } }] }) });
    expect(hits.hits.map((h) => [h.id, h.payload])).toEqual([["b", { only: "this" }]]);
  });

  it("refuses bad input with the right status naming the field", async () => {
    const { client } = t;
    const big = "x".repeat(150);
    await client.points.upsert({ collection: "docs", points: [{ id: "full", vector: [0, 0], payload: { text: big } }] });
    const cases: [() => Promise<unknown>, number, RegExp][] = [
      [() => client.points.setPayload({ collection: "docs", payload: { a: 1 } }), status.INVALID_ARGUMENT, /^\[invalid_argument\] ids, filter: give exactly one of ids and filter$/],
      [() => client.points.clearPayload({ collection: "docs", ids: ["a"], filter: filter({ must: [{ hasId: { ids: ["a"] } }] }) }), status.INVALID_ARGUMENT, /^\[invalid_argument\] ids, filter: give exactly one/],
      [() => client.points.overwritePayload({ collection: "docs", filter: {} }), status.INVALID_ARGUMENT, /^\[invalid_argument\] filter: is empty and would update every point/],
      [() => client.points.setPayload({ collection: "docs", ids: ["a"] }), status.INVALID_ARGUMENT, /^\[invalid_argument\] payload: must hold at least one key to set$/],
      [() => client.points.setPayload({ collection: "docs", ids: ["full"], payload: { more: big } }), status.INVALID_ARGUMENT, /^\[invalid_argument\] payload: point "full" \(chosen by ids\) would have a payload of \d+ bytes, the limit is payload_bytes_max 200$/],
      [() => client.points.overwritePayload({ collection: "docs", ids: ["a"], payload: { text: big, more: big } }), status.INVALID_ARGUMENT, /^\[invalid_argument\] payload: is \d+ bytes of JSON, the limit is payload_bytes_max 200$/],
      [() => client.points.deletePayloadKeys({ collection: "docs", ids: ["a"] }), status.INVALID_ARGUMENT, /^\[invalid_argument\] keys: must list at least one key$/],
      [() => client.points.deletePayloadKeys({ collection: "docs", ids: ["a"], keys: ["ok", "a..b"] }), status.INVALID_ARGUMENT, /^\[invalid_argument\] keys\[1\]: "a\.\.b" has an empty segment between dots$/],
      [() => client.points.deletePayloadKeys({ collection: "docs", ids: ["a"], keys: [""] }), status.INVALID_ARGUMENT, /^\[invalid_argument\] keys\[0\]: must not be empty$/],
      [() => client.points.clearPayload({ collection: "docs", ids: Array.from({ length: 10_001 }, (_, i) => `i${i}`) }), status.INVALID_ARGUMENT, /^\[invalid_argument\] ids: has 10001 ids, the limit is ids_per_request_max 10000$/],
      [() => client.points.clearPayload({ collection: "nope", ids: ["a"] }), status.NOT_FOUND, /^\[not_found\] collection: collection "nope" does not exist$/],
    ];
    for (const [call, code, message] of cases) {
      const error = await rejection(call());
      expect(error.status, message.source).toBe(code);
      expect(error.details).toMatch(message);
    }
    expect((await payloads(client, "docs", ["full"])).full).toEqual({ text: big });
  });
});

/** The test's own account of what each point's payload must be. */
type Model = Map<string, JsonObject | undefined>;

/** A random payload update, applied to the model and sent; resolves once acknowledged. */
async function randomUpdate(client: VectorDbClient, model: Model, random: () => number, step: number): Promise<void> {
  const ids = [...model.keys()];
  const chosen = Array.from({ length: 1 + Math.floor(random() * 20) }, () => ids[Math.floor(random() * ids.length)]!);
  const kind = Math.floor(random() * 4);
  const value = { step, [`k${step % 5}`]: { nested: step, list: [step, "s"] } };
  if (kind === 0) {
    await client.points.setPayload({ collection: "kill", ids: chosen, payload: value });
    for (const id of chosen) model.set(id, { ...model.get(id), ...value });
  } else if (kind === 1) {
    await client.points.overwritePayload({ collection: "kill", ids: chosen, payload: value });
    for (const id of chosen) model.set(id, value);
  } else if (kind === 2) {
    const key = `k${Math.floor(random() * 5)}`;
    await client.points.deletePayloadKeys({ collection: "kill", ids: chosen, keys: [key, `k${(step + 1) % 5}.nested`] });
    for (const id of chosen) {
      const payload = model.get(id);
      if (payload === undefined) continue;
      const copy: JsonObject = { ...payload };
      delete copy[key];
      const inner = copy[`k${(step + 1) % 5}`];
      if (inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
        const { nested: _nested, ...rest } = inner;
        copy[`k${(step + 1) % 5}`] = rest;
      }
      model.set(id, copy);
    }
  } else {
    // By filter: the points whose payload has `step` below a bound (evaluated by the server in order).
    const bound = step - Math.floor(random() * 10);
    await client.points.clearPayload({ collection: "kill", filter: filter({ must: [{ field: { key: "step", range: { lt: bound } } }] }) });
    for (const [id, payload] of model) if (typeof payload?.step === "number" && payload.step < bound) model.set(id, undefined);
  }
}

describe("payload updates are durable", () => {
  beforeAll(ensureServerBuilt, 120_000);

  it("survive SIGKILL and restart, replayed from the WAL and from a segment plus WAL, twice over", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "vectordb-payload-kill-"));
    const model: Model = new Map(Array.from({ length: 300 }, (_, i) => [`p${i}`, { step: -1, group: i % 3 }]));
    const random = rng(16);
    let server: ServerProcess | undefined;
    try {
      // A 16 KiB WAL: checkpoints run every few dozen updates, so recovery reads a segment and a WAL.
      for (const [round, args] of [[0, []], [1, ["--wal-bytes-max", "16384"]]] as const) {
        server = await ServerProcess.spawn(cliPath, dataDir, args);
        let client = await server.waitServing(30_000);
        if (round === 0) {
          await client.collections.createCollection({ name: "kill", dimension: 3, distance: Distance.COSINE });
          await client.points.upsert({ collection: "kill", points: [...model].map(([id, payload], i) => ({ id, vector: [1, i, 2], payload })) });
        }
        for (let step = 0; step < 150; step++) await randomUpdate(client, model, random, round * 1000 + step);
        for (let restart = 0; restart < 2; restart++) {
          await server.stop("SIGKILL");
          server = await ServerProcess.spawn(cliPath, dataDir, args);
          client = await server.waitServing(30_000);
          const found = await payloads(client, "kill", [...model.keys()]);
          expect(Object.keys(found)).toHaveLength(model.size);
          for (const [id, payload] of model) expect(found[id], `${id} after restart ${restart} of round ${round}`).toEqual(payload);
        }
        await server.stop("SIGKILL");
      }
    } finally {
      await server?.stop("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
