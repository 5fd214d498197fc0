import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Helpers of the durability tests: temporary data directories and the on-disk formats read back
 * independently of the code under test (WAL records, the segment's section table).
 */

const made: string[] = [];

/** A new temporary directory, removed by {@link removeTempDirs}. */
export function tempDataDir(prefix = "vectordb-durability-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every directory made by {@link tempDataDir}. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The folder of collection `name` in a data directory. */
export function collectionDir(dataDir: string, name: string): string {
  return join(dataDir, "collections", name);
}

/** Inverts the byte at `offset` of a file. */
export function flipByte(path: string, offset: number): void {
  const bytes = readFileSync(path);
  if (offset >= bytes.length) throw new Error(`${path} has ${bytes.length} bytes, cannot flip byte ${offset}`);
  bytes[offset] = bytes[offset]! ^ 0xff;
  writeFileSync(path, bytes);
}

/** One WAL record as laid out in the file (format table in src/storage/wal/format.ts). */
export interface WalRecordLayout {
  offset: number;
  bodyLength: number;
  sequence: number;
  type: number;
}

/**
 * The frames of a WAL file, read with the documented layout: 24-byte header, then u32 length, u64
 * sequence, u8 type, body, u32 CRC. Type 0 frames are the WAL's durability marks (their "sequence"
 * is the sequence they say was fsynced).
 */
export function walFrames(path: string): WalRecordLayout[] {
  const bytes = readFileSync(path);
  const frames: WalRecordLayout[] = [];
  for (let at = 24; at + 17 <= bytes.length; ) {
    const bodyLength = bytes.readUInt32LE(at);
    frames.push({ offset: at, bodyLength, sequence: Number(bytes.readBigUInt64LE(at + 4)), type: bytes[at + 12]! });
    at += 17 + bodyLength;
  }
  return frames;
}

/** The records of a WAL file ({@link walFrames} without the durability marks). */
export function walRecords(path: string): WalRecordLayout[] {
  return walFrames(path).filter((frame) => frame.type !== 0);
}

/** One entry of a segment's section table (format table in src/storage/segment/segment.ts). */
export interface SectionLayout {
  kind: number;
  offset: number;
  length: number;
}

/** The section table of a segment file: 32-byte header, then per section u32 kind, u64 offset, u64 length, u32 CRC. */
export function segmentSections(path: string): SectionLayout[] {
  const bytes = readFileSync(path);
  const count = bytes.readUInt32LE(12);
  return Array.from({ length: count }, (_, i) => {
    const entry = 32 + 24 * i;
    return { kind: bytes.readUInt32LE(entry), offset: Number(bytes.readBigUInt64LE(entry + 4)), length: Number(bytes.readBigUInt64LE(entry + 12)) };
  });
}

/** The segment files (`segment-<id>-<sequence>.bin`) in a collection folder, sorted. */
export function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => /^segment-\d+-\d+\.bin$/.test(name))
    .sort();
}

/** The path of the one segment file `segments.json` lists in a collection folder (throws unless exactly one). */
export function segmentFile(dir: string): string {
  const manifest = JSON.parse(readFileSync(join(dir, "segments.json"), "utf8")) as { segments: { file: string }[] };
  if (manifest.segments.length !== 1) throw new Error(`${dir}: ${manifest.segments.length} segments listed, expected one`);
  return join(dir, manifest.segments[0]!.file);
}
