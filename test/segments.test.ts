import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryCollection, type CollectionSpec, type DurableCollection, type PointInput } from "../src/collection/index.js";
import { Indexer } from "../src/collection/indexer.js";
import { fanOutBounds, SegmentedCollection } from "../src/collection/segmented-collection.js";
import { GraphBuilderPool } from "../src/index/hnsw/builder-pool.js";
import { defaultIndexing, defaultLimits, makeConfig, type IndexingConfig } from "../src/config.js";
import { Database } from "../src/db/index.js";
import { collectionDir, removeTempDirs, segmentFiles, tempDataDir } from "./helpers/files.js";
import { rng } from "./helpers/random.js";

/**
 * Collections made of segments (issue 17), with small segment bounds so that seals and merges happen
 * within a few hundred points: fan-out search against one exact scan, ids unique across segments,
 * vacuum reclaiming memory and files, recall across merges, reopen without rebuilding graphs.
 */

const spec = (distance: CollectionSpec["distance"] = "euclidean", dimension = 8): CollectionSpec => ({ name: "s", dimension, distance, hnsw: { m: 12, efConstruction: 80, ef: 64 } });

function pointsOf(count: number, dimension: number, seed: number, from = 0): PointInput[] {
  const random = rng(seed);
  return Array.from({ length: count }, (_, i) => ({
    id: `p${from + i}`,
    vector: Float32Array.from({ length: dimension }, () => random() * 2 - 1),
    payload: { n: from + i, group: (from + i) % 3 },
  }));
}

const indexing = (overrides: Partial<IndexingConfig> = {}): IndexingConfig => ({ ...defaultIndexing, indexThreads: 0, indexSliceMs: 50, fullScanPointsMax: 0, recallSampleRate: 0, ...overrides });

afterEach(removeTempDirs);

describe("a collection of segments, in memory", () => {
  it("fans searches out over the segments and merges them into the single-segment exact answer, filters and thresholds included", async () => {
    const segmented = new SegmentedCollection(spec(), defaultLimits, indexing({ segmentPointsMax: 100 }));
    const single = new SegmentedCollection(spec(), defaultLimits, indexing());
    try {
      for (let batch = 0; batch < 12; batch++) {
        const points = pointsOf(45, 8, 10 + batch, batch * 45);
        segmented.upsert(points);
        single.upsert(points);
      }
      // Sealed once it holds 100 points (it may pass the bound by one write).
      expect(segmented.segmentEntries.length).toBeGreaterThanOrEqual(4);
      expect(single.segmentEntries).toHaveLength(1);
      const random = rng(99);
      for (let q = 0; q < 20; q++) {
        const vector = Float32Array.from({ length: 8 }, () => random() * 2 - 1);
        const exact = { vector, k: 10, exact: true, withPayload: true, withVector: false };
        expect(segmented.search(exact)).toEqual(single.search(exact));
        const filtered = { ...exact, filter: { must: [{ kind: "equals" as const, path: ["group"], value: 1 }], should: [], mustNot: [] } };
        const hits = segmented.search(filtered);
        expect(hits).toEqual(single.search(filtered));
        expect(hits.every((hit) => (hit.payload as { group: number }).group === 1)).toBe(true);
        const threshold = { ...exact, scoreThreshold: single.search(exact)[4]!.score };
        expect(segmented.search(threshold)).toEqual(single.search(threshold));
      }
      expect(segmented.count()).toBe(540);
      expect(segmented.count({ must: [{ kind: "equals", path: ["group"], value: 2 }], should: [], mustNot: [] })).toBe(180);
      // Scroll pages walk every id once, in order, across segments.
      const seen: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < 100; page++) {
        const { points, nextAfter } = segmented.scroll({ after, limit: 37, withPayload: false, withVector: false });
        seen.push(...points.map((p) => p.id));
        if (nextAfter === undefined) break;
        after = nextAfter;
      }
      expect(seen).toEqual([...seen].sort());
      expect(new Set(seen).size).toBe(540);
    } finally {
      segmented.close();
      single.close();
    }
  });

  it("fans a single search out over the segments on the builder threads with the same answer as on the main thread; a write meanwhile reruns it", async () => {
    // The distance work per segment at which a single search goes to the threads (768-d at ef 64); the
    // collection-size bound lowered so that 600 points reach the threaded path.
    const dimension = fanOutBounds.workMin / 64;
    const pointsMin = fanOutBounds.pointsMin;
    fanOutBounds.pointsMin = 500;
    const builders = new GraphBuilderPool(2);
    const threaded = new SegmentedCollection(spec("euclidean", dimension), defaultLimits, { ...indexing({ segmentPointsMax: 150, indexThreads: 2 }), builders });
    const onBuilders = vi.spyOn(Indexer.prototype, "searchOnBuilders");
    try {
      for (let batch = 0; batch < 4; batch++) threaded.upsert(pointsOf(150, dimension, 200 + batch, batch * 150));
      await threaded.whenIndexed();
      expect(threaded.segmentEntries.length).toBeGreaterThanOrEqual(4);
      const random = rng(31);
      const queries = Array.from({ length: 20 }, () => ({ vector: Float32Array.from({ length: dimension }, () => random() * 2 - 1), k: 10, exact: false, withPayload: true, withVector: false }));
      for (const query of queries) expect(await threaded.searchFanOut(query)).toEqual(threaded.search(query));
      expect(onBuilders.mock.calls.length).toBeGreaterThanOrEqual(20 * threaded.segmentEntries.length);
      // Below the work bound (a smaller ef), filtered or exact: on this thread only.
      const calls = onBuilders.mock.calls.length;
      await threaded.searchFanOut({ ...queries[0]!, ef: 32 });
      await threaded.searchFanOut({ ...queries[0]!, exact: true });
      await threaded.searchFanOut({ ...queries[0]!, filter: { must: [{ kind: "equals", path: ["group"], value: 1 }], should: [], mustNot: [] } });
      expect(onBuilders.mock.calls.length).toBe(calls);
      // A write applied while the threads search: the answer is the one after the write.
      const nearest = { ...queries[1]!, vector: Float32Array.from(queries[1]!.vector) };
      const pending = threaded.searchFanOut(nearest);
      threaded.upsert([{ id: "late", vector: nearest.vector, payload: { n: -1 } }]);
      const answer = await pending;
      expect(answer[0]!.id).toBe("late");
      expect(answer).toEqual(threaded.search(nearest));
      await threaded.whenIndexed();
      threaded.checkIntegrity();
      // Bad input is refused as on the main thread, unprefixed.
      await expect(threaded.searchFanOut({ ...queries[0]!, vector: new Float32Array(3) })).rejects.toThrow(/^\[invalid_argument\] vector: has 3/);
    } finally {
      fanOutBounds.pointsMin = pointsMin;
      onBuilders.mockRestore();
      threaded.close();
      await builders.close();
    }
  });

  it("keeps one live copy of a point upserted again after its segment was sealed", () => {
    const collection = new SegmentedCollection(spec(), defaultLimits, indexing({ segmentPointsMax: 50, vacuumDeletedRatio: 1 }));
    try {
      collection.upsert(pointsOf(120, 8, 1));
      const again = pointsOf(30, 8, 2).map((p, i) => ({ ...p, id: `p${i * 3}` }));
      const result = collection.upsert(again);
      expect(result).toEqual({ inserted: 0, updated: 30 });
      expect(collection.size).toBe(120);
      const holders = (id: string): number => collection.segmentEntries.filter((s) => s.data.holds(id)).length;
      for (let i = 0; i < 120; i++) expect(holders(`p${i}`)).toBe(1);
      const [got] = collection.get(["p3"], { withPayload: true, withVector: true });
      expect(Array.from(got!.vector!)).toEqual(Array.from(again[1]!.vector));
      const hits = collection.search({ vector: again[1]!.vector, k: 3, exact: true, withPayload: false, withVector: false });
      expect(hits[0]!.id).toBe("p3");
      expect(hits.filter((h) => h.id === "p3")).toHaveLength(1);
      expect(collection.deleteIds(["p3", "p4"])).toBe(2);
      expect(collection.get(["p3", "p4"], { withPayload: false, withVector: false })).toEqual([]);
    } finally {
      collection.close();
    }
  });

  it("merges small and delete-heavy sealed segments with a fresh graph, carrying over writes made during the merge; recall holds", async () => {
    const collection = new SegmentedCollection(spec("cosine", 16), defaultLimits, indexing({ segmentPointsMax: 400, vacuumDeletedRatio: 0.2 }));
    try {
      for (let batch = 0; batch < 8; batch++) collection.upsert(pointsOf(200, 16, 50 + batch, batch * 200));
      await collection.whenIndexed();
      const sealedBefore = collection.segmentEntries.filter((s) => s.sealed).length;
      // Delete 60 % of the points: every sealed segment passes the ratio and is vacuumed.
      const doomed = Array.from({ length: 1_600 }, (_, i) => `p${i}`).filter((_, i) => i % 5 < 3);
      collection.deleteIds(doomed);
      // Writes while the merge runs: a payload change and a delete on points of the merged segments.
      await new Promise((resolve) => setImmediate(resolve));
      collection.applyPayloadChange({ kind: "ids", ids: ["p4"] }, { kind: "set", payload: { late: true } });
      collection.deleteIds(["p8"]);
      await collection.whenOptimized();
      await collection.whenIndexed();
      expect(collection.mergesDone).toBeGreaterThan(0);
      const sealed = collection.segmentEntries.filter((s) => s.sealed);
      expect(sealed.length).toBeLessThan(sealedBefore);
      // p8 was deleted from a merged segment during the merge: one tombstone, far below the ratio.
      for (const segment of sealed) expect(segment.data.deletedCount).toBeLessThanOrEqual(1);
      expect(collection.size).toBe(1_600 - 960 - 1);
      expect(collection.get(["p4"], { withPayload: true, withVector: false })[0]!.payload).toMatchObject({ late: true });
      expect(collection.get(["p8", "p0"], { withPayload: false, withVector: false })).toEqual([]);
      collection.checkIntegrity();
      // Recall@10 of the graph searches after the merges, against exact scans.
      const random = rng(7);
      let agree = 0;
      for (let q = 0; q < 50; q++) {
        const vector = Float32Array.from({ length: 16 }, () => random() * 2 - 1);
        const graph = collection.search({ vector, k: 10, exact: false, withPayload: false, withVector: false });
        const exact = collection.search({ vector, k: 10, exact: true, withPayload: false, withVector: false });
        agree += graph.filter((h) => exact.some((e) => e.id === h.id)).length;
      }
      expect(agree / 500).toBeGreaterThan(0.95);
    } finally {
      collection.close();
    }
  });

  it("snapshots several segments as one state that restores (graph rebuilt) to the same points", async () => {
    const collection = new SegmentedCollection(spec("cosine", 8), defaultLimits, indexing({ segmentPointsMax: 60 }));
    try {
      for (let batch = 0; batch < 5; batch++) collection.upsert(pointsOf(50, 8, 30 + batch, batch * 50));
      collection.deleteIds(["p3", "p77", "p140"]);
      expect(collection.segmentEntries.length).toBeGreaterThan(2);
      const { state, vectorsCopied } = await collection.beginSnapshotWhenFree();
      await vectorsCopied;
      const restored = MemoryCollection.restore(spec("cosine", 8), defaultLimits, indexing(), state);
      try {
        expect(restored.size).toBe(247);
        await restored.whenIndexed();
        restored.checkIntegrity();
        const ids = Array.from({ length: 250 }, (_, i) => `p${i}`);
        const options = { withPayload: true, withVector: true };
        expect(restored.get(ids, options)).toEqual(collection.get(ids, options));
        const query = { vector: pointsOf(1, 8, 3)[0]!.vector, k: 10, exact: true, withPayload: false, withVector: false };
        expect(restored.search(query)).toEqual(collection.search(query));
      } finally {
        restored.close();
      }
    } finally {
      collection.close();
    }
  });
});

describe("a collection of segments, on disk", () => {
  async function openDb(dataDir: string, overrides: Partial<IndexingConfig>): Promise<Database> {
    const db = new Database(makeConfig({ dataDir, logLevel: "silent", indexing: indexing(overrides), storage: { fsync: "fsync", flushIntervalMs: 100, walBytesMax: 64 * 1024 * 1024 } }));
    await db.open();
    return db;
  }

  const manifestOf = (dir: string): { sequence: number; segments: { id: number; file: string; sealed: boolean; deletes?: string }[] } => JSON.parse(readFileSync(join(dir, "segments.json"), "utf8"));

  it("checkpoints only the segments that changed, reopens without rebuilding graphs, and vacuum reclaims memory and files", async () => {
    const dataDir = tempDataDir();
    const bounds = { segmentPointsMax: 300, vacuumDeletedRatio: 0.2 };
    let db = await openDb(dataDir, bounds);
    const dir = collectionDir(dataDir, "s");
    let collection: DurableCollection = await db.create(spec("euclidean", 16));
    for (let batch = 0; batch < 6; batch++) await collection.upsert(pointsOf(200, 16, batch, batch * 200));
    await collection.whenIndexed();
    const first = (await collection.checkpoint())!;
    expect(first.segmentsWritten).toBe(collection.segments.length);
    expect(segmentFiles(dir)).toEqual(manifestOf(dir).segments.map((s) => s.file).sort());
    // A small change touches the appendable segment (rewritten) and one sealed segment, which only lost
    // a point: it gets a deletes file, its base file stays.
    await collection.upsert(pointsOf(1, 16, 77, 1_200));
    await collection.deleteIds(["p5"]);
    const second = (await collection.checkpoint())!;
    expect(second.segmentsWritten).toBe(1);
    expect(second.deletesWritten).toBe(1);
    expect(second.segmentsUnchanged).toBe(collection.segments.length - 2);
    expect(second.segmentBytes).toBeLessThan(first.segmentBytes / 2);
    expect(second.filesRemoved).toBe(0);
    expect(manifestOf(dir).segments.filter((s) => s.deletes !== undefined)).toHaveLength(1);
    // A payload change on that segment rewrites it: its base file and its deletes file go.
    await collection.changePayload({ kind: "ids", ids: ["p6"] }, { kind: "set", payload: { late: 1 } }, "points");
    const third = (await collection.checkpoint())!;
    expect(third.segmentsWritten).toBe(1);
    expect(third.filesRemoved).toBe(2);
    expect(manifestOf(dir).segments.filter((s) => s.deletes !== undefined)).toHaveLength(0);
    await collection.deleteIds(["p7"]);
    expect((await collection.checkpoint())!.deletesWritten).toBe(1);
    expect(segmentFiles(dir)).toEqual(manifestOf(dir).segments.map((s) => s.file).sort());
    expect(readdirSync(dir).filter((name) => name.endsWith(".del"))).toEqual(manifestOf(dir).segments.flatMap((s) => (s.deletes === undefined ? [] : [s.deletes])));
    const statsBefore = collection.stats();
    const probe = pointsOf(1, 16, 5, 0)[0]!.vector;
    const hitsBefore = collection.search({ vector: probe, k: 10, exact: false, withPayload: true, withVector: true });
    await db.close();

    db = await openDb(dataDir, bounds);
    collection = db.get("s");
    expect(collection.recovery.segmentFiles).toBe(statsBefore.segments!.length);
    // Every segment came back with its graph: nothing to link.
    expect(collection.stats().indexedPointCount).toBe(collection.size);
    expect(collection.search({ vector: probe, k: 10, exact: false, withPayload: true, withVector: true })).toEqual(hitsBefore);

    // Delete 70 % of the points: the optimizer vacuums the sealed segments, then a checkpoint drops their files.
    const memoryBefore = collection.stats().memoryBytes;
    const filesBytesBefore = segmentFiles(dir).reduce((sum, name) => sum + readFileSync(join(dir, name)).length, 0);
    const doomed = Array.from({ length: 1_201 }, (_, i) => `p${i}`).filter((_, i) => i % 10 < 7);
    for (let i = 0; i < doomed.length; i += 200) await collection.deleteIds(doomed.slice(i, i + 200));
    await collection.whenOptimized();
    await collection.checkpoint();
    const stats = collection.stats();
    expect(collection.mergesDone).toBeGreaterThan(0);
    for (const segment of stats.segments!.filter((s) => s.sealed)) expect(segment.deletedCount).toBe(0);
    expect(stats.pointCount).toBe(1_201 - 2 - doomed.filter((id) => id !== "p5" && id !== "p7").length);
    // Tiny vectors: each segment's memory is mostly its fixed baseline, so memory drops less than the files (bench:scale measures it at scale).
    expect(stats.memoryBytes).toBeLessThan(0.85 * memoryBefore);
    const filesBytesAfter = segmentFiles(dir).reduce((sum, name) => sum + readFileSync(join(dir, name)).length, 0);
    expect(filesBytesAfter).toBeLessThan(0.5 * filesBytesBefore);
    expect(segmentFiles(dir)).toEqual(manifestOf(dir).segments.map((s) => s.file).sort());
    const survivors = collection.get(["p7", "p8", "p9", "p17"], { withPayload: true, withVector: false });
    expect(survivors.map((p) => p.id)).toEqual(["p8", "p9", "p17"]);
    await db.close();

    db = await openDb(dataDir, bounds);
    expect(db.get("s").size).toBe(stats.pointCount);
    expect(db.get("s").recovery.removedOrphans).toEqual([]);
    await db.close();
  }, 60_000);

  it("writes a segment again once the graph it was written without is complete, so that a reopen links nothing", async () => {
    const dataDir = tempDataDir();
    // Linking on this thread in short slices: the segments seal, and the checkpoint writes them, long
    // before their graphs are built (as at scale, where the builder threads lag the ingest by an hour).
    const bounds = { segmentPointsMax: 300, vacuumDeletedRatio: 1, indexSliceMs: 1 };
    let db = await openDb(dataDir, bounds);
    const dir = collectionDir(dataDir, "s");
    let collection: DurableCollection = await db.create(spec("euclidean", 16));
    for (let batch = 0; batch < 4; batch++) await collection.upsert(pointsOf(300, 16, batch, batch * 300));
    expect(collection.stats().indexedPointCount).toBeLessThan(collection.size);
    await collection.checkpoint();
    // A file's identity: its name, or at the same sequence (no write since) its inode (replaced by rename).
    const identities = (): string[] => manifestOf(dir).segments.map((s) => `${s.file}@${statSync(join(dir, s.file)).ino}`);
    const early = identities();
    expect(early.length).toBeGreaterThanOrEqual(4);
    const written = collection.segments.map((s) => s.persisted!.indexed);
    expect(written.filter((indexed) => !indexed).length).toBeGreaterThan(0);
    // The graphs complete: a checkpoint follows by itself and writes those segments again (only those).
    await collection.whenIndexed();
    await new Promise((resolve) => setImmediate(resolve));
    await collection.whenOptimized();
    const now = identities();
    expect(now.map((identity, i) => identity === early[i])).toEqual(written);
    expect(segmentFiles(dir)).toEqual(manifestOf(dir).segments.map((s) => s.file).sort());
    // Nothing new to write afterwards.
    const quiet = (await collection.checkpoint()) ?? { segmentsWritten: 0 };
    expect(quiet.segmentsWritten).toBe(0);
    const probe = pointsOf(1, 16, 9, 0)[0]!.vector;
    const hitsBefore = collection.search({ vector: probe, k: 10, exact: false, withPayload: false, withVector: false });
    await db.close();

    const enqueued = vi.spyOn(Indexer.prototype, "enqueue");
    try {
      db = await openDb(dataDir, bounds);
      collection = db.get("s");
      expect(enqueued).not.toHaveBeenCalled();
      expect(collection.stats().indexedPointCount).toBe(1_200);
      expect(collection.search({ vector: probe, k: 10, exact: false, withPayload: false, withVector: false })).toEqual(hitsBefore);
      for (const segment of collection.segments) segment.data.checkIntegrity();
      await db.close();
    } finally {
      enqueued.mockRestore();
    }
  }, 60_000);

  it("does not rewrite an appendable segment whose graph completes while new points keep arriving", async () => {
    const dataDir = tempDataDir();
    const db = await openDb(dataDir, { segmentPointsMax: 10_000, vacuumDeletedRatio: 1, indexSliceMs: 1 });
    const collection: DurableCollection = await db.create(spec("euclidean", 16));
    const settle = async (): Promise<void> => {
      await collection.whenIndexed();
      await new Promise((resolve) => setImmediate(resolve));
      await collection.whenOptimized();
    };
    // Written with its graph incomplete, then a write before the graph completes (3,000 points take this
    // thread's 1 ms slices far longer than one upsert): no checkpoint of its own.
    await collection.upsert(pointsOf(3_000, 16, 1, 0));
    const loaded = (await collection.checkpoint())!;
    expect(collection.segments[0]!.persisted!.indexed).toBe(false);
    await collection.upsert(pointsOf(1, 16, 2, 3_000));
    await settle();
    expect(collection.lastCheckpoint).toBe(loaded);
    // The next checkpoint writes it (graph complete by now); then an incomplete write with no write after it
    // is followed by a checkpoint of its own once the graph completes.
    await collection.checkpoint();
    expect(collection.segments[0]!.persisted!.indexed).toBe(true);
    await collection.upsert(pointsOf(300, 16, 3, 3_001));
    const again = (await collection.checkpoint())!;
    expect(collection.segments[0]!.persisted!.indexed).toBe(false);
    await settle();
    expect(collection.lastCheckpoint).not.toBe(again);
    expect(collection.lastCheckpoint!.segmentsWritten).toBe(1);
    expect(collection.segments[0]!.persisted!.indexed).toBe(true);
    await db.close();
  }, 60_000);

  it("removes on open the files of a merge cut short, and replays the WAL over the segments the manifest lists", async () => {
    const dataDir = tempDataDir();
    // No vacuum here: the merge (and the checkpoint after it, which would drop unlisted files) must not run.
    const bounds = { segmentPointsMax: 100, vacuumDeletedRatio: 1 };
    let db = await openDb(dataDir, bounds);
    const dir = collectionDir(dataDir, "s");
    const collection = await db.create(spec());
    for (let batch = 0; batch < 4; batch++) await collection.upsert(pointsOf(100, 8, batch, batch * 100));
    // Graphs complete before the checkpoint: no later checkpoint to write them again (and drop the orphans below).
    await collection.whenIndexed();
    await collection.checkpoint();
    const listed = manifestOf(dir).segments.map((s) => s.file);
    // A file that a killed merge wrote but never listed, and writes only the WAL holds.
    const orphan = join(dir, "segment-99-1234.bin");
    copyFileSync(join(dir, listed[0]!), orphan);
    writeFileSync(join(dir, "segment-98-1.bin"), "half");
    await collection.deleteIds(Array.from({ length: 60 }, (_, i) => `p${i}`));
    await collection.upsert(pointsOf(10, 8, 9, 1_000));
    await db.close({ checkpoint: false });
    db = await openDb(dataDir, bounds);
    const reopened = db.get("s");
    expect(reopened.recovery.removedOrphans.sort()).toEqual(["segment-98-1.bin", "segment-99-1234.bin"]);
    expect(reopened.size).toBe(400 - 60 + 10);
    expect(reopened.get(["p0", "p59", "p60", "p1000"], { withPayload: false, withVector: false }).map((p) => p.id)).toEqual(["p60", "p1000"]);
    await db.close();
  }, 60_000);
});
