import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { Distance, FilterSchema, type Filter, type FilterInit, type PointInit } from "../src/client/index.js";
import { rejection } from "./helpers/assertions.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ scrollPointsMax: 2_000 });
});
afterAll(async () => t.stop());

/** Every id of a collection through Scroll pages of `limit`, and the number of pages. */
async function scrollAll(collection: string, limit: number, filter?: FilterInit, between?: () => Promise<void>): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor = "";
  let pages = 0;
  do {
    const page = await t.client.points.scroll({ collection, limit, cursor, filter, withPayload: false });
    expect(page.points.length).toBeLessThanOrEqual(limit);
    ids.push(...page.points.map((p) => p.id));
    cursor = page.nextCursor;
    pages++;
    await between?.();
  } while (cursor !== "");
  return { ids, pages };
}

function expectAscendingAndUnique(ids: readonly string[]): void {
  for (let i = 1; i < ids.length; i++) if (!(ids[i - 1]! < ids[i]!)) throw new Error(`ids out of order or repeated at ${i}: ${ids[i - 1]} then ${ids[i]}`);
}

describe("Scroll", () => {
  const base = 100_000;
  const baseIds = Array.from({ length: base }, (_, i) => `p${i}`);

  beforeAll(async () => {
    await t.client.collections.createCollection({ name: "big", dimension: 2, distance: Distance.DOT });
    const batches = Array.from({ length: 10 }, (_, b) => ({ collection: "big", points: baseIds.slice(b * 10_000, (b + 1) * 10_000).map((id, i) => ({ id, vector: [i, 1] })) }));
    expect((await t.client.points.ingest(batches)).inserted).toBe(BigInt(base));
  }, 120_000);

  it("returns every one of 100,000 ids once, in id order, in pages of 1,000", async () => {
    const started = performance.now();
    const { ids, pages } = await scrollAll("big", 1_000);
    const seconds = (performance.now() - started) / 1000;
    if (process.env.VECTORDB_TEST_VERBOSE) console.log(`scroll: ${base} points in ${pages} pages, ${seconds.toFixed(2)} s, ${Math.round(base / seconds)} points/s`);
    expect(pages).toBe(100);
    expect(ids).toEqual([...baseIds].sort());
  });

  it("returns every id that exists for the whole scroll exactly once while other ids are upserted and deleted", async () => {
    // Every 5th base id is deleted during the scroll, new ids are inserted all along (some sort before
    // the cursor, some after): neither may disturb the ids that stay.
    const doomed = baseIds.filter((_, i) => i % 5 === 0);
    const added: string[] = [];
    let next = 0;
    let stop = false;
    let rounds = 0;
    let writing = true;
    const writer = (async () => {
      try {
        for (let round = 0; !stop; round++) {
          const fresh = Array.from({ length: 100 }, (_, i) => `${round % 2 === 0 ? "a" : "q"}${round}-${i}`);
          await t.client.points.upsert({ collection: "big", points: fresh.map((id) => ({ id, vector: [1, 0] })) });
          added.push(...fresh);
          const victims = doomed.slice(next, next + 200);
          next += victims.length;
          if (victims.length > 0) await t.client.points.delete({ collection: "big", ids: victims });
          rounds++;
        }
      } finally {
        writing = false;
      }
    })();
    // Between pages, wait for the writer to finish a round, so that writes land mid-scroll however
    // the two are scheduled (on a loaded machine the scroll could otherwise end before the writer starts).
    const afterOneRound = async (): Promise<void> => {
      const target = rounds + 1;
      while (rounds < target && writing) await new Promise((resolve) => setTimeout(resolve, 1));
    };
    const { ids } = await scrollAll("big", 1_000, undefined, afterOneRound);
    stop = true;
    await writer;
    expect(next, "the writer made progress during the scroll").toBeGreaterThan(1_000);
    expectAscendingAndUnique(ids);
    const seen = new Set(ids);
    const doomedSet = new Set(doomed);
    for (const id of baseIds) if (!doomedSet.has(id)) expect(seen.has(id), id).toBe(true);
    const known = new Set([...baseIds, ...added]);
    for (const id of ids) expect(known.has(id), id).toBe(true);
    // Cleanup for the other tests: back to the base ids.
    await t.client.points.delete({ collection: "big", filter: { must: [{ condition: { case: "hasId", value: { ids: added.slice(0, 10_000) } } }] } });
  }, 120_000);

  it("pages through a filter, with the default page size and payloads and vectors as asked", async () => {
    await t.client.collections.createCollection({ name: "paged", dimension: 2, distance: Distance.EUCLIDEAN });
    await t.client.points.upsert({ collection: "paged", points: Array.from({ length: 250 }, (_, i) => ({ id: `id${String(i).padStart(3, "0")}`, vector: [i, -i], payload: { n: i } })) });
    const first = await t.client.points.scroll({ collection: "paged" });
    expect(first.points).toHaveLength(100);
    expect(first.points[0]).toMatchObject({ id: "id000", payload: { n: 0 }, vector: [] });
    const even = { must: [{ condition: { case: "field" as const, value: { key: "n", match: { case: "range" as const, value: { gte: 200 } } } } }] };
    const page = await t.client.points.scroll({ collection: "paged", filter: even, limit: 30, withVector: true, withPayload: false });
    expect(page.points.map((p) => p.id)).toEqual(Array.from({ length: 30 }, (_, i) => `id${200 + i}`));
    expect(page.points[0]?.vector).toEqual([200, -200]);
    expect(page.points[0]?.payload).toBeUndefined();
    const rest = await t.client.points.scroll({ collection: "paged", filter: even, limit: 30, cursor: page.nextCursor });
    expect(rest.points.map((p) => p.id)).toEqual(Array.from({ length: 20 }, (_, i) => `id${230 + i}`));
    expect(rest.nextCursor).toBe("");
    // Exactly `limit` matching points left: the page says there is no next one.
    const exact = await t.client.points.scroll({ collection: "paged", filter: even, limit: 50 });
    expect(exact.points).toHaveLength(50);
    expect(exact.nextCursor).toBe("");
    expect(await t.client.points.scroll({ collection: "paged", filter: { must: [{ condition: { case: "hasId", value: { ids: ["none"] } } }] } })).toMatchObject({ points: [], nextCursor: "" });
  });

  it("refuses bad input with INVALID_ARGUMENT or NOT_FOUND naming the field", async () => {
    const cases: [() => Promise<unknown>, number, RegExp][] = [
      [() => t.client.points.scroll({ collection: "paged", limit: 2_001 }), status.INVALID_ARGUMENT, /^\[invalid_argument\] limit: 2001 is above scroll_points_max 2000$/],
      [() => t.client.points.scroll({ collection: "paged", cursor: "nonsense" }), status.INVALID_ARGUMENT, /^\[invalid_argument\] cursor: "nonsense" is not a cursor/],
      [() => t.client.points.scroll({ collection: "paged", cursor: "c1.!!" }), status.INVALID_ARGUMENT, /^\[invalid_argument\] cursor: /],
      [() => t.client.points.scroll({ collection: "ghost" }), status.NOT_FOUND, /^\[not_found\] collection: collection "ghost" does not exist$/],
      [() => t.client.points.scroll({ collection: "" }), status.INVALID_ARGUMENT, /^\[invalid_argument\] collection: "" is not a valid collection name/],
      [() => t.client.points.scroll({ collection: "paged", filter: { must: [{ condition: { case: "field", value: { key: "", match: { case: "exists", value: true } } } }] } }), status.INVALID_ARGUMENT, /^\[invalid_argument\] filter\.must\[0\]\.field\.key: must not be empty$/],
      [() => t.client.points.count({ collection: "ghost" }), status.NOT_FOUND, /^\[not_found\] collection: /],
      [() => t.client.points.count({ collection: "paged", filter: { must: [{ condition: { case: "field", value: { key: "n", match: { case: "range", value: {} } } } }] } }), status.INVALID_ARGUMENT, /^\[invalid_argument\] filter\.must\[0\]\.field\.range: set at least one of gt, gte, lt, lte$/],
    ];
    for (const [call, code, message] of cases) {
      const error = await rejection(call());
      expect(error.status, message.source).toBe(code);
      expect(error.details).toMatch(message);
    }
  });
});

describe("Count", () => {
  type Payload = { n: number; tag: string; flag: boolean; maybe: number | null; meta: { lang: string }; list: number[]; sparse?: string };
  const count = 3_000;
  const payloadOf = (i: number): Payload => {
    const payload: Payload = { n: i, tag: ["red", "green", "blue"][i % 3]!, flag: i % 4 === 0, maybe: i % 6 === 0 ? null : i, meta: { lang: i % 5 === 0 ? "fr" : "en" }, list: [i % 7, i % 11] };
    if (i % 9 === 0) payload.sparse = "x";
    return payload;
  };
  const points: PointInit[] = Array.from({ length: count }, (_, i) => ({ id: `c${i}`, vector: [i % 13, 1], payload: payloadOf(i) }));

  beforeAll(async () => {
    await t.client.collections.createCollection({ name: "counted", dimension: 2, distance: Distance.DOT });
    await t.client.points.upsert({ collection: "counted", points });
    await t.client.points.delete({ collection: "counted", ids: ["c1", "c2", "c3"] });
  });

  /** A filter in its proto3 JSON form. */
  const json = (filter: JsonValue): Filter => fromJson(FilterSchema, filter);
  const eq = (key: string, equals: string | number | boolean | null): JsonValue => ({ field: { key, equals } });

  const cases: { name: string; filter: Filter; matches: (i: number, p: Payload) => boolean }[] = [
    { name: "equals string", filter: json({ must: [eq("tag", "red")] }), matches: (_, p) => p.tag === "red" },
    { name: "equals number", filter: json({ must: [eq("n", 42)] }), matches: (_, p) => p.n === 42 },
    { name: "equals bool", filter: json({ must: [eq("flag", true)] }), matches: (_, p) => p.flag },
    { name: "equals null", filter: json({ must: [eq("maybe", null)] }), matches: (_, p) => p.maybe === null },
    { name: "not equals", filter: json({ mustNot: [eq("tag", "red")] }), matches: (_, p) => p.tag !== "red" },
    { name: "nested key", filter: json({ must: [eq("meta.lang", "fr")] }), matches: (_, p) => p.meta.lang === "fr" },
    { name: "array element", filter: json({ must: [eq("list", 3)] }), matches: (_, p) => p.list.includes(3) },
    { name: "any_of", filter: json({ must: [{ field: { key: "tag", anyOf: ["red", "blue"] } }] }), matches: (_, p) => p.tag !== "green" },
    { name: "range gt/lt", filter: json({ must: [{ field: { key: "n", range: { gt: 100, lt: 200 } } }] }), matches: (_, p) => p.n > 100 && p.n < 200 },
    { name: "range gte/lte", filter: json({ must: [{ field: { key: "n", range: { gte: 100, lte: 200 } } }] }), matches: (_, p) => p.n >= 100 && p.n <= 200 },
    { name: "exists", filter: json({ must: [{ field: { key: "sparse", exists: true } }] }), matches: (_, p) => p.sparse !== undefined },
    { name: "not exists", filter: json({ must: [{ field: { key: "sparse", exists: false } }] }), matches: (_, p) => p.sparse === undefined },
    { name: "is_null", filter: json({ must: [{ field: { key: "maybe", isNull: true } }] }), matches: (_, p) => p.maybe === null },
    { name: "is not null", filter: json({ must: [{ field: { key: "maybe", isNull: false } }] }), matches: (_, p) => p.maybe !== null },
    { name: "has_id", filter: json({ must: [{ hasId: { ids: ["c0", "c1", "c5", "nope"] } }] }), matches: (i) => [0, 1, 5].includes(i) },
    {
      name: "should and nested filter",
      filter: json({ should: [eq("flag", true), { filter: { must: [eq("tag", "blue")], mustNot: [eq("meta.lang", "fr")] } }] }),
      matches: (_, p) => p.flag || (p.tag === "blue" && p.meta.lang !== "fr"),
    },
  ];

  it("counts exactly what a scan finds, for each filter operator", async () => {
    const live = Array.from({ length: count }, (_, i) => i).filter((i) => ![1, 2, 3].includes(i));
    expect((await t.client.points.count({ collection: "counted" })).count).toBe(BigInt(live.length));
    for (const { name, filter, matches } of cases) {
      const expected = live.filter((i) => matches(i, payloadOf(i))).length;
      const counted = Number((await t.client.points.count({ collection: "counted", filter })).count);
      const scanned = (await scrollAll("counted", 2_000, filter)).ids.length;
      expect({ name, counted, scanned }).toEqual({ name, counted: expected, scanned: expected });
      expect(expected, name).toBeGreaterThan(0);
    }
  });
});
