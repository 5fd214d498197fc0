import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Distance, ScalarType, SearchRequestSchema, type PointInit, type VectorDbClient } from "../src/client/index.js";

type SearchRequestInit = MessageInitShape<typeof SearchRequestSchema>;
import { sectionKind } from "../src/collection/index.js";
import { rejection } from "./helpers/assertions.js";
import { collectionDir, flipByte, removeTempDirs, segmentFile, segmentFiles, segmentSections, tempDataDir, walFrames, walRecords } from "./helpers/files.js";
import { rng } from "./helpers/random.js";
import { startTestServer, waitIndexed, type TestServer } from "./helpers/server.js";

afterEach(removeTempDirs);

type Settings = NonNullable<Parameters<typeof startTestServer>[1]>;

/** A server in this process on `dataDir` (kept when it stops). */
function serverOn(dataDir: string, settings: Settings = {}): Promise<TestServer> {
  return startTestServer({}, { ...settings, dataDir });
}

function points(count: number, dimension: number, seed: number, prefix = "p"): PointInit[] {
  const random = rng(seed);
  return Array.from({ length: count }, (_, i) => ({
    id: i % 7 === 0 ? `${prefix}-δ-${i}` : `${prefix}${i}`,
    vector: Array.from({ length: dimension }, () => random() * 2 - 1),
    payload: { n: i, group: i % 5, tag: i % 2 === 0 ? "even" : "odd", nested: { list: [i, "x", null, true] } },
  }));
}

/** Every point of `ids`, with vectors and payloads, in order. */
async function readAll(client: VectorDbClient, collection: string, ids: string[]): Promise<unknown[]> {
  return (await client.points.get({ collection, ids, withPayload: true, withVector: true })).points.map((p) => ({ id: p.id, vector: p.vector, payload: p.payload }));
}

/** Writes a mixed history to "docs" (cosine) and "plain" (dot); returns the ids involved. */
async function writeHistory(client: VectorDbClient): Promise<string[]> {
  await client.collections.createCollection({ name: "docs", dimension: 8, distance: Distance.COSINE });
  await client.collections.createCollection({ name: "plain", dimension: 3, distance: Distance.DOT });
  const batch = points(120, 8, 1);
  for (let i = 0; i < batch.length; i += 30) await client.points.upsert({ collection: "docs", points: batch.slice(i, i + 30) });
  await client.points.ingest([{ collection: "docs", points: points(40, 8, 2, "q") }, { points: points(20, 8, 3, "q") }]);
  await client.points.upsert({ collection: "docs", points: points(10, 8, 4) });
  expect((await client.points.delete({ collection: "docs", ids: ["p1", "p2", "nope", "q5"] })).deleted).toBe(3);
  const byFilter = await client.points.delete({
    collection: "docs",
    filter: { must: [{ condition: { case: "field", value: { key: "group", match: { case: "equals", value: { kind: { case: "numberValue", value: 3 } } } } } }] },
  });
  expect(byFilter.deleted).toBeGreaterThan(0);
  await client.points.upsert({ collection: "docs", points: points(3, 8, 5, "new") });
  await client.points.upsert({ collection: "plain", points: [{ id: "a", vector: [1, 2, 3] }, { id: "b", vector: [-1, 0, 0.5], payload: {} }] });
  return [...points(120, 8, 1).map((p) => p.id!), ...points(40, 8, 2, "q").map((p) => p.id!), "new0", "new1", "new2"];
}

describe("durable storage across restarts", () => {
  it("keeps every write across a clean restart, reopening from the segment with an empty WAL", async () => {
    const dataDir = tempDataDir();
    const first = await serverOn(dataDir);
    const ids = await writeHistory(first.client);
    const before = await readAll(first.client, "docs", ids);
    const plainBefore = await readAll(first.client, "plain", ["a", "b"]);
    const infoBefore = (await first.client.collections.listCollections({})).collections.map((c) => ({ name: c.name, pointCount: c.pointCount, distance: c.distance, dimension: c.dimension, hnsw: c.hnsw }));
    await first.stop();

    const dir = collectionDir(dataDir, "docs");
    expect(readdirSync(dir).sort()).toEqual(["collection.json", ...segmentFiles(dir), "segments.json", "wal.log"]);
    expect(segmentFiles(dir)).toHaveLength(1);
    expect(statSync(join(dir, "wal.log")).size).toBe(24);
    expect(JSON.parse(readFileSync(join(dir, "collection.json"), "utf8"))).toEqual({ formatVersion: 3, name: "docs", dimension: 8, distance: "cosine", hnsw: { m: 16, efConstruction: 200, ef: 64 } });
    expect(segmentSections(segmentFile(dir)).map((s) => s.kind)).toEqual([sectionKind.meta, sectionKind.ids, sectionKind.vectors, sectionKind.payloads, sectionKind.tombstones, sectionKind.graph]);
    // Dot collections are searched exactly: no graph section.
    expect(segmentSections(segmentFile(collectionDir(dataDir, "plain"))).map((s) => s.kind)).not.toContain(sectionKind.graph);

    const second = await serverOn(dataDir);
    try {
      const docs = second.running.db.get("docs");
      expect(docs.recovery).toMatchObject({ replayedRecords: 0, walRecords: 0, truncatedBytes: 0 });
      expect(docs.recovery.segmentSequence).toBeGreaterThan(5);
      expect(await readAll(second.client, "docs", ids)).toEqual(before);
      expect(await readAll(second.client, "plain", ["a", "b"])).toEqual(plainBefore);
      const infoAfter = (await second.client.collections.listCollections({})).collections.map((c) => ({ name: c.name, pointCount: c.pointCount, distance: c.distance, dimension: c.dimension, hnsw: c.hnsw }));
      expect(infoAfter).toEqual(infoBefore);
      // Writes continue with sequences above the segment's.
      await second.client.points.upsert({ collection: "docs", points: points(1, 8, 9, "later") });
      expect(docs.appliedSequence).toBe(docs.recovery.segmentSequence + 1);
    } finally {
      await second.stop();
    }
  });

  it("replays the WAL when the server stopped without a checkpoint, deletes by filter included", async () => {
    const dataDir = tempDataDir();
    const first = await serverOn(dataDir);
    const ids = await writeHistory(first.client);
    const before = await readAll(first.client, "docs", ids);
    const records = first.running.db.get("docs").walRecords;
    first.client.close();
    await first.running.close({ checkpoint: false });
    expect(existsSync(join(collectionDir(dataDir, "docs"), "segments.json"))).toBe(false);
    expect(segmentFiles(collectionDir(dataDir, "docs"))).toEqual([]);
    expect(walRecords(join(collectionDir(dataDir, "docs"), "wal.log")).map((r) => r.type)).toEqual([1, 1, 1, 1, 1, 1, 1, 2, 3, 1]);

    const second = await serverOn(dataDir);
    try {
      expect(second.running.db.get("docs").recovery).toMatchObject({ segmentSequence: 0, replayedRecords: records, walRecords: records });
      expect(await readAll(second.client, "docs", ids)).toEqual(before);
    } finally {
      await second.stop();
    }
  });

  it("gives the same search results after a restart, through the restored graph and after a WAL replay", async () => {
    const dataDir = tempDataDir();
    const settings: Settings = { indexing: { fullScanPointsMax: 200, filteredScanPointsMax: 50 } };
    const first = await serverOn(dataDir, settings);
    await first.client.collections.createCollection({ name: "s", dimension: 16, distance: Distance.EUCLIDEAN, hnsw: { m: 8, efConstruction: 64, ef: 32 } });
    await first.client.points.ingest([{ collection: "s", points: points(1000, 16, 11) }, { points: points(1000, 16, 12, "r") }]);
    await first.client.points.delete({ collection: "s", ids: ["p3", "p10", "r20"] });
    await waitIndexed(first.client, "s");
    const random = rng(99);
    const queries: SearchRequestInit[] = Array.from({ length: 20 }, (_, i) => ({
      collection: "s",
      vector: Array.from({ length: 16 }, () => random() * 2 - 1),
      k: 10,
      withVector: true,
      ...(i % 4 === 0 ? { filter: { must: [{ condition: { case: "field", value: { key: "tag", match: { case: "equals", value: { kind: { case: "stringValue", value: "even" } } } } } }] } } : {}),
    }));
    const search = async (client: VectorDbClient): Promise<unknown[]> => Promise.all(queries.map(async (query) => (await client.points.search(query)).hits));
    const before = await search(first.client);
    await first.client.points.search(queries[1]!);
    expect(first.running.db.get("s").lastPlan).toBe("graph");
    await first.stop();

    const second = await serverOn(dataDir, settings);
    expect(second.running.db.get("s").stats().indexedPointCount).toBe(1997);
    expect(await search(second.client)).toEqual(before);
    await second.client.points.search(queries[1]!);
    expect(second.running.db.get("s").lastPlan).toBe("graph");
    // Then writes that only the WAL holds: exact search must agree before and after the replay.
    await second.client.points.upsert({ collection: "s", points: points(50, 16, 13, "w") });
    await second.client.points.delete({ collection: "s", ids: ["p4"] });
    const exact = queries.map((query) => ({ ...query, exact: true }));
    const exactBefore = await Promise.all(exact.map(async (query) => (await second.client.points.search(query)).hits));
    second.client.close();
    await second.running.close({ checkpoint: false });

    const third = await serverOn(dataDir, settings);
    try {
      expect(third.running.db.get("s").recovery.replayedRecords).toBe(2);
      expect(await Promise.all(exact.map(async (query) => (await third.client.points.search(query)).hits))).toEqual(exactBefore);
    } finally {
      await third.stop();
    }
  });
});

describe("recovery from damaged files", () => {
  /** A data directory holding "broken" (5 upsert records, WAL only) and "fine". */
  async function twoCollections(dataDir: string): Promise<void> {
    const server = await serverOn(dataDir);
    for (const name of ["broken", "fine"]) {
      await server.client.collections.createCollection({ name, dimension: 4, distance: Distance.EUCLIDEAN });
      for (let b = 0; b < 5; b++) await server.client.points.upsert({ collection: name, points: points(10, 4, b, `b${b}-`) });
    }
    server.client.close();
    await server.running.close({ checkpoint: false });
  }

  it("recovers the prefix of a WAL whose last record is torn, and truncates the tail", async () => {
    const dataDir = tempDataDir();
    await twoCollections(dataDir);
    const wal = join(collectionDir(dataDir, "broken"), "wal.log");
    const records = walRecords(wal);
    const size = statSync(wal).size;
    truncateSync(wal, size - 5);
    const server = await serverOn(dataDir);
    try {
      const broken = server.running.db.get("broken");
      expect(broken.recovery).toMatchObject({ walRecords: 4, replayedRecords: 4, truncatedBytes: size - 5 - records[4]!.offset });
      expect(statSync(wal).size).toBe(records[4]!.offset);
      expect(broken.size).toBe(40);
      expect((await server.client.points.get({ collection: "broken", ids: ["b3-1", "b4-1"] })).points.map((p) => p.id)).toEqual(["b3-1"]);
      // New writes continue after the cut.
      await server.client.points.upsert({ collection: "broken", points: points(10, 4, 4, "b4-") });
      expect(broken.size).toBe(50);
    } finally {
      await server.stop();
    }
  });

  it("answers DATA_LOSS naming the file and offset for a bad record followed by good ones, while another collection serves", async () => {
    const dataDir = tempDataDir();
    await twoCollections(dataDir);
    const wal = join(collectionDir(dataDir, "broken"), "wal.log");
    const records = walRecords(wal);
    // Under the fsync policy every batch after the first starts with a durability mark: the one
    // after record 2 proves it was fsynced, so its damage is corruption, not a torn tail.
    const proof = walFrames(wal).find((frame) => frame.type === 0 && frame.offset > records[2]!.offset)!;
    expect(proof.sequence).toBeGreaterThanOrEqual(records[2]!.sequence);
    flipByte(wal, records[2]!.offset + 13 + 20);
    const server = await serverOn(dataDir);
    try {
      expect(await server.client.health()).toBe("SERVING");
      const expected = `[data_loss] collection "broken" failed recovery: ${wal}: corrupt WAL record at byte offset ${records[2]!.offset} (CRC mismatch`;
      for (const call of [
        server.client.points.get({ collection: "broken", ids: ["b0-1"] }),
        server.client.points.upsert({ collection: "broken", points: points(1, 4, 0) }),
        server.client.points.search({ collection: "broken", vector: [1, 0, 0, 0], k: 1 }),
        server.client.collections.getCollection({ name: "broken" }),
      ]) {
        const error = await rejection(call);
        expect(error.status).toBe(status.DATA_LOSS);
        expect(error.details).toContain(expected);
        expect(error.details).toContain(`the durability mark at byte offset ${proof.offset} says every record up to sequence ${proof.sequence} was fsynced`);
      }
      expect(server.running.recovery.failed.map((f) => f.name)).toEqual(["broken"]);
      expect((await server.client.collections.listCollections({})).collections.map((c) => c.name)).toEqual(["fine"]);
      expect((await server.client.points.get({ collection: "fine", ids: ["b4-1"] })).points).toHaveLength(1);
      await server.client.points.upsert({ collection: "fine", points: points(1, 4, 0, "more") });
      // The file is left as it was for repair; nothing was skipped or cut.
      expect(walRecords(wal)).toHaveLength(5);
      // The operator's way out: dropping the damaged collection.
      expect(await server.client.collections.deleteCollection({ name: "broken" })).toMatchObject({ deletedPoints: 0n });
      expect(existsSync(collectionDir(dataDir, "broken"))).toBe(false);
      expect((await rejection(server.client.collections.getCollection({ name: "broken" }))).status).toBe(status.NOT_FOUND);
    } finally {
      await server.stop();
    }
  });

  it("answers DATA_LOSS naming the segment file and offset for a flipped byte in its header and in each section", async () => {
    const pristine = tempDataDir();
    const server = await serverOn(pristine);
    // Quantized, with enough points to train its ranges: the segment then holds every section kind.
    const int8 = { method: { case: "scalar" as const, value: { type: ScalarType.INT8 } } };
    await server.client.collections.createCollection({ name: "seg", dimension: 4, distance: Distance.COSINE, quantization: int8 });
    await server.client.collections.createCollection({ name: "other", dimension: 2, distance: Distance.EUCLIDEAN });
    await server.client.points.upsert({ collection: "seg", points: points(1_000, 4, 1) });
    await server.client.points.upsert({ collection: "other", points: [{ id: "x", vector: [1, 2] }] });
    await server.client.points.delete({ collection: "seg", ids: ["p3"] });
    await waitIndexed(server.client, "seg");
    await server.stop();
    const segmentPath = (dataDir: string): string => segmentFile(collectionDir(dataDir, "seg"));
    const sections = segmentSections(segmentPath(pristine));
    // Every section of a cosine collection's segment (no resumable load: no ingests section; the spec
    // section is in snapshot files only, the deletes section in deletes files only).
    const { ingests: _ingests, spec: _spec, deletes: _deletes, ...written } = sectionKind;
    expect(sections.map((s) => s.kind).sort()).toEqual(Object.values(written).sort());
    const cases = [
      { what: "header", offset: 20, message: "segment header at offset 0" },
      ...sections.map((section) => ({ what: `section ${section.kind}`, offset: section.offset + Math.floor(section.length / 2), message: `segment section ${section.kind} at offset ${section.offset} fails its CRC` })),
    ];
    for (const { what, offset, message } of cases) {
      const dataDir = tempDataDir();
      cpSync(pristine, dataDir, { recursive: true });
      flipByte(segmentPath(dataDir), offset);
      const damaged = await serverOn(dataDir);
      try {
        const error = await rejection(damaged.client.points.get({ collection: "seg", ids: ["p1"] }));
        expect(error.status, what).toBe(status.DATA_LOSS);
        expect(error.details, what).toContain(`[data_loss] collection "seg" failed recovery: ${segmentPath(dataDir)}: ${message}`);
        expect((await damaged.client.points.get({ collection: "other", ids: ["x"] })).points, what).toHaveLength(1);
      } finally {
        await damaged.stop();
      }
    }
  });

  it("answers DATA_LOSS when the segment is gone but the WAL says it was cut", async () => {
    const dataDir = tempDataDir();
    const first = await serverOn(dataDir);
    await first.client.collections.createCollection({ name: "cut", dimension: 2, distance: Distance.EUCLIDEAN });
    await first.client.points.upsert({ collection: "cut", points: [{ id: "a", vector: [1, 2] }] });
    await first.stop();
    const dir = collectionDir(dataDir, "cut");
    const listed = segmentFile(dir);
    const kept = readFileSync(listed);
    rmSync(listed);
    const server = await serverOn(dataDir);
    try {
      const error = await rejection(server.client.points.get({ collection: "cut", ids: ["a"] }));
      expect(error.status).toBe(status.DATA_LOSS);
      expect(error.details).toBe(`[data_loss] collection "cut" failed recovery: ${listed}: listed in ${join(dir, "segments.json")} (as of sequence 1) but missing`);
    } finally {
      await server.stop();
    }
    // Without the manifest, the segment file is not listed: it is left alone, and the WAL's floor says data is missing.
    writeFileSync(listed, kept);
    rmSync(join(dir, "segments.json"));
    const again = await serverOn(dataDir);
    try {
      const error = await rejection(again.client.points.get({ collection: "cut", ids: ["a"] }));
      expect(error.status).toBe(status.DATA_LOSS);
      expect(error.details).toBe(`[data_loss] collection "cut" failed recovery: ${join(dir, "wal.log")}: the WAL was cut up to sequence 1 (header floor at byte offset 12), but ${join(dir, "segment.bin")} is missing: the writes in between are lost`);
      expect(existsSync(listed)).toBe(true);
    } finally {
      await again.stop();
    }
  });

  it("ignores and removes a half-written temporary segment and the folders of interrupted creates and drops", async () => {
    const dataDir = tempDataDir();
    const first = await serverOn(dataDir);
    await first.client.collections.createCollection({ name: "keep", dimension: 2, distance: Distance.EUCLIDEAN });
    await first.client.points.upsert({ collection: "keep", points: [{ id: "a", vector: [1, 2], payload: { v: 1 } }] });
    await first.stop();
    await (async () => {
      const again = await serverOn(dataDir);
      await again.client.points.upsert({ collection: "keep", points: [{ id: "b", vector: [3, 4] }] });
      again.client.close();
      await again.running.close({ checkpoint: false });
    })();
    const dir = collectionDir(dataDir, "keep");
    const segmentPath = segmentFile(dir);
    const segment = readFileSync(segmentPath);
    writeFileSync(`${segmentPath}.tmp-0123456789abcdef`, segment.subarray(0, Math.floor(segment.length / 2)));
    // A segment file no manifest lists (a checkpoint or merge killed before its manifest): an orphan.
    writeFileSync(join(dir, "segment-9-999.bin"), segment);
    writeFileSync(join(dir, "wal.log.tmp-00ff00ff00ff00ff"), "partial");
    mkdirSync(join(dataDir, "collections", "ghost.tmp-abcdef0123456789"));
    writeFileSync(join(dataDir, "collections", "ghost.tmp-abcdef0123456789", "collection.json"), "{");
    mkdirSync(join(dataDir, "collections", "gone.dropped-abcdef0123456789"));
    copyFileSync(join(dir, "collection.json"), join(dataDir, "collections", "gone.dropped-abcdef0123456789", "collection.json"));

    const server = await serverOn(dataDir);
    try {
      expect(server.running.db.get("keep").recovery.removedTemporaries.sort()).toEqual([`${basename(segmentPath)}.tmp-0123456789abcdef`, "wal.log.tmp-00ff00ff00ff00ff"]);
      expect(server.running.db.get("keep").recovery.removedOrphans).toEqual(["segment-9-999.bin"]);
      expect(server.running.recovery.removedFolders.sort()).toEqual(["ghost.tmp-abcdef0123456789", "gone.dropped-abcdef0123456789"]);
      expect(readdirSync(join(dataDir, "collections"))).toEqual(["keep"]);
      expect(readdirSync(dir).sort()).toEqual(["collection.json", basename(segmentPath), "segments.json", "wal.log"]);
      expect((await server.client.points.get({ collection: "keep", ids: ["a", "b"] })).points.map((p) => ({ id: p.id, vector: p.vector, payload: p.payload }))).toEqual([
        { id: "a", vector: [1, 2], payload: { v: 1 } },
        { id: "b", vector: [3, 4], payload: undefined },
      ]);
    } finally {
      await server.stop();
    }
  });
});

describe("checkpoints, drops and policies", () => {
  it("checkpoints when the WAL passes wal_bytes_max while writes go on, and cuts the WAL", async () => {
    const dataDir = tempDataDir();
    const server = await serverOn(dataDir, { storage: { walBytesMax: 64 * 1024 } });
    let ids: string[] = [];
    try {
      await server.client.collections.createCollection({ name: "c", dimension: 32, distance: Distance.EUCLIDEAN });
      const collection = server.running.db.get("c");
      // Six concurrent writers, 60 batches of 20 points (≈ 3 KB each): about three checkpoints' worth.
      const writers = Array.from({ length: 6 }, async (_, w) => {
        for (let b = 0; b < 10; b++) {
          const batch = points(20, 32, w * 100 + b, `w${w}b${b}-`);
          ids.push(...batch.map((p) => p.id!));
          await server.client.points.upsert({ collection: "c", points: batch });
          if (b % 3 === 2) await server.client.points.delete({ collection: "c", ids: [batch[0]!.id!] });
        }
      });
      await Promise.all(writers);
      ids = ids.sort();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(collection.lastCheckpoint).toBeDefined();
      expect(collection.segmentSequence).toBeGreaterThan(0);
      expect(collection.walBytes).toBeLessThan(2 * 64 * 1024);
      expect(statSync(segmentFile(collectionDir(dataDir, "c"))).size).toBe(collection.lastCheckpoint!.segmentBytes);
    } finally {
      server.client.close();
      await server.running.close({ checkpoint: false });
    }
    const reference = await serverOn(dataDir);
    try {
      const recovered = reference.running.db.get("c");
      expect(recovered.recovery.segmentSequence).toBeGreaterThan(0);
      expect(recovered.size).toBe(1200 - 6 * 3);
      const found = await reference.client.points.get({ collection: "c", ids, withVector: false });
      expect(found.points).toHaveLength(1200 - 18);
    } finally {
      await reference.stop();
    }
  });

  it("skips the WAL records a segment already holds (a crash between the segment's rename and the WAL cut)", async () => {
    const dataDir = tempDataDir();
    const first = await serverOn(dataDir);
    await writeHistory(first.client);
    first.client.close();
    await first.running.close({ checkpoint: false });
    const wal = join(collectionDir(dataDir, "docs"), "wal.log");
    const uncut = readFileSync(wal);
    const second = await serverOn(dataDir);
    const ids = points(120, 8, 1).map((p) => p.id!);
    const before = await readAll(second.client, "docs", ids);
    await second.stop();
    // Put the WAL back as it was before the cut: every record in it is ≤ the segment's sequence.
    writeFileSync(wal, uncut);
    const third = await serverOn(dataDir);
    try {
      const docs = third.running.db.get("docs");
      expect(docs.recovery.walRecords).toBe(10);
      expect(docs.recovery.replayedRecords).toBe(0);
      expect(await readAll(third.client, "docs", ids)).toEqual(before);
      await third.client.points.upsert({ collection: "docs", points: points(1, 8, 1, "after") });
      expect(docs.appliedSequence).toBe(docs.recovery.segmentSequence + 1);
    } finally {
      await third.stop();
    }
  });

  it("drops a collection durably: the folder goes, the name can be used again, nothing comes back on restart", async () => {
    const dataDir = tempDataDir();
    const first = await serverOn(dataDir);
    await first.client.collections.createCollection({ name: "d", dimension: 2, distance: Distance.EUCLIDEAN });
    await first.client.points.upsert({ collection: "d", points: [{ id: "old", vector: [1, 1] }] });
    expect(await first.client.collections.deleteCollection({ name: "d" })).toMatchObject({ deletedPoints: 1n });
    expect(readdirSync(join(dataDir, "collections"))).toEqual([]);
    await first.client.collections.createCollection({ name: "d", dimension: 3, distance: Distance.DOT });
    await first.client.points.upsert({ collection: "d", points: [{ id: "new", vector: [1, 1, 1] }] });
    await first.stop();
    const second = await serverOn(dataDir);
    try {
      const info = (await second.client.collections.getCollection({ name: "d" })).collection;
      expect(info).toMatchObject({ dimension: 3, distance: Distance.DOT, pointCount: 1n });
      expect((await second.client.points.get({ collection: "d", ids: ["old", "new"] })).points.map((p) => p.id)).toEqual(["new"]);
    } finally {
      await second.stop();
    }
  });

  it("serialises creates and drops of one name: one of two concurrent creates wins, and a create right after a drop waits for it", async () => {
    const dataDir = tempDataDir();
    const first = await serverOn(dataDir);
    const db = first.running.db;
    const spec = (dimension: number) => ({ name: "race", dimension, distance: "euclidean" as const, hnsw: { m: 16, efConstruction: 200, ef: 64 } });
    const both = await Promise.allSettled([db.create(spec(2)), db.create(spec(2))]);
    expect(both.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(String((both.find((r) => r.status === "rejected") as PromiseRejectedResult).reason)).toBe('VectorDbError: [already_exists] name: collection "race" already exists');
    await db.get("race").upsert([{ id: "a", vector: Float32Array.of(1, 2) }]);
    // Drop and create again without waiting: the create's folder rename waits for the drop's.
    const [dropped, created] = await Promise.all([db.drop("race"), db.create(spec(3))]);
    expect(dropped).toBe(1);
    expect(created.spec.dimension).toBe(3);
    expect(readdirSync(join(dataDir, "collections"))).toEqual(["race"]);
    await first.stop();
    const second = await serverOn(dataDir);
    try {
      expect(second.running.db.get("race")).toMatchObject({ size: 0, spec: { dimension: 3 } });
    } finally {
      await second.stop();
    }
  });

  for (const fsync of ["interval", "os"] as const) {
    it(`serves under --fsync ${fsync} and keeps the writes across a restart without a checkpoint`, async () => {
      const dataDir = tempDataDir();
      const first = await serverOn(dataDir, { storage: { fsync, flushIntervalMs: 20 } });
      await first.client.collections.createCollection({ name: "p", dimension: 4, distance: Distance.EUCLIDEAN });
      await Promise.all(Array.from({ length: 4 }, (_, w) => first.client.points.upsert({ collection: "p", points: points(25, 4, w, `w${w}-`) })));
      first.client.close();
      await first.running.close({ checkpoint: false });
      const second = await serverOn(dataDir, { storage: { fsync } });
      try {
        expect(second.running.db.get("p").size).toBe(100);
      } finally {
        await second.stop();
      }
    });
  }

  it("refuses to open a data directory that a live server holds", async () => {
    const dataDir = tempDataDir();
    const first = await serverOn(dataDir);
    try {
      await expect(serverOn(dataDir)).rejects.toThrow(`[failed_precondition] ${dataDir}: the data directory is already open in this process`);
      // A lock left by a process that is gone (e.g. killed) is taken over.
      expect(readFileSync(join(dataDir, "LOCK"), "utf8")).toBe(`${process.pid}\n`);
    } finally {
      await first.stop();
    }
    expect(existsSync(join(dataDir, "LOCK"))).toBe(false);
    writeFileSync(join(dataDir, "LOCK"), "2147483646\n");
    const second = await serverOn(dataDir);
    await second.stop();
  });
});
