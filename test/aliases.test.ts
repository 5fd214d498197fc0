import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Distance, type VectorDbClient } from "../src/client/index.js";
import { rejection } from "./helpers/assertions.js";
import { collectionDir, removeTempDirs, tempDataDir } from "./helpers/files.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

afterEach(removeTempDirs);

const create = (alias: string, collection: string) => ({ action: { case: "createAlias" as const, value: { alias, collection } } });
const remove = (alias: string) => ({ action: { case: "deleteAlias" as const, value: { alias } } });
const rename = (oldAlias: string, newAlias: string) => ({ action: { case: "renameAlias" as const, value: { oldAlias, newAlias } } });

async function twoCollections(client: VectorDbClient): Promise<void> {
  for (const [name, prefix] of [["docs_v1", "one"], ["docs_v2", "two"]] as const) {
    await client.collections.createCollection({ name, dimension: 4, distance: Distance.EUCLIDEAN });
    await client.points.upsert({ collection: name, points: Array.from({ length: 50 }, (_, i) => ({ id: `${prefix}-${i}`, vector: [i, 1, 2, 3], payload: { n: i } })) });
  }
}

async function aliasList(client: VectorDbClient, collection = ""): Promise<[string, string][]> {
  return (await client.collections.listAliases({ collection })).aliases.map((a) => [a.alias, a.collection]);
}

describe("aliases", () => {
  it("are accepted wherever a collection is named, and listed", async () => {
    const t = await startTestServer();
    try {
      await twoCollections(t.client);
      await t.client.collections.updateAliases({ actions: [create("docs", "docs_v1"), create("latest", "docs_v2"), create("z_old", "docs_v1")] });
      expect(await aliasList(t.client)).toEqual([["docs", "docs_v1"], ["latest", "docs_v2"], ["z_old", "docs_v1"]]);
      expect(await aliasList(t.client, "docs")).toEqual([["docs", "docs_v1"], ["z_old", "docs_v1"]]);
      expect((await t.client.collections.getCollection({ name: "docs" })).collection).toMatchObject({ name: "docs_v1", pointCount: 50n });
      const { hits } = await t.client.points.search({ collection: "docs", vector: [3, 1, 2, 3], k: 1 });
      expect(hits[0]?.id).toBe("one-3");
      await t.client.points.upsert({ collection: "latest", points: [{ id: "two-new", vector: [0, 0, 0, 0] }] });
      expect((await t.client.points.get({ collection: "docs_v2", ids: ["two-new"] })).points).toHaveLength(1);
      expect((await t.client.points.count({ collection: "latest" })).count).toBe(51n);
      expect((await t.client.points.scroll({ collection: "docs", limit: 1 })).points[0]?.id).toBe("one-0");
      expect(await t.client.points.setPayload({ collection: "docs", ids: ["one-1"], payload: { via: "alias" } })).toMatchObject({ updated: 1 });
      expect((await t.client.points.delete({ collection: "latest", ids: ["two-new"] })).deleted).toBe(1);
      expect((await t.client.snapshots.createSnapshot({ collection: "docs" })).snapshot?.collection).toBe("docs_v1");
      await t.client.collections.updateAliases({ actions: [rename("z_old", "older")] });
      expect(await aliasList(t.client, "docs_v1")).toEqual([["docs", "docs_v1"], ["older", "docs_v1"]]);
    } finally {
      await t.stop();
    }
  });

  it("switch atomically: concurrent searches through the alias never fail while it moves back and forth", async () => {
    const t = await startTestServer();
    try {
      await twoCollections(t.client);
      await t.client.collections.updateAliases({ actions: [create("docs", "docs_v1")] });
      let stop = false;
      const seen = { one: 0, two: 0 };
      const searcher = async (): Promise<number> => {
        let calls = 0;
        while (!stop) {
          const { hits } = await t.client.points.search({ collection: "docs", vector: [1, 1, 2, 3], k: 3 });
          expect(hits).toHaveLength(3);
          const prefixes = new Set(hits.map((hit) => hit.id.split("-")[0]));
          expect(prefixes.size, "one collection per answer").toBe(1);
          seen[[...prefixes][0] as "one" | "two"]++;
          calls++;
        }
        return calls;
      };
      const searchers = Array.from({ length: 4 }, searcher);
      for (let i = 0; i < 40; i++) {
        const to = i % 2 === 0 ? "docs_v2" : "docs_v1";
        await t.client.collections.updateAliases({ actions: [remove("docs"), create("docs", to)] });
        expect(await aliasList(t.client)).toEqual([["docs", to]]);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      stop = true;
      const calls = (await Promise.all(searchers)).reduce((a, b) => a + b, 0);
      expect(calls).toBeGreaterThan(40);
      expect(seen.one).toBeGreaterThan(0);
      expect(seen.two).toBeGreaterThan(0);
    } finally {
      await t.stop();
    }
  });

  it("apply all actions of a call or none, and refuse bad ones with the right status naming the field", async () => {
    const t = await startTestServer({ aliasesMax: 3 });
    try {
      await twoCollections(t.client);
      await t.client.collections.updateAliases({ actions: [create("docs", "docs_v1")] });
      const cases: [() => Promise<unknown>, number, RegExp][] = [
        [() => t.client.collections.updateAliases({ actions: [] }), status.INVALID_ARGUMENT, /^\[invalid_argument\] actions: must hold at least one action$/],
        [() => t.client.collections.updateAliases({ actions: [{}] }), status.INVALID_ARGUMENT, /^\[invalid_argument\] actions\[0\]: set one of create_alias, delete_alias, rename_alias$/],
        [() => t.client.collections.updateAliases({ actions: [create("docs_v2", "docs_v1")] }), status.ALREADY_EXISTS, /^\[already_exists\] actions\[0\]\.create_alias\.alias: "docs_v2" is the name of a collection$/],
        [() => t.client.collections.updateAliases({ actions: [remove("docs"), create("x", "docs_v1"), create("x", "docs_v2")] }), status.ALREADY_EXISTS, /^\[already_exists\] actions\[2\]\.create_alias\.alias: "x" is an alias \(of collection "docs_v1"\) already$/],
        [() => t.client.collections.updateAliases({ actions: [create("y", "docs")] }), status.INVALID_ARGUMENT, /^\[invalid_argument\] actions\[0\]\.create_alias\.collection: "docs" is an alias \(of "docs_v1"\)/],
        [() => t.client.collections.updateAliases({ actions: [create("y", "ghost")] }), status.NOT_FOUND, /^\[not_found\] actions\[0\]\.create_alias\.collection: collection "ghost" does not exist$/],
        [() => t.client.collections.updateAliases({ actions: [remove("ghost")] }), status.NOT_FOUND, /^\[not_found\] actions\[0\]\.delete_alias\.alias: alias "ghost" does not exist$/],
        [() => t.client.collections.updateAliases({ actions: [rename("docs", "docs_v1")] }), status.ALREADY_EXISTS, /^\[already_exists\] actions\[0\]\.rename_alias\.new_alias: "docs_v1" is the name of a collection$/],
        [() => t.client.collections.updateAliases({ actions: [create("bad name", "docs_v1")] }), status.INVALID_ARGUMENT, /^\[invalid_argument\] actions\[0\]\.create_alias\.alias: "bad name" is not a valid collection name/],
        [() => t.client.collections.updateAliases({ actions: [create("a1", "docs_v1"), create("a2", "docs_v1"), create("a3", "docs_v1")] }), status.RESOURCE_EXHAUSTED, /^\[resource_exhausted\] actions\[2\]\.create_alias: the server would hold more than aliases_max 3 aliases$/],
        [() => t.client.collections.createCollection({ name: "docs", dimension: 2, distance: Distance.DOT }), status.ALREADY_EXISTS, /^\[already_exists\] name: "docs" is an alias \(of collection "docs_v1"\)/],
        [() => t.client.collections.deleteCollection({ name: "docs" }), status.FAILED_PRECONDITION, /^\[failed_precondition\] name: "docs" is an alias of collection "docs_v1"; DeleteCollection takes the collection's own name/],
        [() => t.client.collections.listAliases({ collection: "ghost" }), status.NOT_FOUND, /^\[not_found\] collection: collection "ghost" does not exist$/],
      ];
      for (const [call, code, message] of cases) {
        const error = await rejection(call());
        expect(error.status, message.source).toBe(code);
        expect(error.details).toMatch(message);
      }
      // None of the refused calls changed anything.
      expect(await aliasList(t.client)).toEqual([["docs", "docs_v1"]]);
    } finally {
      await t.stop();
    }
  });

  it("survive a restart; dropping a collection drops its aliases; an alias left dangling by a crash is dropped on start", async () => {
    const dataDir = tempDataDir();
    let t: TestServer = await startTestServer({}, { dataDir });
    try {
      await twoCollections(t.client);
      await t.client.collections.updateAliases({ actions: [create("docs", "docs_v1"), create("other", "docs_v2"), create("third", "docs_v2")] });
      await t.stop();
      t = await startTestServer({}, { dataDir });
      expect(await aliasList(t.client)).toEqual([["docs", "docs_v1"], ["other", "docs_v2"], ["third", "docs_v2"]]);
      expect((await t.client.collections.deleteCollection({ name: "docs_v2" })).deletedPoints).toBe(50n);
      expect(await aliasList(t.client)).toEqual([["docs", "docs_v1"]]);
      expect((await rejection(t.client.points.count({ collection: "other" }))).status).toBe(status.NOT_FOUND);
      await t.stop();
      // As if the server died between dropping a collection and rewriting aliases.json.
      const path = join(dataDir, "aliases.json");
      const file = JSON.parse(readFileSync(path, "utf8")) as { aliases: Record<string, string> };
      file.aliases.ghostly = "gone";
      writeFileSync(path, JSON.stringify(file));
      t = await startTestServer({}, { dataDir });
      expect(t.running.recovery.removedAliases).toEqual(["ghostly"]);
      expect(await aliasList(t.client)).toEqual([["docs", "docs_v1"]]);
      expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ formatVersion: 1, aliases: { docs: "docs_v1" } });
    } finally {
      await t.stop();
    }
  });
});

describe("UpdateCollection", () => {
  it("changes the default ef durably (through an alias too) and refuses what needs a rebuild", async () => {
    const dataDir = tempDataDir();
    let t = await startTestServer({ efMax: 500 }, { dataDir });
    try {
      await t.client.collections.createCollection({ name: "tuned", dimension: 3, distance: Distance.COSINE, hnsw: { m: 8 } });
      await t.client.collections.updateAliases({ actions: [create("tuned_alias", "tuned")] });
      const updated = await t.client.collections.updateCollection({ name: "tuned_alias", hnsw: { ef: 300 } });
      expect(updated.collection?.hnsw).toMatchObject({ m: 8, efConstruction: 200, ef: 300 });
      expect(JSON.parse(readFileSync(join(collectionDir(dataDir, "tuned"), "collection.json"), "utf8")).hnsw).toEqual({ m: 8, efConstruction: 200, ef: 300 });
      // Leaving m and ef_construction at 0 or at their values is no change; no hnsw at all is a no-op.
      expect((await t.client.collections.updateCollection({ name: "tuned", hnsw: { m: 8, efConstruction: 200, ef: 0 } })).collection?.hnsw?.ef).toBe(300);
      expect((await t.client.collections.updateCollection({ name: "tuned" })).collection?.hnsw?.ef).toBe(300);
      const cases: [() => Promise<unknown>, number, RegExp][] = [
        [() => t.client.collections.updateCollection({ name: "tuned", hnsw: { m: 16 } }), status.INVALID_ARGUMENT, /^\[invalid_argument\] hnsw\.m: is 8 and cannot change without rebuilding the graph \(asked 16\)/],
        [() => t.client.collections.updateCollection({ name: "tuned", hnsw: { efConstruction: 100 } }), status.INVALID_ARGUMENT, /^\[invalid_argument\] hnsw\.ef_construction: is 200 and cannot change/],
        [() => t.client.collections.updateCollection({ name: "tuned", hnsw: { ef: 501 } }), status.INVALID_ARGUMENT, /^\[invalid_argument\] hnsw\.ef: 501 is above ef_max 500$/],
        [() => t.client.collections.updateCollection({ name: "ghost", hnsw: { ef: 10 } }), status.NOT_FOUND, /^\[not_found\] name: collection "ghost" does not exist$/],
        [() => t.client.collections.updateCollection({ name: "", hnsw: { ef: 10 } }), status.INVALID_ARGUMENT, /^\[invalid_argument\] name: "" is not a valid collection name/],
      ];
      for (const [call, code, message] of cases) {
        const error = await rejection(call());
        expect(error.status, message.source).toBe(code);
        expect(error.details).toMatch(message);
      }
      await t.stop();
      t = await startTestServer({ efMax: 500 }, { dataDir });
      expect((await t.client.collections.getCollection({ name: "tuned" })).collection?.hnsw).toMatchObject({ m: 8, ef: 300 });
    } finally {
      await t.stop();
    }
  });
});
