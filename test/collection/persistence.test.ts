import { describe, expect, it } from "vitest";
import { MemoryCollection, type CollectionSpec, type Filter, type PointInput } from "../../src/collection/index.js";
import { decodeStateSections, encodeStateSections } from "../../src/collection/disk/segment-sections.js";
import {
  decodeDeleteFilterRecord,
  decodeDeleteIdsRecord,
  decodeUpsertRecord,
  encodeDeleteFilterRecord,
  encodeDeleteIdsRecord,
  encodeUpsertRecord,
} from "../../src/collection/disk/wal-records.js";
import { configFromSettings, defaultIndexing, defaultLimits } from "../../src/config.js";
import { VectorDbError } from "../../src/errors.js";
import { decodeSegment, encodeSegment } from "../../src/storage/index.js";
import { rng } from "../helpers/random.js";

const spec = (distance: CollectionSpec["distance"] = "euclidean", dimension = 6): CollectionSpec => ({ name: "t", dimension, distance, hnsw: { m: 8, efConstruction: 40, ef: 32 } });

function pointsOf(count: number, dimension: number, seed: number, prefix = "p"): PointInput[] {
  const random = rng(seed);
  return Array.from({ length: count }, (_, i) => ({
    id: i % 5 === 0 ? `${prefix}·ü-${i}` : `${prefix}${i}`,
    vector: Float32Array.from({ length: dimension }, () => random() * 2 - 1),
    payload: i % 3 === 0 ? undefined : { n: i, tag: i % 2 === 0 ? "even" : "odd", deep: { list: [1, "two", null, false] } },
  }));
}

/** A segment file image of `collection`'s snapshot, decoded back (no I/O). */
async function roundTrip(collection: MemoryCollection, collectionSpec: CollectionSpec): Promise<MemoryCollection> {
  const state = collection.snapshot();
  const { chunks, sizeBytes } = encodeSegment({ sequence: state.sequence, sections: await encodeStateSections(state, collectionSpec) });
  // Buffer.alloc is never pooled: byte offset 0, as readSegment gives.
  const file = Buffer.alloc(sizeBytes);
  let at = 0;
  for (const chunk of chunks) {
    file.set(chunk, at);
    at += chunk.byteLength;
  }
  return MemoryCollection.restore(collectionSpec, defaultLimits, defaultIndexing, decodeStateSections(decodeSegment(file, "seg"), collectionSpec, "seg"));
}

function indexAll(collection: MemoryCollection): void {
  while (collection.indexStep(1_000));
}

describe("WAL record bodies", () => {
  it("round-trip an upsert batch bit for bit, payloads and UTF-8 ids included", () => {
    const points = pointsOf(25, 6, 1);
    points[3]!.vector[2] = -0;
    points[4]!.vector[1] = 1.4e-45;
    const json = points.map((p) => (p.payload === undefined ? undefined : JSON.stringify(p.payload)));
    const chunks = encodeUpsertRecord(points, json, 6);
    const body = Buffer.concat(chunks);
    // An unaligned copy, as record bodies are inside the WAL file.
    const unaligned = Buffer.alloc(body.length + 1).subarray(1);
    body.copy(unaligned);
    const decoded = decodeUpsertRecord(unaligned, 6);
    expect(decoded.points.map((p) => p.id)).toEqual(points.map((p) => p.id));
    expect(decoded.points.map((p) => Array.from(new Uint32Array(Float32Array.from(p.vector).buffer)))).toEqual(points.map((p) => Array.from(new Uint32Array(p.vector.buffer))));
    expect(decoded.points.map((p) => p.payload)).toEqual(points.map((p) => p.payload));
    expect(decoded.payloadBytes).toEqual(json.map((j) => (j === undefined ? 0 : Buffer.byteLength(j))));
  });

  it("refuses a body of another dimension, a truncated body and trailing bytes", () => {
    const points = pointsOf(3, 4, 2);
    const body = Buffer.concat(encodeUpsertRecord(points, [undefined, undefined, undefined], 4));
    expect(() => decodeUpsertRecord(body, 5)).toThrow("upsert record has dimension 4, the collection's is 5");
    expect(() => decodeUpsertRecord(body.subarray(0, body.length - 1), 4)).toThrow(/point 2 payload: the body ends/);
    expect(() => decodeUpsertRecord(Buffer.concat([body, Buffer.from([0])]), 4)).toThrow(/1 unexpected bytes after the last point/);
  });

  it("round-trip deletes by ids and by filter, with infinite range bounds and has_id", () => {
    const ids = ["a", "ü-ß", "", "x".repeat(300)];
    expect(decodeDeleteIdsRecord(encodeDeleteIdsRecord(ids))).toEqual(ids);
    const filter: Filter = {
      must: [
        { kind: "range", path: ["n"], gt: Number.NEGATIVE_INFINITY, lte: Number.POSITIVE_INFINITY },
        { kind: "hasId", ids: new Set(["a", "b"]) },
      ],
      should: [{ kind: "filter", filter: { must: [{ kind: "equals", path: ["a", "b"], value: null }], should: [], mustNot: [{ kind: "anyOf", path: ["t"], values: ["x", 1, true] }] } }],
      mustNot: [
        { kind: "exists", path: ["gone"], exists: true },
        { kind: "isNull", path: ["z"], isNull: false },
      ],
    };
    expect(decodeDeleteFilterRecord(encodeDeleteFilterRecord(filter))).toEqual(filter);
    expect(() => decodeDeleteFilterRecord(Buffer.from('{"must":[{"kind":"nope"}],"should":[],"mustNot":[]}'))).toThrow('filter.must[0].kind: unknown condition kind "nope"');
  });
});

describe("Collection snapshot and restore", () => {
  it("restores ids, payloads, vectors, the graph, tombstones and pending points exactly", async () => {
    for (const distance of ["euclidean", "cosine", "dot"] as const) {
      const collectionSpec = spec(distance);
      const original = new MemoryCollection(collectionSpec, defaultLimits, { ...defaultIndexing, fullScanPointsMax: 10 });
      original.upsert(pointsOf(300, 6, 3));
      original.deleteIds(["p1", "p2", "p4", "p·ü-10"]);
      indexAll(original);
      // Pending at snapshot time: a replaced point and a new one that reuses a dead slot.
      original.upsert(pointsOf(2, 6, 4, "late"));
      original.upsert([{ id: "p3", vector: Float32Array.from([1, 2, 3, 4, 5, 6]), payload: { replaced: true } }]);
      const restored = await roundTrip(original, collectionSpec);
      expect(restored.appliedSequence).toBe(original.appliedSequence);
      expect(restored.size).toBe(original.size);
      // Memory is allocated to fit (the original grew by doubling), so only the counts must agree.
      expect({ ...restored.stats(), memoryBytes: 0 }).toEqual({ ...original.stats(), memoryBytes: 0 });
      const ids = ["p0", "p1", "p3", "p·ü-5", "late0", "late1", "p299"];
      expect(restored.get(ids, { withPayload: true, withVector: true })).toEqual(original.get(ids, { withPayload: true, withVector: true }));
      indexAll(original);
      indexAll(restored);
      expect(restored.snapshot()).toEqual(original.snapshot());
      const random = rng(5);
      for (let q = 0; q < 10; q++) {
        const query = { vector: Float32Array.from({ length: 6 }, () => random() - 0.5), k: 7, exact: false, withPayload: true, withVector: false };
        expect(restored.search(query), distance).toEqual(original.search(query));
      }
      // The same next write lands in the same slot (the free list order is kept).
      original.upsert(pointsOf(3, 6, 6, "next"));
      restored.upsert(pointsOf(3, 6, 6, "next"));
      indexAll(original);
      indexAll(restored);
      expect(restored.snapshot()).toEqual(original.snapshot());
      restored.checkIntegrity();
    }
  });

  it("copies the vectors of a snapshot in slices, copy-on-write: writes during the copy do not leak into it", async () => {
    // 1,100 rows of 1,024 floats: 4.4 MB, so the rows take two slices of 4 MiB.
    const dimension = 1_024;
    const collection = new MemoryCollection(spec("euclidean", dimension), defaultLimits, { ...defaultIndexing, indexSliceMs: 1 });
    collection.upsert(pointsOf(1_100, dimension, 8));
    collection.deleteIds(["p1051", "p2"]);
    const expected = collection.snapshot();
    const { state, vectorsCopied } = collection.beginSnapshot();
    expect(state.sequence).toBe(expected.sequence);
    expect(() => collection.beginSnapshot()).toThrow("a snapshot is being copied already");
    // Before the second slice is copied: overwrite rows in it and reuse both dead slots, grow the store.
    collection.upsert([{ id: "p1061", vector: new Float32Array(dimension).fill(7) }, ...pointsOf(2, dimension, 9, "reuse"), ...pointsOf(3_000, dimension, 10, "grow")]);
    collection.upsert([{ id: "p1", vector: new Float32Array(dimension).fill(5) }]);
    await vectorsCopied;
    expect(Buffer.from(state.vectors).equals(Buffer.from(expected.vectors))).toBe(true);
    expect({ ...state, vectors: undefined }).toEqual({ ...expected, vectors: undefined });
    // The next snapshot sees the writes.
    expect(collection.beginSnapshot().state.sequence).toBe(expected.sequence + 2);
  });

  it("applies a write at most once: replaying records a second time changes nothing", () => {
    const collection = new MemoryCollection(spec(), defaultLimits, defaultIndexing);
    const batch = pointsOf(20, 6, 7);
    const sizes = batch.map((p) => (p.payload === undefined ? 0 : Buffer.byteLength(JSON.stringify(p.payload))));
    const filter: Filter = { must: [{ kind: "equals", path: ["tag"], value: "odd" }], should: [], mustNot: [] };
    const replay = (): void => {
      collection.applyUpsert(batch, sizes, 1);
      collection.deleteIds(["p0", "p5"], 2);
      collection.applyUpsert([{ id: "p0", vector: new Float32Array(6).fill(1) }], [0], 3);
      collection.deleteByFilter(filter, 4);
    };
    replay();
    const once = collection.snapshot();
    expect(once.sequence).toBe(4);
    expect(collection.get(["p0"], { withPayload: true, withVector: true })).toEqual([{ id: "p0", vector: new Float32Array(6).fill(1) }]);
    replay();
    expect(collection.snapshot()).toEqual(once);
    expect(collection.applyUpsert(batch, sizes, 4)).toEqual({ inserted: 0, updated: 0 });
    expect(collection.deleteIds(["p0"], 3)).toBe(0);
    // Each slot remembers the write that last touched it.
    const slot = once.ids.indexOf("p0");
    expect(once.pointSequences[slot]).toBe(3);
  });

  it("refuses a payload holding NaN or Infinity, which JSON cannot store", () => {
    const collection = new MemoryCollection(spec(), defaultLimits, defaultIndexing);
    const vector = new Float32Array(6).fill(1);
    expect(() => collection.upsert([{ id: "a", vector, payload: { list: [1, { x: Number.NaN }] } }])).toThrow(
      '[invalid_argument] points[0] (id "a").payload.list[1].x: is not a finite number (NaN and Infinity cannot be stored)',
    );
    expect(() => collection.upsert([{ id: "a", vector, payload: { y: Number.NEGATIVE_INFINITY } }])).toThrow(VectorDbError);
    expect(collection.upsert([{ id: "a", vector, payload: { y: null, z: "null" } }])).toEqual({ inserted: 1, updated: 0 });
  });

  it("counts writes in progress against collection_points_max", () => {
    const collection = new MemoryCollection(spec(), { ...defaultLimits, collectionPointsMax: 10 }, defaultIndexing);
    expect(collection.prepareUpsert(pointsOf(6, 6, 1), "points", 4).newPoints).toBe(6);
    expect(() => collection.prepareUpsert(pointsOf(6, 6, 1), "points", 5)).toThrow('[resource_exhausted] points: collection "t" holds 5 points (counting writes in progress); 6 more would exceed collection_points_max 10');
  });
});

describe("storage settings", () => {
  it("reads --fsync, --flush-interval-ms and --wal-bytes-max and validates them", () => {
    expect(configFromSettings({}).storage).toEqual({ fsync: "fsync", flushIntervalMs: 100, walBytesMax: 67_108_864 });
    expect(configFromSettings({ "storage.fsync": "os", "storage.flushIntervalMs": "5", "storage.walBytesMax": "4096" }).storage).toEqual({ fsync: "os", flushIntervalMs: 5, walBytesMax: 4096 });
    expect(() => configFromSettings({ "storage.fsync": "sometimes" })).toThrow('--fsync (VECTORDB_FSYNC): "sometimes" is not one of fsync, interval, os');
    expect(() => configFromSettings({ "storage.walBytesMax": "0" })).toThrow("--wal-bytes-max: must be at least 1, got 0");
    expect(() => configFromSettings({ "storage.flushIntervalMs": "0" })).toThrow("--flush-interval-ms: must be at least 1, got 0");
  });
});
