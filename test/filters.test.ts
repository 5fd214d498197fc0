import { fromJson } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Distance, RpcError } from "../src/client/index.js";
import { FilterSchema } from "../gen/vectordb/v1/point_pb.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Filters are written in proto3 JSON, exactly as a buf curl or Python user would send them. */
const filter = (json: unknown) => fromJson(FilterSchema, json as never);

const points = [
  { id: "en-1", payload: { lang: "en", year: 2020, tags: ["a", "b"], meta: { source: "web", score: 0.9 }, draft: null } },
  { id: "en-2", payload: { lang: "en", year: 2023, tags: ["c"], meta: { source: "book", score: 0.4 } } },
  { id: "fr-1", payload: { lang: "fr", year: 2021, tags: [], meta: { source: "web", score: 0.7 }, draft: true } },
  { id: "de-1", payload: { lang: "de", year: 2019.5, authors: [{ name: "x" }, { name: "y" }] } },
  { id: "bare", payload: undefined },
];

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ filterDepthMax: 3, filterConditionsMax: 6, anyOfValuesMax: 3 });
  await t.client.collections.createCollection({ name: "f", dimension: 2, distance: Distance.EUCLIDEAN });
  await t.client.points.upsert({ collection: "f", points: points.map((p, i) => ({ id: p.id, vector: [i, 0], payload: p.payload as never })) });
});
afterAll(async () => t.stop());

async function ids(json: unknown): Promise<string[]> {
  const { hits } = await t.client.points.search({ collection: "f", vector: [0, 0], k: 10, filter: filter(json) });
  return hits.map((h) => h.id).sort();
}

describe("filters", () => {
  it.each([
    ["equals a string", { must: [{ field: { key: "lang", equals: "en" } }] }, ["en-1", "en-2"]],
    ["equals a number (1 equals 1.0)", { must: [{ field: { key: "year", equals: 2021.0 } }] }, ["fr-1"]],
    ["equals a bool", { must: [{ field: { key: "draft", equals: true } }] }, ["fr-1"]],
    ["equals null", { must: [{ field: { key: "draft", equals: null } }] }, ["en-1"]],
    ["not equals through must_not", { mustNot: [{ field: { key: "lang", equals: "en" } }] }, ["bare", "de-1", "fr-1"]],
    ["equals matches any element of an array", { must: [{ field: { key: "tags", equals: "b" } }] }, ["en-1"]],
    ["any_of", { must: [{ field: { key: "lang", anyOf: ["fr", "de", "it"] } }] }, ["de-1", "fr-1"]],
    ["range gte/lt", { must: [{ field: { key: "year", range: { gte: 2020, lt: 2023 } } }] }, ["en-1", "fr-1"]],
    ["range gt/lte", { must: [{ field: { key: "year", range: { gt: 2019.5, lte: 2023 } } }] }, ["en-1", "en-2", "fr-1"]],
    ["range ignores non-numbers", { must: [{ field: { key: "lang", range: { gte: 0 } } }] }, []],
    ["nested key with dots", { must: [{ field: { key: "meta.source", equals: "web" } }] }, ["en-1", "fr-1"]],
    ["nested range", { must: [{ field: { key: "meta.score", range: { gte: 0.5 } } }] }, ["en-1", "fr-1"]],
    ["key through an array of objects", { must: [{ field: { key: "authors.name", equals: "y" } }] }, ["de-1"]],
    ["exists true (null counts as present)", { must: [{ field: { key: "draft", exists: true } }] }, ["en-1", "fr-1"]],
    ["exists false", { must: [{ field: { key: "meta", exists: false } }] }, ["bare", "de-1"]],
    ["is_null true", { must: [{ field: { key: "draft", isNull: true } }] }, ["en-1"]],
    ["is_null false", { must: [{ field: { key: "draft", isNull: false } }] }, ["fr-1"]],
    ["has_id", { must: [{ hasId: { ids: ["bare", "fr-1", "unknown"] } }] }, ["bare", "fr-1"]],
    ["should is OR", { should: [{ field: { key: "lang", equals: "fr" } }, { field: { key: "year", range: { lt: 2020 } } }] }, ["de-1", "fr-1"]],
    ["must AND must", { must: [{ field: { key: "lang", equals: "en" } }, { field: { key: "year", range: { gt: 2021 } } }] }, ["en-2"]],
    [
      "nested filter: en AND (web OR year >= 2023)",
      { must: [{ field: { key: "lang", equals: "en" } }, { filter: { should: [{ field: { key: "meta.source", equals: "web" } }, { field: { key: "year", range: { gte: 2023 } } }] } }] },
      ["en-1", "en-2"],
    ],
    [
      "nested must_not inside should",
      { should: [{ filter: { mustNot: [{ field: { key: "lang", exists: true } }] } }, { hasId: { ids: ["de-1"] } }] },
      ["bare", "de-1"],
    ],
    ["empty filter matches all", {}, ["bare", "de-1", "en-1", "en-2", "fr-1"]],
  ])("%s", async (_name, json, expected) => {
    expect(await ids(json)).toEqual(expected);
  });

  it("keeps filtering exact when the filter is selective: top-k is taken among matching points only", async () => {
    const { hits } = await t.client.points.search({ collection: "f", vector: [0, 0], k: 1, filter: filter({ must: [{ field: { key: "lang", equals: "de" } }] }) });
    expect(hits.map((h) => h.id)).toEqual(["de-1"]);
  });

  it.each([
    ["empty condition", { must: [{}] }, /filter\.must\[0\]: set one of field, filter, has_id/],
    ["field without a test", { must: [{ field: { key: "a" } }] }, /filter\.must\[0\]\.field: set one of equals, any_of, range, exists, is_null/],
    ["empty key", { must: [{ field: { key: "", equals: 1 } }] }, /filter\.must\[0\]\.field\.key: must not be empty/],
    ["empty key segment", { should: [{ field: { key: "a..b", equals: 1 } }] }, /filter\.should\[0\]\.field\.key: "a\.\.b" has an empty segment/],
    ["object in equals", { must: [{ field: { key: "a", equals: { x: 1 } } }] }, /filter\.must\[0\]\.field\.equals: must be a string, number, bool or null, not an object/],
    ["array in equals", { must: [{ field: { key: "a", equals: [1] } }] }, /not an array/],
    ["empty any_of", { must: [{ field: { key: "a", anyOf: [] } }] }, /any_of: must list at least one value/],
    ["too many any_of values", { must: [{ field: { key: "a", anyOf: [1, 2, 3, 4] } }] }, /any_of: has 4 values, the limit is any_of_values_max 3/],
    ["range without bounds", { mustNot: [{ field: { key: "a", range: {} } }] }, /filter\.must_not\[0\]\.field\.range: set at least one of gt, gte, lt, lte/],
    ["range with NaN", { must: [{ field: { key: "a", range: { gt: "NaN" } } }] }, /range\.gt: must be a number, got NaN/],
    ["empty has_id", { must: [{ hasId: { ids: [] } }] }, /has_id\.ids: must list at least one id/],
    ["too deep", { must: [{ filter: { must: [{ filter: { must: [{ filter: {} }] } }] } }] }, /filters nest deeper than filter_depth_max 3/],
    ["too many conditions", { must: Array.from({ length: 7 }, () => ({ field: { key: "a", exists: true } })) }, /filter\.must\[6\]: the filter has more than filter_conditions_max 6 conditions/],
  ])("rejects %s with INVALID_ARGUMENT", async (_name, json, message) => {
    let error: unknown;
    try {
      await t.client.points.search({ collection: "f", vector: [0, 0], k: 1, filter: filter(json) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).status).toBe(status.INVALID_ARGUMENT);
    expect((error as RpcError).details).toMatch(message);
  });
});
