import { createReadStream, readFileSync } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { endianness } from "node:os";
import { createInterface } from "node:readline";
import type { JsonObject } from "@bufbuild/protobuf";

/**
 * Readers of the vector files the command line ingests and searches with, and that the tests and
 * benchmarks load datasets from.
 *
 * `.fvecs` (TEXMEX, http://corpus-texmex.irisa.fr/): a sequence of records, each
 *
 * | bytes | field                                   |
 * |-------|-----------------------------------------|
 * | 4     | `d`: int32 little-endian, the dimension |
 * | 4·d   | `d` float32 little-endian components    |
 *
 * Every record of a file has the same `d`, so the file size is a multiple of the record size `4 + 4·d`.
 * A record's id is its 0-based index, as a decimal string.
 *
 * `.jsonl` / `.ndjson`: one JSON object per line, `{"id": "a", "vector": [0.1, 0.2], "payload": {...}}`;
 * `payload` is optional; blank lines are skipped. Every vector has the same number of components.
 *
 * Every reader validates before it hands data on, and its errors name the file and the record index
 * or 1-based line number.
 */

/** The layout of an `.fvecs` file, from its first record header and its size. */
export interface FvecsLayout {
  /** Components per vector. */
  dimension: number;
  /** Number of records (vectors). */
  count: number;
  /** Bytes per record: 4 + 4·dimension. */
  recordBytes: number;
  /** Size of the file in bytes: count · recordBytes. */
  fileBytes: number;
}

/** A whole `.fvecs` file in memory: the vectors without their headers, row after row. */
export interface FvecsData {
  /** Components per vector. */
  dimension: number;
  /** Number of vectors. */
  count: number;
  /** `count · dimension` components; vector `i` is `data.subarray(i·dimension, (i+1)·dimension)`. */
  data: Float32Array;
}

/** One vector of an `.fvecs` file. */
export interface FvecsRecord {
  /** 0-based record index; the point id is `String(index)`. */
  index: number;
  /** The components (a fresh array, owned by the caller). */
  vector: Float32Array;
}

/** One point read from a JSON-lines file. */
export interface JsonlRecord {
  /** 1-based line number in the file. */
  line: number;
  id: string;
  /** The components, every one a finite number. */
  vector: number[];
  /** The payload object, when the line has one. */
  payload?: JsonObject;
  /** Bytes of the file read so far (read-ahead included, so at most one buffer ahead of `line`); for progress. */
  bytesRead: number;
}

/** Options of {@link streamFvecsRecords}. */
export interface FvecsStreamOptions {
  /** Largest read, in bytes; rounded down to whole records (at least one). Default 4 MiB. */
  chunkBytesMax?: number;
}

const fvecsChunkBytesDefault = 4 * 1024 * 1024;
const littleEndianHost = endianness() === "LE";
const jsonlKeys = new Set(["id", "vector", "payload"]);

/**
 * The layout implied by the first record's dimension and the file size.
 *
 * @throws Error for an empty file, a dimension below 1, a first record longer than the file, or a size
 * that is not a multiple of the record size.
 */
function fvecsLayout(path: string, fileBytes: number, firstDimension: number): FvecsLayout {
  if (fileBytes === 0) throw new Error(`${path}: empty file (no fvecs records)`);
  if (fileBytes < 4) throw new Error(`${path}: ${fileBytes} bytes is too short for an fvecs record header (4 bytes)`);
  if (!Number.isInteger(firstDimension) || firstDimension < 1) {
    throw new Error(`${path}: record 0 declares dimension ${firstDimension}; an fvecs dimension is at least 1`);
  }
  const recordBytes = 4 + 4 * firstDimension;
  if (recordBytes > fileBytes) {
    throw new Error(`${path}: record 0 declares dimension ${firstDimension} (${recordBytes} bytes per record) but the file has ${fileBytes} bytes`);
  }
  if (fileBytes % recordBytes !== 0) {
    const complete = Math.floor(fileBytes / recordBytes);
    throw new Error(
      `${path}: file size ${fileBytes} bytes is not a multiple of the record size ${recordBytes} bytes (4 + 4 × ${firstDimension}): ` +
        `record ${complete} is truncated (${fileBytes - complete * recordBytes} bytes), or the dimension varies`,
    );
  }
  return { dimension: firstDimension, count: fileBytes / recordBytes, recordBytes, fileBytes };
}

/** Throws unless record `index`, whose header is at `offset` in `bytes`, declares `dimension`. */
function checkRecordDimension(path: string, bytes: Uint8Array, offset: number, index: number, dimension: number): void {
  const declared = new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getInt32(0, true);
  if (declared !== dimension) {
    throw new Error(`${path}: record ${index} declares dimension ${declared}, but record 0 declares ${dimension}`);
  }
}

/** Copies `count` little-endian float32 values from `bytes` at byte `offset` into `target` at `targetIndex`. */
function copyFloat32LE(bytes: Uint8Array, offset: number, target: Float32Array, targetIndex: number, count: number): void {
  const start = bytes.byteOffset + offset;
  if (littleEndianHost && start % 4 === 0) {
    target.set(new Float32Array(bytes.buffer, start, count), targetIndex);
    return;
  }
  const view = new DataView(bytes.buffer, start, 4 * count);
  for (let i = 0; i < count; i++) target[targetIndex + i] = view.getFloat32(4 * i, true);
}

/** Reads exactly `length` bytes at `position` unless the file ends first; returns the bytes read. */
async function readFully(handle: FileHandle, buffer: Uint8Array, length: number, position: number): Promise<number> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

async function readLayout(path: string, handle: FileHandle): Promise<FvecsLayout> {
  const { size } = await handle.stat();
  const header = new Uint8Array(4);
  const read = size >= 4 ? await readFully(handle, header, 4, 0) : 0;
  const firstDimension = read === 4 ? new DataView(header.buffer).getInt32(0, true) : 0;
  return fvecsLayout(path, size, firstDimension);
}

/**
 * The dimension and record count of an `.fvecs` file, from its first header and its size, without
 * reading the vectors.
 *
 * @throws Error as {@link readFvecsFile} does for the layout (empty, bad dimension, size not a multiple).
 */
export async function inspectFvecsFile(path: string): Promise<FvecsLayout> {
  const handle = await open(path, "r");
  try {
    return await readLayout(path, handle);
  } finally {
    await handle.close();
  }
}

/**
 * Reads a whole `.fvecs` file into memory (for tests and benchmarks; ingest streams instead).
 *
 * @throws Error naming the file for an empty file, a dimension below 1, a size that is not a multiple
 * of the record size, or a record whose dimension differs from record 0's (naming its index).
 */
export function readFvecsFile(path: string): FvecsData {
  const bytes = readFileSync(path);
  const firstDimension = bytes.byteLength >= 4 ? bytes.readInt32LE(0) : 0;
  const { dimension, count, recordBytes } = fvecsLayout(path, bytes.byteLength, firstDimension);
  const data = new Float32Array(count * dimension);
  for (let index = 0; index < count; index++) {
    const offset = index * recordBytes;
    checkRecordDimension(path, bytes, offset, index, dimension);
    copyFloat32LE(bytes, offset + 4, data, index * dimension, dimension);
  }
  return { dimension, count, data };
}

/**
 * Reads one vector (record `row`, 0-based) of an `.fvecs` file with a single positional read.
 *
 * @throws Error for a bad layout (see {@link readFvecsFile}), a row outside 0..count-1, or a record whose
 * dimension differs from record 0's.
 */
export async function readFvecsRow(path: string, row: number): Promise<Float32Array> {
  const handle = await open(path, "r");
  try {
    const { dimension, count, recordBytes } = await readLayout(path, handle);
    if (!Number.isInteger(row) || row < 0 || row >= count) {
      throw new Error(`${path}: row ${row} is outside 0..${count - 1} (the file has ${count} records)`);
    }
    const bytes = new Uint8Array(recordBytes);
    await readFully(handle, bytes, recordBytes, row * recordBytes);
    checkRecordDimension(path, bytes, 0, row, dimension);
    const vector = new Float32Array(dimension);
    copyFloat32LE(bytes, 4, vector, 0, dimension);
    return vector;
  } finally {
    await handle.close();
  }
}

/**
 * Streams the vectors of an `.fvecs` file in order, reading whole records in chunks of at most
 * `chunkBytesMax` bytes (default 4 MiB), so memory stays bounded whatever the file size. The layout is
 * checked before the first record is yielded; each record's header is checked as it is read. Stopping
 * the iteration early closes the file.
 *
 * @throws Error (from the iteration) for a bad layout (see {@link readFvecsFile}), a record whose
 * dimension differs from record 0's (naming its index), or a file that shrinks while being read.
 */
export async function* streamFvecsRecords(path: string, options: FvecsStreamOptions = {}): AsyncGenerator<FvecsRecord> {
  const handle = await open(path, "r");
  try {
    const { dimension, count, recordBytes } = await readLayout(path, handle);
    const recordsPerChunk = Math.max(1, Math.floor((options.chunkBytesMax ?? fvecsChunkBytesDefault) / recordBytes));
    // allocUnsafeSlow: not from the shared pool, so offset 0 and 4-byte aligned for Float32Array views.
    const chunk = Buffer.allocUnsafeSlow(Math.min(recordsPerChunk, count) * recordBytes);
    for (let first = 0; first < count; first += recordsPerChunk) {
      const records = Math.min(recordsPerChunk, count - first);
      const wanted = records * recordBytes;
      const read = await readFully(handle, chunk, wanted, first * recordBytes);
      if (read !== wanted) {
        throw new Error(`${path}: file ended at byte ${first * recordBytes + read} inside record ${first + Math.floor(read / recordBytes)} (changed while reading?)`);
      }
      for (let i = 0; i < records; i++) {
        const index = first + i;
        checkRecordDimension(path, chunk, i * recordBytes, index, dimension);
        const vector = new Float32Array(dimension);
        copyFloat32LE(chunk, i * recordBytes + 4, vector, 0, dimension);
        yield { index, vector };
      }
    }
  } finally {
    await handle.close();
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Streams the points of a JSON-lines file (`.jsonl` / `.ndjson`) line by line with `readline`, so
 * memory stays bounded by the longest line. Blank lines are skipped. Stopping the iteration early
 * closes the file.
 *
 * @throws Error (from the iteration) naming the file and the 1-based line for invalid JSON, a line that
 * is not an object, an unknown key, an `id` that is not a non-empty string, a `vector` that is not a
 * non-empty array of finite numbers or whose length differs from the first point's, or a `payload`
 * that is not an object.
 */
export async function* streamJsonlRecords(path: string): AsyncGenerator<JsonlRecord> {
  const input = createReadStream(path);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  let dimension: number | undefined;
  let dimensionLine = 0;
  try {
    for await (const text of lines) {
      line++;
      if (text.trim() === "") continue;
      const where = `${path}:${line}`;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw new Error(`${where}: invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (!isPlainObject(value)) throw new Error(`${where}: expected a JSON object {"id", "vector", "payload"}, got ${Array.isArray(value) ? "an array" : JSON.stringify(value)}`);
      for (const key of Object.keys(value)) {
        if (!jsonlKeys.has(key)) throw new Error(`${where}: unknown key "${key}" (expected "id", "vector" and optionally "payload")`);
      }
      const { id, vector, payload } = value;
      if (typeof id !== "string" || id === "") throw new Error(`${where}: "id" must be a non-empty string, got ${JSON.stringify(id)}`);
      if (!Array.isArray(vector) || vector.length === 0) throw new Error(`${where}: "vector" must be a non-empty array of numbers`);
      for (let i = 0; i < vector.length; i++) {
        const component: unknown = vector[i];
        if (typeof component !== "number" || !Number.isFinite(component)) {
          throw new Error(`${where}: "vector"[${i}] is ${JSON.stringify(component)}, not a finite number`);
        }
      }
      if (dimension === undefined) {
        dimension = vector.length;
        dimensionLine = line;
      } else if (vector.length !== dimension) {
        throw new Error(`${where}: "vector" has ${vector.length} components, but the vector on line ${dimensionLine} has ${dimension}`);
      }
      if (payload !== undefined && !isPlainObject(payload)) throw new Error(`${where}: "payload" must be a JSON object`);
      const record: JsonlRecord = { line, id, vector: vector as number[], bytesRead: input.bytesRead };
      if (payload !== undefined) record.payload = payload as JsonObject;
      yield record;
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/** Vector file formats, by file name extension. */
export type VectorFileFormat = "fvecs" | "jsonl";

/**
 * The format of a vector file from its extension: `.fvecs` or `.jsonl` / `.ndjson` (case-insensitive).
 *
 * @throws Error for any other extension.
 */
export function vectorFileFormat(path: string): VectorFileFormat {
  const lower = path.toLowerCase();
  if (lower.endsWith(".fvecs")) return "fvecs";
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  throw new Error(`${path}: unknown file format; expected a .fvecs, .jsonl or .ndjson file`);
}

/** Size of a file in bytes. */
export async function fileBytes(path: string): Promise<number> {
  return (await stat(path)).size;
}
