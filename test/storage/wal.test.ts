import { readdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { Wal, recordHeaderBytes, recordOverheadBytes, walFormatVersion, walHeaderBytes, type WalOptions, type WalRecord } from "../../src/storage/index.js";
import { pattern, rejectsWith, removeTempDirs, tempDir } from "./helpers.js";

afterEach(removeTempDirs);

async function walPath(): Promise<string> {
  return join(await tempDir(), "wal.log");
}

/**
 * Opens, appends `count` records (body i of length 10 + i, type 1 + i % 3), closes. Under the `os`
 * policy by default: nothing is fsynced before the close, so the file holds no durability mark and
 * the records lie back to back (see {@link offsetOf}).
 */
async function writeRecords(path: string, count: number, options: WalOptions = {}): Promise<void> {
  const { wal } = await Wal.open(path, { durability: "os", ...options });
  for (let i = 0; i < count; i++) await wal.append(1 + (i % 3), pattern(10 + i, i));
  await wal.close();
}

/** Every frame of a WAL file (records and durability marks, type 0), read with the documented layout. */
function frames(bytes: Buffer): Array<{ offset: number; sequence: number; type: number }> {
  const found: Array<{ offset: number; sequence: number; type: number }> = [];
  for (let at = walHeaderBytes; at + recordOverheadBytes <= bytes.length; at += recordOverheadBytes + bytes.readUInt32LE(at)) {
    found.push({ offset: at, sequence: Number(bytes.readBigUInt64LE(at + 4)), type: bytes[at + 12]! });
  }
  return found;
}

function summary(records: WalRecord[]): Array<{ sequence: number; type: number; body: number[] }> {
  return records.map((r) => ({ sequence: r.sequence, type: r.type, body: Array.from(r.body) }));
}

/** Byte offset of record i (0-based) in a file written by {@link writeRecords}. */
function offsetOf(i: number): number {
  let offset = walHeaderBytes;
  for (let j = 0; j < i; j++) offset += recordOverheadBytes + 10 + j;
  return offset;
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset]! ^= 0x5a;
  await writeFile(path, bytes);
}

describe("Wal", () => {
  it("round-trips records of every shape through close and reopen", async () => {
    const path = await walPath();
    const first = await Wal.open(path);
    expect(first.records).toEqual([]);
    expect(first.wal.nextSequence).toBe(1);
    const wal = first.wal;
    expect(await wal.append(1, pattern(100))).toBe(1);
    expect(await wal.append(2, [pattern(3, 1), new Uint8Array(0), pattern(5, 2)])).toBe(2);
    expect(await wal.append(255, new Uint8Array(0))).toBe(3);
    expect(wal.nextSequence).toBe(4);
    expect(wal.lastSequence).toBe(3);
    // Under fsync each append is a batch of its own, and the batches after the first start with a
    // durability mark (a 17-byte frame of type 0) for the records the previous fsync covered.
    expect(wal.sizeBytes).toBe(walHeaderBytes + 3 * recordOverheadBytes + 108 + 2 * recordOverheadBytes);
    await wal.close();
    expect((await stat(path)).size).toBe(wal.sizeBytes);

    const again = await Wal.open(path);
    expect(again.truncatedBytes).toBe(0);
    expect(summary(again.records)).toEqual([
      { sequence: 1, type: 1, body: Array.from(pattern(100)) },
      { sequence: 2, type: 2, body: [...pattern(3, 1), ...pattern(5, 2)] },
      { sequence: 3, type: 255, body: [] },
    ]);
    expect(again.records.map((r) => r.offset)).toEqual([walHeaderBytes, walHeaderBytes + 117 + 17, walHeaderBytes + 117 + 17 + 25 + 17]);
    expect(again.wal.nextSequence).toBe(4);
    expect(await again.wal.append(7, pattern(1))).toBe(4);
    await again.wal.close();
  });

  it("groups concurrent appends under one fsync (group commit)", async () => {
    const { wal } = await Wal.open(await walPath(), { durability: "fsync" });
    const sequences = await Promise.all(Array.from({ length: 100 }, (_, i) => wal.append(1, pattern(64, i))));
    expect(sequences).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(wal.stats.appends).toBe(100);
    expect(wal.stats.fsyncs).toBeLessThanOrEqual(10);
    expect(wal.stats.writes).toBe(wal.stats.fsyncs);

    // Appends arriving while an fsync runs share the next one.
    const before = wal.stats.fsyncs;
    const waves: Promise<number>[] = [];
    for (let wave = 0; wave < 10; wave++) {
      for (let i = 0; i < 10; i++) waves.push(wal.append(2, pattern(32, i)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(waves);
    expect(wal.stats.fsyncs - before).toBeLessThan(100);
    expect(wal.stats.fsyncs - before).toBeGreaterThanOrEqual(1);
    await wal.close();
  });

  it("treats a record cut short at the tail as the end of the log, truncates it, and continues the sequence", async () => {
    for (const cut of [3, recordHeaderBytes - 2, recordHeaderBytes + 4]) {
      const path = await walPath();
      await writeRecords(path, 5);
      const size = (await stat(path)).size;
      await truncate(path, offsetOf(4) + cut);
      const { wal, records, truncatedBytes } = await Wal.open(path);
      expect(records.map((r) => r.sequence)).toEqual([1, 2, 3, 4]);
      expect(truncatedBytes).toBe(cut);
      expect((await stat(path)).size).toBe(offsetOf(4));
      expect(size).toBeGreaterThan(offsetOf(4) + cut);
      expect(await wal.append(9, pattern(7))).toBe(5);
      await wal.close();
      const again = await Wal.open(path);
      expect(summary(again.records).at(-1)).toEqual({ sequence: 5, type: 9, body: Array.from(pattern(7)) });
      await again.wal.close();
    }
  });

  it("treats a bad CRC on the last record as a torn tail", async () => {
    const path = await walPath();
    await writeRecords(path, 5);
    await flipByte(path, offsetOf(4) + recordHeaderBytes + 2);
    const { wal, records, truncatedBytes } = await Wal.open(path);
    expect(records.map((r) => r.sequence)).toEqual([1, 2, 3, 4]);
    expect(truncatedBytes).toBe(recordOverheadBytes + 14);
    expect((await stat(path)).size).toBe(offsetOf(4));
    await wal.close();
  });

  it("treats an impossible length on the last record as a torn tail", async () => {
    const path = await walPath();
    await writeRecords(path, 3);
    const bytes = await readFile(path);
    bytes.writeUInt32LE(0xfffffff0, offsetOf(2));
    await writeFile(path, bytes);
    const { wal, records } = await Wal.open(path);
    expect(records.map((r) => r.sequence)).toEqual([1, 2]);
    await wal.close();
  });

  it("treats zero-filled space after the last record as a torn tail", async () => {
    const path = await walPath();
    await writeRecords(path, 3);
    const bytes = await readFile(path);
    await writeFile(path, Buffer.concat([bytes, Buffer.alloc(4096)]));
    const { wal, records, truncatedBytes } = await Wal.open(path);
    expect(records).toHaveLength(3);
    expect(truncatedBytes).toBe(4096);
    await wal.close();
  });

  it("reports DATA_LOSS naming the file and offset when a bad record is followed by proof that it was fsynced, and leaves the file alone", async () => {
    for (const where of [0, 5, recordHeaderBytes + 3]) {
      const path = await walPath();
      // Under fsync: every batch after the first starts with a durability mark.
      await writeRecords(path, 6, { durability: "fsync" });
      const size = (await stat(path)).size;
      const layout = frames(await readFile(path));
      const third = layout.filter((frame) => frame.type !== 0)[2]!;
      const proof = layout.find((frame) => frame.type === 0 && frame.offset > third.offset)!;
      expect(proof.sequence).toBe(3);
      await flipByte(path, third.offset + where);
      const error = await rejectsWith(Wal.open(path), "data_loss");
      expect(error.message).toContain(path);
      expect(error.message).toContain(`corrupt WAL record at byte offset ${third.offset}`);
      expect(error.message).toContain(`the durability mark at byte offset ${proof.offset} says every record up to sequence 3 was fsynced, and the last valid record before the damage is 2, so this is not a torn tail`);
      expect((await stat(path)).size).toBe(size);
    }
  });

  it("ends the log at a hole in the unsynced tail (no mark proves it durable) and drops the valid records after it (simulation seeds 7, 20)", async () => {
    // What a power cut leaves when the kernel wrote pages back out of order: zeros where the
    // third record was, the later records intact, and no fsync since the first two.
    const path = await walPath();
    await writeRecords(path, 6);
    const bytes = await readFile(path);
    bytes.fill(0, offsetOf(2), offsetOf(3));
    await writeFile(path, bytes);
    const { wal, records, truncatedBytes, droppedRecords } = await Wal.open(path);
    expect(records.map((r) => r.sequence)).toEqual([1, 2]);
    expect(droppedRecords).toBe(3);
    expect(truncatedBytes).toBe(bytes.length - offsetOf(2));
    expect(await wal.append(1, pattern(3))).toBe(3);
    await wal.close();
  });

  it("reads version-1 files (no durability marks), where any valid record after a bad one is DATA_LOSS, and upgrades them on open", async () => {
    const path = await walPath();
    const version1 = (sequences: number[]): Buffer => {
      const header = Buffer.alloc(walHeaderBytes);
      header.write("VDBWAL01", 0, "latin1");
      header.writeUInt32LE(1, 8);
      header.writeUInt32LE(1, 12);
      header.writeUInt32LE(crc32(header.subarray(0, 20)), 20);
      const records = sequences.map((sequence) => {
        const record = Buffer.alloc(recordOverheadBytes + 4);
        record.writeUInt32LE(4, 0);
        record.writeUInt32LE(sequence, 4);
        record[12] = 1;
        record.writeUInt32LE(sequence, recordHeaderBytes);
        record.writeUInt32LE(crc32(record.subarray(0, recordHeaderBytes + 4)), recordHeaderBytes + 4);
        return record;
      });
      return Buffer.concat([header, ...records]);
    };
    const file = version1([1, 2, 3]);
    file.fill(0, walHeaderBytes + 21, walHeaderBytes + 42);
    await writeFile(path, file);
    const error = await rejectsWith(Wal.open(path), "data_loss");
    expect(error.message).toContain(`corrupt WAL record at byte offset ${walHeaderBytes + 21}`);
    expect(error.message).toContain(`a valid record follows at byte offset ${walHeaderBytes + 42}, so this is not a torn tail`);

    await writeFile(path, version1([1, 2, 3]));
    const { wal, records } = await Wal.open(path);
    expect(records.map((r) => r.sequence)).toEqual([1, 2, 3]);
    expect((await readFile(path)).readUInt32LE(8)).toBe(walFormatVersion);
    expect(await wal.append(1, pattern(2))).toBe(4);
    await wal.close();
    expect((await Wal.open(path)).records.map((r) => r.sequence)).toEqual([1, 2, 3, 4]);
  });

  it("reports DATA_LOSS when sequences do not increase", async () => {
    const path = await walPath();
    await writeRecords(path, 4);
    const bytes = await readFile(path);
    const at = offsetOf(2);
    const length = bytes.readUInt32LE(at);
    bytes.writeUInt32LE(1, at + 4); // sequence 3 → 1, with a valid CRC
    bytes.writeUInt32LE(crc32(bytes.subarray(at, at + recordHeaderBytes + length)), at + recordHeaderBytes + length);
    await writeFile(path, bytes);
    const error = await rejectsWith(Wal.open(path), "data_loss");
    expect(error.message).toContain(`byte offset ${at} (sequence 1, expected above the previous record's 2)`);
  });

  it("reports DATA_LOSS for a damaged or foreign header", async () => {
    const path = await walPath();
    await writeRecords(path, 2);
    await flipByte(path, 13);
    expect((await rejectsWith(Wal.open(path), "data_loss")).message).toContain("header at byte offset 0 fails its CRC");
    await writeFile(path, "hello, this is not a WAL at all");
    expect((await rejectsWith(Wal.open(path), "data_loss")).message).toContain("not a WAL file");
    await writeFile(path, "");
    await rejectsWith(Wal.open(path), "data_loss");
  });

  it("recovers a multi-megabyte torn tail quickly", async () => {
    const path = await walPath();
    const { wal } = await Wal.open(path);
    await wal.append(1, pattern(100));
    const big = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    await wal.append(1, big);
    await wal.close();
    await truncate(path, (await stat(path)).size - 1000);
    const started = performance.now();
    const { wal: again, records } = await Wal.open(path);
    expect(records.map((r) => r.sequence)).toEqual([1]);
    expect(performance.now() - started).toBeLessThan(5000);
    await again.close();
  });

  it("truncateUpTo keeps only later records, continues sequences and survives reopen", async () => {
    const path = await walPath();
    const { wal } = await Wal.open(path);
    for (let i = 0; i < 10; i++) await wal.append(1, pattern(20, i));
    const sizeBefore = wal.sizeBytes;
    expect(await wal.truncateUpTo(6)).toBe(6);
    expect(wal.recordCount).toBe(4);
    // Records 1–6 go, with the durability marks in front of records 2–7 (the cut copies from record 7).
    expect(wal.sizeBytes).toBe(sizeBefore - 6 * (recordOverheadBytes + 20) - 6 * recordOverheadBytes);
    expect((await stat(path)).size).toBe(wal.sizeBytes);
    expect(await wal.append(2, pattern(5))).toBe(11);
    expect(await wal.truncateUpTo(3)).toBe(0);
    await wal.close();

    const again = await Wal.open(path);
    expect(again.records.map((r) => r.sequence)).toEqual([7, 8, 9, 10, 11]);
    expect(Array.from(again.records[0]!.body)).toEqual(Array.from(pattern(20, 6)));
    expect(again.records[0]!.offset).toBe(walHeaderBytes);
    expect(await again.wal.truncateUpTo(again.wal.lastSequence)).toBe(5);
    expect(again.wal.sizeBytes).toBe(walHeaderBytes);
    await again.wal.close();

    // An emptied log remembers where sequences continue.
    const emptied = await Wal.open(path);
    expect(emptied.records).toEqual([]);
    expect(emptied.wal.nextSequence).toBe(12);
    expect(await emptied.wal.append(1, pattern(1))).toBe(12);
    await emptied.wal.close();
    expect((await readdir(join(path, ".."))).sort()).toEqual(["wal.log"]);
  });

  it("truncateUpTo is serialised with appends that continue during the cut", async () => {
    const path = await walPath();
    const { wal } = await Wal.open(path);
    for (let i = 0; i < 20; i++) await wal.append(1, pattern(50, i));
    const racing = Array.from({ length: 30 }, (_, i) => wal.append(3, pattern(40, i)));
    const cut = wal.truncateUpTo(15);
    const later = Array.from({ length: 30 }, (_, i) => wal.append(4, pattern(30, i)));
    expect(await cut).toBe(15);
    const sequences = await Promise.all([...racing, ...later]);
    expect(sequences).toEqual(Array.from({ length: 60 }, (_, i) => 21 + i));
    await wal.close();
    const again = await Wal.open(path);
    expect(again.records.map((r) => r.sequence)).toEqual(Array.from({ length: 65 }, (_, i) => 16 + i));
    expect(again.records.at(-1)!.type).toBe(4);
    await again.wal.close();
  });

  it("refuses to cut above the last written record", async () => {
    const { wal } = await Wal.open(await walPath());
    await wal.append(1, pattern(3));
    await rejectsWith(wal.truncateUpTo(2), "failed_precondition");
    await rejectsWith(wal.truncateUpTo(-1), "invalid_argument");
    await wal.close();
  });

  it("rejects a body above recordBytesMax naming the limit, and a bad type", async () => {
    const { wal } = await Wal.open(await walPath(), { recordBytesMax: 1000 });
    const error = await rejectsWith(wal.append(1, new Uint8Array(1001)), "invalid_argument");
    expect(error.message).toContain("recordBytesMax = 1000");
    await rejectsWith(wal.append(256, new Uint8Array(1)), "invalid_argument");
    await rejectsWith(wal.append(1.5, new Uint8Array(1)), "invalid_argument");
    expect(await wal.append(1, new Uint8Array(1000))).toBe(1);
    await wal.close();
    await rejectsWith(Wal.open(join(await tempDir(), "w"), { recordBytesMax: 0 }), "invalid_argument");
  });

  it("reads back records larger than a later, lower recordBytesMax", async () => {
    const path = await walPath();
    await writeRecords(path, 3, { recordBytesMax: 100 });
    const { wal, records } = await Wal.open(path, { recordBytesMax: 5 });
    expect(records).toHaveLength(3);
    await wal.close();
  });

  it("under 'interval' acknowledges after the write and fsyncs in the background", async () => {
    const path = await walPath();
    const { wal } = await Wal.open(path, { durability: "interval", flushIntervalMs: 5 });
    expect(await wal.append(1, pattern(10))).toBe(1);
    expect(await wal.append(1, pattern(10))).toBe(2);
    expect((await stat(path)).size).toBe(wal.sizeBytes);
    const deadline = Date.now() + 5000;
    while (wal.stats.fsyncs === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(wal.stats.fsyncs).toBeGreaterThanOrEqual(1);
    await wal.close();
    const again = await Wal.open(path);
    expect(again.records).toHaveLength(2);
    await again.wal.close();
  });

  it("under 'os' never fsyncs on its own, but does on sync() and close()", async () => {
    const path = await walPath();
    const { wal } = await Wal.open(path, { durability: "os" });
    await Promise.all(Array.from({ length: 20 }, (_, i) => wal.append(1, pattern(10, i))));
    expect(wal.stats.fsyncs).toBe(0);
    await wal.sync();
    expect(wal.stats.fsyncs).toBe(1);
    await wal.append(1, pattern(1));
    await wal.close();
    expect(wal.stats.fsyncs).toBe(2);
    const again = await Wal.open(path);
    expect(again.records).toHaveLength(21);
    await again.wal.close();
  });

  it("rejects appends after close, and close is idempotent", async () => {
    const { wal } = await Wal.open(await walPath());
    const inFlight = wal.append(1, pattern(4));
    const closed = wal.close();
    expect(await inFlight).toBe(1);
    await closed;
    await wal.close();
    await rejectsWith(wal.append(1, pattern(1)), "unavailable");
  });

  it("rejects a failed write without acknowledging it, rolls the file back, and stays usable", async () => {
    const path = await walPath();
    const { wal } = await Wal.open(path);
    await wal.append(1, pattern(10));
    const handle = (wal as unknown as { handle: { write: unknown } }).handle;
    const original = handle.write;
    handle.write = () => Promise.reject(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }));
    const error = await rejectsWith(wal.append(1, pattern(10)), "unavailable");
    expect(error.message).toContain("ENOSPC");
    handle.write = original;
    expect(wal.sizeBytes).toBe(walHeaderBytes + recordOverheadBytes + 10);
    expect(await wal.append(2, pattern(10))).toBe(3);
    await wal.close();
    const again = await Wal.open(path);
    expect(again.records.map((r) => [r.sequence, r.type])).toEqual([
      [1, 1],
      [3, 2],
    ]);
    await again.wal.close();
  });

  it("refuses every append after a failed fsync until reopened", async () => {
    const path = await walPath();
    const { wal } = await Wal.open(path);
    await wal.append(1, pattern(10));
    const handle = (wal as unknown as { handle: { datasync: unknown } }).handle;
    handle.datasync = () => Promise.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    await rejectsWith(wal.append(1, pattern(10)), "unavailable");
    const error = await rejectsWith(wal.append(1, pattern(10)), "unavailable");
    expect(error.message).toContain("reopen");
    await rejectsWith(wal.close(), "unavailable");
    const again = await Wal.open(path);
    expect(again.records.map((r) => r.sequence)).toEqual([1, 2]);
    await again.wal.close();
  });

  it("removes its stale temporaries on open and honours minNextSequence", async () => {
    const dir = await tempDir();
    const path = join(dir, "wal.log");
    await writeFile(`${path}.tmp-0123456789abcdef`, "half a cut");
    await writeFile(join(dir, "segment.tmp-00ff"), "someone else's");
    const { wal } = await Wal.open(path, { minNextSequence: 42 });
    expect((await readdir(dir)).sort()).toEqual(["segment.tmp-00ff", "wal.log"]);
    expect(await wal.append(1, pattern(1))).toBe(42);
    await wal.close();
    const again = await Wal.open(path, { minNextSequence: 10 });
    expect(again.wal.nextSequence).toBe(43);
    await again.wal.close();
  });
});
