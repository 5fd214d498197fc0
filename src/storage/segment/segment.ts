/**
 * The segment file: an immutable snapshot made of named opaque sections, each with its own CRC,
 * written atomically and read back whole. What the sections hold (ids, vectors, payloads, tombstones,
 * graph) is the caller's business; this module knows kinds (u32 numbers) and bytes.
 *
 * All integers are little-endian; CRCs are CRC-32 (IEEE, as `zlib.crc32`). Layout:
 *
 * | offset      | size   | field                                                                      |
 * |------------:|-------:|----------------------------------------------------------------------------|
 * |           0 |      8 | magic, ASCII `VDBSEG01`                                                    |
 * |           8 |      4 | u32 format version, 1                                                      |
 * |          12 |      4 | u32 section count N                                                        |
 * |          16 |      8 | u64 sequence: the last WAL sequence whose effect the segment contains      |
 * |          24 |      4 | u32 reserved, written 0, ignored on read                                   |
 * |          28 |      4 | u32 header CRC-32 of bytes 0–27 followed by the whole section table        |
 * |          32 | 24 × N | section table, one entry per section, in file order:                       |
 * |             |        |   u32 kind · u64 offset · u64 length (bytes) · u32 CRC-32 of the section   |
 * | 32 + 24 × N |      … | sections, each at an offset that is a multiple of 8, zero padding between  |
 *
 * The file ends exactly at the end of the last section (at the end of the table if N = 0). Padding
 * bytes must be zero; they are checked on read.
 *
 * Alignment: {@link readSegment} reads the file into one buffer of its own (byte offset 0 in its
 * ArrayBuffer), and every section starts at a multiple of 8 in the file, so every section is a view
 * whose `byteOffset` is a multiple of 8: `new Float32Array(s.buffer, s.byteOffset, s.byteLength / 4)`
 * (or Uint32Array, Float64Array, BigUint64Array) views it without copying, provided the length is a
 * multiple of the element size. The caller encodes numbers little-endian (the byte order of every
 * platform Node runs on).
 */
import { constants as bufferConstants } from "node:buffer";
import { crc32 } from "node:zlib";
import { VectorDbError } from "../../errors.js";
import type { FileSystem, StorageFile } from "../file-system.js";
import { ioError, readWholeFile, writeFileAtomic } from "../files.js";

/** The segment magic, ASCII. */
export const segmentMagic = "VDBSEG01";
/** The format version this build reads and writes. */
export const segmentFormatVersion = 1;
/** Bytes of the fixed header. */
export const segmentHeaderBytes = 32;
/** Bytes of one section table entry. */
export const segmentSectionEntryBytes = 24;
/** Every section starts at a multiple of this many bytes. */
export const segmentSectionAlignmentBytes = 8;

const twoTo32 = 0x1_0000_0000;
const zeros = new Uint8Array(segmentSectionAlignmentBytes);

/** One section to write. */
export interface SegmentSectionInput {
  /** The caller's section kind, an integer 0 – 2^32 − 1, unique within the segment. */
  kind: number;
  /** The bytes, one buffer or chunks to concatenate (written by reference, not copied). */
  bytes: Uint8Array | readonly Uint8Array[];
}

/** What a segment holds, as given to {@link writeSegment}. */
export interface SegmentContents {
  /** The last WAL sequence whose effect the segment contains, an integer 0 – 2^53 − 1. */
  sequence: number;
  /** The sections, written in this order. */
  sections: readonly SegmentSectionInput[];
}

/** How {@link decodeSegment} and {@link readSegment} word their errors. */
export interface SegmentReadOptions {
  /** Names the file in messages instead of its path (e.g. `snapshot` for an uploaded file). */
  label?: string;
  /** The caller's name of a section kind (e.g. `vectors`), added to messages that name a section. */
  kindName?: (kind: number) => string | undefined;
  /**
   * A buffer to read the file into, reused from one read to the next (replaced by a larger one when
   * the file does not fit). The segment's sections are views into it, so they are valid only until
   * the next read with the same scratch. Saves allocating, and the kernel zero-filling, a fresh
   * buffer of the file's size per file.
   */
  scratch?: { buffer: Buffer };
}

/** A segment as read by {@link readSegment}. */
export interface Segment {
  /** The last WAL sequence whose effect the segment contains. */
  sequence: number;
  /** Sections by kind, in file order. Each is a view into one buffer, at a byte offset multiple of 8. */
  sections: Map<number, Uint8Array>;
  /** Size of the file in bytes. */
  sizeBytes: number;
}

function alignUp(value: number): number {
  return Math.ceil(value / segmentSectionAlignmentBytes) * segmentSectionAlignmentBytes;
}

function writeU64(buffer: Buffer, value: number, offset: number): void {
  buffer.writeUInt32LE(value % twoTo32, offset);
  buffer.writeUInt32LE(Math.floor(value / twoTo32), offset + 4);
}

/** A u64 as a number, or -1 if it is 2^53 or more. */
function readU64(buffer: Buffer, offset: number): number {
  const high = buffer.readUInt32LE(offset + 4);
  return high >= 0x20_0000 ? -1 : high * twoTo32 + buffer.readUInt32LE(offset);
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

/**
 * Encodes a segment into the chunks of its file (header and table, then padding and section
 * chunks, by reference). No I/O.
 *
 * @returns the chunks and the file size in bytes.
 * @throws VectorDbError `invalid_argument` (INVALID_ARGUMENT) for a bad sequence or kind, or a kind
 *   given twice.
 */
export function encodeSegment(contents: SegmentContents): { chunks: Uint8Array[]; sizeBytes: number } {
  const { sequence, sections } = contents;
  if (!Number.isSafeInteger(sequence) || sequence < 0) {
    throw new VectorDbError("invalid_argument", `segment sequence must be an integer from 0 to 2^53 - 1, got ${sequence}`);
  }
  if (sections.length > 0xffff_ffff) throw new VectorDbError("invalid_argument", `a segment holds at most 2^32 - 1 sections`);
  const tableEnd = segmentHeaderBytes + segmentSectionEntryBytes * sections.length;
  const head = Buffer.alloc(tableEnd);
  head.write(segmentMagic, 0, "latin1");
  head.writeUInt32LE(segmentFormatVersion, 8);
  head.writeUInt32LE(sections.length, 12);
  writeU64(head, sequence, 16);
  const chunks: Uint8Array[] = [head];
  const seen = new Set<number>();
  let end = tableEnd;
  sections.forEach((section, i) => {
    const { kind } = section;
    if (!Number.isInteger(kind) || kind < 0 || kind > 0xffff_ffff) {
      throw new VectorDbError("invalid_argument", `segment section kind must be an integer from 0 to 2^32 - 1, got ${kind}`);
    }
    if (seen.has(kind)) throw new VectorDbError("invalid_argument", `segment section kind ${kind} is given twice`);
    seen.add(kind);
    const parts: readonly Uint8Array[] = section.bytes instanceof Uint8Array ? [section.bytes] : section.bytes;
    const offset = alignUp(end);
    if (offset > end) chunks.push(zeros.subarray(0, offset - end));
    let length = 0;
    let crc = 0;
    for (const part of parts) {
      length += part.byteLength;
      crc = crc32(part, crc);
      chunks.push(part);
    }
    const entry = segmentHeaderBytes + segmentSectionEntryBytes * i;
    head.writeUInt32LE(kind, entry);
    writeU64(head, offset, entry + 4);
    writeU64(head, length, entry + 12);
    head.writeUInt32LE(crc, entry + 20);
    end = offset + length;
  });
  let headerCrc = crc32(head.subarray(0, 28));
  headerCrc = crc32(head.subarray(segmentHeaderBytes, tableEnd), headerCrc);
  head.writeUInt32LE(headerCrc, 28);
  return { chunks, sizeBytes: end };
}

/**
 * Writes a segment file atomically and durably: temporary name, fsync, rename over `path`, fsync the
 * directory (see `writeFileAtomic`). A crash leaves the previous segment or this one, never a mix.
 * Section buffers are written by reference: do not modify them until the promise settles.
 *
 * @returns the file size in bytes.
 * @throws VectorDbError `invalid_argument` (INVALID_ARGUMENT) for a bad sequence or kind, or a kind
 *   given twice; `not_found` (NOT_FOUND) if the directory does not exist; `unavailable`
 *   (UNAVAILABLE) on any other I/O error (ENOSPC, EIO, …), in which case the old file is untouched.
 */
export async function writeSegment(fs: FileSystem, path: string, contents: SegmentContents): Promise<{ sizeBytes: number }> {
  const { chunks } = encodeSegment(contents);
  const sizeBytes = await writeFileAtomic(fs, path, chunks);
  return { sizeBytes };
}

function dataLoss(path: string, message: string): VectorDbError {
  return new VectorDbError("data_loss", `${path}: ${message}`);
}

/**
 * Decodes and verifies a whole segment file held in `file`. Sections are views into `file` (aligned
 * as documented above if `file.byteOffset` is a multiple of 8). No I/O.
 *
 * @param path named in error messages (unless `options.label` is given).
 * @param options the label and section kind names used in error messages.
 * @throws VectorDbError `data_loss` (DATA_LOSS) naming the file and the byte offset when the file is
 *   truncated, the magic is wrong, the header (with the table) or any section fails its CRC, or the
 *   table is inconsistent (misaligned, overlapping or duplicate sections, trailing bytes);
 *   `failed_precondition` (FAILED_PRECONDITION) for an unknown format version.
 */
export function decodeSegment(file: Buffer, filePath: string, options: SegmentReadOptions = {}): Segment {
  const path = options.label ?? filePath;
  const size = file.length;
  if (size < segmentHeaderBytes) {
    throw dataLoss(path, `segment file is ${size} bytes, shorter than its ${segmentHeaderBytes}-byte header at offset 0 (truncated)`);
  }
  const magic = file.toString("latin1", 0, 8);
  if (magic !== segmentMagic) {
    throw dataLoss(path, `not a segment file: magic at offset 0 is ${JSON.stringify(magic)}, expected ${JSON.stringify(segmentMagic)}`);
  }
  const count = file.readUInt32LE(12);
  const tableEnd = segmentHeaderBytes + segmentSectionEntryBytes * count;
  if (tableEnd > size) {
    throw dataLoss(path, `segment header at offset 0 declares ${count} sections whose table ends at byte ${tableEnd}, past the end of the ${size}-byte file (truncated, or the header is corrupt)`);
  }
  const stored = file.readUInt32LE(28);
  const computed = crc32(file.subarray(segmentHeaderBytes, tableEnd), crc32(file.subarray(0, 28)));
  if (stored !== computed) {
    throw dataLoss(path, `segment header at offset 0 (with its section table, up to byte ${tableEnd}) fails its CRC (stored ${hex(stored)}, computed ${hex(computed)})`);
  }
  const version = file.readUInt32LE(8);
  if (version !== segmentFormatVersion) {
    throw new VectorDbError("failed_precondition", `${path}: segment format version ${version} is not supported (this build reads version ${segmentFormatVersion})`);
  }
  const sequence = readU64(file, 16);
  if (sequence < 0) throw dataLoss(path, `segment header at offset 0 holds a sequence of 2^53 or more`);

  const sections = new Map<number, Uint8Array>();
  let end = tableEnd;
  for (let i = 0; i < count; i++) {
    const entry = segmentHeaderBytes + segmentSectionEntryBytes * i;
    const kind = file.readUInt32LE(entry);
    const offset = readU64(file, entry + 4);
    const length = readU64(file, entry + 12);
    const sectionCrc = file.readUInt32LE(entry + 20);
    const name = options.kindName?.(kind);
    const where = `segment section ${kind}${name === undefined ? "" : ` (${name})`} at offset ${offset < 0 ? "≥ 2^53" : offset}`;
    if (offset < 0 || length < 0 || offset % segmentSectionAlignmentBytes !== 0 || offset < end || sections.has(kind)) {
      throw dataLoss(path, `${where} (table entry ${i} at byte ${entry}) is invalid: misaligned, overlapping, duplicate or out of range`);
    }
    if (offset + length > size) {
      throw dataLoss(path, `${where} runs to byte ${offset + length}, past the end of the ${size}-byte file (truncated)`);
    }
    for (let at = end; at < offset; at++) {
      if (file[at] !== 0) throw dataLoss(path, `padding byte at offset ${at} before ${where} is not zero`);
    }
    const bytes = file.subarray(offset, offset + length);
    const actual = crc32(bytes);
    if (actual !== sectionCrc) {
      throw dataLoss(path, `${where} fails its CRC (stored ${hex(sectionCrc)}, computed ${hex(actual)})`);
    }
    sections.set(kind, bytes);
    end = offset + length;
  }
  if (end !== size) {
    throw dataLoss(path, `segment file is ${size} bytes but its last section ends at byte ${end}: ${size - end} unexpected trailing bytes at offset ${end}`);
  }
  return { sequence, sections, sizeBytes: size };
}

/**
 * Reads a segment file whole into one buffer of its own and verifies every CRC (header, table and
 * each section). Sections are views into that buffer at byte offsets that are multiples of 8, so
 * typed-array views need no copy (see the module documentation).
 *
 * @throws VectorDbError `data_loss` (DATA_LOSS) naming the file and byte offset for a truncated or
 *   corrupt file (see {@link decodeSegment}); `failed_precondition` (FAILED_PRECONDITION) for an
 *   unknown format version; `not_found` (NOT_FOUND) if the file does not exist;
 *   `resource_exhausted` (RESOURCE_EXHAUSTED) if it is larger than one buffer can hold (4 GiB on
 *   Node 20); `unavailable` (UNAVAILABLE) on any other I/O error.
 */
export async function readSegment(fs: FileSystem, path: string, options: SegmentReadOptions = {}): Promise<Segment> {
  let handle: StorageFile | undefined;
  let file: Buffer;
  try {
    handle = await fs.open(path, "r");
    const size = await handle.size();
    if (size > bufferConstants.MAX_LENGTH) {
      throw new VectorDbError("resource_exhausted", `${path}: segment file is ${size} bytes, more than the ${bufferConstants.MAX_LENGTH} bytes one buffer can hold`);
    }
    const scratch = options.scratch;
    if (scratch !== undefined && scratch.buffer.length < size) scratch.buffer = Buffer.allocUnsafeSlow(size);
    file = await readWholeFile(handle, size, scratch?.buffer);
  } catch (error) {
    throw ioError(path, "reading the segment", error);
  } finally {
    await handle?.close().catch(() => undefined);
  }
  return decodeSegment(file, path, options);
}
