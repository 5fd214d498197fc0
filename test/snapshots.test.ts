import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Distance, type PointInit, type SnapshotInfo, type VectorDbClient } from "../src/client/index.js";
import { sectionKind } from "../src/collection/index.js";
import { rejection } from "./helpers/assertions.js";
import { removeTempDirs, segmentFile, segmentSections, tempDataDir } from "./helpers/files.js";
import { rng } from "./helpers/random.js";
import { startTestServer, waitIndexed, type TestServer } from "./helpers/server.js";

const dimension = 16;

/** The whole snapshot file, through DownloadSnapshot. */
async function download(client: VectorDbClient, collection: string, name: string): Promise<{ bytes: Buffer; info: SnapshotInfo | undefined; chunks: number }> {
  const parts: Uint8Array[] = [];
  let info: SnapshotInfo | undefined;
  for await (const message of client.snapshots.downloadSnapshot({ collection, name })) {
    info ??= message.snapshot;
    parts.push(message.chunk);
  }
  return { bytes: Buffer.concat(parts), info, chunks: parts.length };
}

/** RestoreSnapshot of `bytes` in chunks of 64 KiB. */
function restore(client: VectorDbClient, collection: string, bytes: Buffer, sha256: string) {
  const chunkBytes = 64 * 1024;
  const messages = Array.from({ length: Math.max(1, Math.ceil(bytes.length / chunkBytes)) }, (_, i) => ({
    ...(i === 0 ? { collection, sha256 } : {}),
    chunk: bytes.subarray(i * chunkBytes, (i + 1) * chunkBytes),
  }));
  return client.snapshots.restoreSnapshot(messages);
}

const sha256Of = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** Every point of a collection, by id, with vector and payload. */
async function contents(client: VectorDbClient, collection: string): Promise<Map<string, { vector: number[]; payload: unknown }>> {
  const found = new Map<string, { vector: number[]; payload: unknown }>();
  let cursor = "";
  do {
    const page = await client.points.scroll({ collection, cursor, limit: 1_000, withVector: true });
    for (const point of page.points) found.set(point.id, { vector: point.vector, payload: point.payload });
    cursor = page.nextCursor;
  } while (cursor !== "");
  return found;
}

/** A write of the workload: an upsert batch or a delete, in the order sent (each acknowledged before the next). */
type Op = { kind: "upsert"; points: PointInit[] } | { kind: "delete"; ids: string[] };

/** The ids present after the first `k` ops. */
function idsAfter(base: readonly PointInit[], ops: readonly Op[], k: number): Set<string> {
  const ids = new Set(base.map((p) => p.id!));
  for (const op of ops.slice(0, k)) {
    if (op.kind === "upsert") for (const p of op.points) ids.add(p.id!);
    else for (const id of op.ids) ids.delete(id);
  }
  return ids;
}

function randomPoints(prefix: string, count: number, random: () => number): PointInit[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, vector: Array.from({ length: dimension }, () => random() * 2 - 1), payload: { i, prefix } }));
}

afterAll(removeTempDirs);

describe("snapshots", () => {
  let a: TestServer;
  let b: TestServer;
  const base = randomPoints("b", 3_000, rng(1));
  let snapshot: SnapshotInfo;
  let file: Buffer;
  const ops: Op[] = [];

  beforeAll(async () => {
    // One indexing thread (the main one): graphs built after a restore are the same on both servers.
    a = await startTestServer({}, { indexing: { indexThreads: 0 } });
    b = await startTestServer({}, { indexing: { indexThreads: 0 } });
    await a.client.collections.createCollection({ name: "src", dimension, distance: Distance.EUCLIDEAN });
    for (let i = 0; i < base.length; i += 500) await a.client.points.upsert({ collection: "src", points: base.slice(i, i + 500) });
    await waitIndexed(a.client, "src");
  }, 120_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it("is taken during writes, downloads with its sha256, and restores on another server with the same points and identical search results", async () => {
    const random = rng(2);
    let stop = false;
    const writer = (async () => {
      for (let round = 0; !stop; round++) {
        const op: Op = round % 2 === 0 ? { kind: "upsert", points: randomPoints(`w${round}-`, 50, random) } : { kind: "delete", ids: base.slice(round * 10, round * 10 + 10).map((p) => p.id!) };
        if (op.kind === "upsert") await a.client.points.upsert({ collection: "src", points: op.points });
        else await a.client.points.delete({ collection: "src", ids: op.ids });
        ops.push(op);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    snapshot = (await a.client.snapshots.createSnapshot({ collection: "src" })).snapshot!;
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    await writer;
    expect(snapshot).toMatchObject({ collection: "src", name: expect.stringMatching(/^src-\d{8}T\d{9}Z-[0-9a-f]{8}\.snapshot$/) });
    expect((await a.client.snapshots.listSnapshots({ collection: "src" })).snapshots).toEqual([snapshot]);

    const downloaded = await download(a.client, "src", snapshot.name);
    file = downloaded.bytes;
    expect(downloaded.info).toEqual(snapshot);
    expect(file.length).toBe(Number(snapshot.sizeBytes));
    expect(sha256Of(file)).toBe(snapshot.sha256);
    expect(downloaded.chunks).toBe(Math.ceil(file.length / (1024 * 1024)));

    const restored = (await restore(b.client, "copy", file, snapshot.sha256)).collection!;
    expect(restored).toMatchObject({ name: "copy", dimension, distance: Distance.EUCLIDEAN, pointCount: snapshot.pointCount });

    // The copy holds exactly the state after some prefix of the writes, bit for bit.
    const copy = await contents(b.client, "copy");
    const k = [...Array(ops.length + 1).keys()].find((n) => {
      const ids = idsAfter(base, ops, n);
      return ids.size === copy.size && [...ids].every((id) => copy.has(id));
    });
    expect(k, "the snapshot is a prefix of the acknowledged writes").toBeDefined();
    expect(k!).toBeGreaterThan(0);
    expect(k!).toBeLessThan(ops.length);
    const written = new Map([...base, ...ops.flatMap((op) => (op.kind === "upsert" ? op.points : []))].map((p) => [p.id!, p]));
    for (const [id, point] of copy) {
      expect(point.vector, id).toEqual(Array.from(Float32Array.from(written.get(id)!.vector as number[])));
      expect(point.payload, id).toEqual(written.get(id)!.payload);
    }

    // Bring the original back to the snapshot's state: exact searches must then agree exactly.
    const original = await contents(a.client, "src");
    await a.client.points.delete({ collection: "src", ids: [...original.keys()].filter((id) => !copy.has(id)) });
    await a.client.points.upsert({ collection: "src", points: [...copy.keys()].filter((id) => !original.has(id)).map((id) => written.get(id)!) });
    const queries = randomPoints("q", 40, rng(3)).map((p) => p.vector as number[]);
    for (const vector of queries) {
      const [left, right] = await Promise.all([a.client.points.search({ collection: "src", vector, k: 10, exact: true }), b.client.points.search({ collection: "copy", vector, k: 10, exact: true })]);
      expect(right.hits).toEqual(left.hits);
    }
    // The graph comes back from its bytes: the same snapshot restored on the first server answers
    // graph searches exactly as the copy on the second one.
    await restore(a.client, "copy_a", file, snapshot.sha256);
    await Promise.all([waitIndexed(a.client, "copy_a"), waitIndexed(b.client, "copy")]);
    let agree = 0;
    for (const vector of queries) {
      const [left, right, exact] = await Promise.all([
        a.client.points.search({ collection: "copy_a", vector, k: 10 }),
        b.client.points.search({ collection: "copy", vector, k: 10 }),
        b.client.points.search({ collection: "copy", vector, k: 10, exact: true }),
      ]);
      expect(right.hits).toEqual(left.hits);
      agree += right.hits.filter((hit) => exact.hits.some((e) => e.id === hit.id)).length;
    }
    expect(agree / (10 * queries.length)).toBeGreaterThan(0.9);
  }, 120_000);

  it("refuses a corrupted snapshot with DATA_LOSS naming the section, and leaves nothing behind", async () => {
    const sections = segmentSections(join(b.config.dataDir, "collections", "copy", "segment.bin"));
    expect(sections.map((s) => s.kind)).toContain(sectionKind.spec);
    for (const [name, kind] of [["vectors", sectionKind.vectors], ["payloads", sectionKind.payloads], ["graph", sectionKind.graph], ["spec", sectionKind.spec]] as const) {
      const section = sections.find((s) => s.kind === kind)!;
      const damaged = Buffer.from(file);
      damaged[section.offset + Math.floor(section.length / 2)]! ^= 0x01;
      const withOriginalHash = await rejection(restore(b.client, `broken_${name}`, damaged, snapshot.sha256));
      expect(withOriginalHash.status).toBe(status.DATA_LOSS);
      expect(withOriginalHash.details).toMatch(new RegExp(`^\\[data_loss\\] snapshot: segment section ${kind} \\(${name}\\) at offset ${section.offset} fails its CRC \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\); the sha256 of the ${file.length} bytes received is ${sha256Of(damaged)}, the request says ${snapshot.sha256}$`));
      // A hash taken of the damaged file does not make it acceptable.
      const withItsHash = await rejection(restore(b.client, `broken_${name}`, damaged, sha256Of(damaged)));
      expect(withItsHash.details).toMatch(new RegExp(`^\\[data_loss\\] snapshot: segment section ${kind} \\(${name}\\) at offset ${section.offset} fails its CRC \\([^)]*\\)$`));
    }
    const header = Buffer.from(file);
    header[20]! ^= 0xff;
    expect((await rejection(restore(b.client, "broken", header, sha256Of(header)))).details).toMatch(/^\[data_loss\] snapshot: segment header at offset 0 .* fails its CRC/);
    const truncated = file.subarray(0, file.length - 100);
    expect((await rejection(restore(b.client, "broken", truncated, sha256Of(truncated)))).details).toMatch(/^\[data_loss\] snapshot: .*truncated/);
    const wrongHash = await rejection(restore(b.client, "broken", file, "0".repeat(64)));
    expect(wrongHash.status).toBe(status.DATA_LOSS);
    expect(wrongHash.details).toBe(`[data_loss] sha256: every section passes its CRC, but the sha256 of the ${file.length} bytes received is ${snapshot.sha256}, the request says ${"0".repeat(64)}`);
    // None of these became a collection, and no staging folder is left.
    expect((await b.client.collections.listCollections({})).collections.map((c) => c.name)).toEqual(["copy"]);
    expect(readdirSync(join(b.config.dataDir, "collections"))).toEqual(["copy"]);
  });

  it("refuses bad input with the right status naming the field", async () => {
    const sha = snapshot.sha256;
    const cases: [() => Promise<unknown>, number, RegExp][] = [
      [() => a.client.snapshots.createSnapshot({ collection: "ghost" }), status.NOT_FOUND, /^\[not_found\] collection: collection "ghost" does not exist$/],
      [() => a.client.snapshots.createSnapshot({ collection: "" }), status.INVALID_ARGUMENT, /^\[invalid_argument\] collection: "" is not a valid collection name/],
      [() => a.client.snapshots.listSnapshots({ collection: "ghost" }), status.NOT_FOUND, /^\[not_found\] collection: collection "ghost" does not exist and has no snapshots$/],
      [() => a.client.snapshots.deleteSnapshot({ collection: "src", name: "../etc/passwd" }), status.INVALID_ARGUMENT, /^\[invalid_argument\] name: "\.\.\/etc\/passwd" is not a snapshot name/],
      [() => a.client.snapshots.deleteSnapshot({ collection: "src", name: "src-20000101T000000000Z-00000000.snapshot" }), status.NOT_FOUND, /^\[not_found\] name: collection "src" has no snapshot "src-20000101T000000000Z-00000000\.snapshot"$/],
      [() => drain(a.client.snapshots.downloadSnapshot({ collection: "src", name: "src-20000101T000000000Z-00000000.snapshot" })), status.NOT_FOUND, /^\[not_found\] name: collection "src" has no snapshot/],
      [() => drain(a.client.snapshots.downloadSnapshot({ collection: "src", name: "" })), status.INVALID_ARGUMENT, /^\[invalid_argument\] name: "" is not a snapshot name/],
      [() => a.client.snapshots.restoreSnapshot([]), status.INVALID_ARGUMENT, /^\[invalid_argument\] collection: the stream is empty/],
      [() => a.client.snapshots.restoreSnapshot([{ sha256: sha, chunk: file }]), status.INVALID_ARGUMENT, /^\[invalid_argument\] collection: the first message must name the new collection$/],
      [() => a.client.snapshots.restoreSnapshot([{ collection: "x", sha256: "abc", chunk: file }]), status.INVALID_ARGUMENT, /^\[invalid_argument\] sha256: "abc" is not 64 hex digits/],
      [() => restore(a.client, "src", file, sha), status.ALREADY_EXISTS, /^\[already_exists\] collection: collection "src" already exists$/],
      [() => restore(a.client, "bad name", file, sha), status.INVALID_ARGUMENT, /^\[invalid_argument\] collection: "bad name" is not a valid collection name/],
      [() => a.client.snapshots.restoreSnapshot([{ collection: "x", sha256: sha, chunk: file.subarray(0, 10) }, { collection: "y", chunk: file.subarray(10) }]), status.INVALID_ARGUMENT, /^\[invalid_argument\] messages\[1\]\.collection: "y" differs from "x"/],
    ];
    for (const [call, code, message] of cases) {
      const error = await rejection(call());
      expect(error.status, message.source).toBe(code);
      expect(error.details).toMatch(message);
    }
    // A collection's segment file is a segment but no snapshot: it has no spec section.
    const stoppedDir = tempDataDir();
    const plain = await startTestServer({}, { dataDir: stoppedDir });
    await plain.client.collections.createCollection({ name: "plain", dimension: 2, distance: Distance.DOT });
    await plain.client.points.upsert({ collection: "plain", points: [{ id: "a", vector: [1, 2] }] });
    await plain.stop();
    const segmentBytes = readFileSync(segmentFile(join(stoppedDir, "collections", "plain")));
    const notSnapshot = await rejection(restore(a.client, "plain", segmentBytes, sha256Of(segmentBytes)));
    expect(notSnapshot.status).toBe(status.INVALID_ARGUMENT);
    expect(notSnapshot.details).toMatch(/^\[invalid_argument\] snapshot: the file has no spec section \(kind 17\): it is not a snapshot file/);
  });

  it("outlive their collection, are deleted, and are cleaned up after a crash; a restored collection survives a restart", async () => {
    const dataDir = tempDataDir();
    let t = await startTestServer({}, { dataDir });
    try {
      await restore(t.client, "kept", file, snapshot.sha256);
      const taken = (await t.client.snapshots.createSnapshot({ collection: "kept" })).snapshot!;
      await t.client.collections.deleteCollection({ name: "kept" });
      expect((await t.client.snapshots.listSnapshots({ collection: "kept" })).snapshots).toEqual([taken]);
      const again = (await restore(t.client, "kept", (await download(t.client, "kept", taken.name)).bytes, taken.sha256)).collection!;
      expect(again.pointCount).toBe(snapshot.pointCount);
      // Leftovers of a crash: a temporary, a snapshot without manifest, a manifest without snapshot.
      const dir = join(dataDir, "snapshots", "kept");
      mkdirSync(dir, { recursive: true });
      for (const name of ["kept-20200101T000000000Z-0000000a.snapshot.tmp-0011223344556677", "kept-20200101T000000000Z-0000000b.snapshot", "kept-20200101T000000000Z-0000000c.snapshot.json"]) writeFileSync(join(dir, name), "x");
      await t.stop();
      t = await startTestServer({}, { dataDir });
      expect(t.running.recovery.removedSnapshotFiles.map((path) => path.slice(dir.length + 1)).sort()).toEqual([
        "kept-20200101T000000000Z-0000000a.snapshot.tmp-0011223344556677",
        "kept-20200101T000000000Z-0000000b.snapshot",
        "kept-20200101T000000000Z-0000000c.snapshot.json",
      ]);
      expect((await t.client.collections.getCollection({ name: "kept" })).collection?.pointCount).toBe(snapshot.pointCount);
      expect((await t.client.snapshots.listSnapshots({ collection: "kept" })).snapshots).toEqual([taken]);
      await t.client.snapshots.deleteSnapshot({ collection: "kept", name: taken.name });
      expect((await t.client.snapshots.listSnapshots({ collection: "kept" })).snapshots).toEqual([]);
      expect(existsSync(join(dir, taken.name))).toBe(false);
    } finally {
      await t.stop();
    }
  });
});

async function drain(messages: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of messages) void _;
}
