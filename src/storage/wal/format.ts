/**
 * The on-disk format of the write-ahead log, and the scan that recovers it. All integers are
 * little-endian; CRCs are CRC-32 (IEEE, as `zlib.crc32`).
 *
 * A WAL file is a 24-byte file header followed by records, back to back:
 *
 * | offset | size | field                                                                   |
 * |-------:|-----:|-------------------------------------------------------------------------|
 * |      0 |    8 | magic, ASCII `VDBWAL01`                                                 |
 * |      8 |    4 | u32 format version: 2 (this build writes it; it reads 1 and 2)         |
 * |     12 |    8 | u64 sequence floor: every record's sequence is at least this            |
 * |     20 |    4 | u32 CRC-32 of bytes 0–19                                                |
 *
 * One record (17 bytes of framing around the body):
 *
 * | offset   | size | field                                                                 |
 * |---------:|-----:|-----------------------------------------------------------------------|
 * |        0 |    4 | u32 body length L, in bytes                                           |
 * |        4 |    8 | u64 sequence, strictly increasing through the file                    |
 * |       12 |    1 | u8 record type, chosen by the caller (the WAL does not interpret it)  |
 * |       13 |    L | body, opaque bytes                                                    |
 * |   13 + L |    4 | u32 CRC-32 of bytes 0 … 12 + L (length, sequence, type and body)      |
 *
 * The header is only ever written whole, through an atomic rename, so a damaged header is corruption.
 * The floor lets an emptied log (after a cut) remember where sequences continue.
 *
 * **Durability marks** (version 2). Type 0 is the WAL's own: a frame of type 0 with an empty body
 * whose sequence field holds Q means "every record up to sequence Q was fsynced before this mark was
 * written". The WAL writes one at the head of the first batch after each fsync that made more records
 * durable (so under the `fsync` policy one per batch, under `interval` one per timer fsync). Marks are
 * not records: a scan does not return them, and their Q may repeat or stay below the records around
 * them (Q never exceeds the sequence of the record before the mark).
 *
 * Recovery ({@link scanWal}): records are read in order. A record is bad if fewer than 13 bytes
 * remain, its length runs past the end of the file, or its CRC does not match. What follows a bad
 * record decides what it is:
 * - nothing valid: a torn tail (a write cut short by a crash); the log ends there;
 * - a durability mark whose Q is above the last valid record before the bad one: that record was
 *   fsynced, so its bytes were on stable storage and are now damaged: corruption, DATA_LOSS, never
 *   skipped;
 * - valid records but no such mark (version 2): the tail written since the last fsync, whose pages
 *   the kernel wrote back out of order before the power was lost (a hole, often of zeros, then
 *   later writes). None of it was fsynced, so none of it was promised by the `fsync` policy (and
 *   the `interval` and `os` policies promise nothing about it): the log ends at the hole and the
 *   records after it are dropped (counted in {@link WalScan.torn}).
 * - valid records in a version-1 file (written before marks existed): corruption, as before.
 * A valid record whose sequence does not exceed the previous one is corruption too.
 */
import { crc32 } from "node:zlib";
import { VectorDbError } from "../../errors.js";

/** The file header's magic, ASCII. */
export const walMagic = "VDBWAL01";
/** The format version this build writes (it reads 1 and 2: version 1 files have no durability marks). */
export const walFormatVersion = 2;
/** The record type the WAL reserves for its durability marks; callers' types are 1–255. */
export const walMarkType = 0;
/** Bytes of the file header. */
export const walHeaderBytes = 24;
/** Bytes before a record's body: length, sequence, type. */
export const recordHeaderBytes = 13;
/** Bytes after a record's body: the CRC. */
export const recordTrailerBytes = 4;
/** Framing bytes per record. */
export const recordOverheadBytes = recordHeaderBytes + recordTrailerBytes;
/** Largest body the format can describe (u32 length). */
export const recordBodyBytesFormatMax = 0xffff_ffff;

const twoTo32 = 0x1_0000_0000;
/** Sequences are JavaScript numbers: at most 2^53 − 1. */
const sequenceHighWordLimit = 0x20_0000;

/** One record recovered from the log. */
export interface WalRecord {
  /** The record's sequence number, a positive integer below 2^53. */
  sequence: number;
  /** The record type the appender chose, 0–255. */
  type: number;
  /** The body: a view into the buffer the file was read into (not a copy). */
  body: Uint8Array;
  /** Byte offset of the record's first byte in the file at open time. */
  offset: number;
}

/** What {@link scanWal} found. */
export interface WalScan {
  /** The sequence floor from the header. */
  floor: number;
  /** The header's format version: 1 or 2 (only 2 has durability marks). */
  version: number;
  /** Valid records, in file order (ascending sequence). */
  records: WalRecord[];
  /** Byte offset just after the last valid record: where the log ends and appends continue. */
  end: number;
  /**
   * Set when bytes after `end` were a torn tail: its offset (= end), why the record there is bad, and
   * how many valid records followed the hole and were dropped with it (0 for a plain torn tail).
   */
  torn?: { offset: number; reason: string; droppedRecords: number };
  /** The highest sequence a durability mark in the file says was fsynced (floor − 1 when none). */
  markedThrough: number;
}

/** Reads a u64 written by {@link writeU64} as a number, or returns -1 if it is 2^53 or more. */
function readU64(buffer: Buffer, offset: number): number {
  const low = buffer.readUInt32LE(offset);
  const high = buffer.readUInt32LE(offset + 4);
  return high >= sequenceHighWordLimit ? -1 : high * twoTo32 + low;
}

/** Writes a non-negative safe integer as a little-endian u64. */
export function writeU64(buffer: Buffer, value: number, offset: number): void {
  buffer.writeUInt32LE(value % twoTo32, offset);
  buffer.writeUInt32LE(Math.floor(value / twoTo32), offset + 4);
}

/** The 24-byte file header (version {@link walFormatVersion}) for a log whose sequences start at `floor` or above. */
export function encodeWalHeader(floor: number): Buffer {
  const header = Buffer.alloc(walHeaderBytes);
  header.write(walMagic, 0, "latin1");
  header.writeUInt32LE(walFormatVersion, 8);
  writeU64(header, floor, 12);
  header.writeUInt32LE(crc32(header.subarray(0, 20)), 20);
  return header;
}

/** A 17-byte durability mark: every record up to sequence `durableThrough` was fsynced before it was written. */
export function encodeDurabilityMark(durableThrough: number): Buffer {
  const { header, trailer } = encodeRecordFraming(durableThrough, walMarkType, [], 0);
  return Buffer.concat([header, trailer]);
}

/**
 * The framing of one record: the 13-byte header and the 4-byte CRC trailer for a body made of
 * `chunks` (concatenated). The body itself is written from the caller's buffers.
 */
export function encodeRecordFraming(sequence: number, type: number, chunks: readonly Uint8Array[], bodyBytes: number): { header: Buffer; trailer: Buffer } {
  const header = Buffer.allocUnsafe(recordHeaderBytes);
  header.writeUInt32LE(bodyBytes, 0);
  writeU64(header, sequence, 4);
  header.writeUInt8(type, 12);
  let crc = crc32(header);
  for (const chunk of chunks) crc = crc32(chunk, crc);
  const trailer = Buffer.allocUnsafe(recordTrailerBytes);
  trailer.writeUInt32LE(crc, 0);
  return { header, trailer };
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

function dataLoss(path: string, message: string): VectorDbError {
  return new VectorDbError("data_loss", `${path}: ${message}`);
}

/**
 * Parses the file header.
 *
 * @throws VectorDbError `data_loss` (DATA_LOSS) if the file is shorter than the header, the magic is
 *   wrong or the header CRC fails; `failed_precondition` (FAILED_PRECONDITION) for an unknown version.
 */
export function decodeWalHeader(file: Buffer, path: string): { floor: number; version: number } {
  if (file.length < walHeaderBytes) {
    throw dataLoss(path, `WAL file is ${file.length} bytes, shorter than its ${walHeaderBytes}-byte header (the header is written atomically, so this is corruption)`);
  }
  const magic = file.toString("latin1", 0, 8);
  if (magic !== walMagic) throw dataLoss(path, `not a WAL file: magic at byte offset 0 is ${JSON.stringify(magic)}, expected ${JSON.stringify(walMagic)}`);
  const stored = file.readUInt32LE(20);
  const computed = crc32(file.subarray(0, 20));
  if (stored !== computed) throw dataLoss(path, `WAL header at byte offset 0 fails its CRC (stored ${hex(stored)}, computed ${hex(computed)})`);
  const version = file.readUInt32LE(8);
  if (version !== 1 && version !== walFormatVersion) {
    throw new VectorDbError("failed_precondition", `${path}: WAL format version ${version} is not supported (this build reads versions 1 and ${walFormatVersion})`);
  }
  const floor = readU64(file, 12);
  if (floor < 1) throw dataLoss(path, `WAL header at byte offset 0 has an invalid sequence floor`);
  return { floor, version };
}

type RecordCheck =
  | { ok: true; sequence: number; type: number; length: number }
  | { ok: false; reason: string };

/** Checks the framing and CRC of the record starting at `offset`. Does not check sequence order. */
function checkRecordAt(file: Buffer, offset: number): RecordCheck {
  const remaining = file.length - offset;
  if (remaining < recordHeaderBytes) return { ok: false, reason: `only ${remaining} bytes remain, a record header needs ${recordHeaderBytes}` };
  const length = file.readUInt32LE(offset);
  if (length > remaining - recordOverheadBytes) {
    return { ok: false, reason: `body length ${length} runs past the end of the file (${Math.max(0, remaining - recordOverheadBytes)} body bytes remain)` };
  }
  const end = offset + recordHeaderBytes + length;
  const stored = file.readUInt32LE(end);
  const computed = crc32(file.subarray(offset, end));
  if (stored !== computed) return { ok: false, reason: `CRC mismatch: stored ${hex(stored)}, computed ${hex(computed)}` };
  const sequence = readU64(file, offset + 4);
  return { ok: true, sequence, type: file[offset + 12]!, length };
}

/**
 * The offset of the first valid record starting after `from`, with a sequence above `previous`, or -1.
 * Scans byte by byte; a cheap filter (the length fits in the file and the sequence is within 2^32 above
 * `previous`) keeps CRC computations to rare candidates: a 32 MiB torn tail scans in about 0.1–0.3 s.
 */
function findValidRecordAfter(file: Buffer, from: number, previous: number): number {
  const last = file.length - recordOverheadBytes;
  // DataView reads are ~10× faster than Buffer#readUInt32LE in this loop (5–10 ns per byte).
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let offset = from; offset <= last; offset++) {
    const high = view.getUint32(offset + 8, true);
    if (high >= sequenceHighWordLimit) continue;
    const sequence = high * twoTo32 + view.getUint32(offset + 4, true);
    if (sequence <= previous || sequence - previous > twoTo32) continue;
    if (view.getUint32(offset, true) > last - offset) continue;
    const check = checkRecordAt(file, offset);
    if (check.ok) return offset;
  }
  return -1;
}

/** What follows a bad record in a version-2 file: a mark proving it was fsynced, or how many valid records (dropped). */
interface AfterHole {
  /** Offset and sequence of a durability mark whose Q is above `previous`, if one was found. */
  proof?: { offset: number; sequence: number };
  /** Valid records found after the hole (when there is no proof). */
  validRecords: number;
}

/**
 * Looks after `from` for a durability mark proving that the record after sequence `previous` was
 * fsynced, counting the valid records on the way. Scans byte by byte with the same cheap filter as
 * {@link findValidRecordAfter}; a valid record is skipped whole.
 */
function searchAfterHole(file: Buffer, from: number, previous: number): AfterHole {
  const last = file.length - recordOverheadBytes;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let validRecords = 0;
  for (let offset = from; offset <= last; offset++) {
    const high = view.getUint32(offset + 8, true);
    if (high >= sequenceHighWordLimit) continue;
    const sequence = high * twoTo32 + view.getUint32(offset + 4, true);
    if (sequence <= previous || sequence - previous > twoTo32) continue;
    const length = view.getUint32(offset, true);
    if (length > last - offset) continue;
    const check = checkRecordAt(file, offset);
    if (!check.ok) continue;
    if (check.type === walMarkType) {
      if (check.length === 0) return { proof: { offset, sequence }, validRecords };
      continue;
    }
    validRecords++;
    offset += recordOverheadBytes + check.length - 1;
  }
  return { validRecords };
}

/**
 * Scans a whole WAL file (header, records and durability marks) and decides where the log ends (see
 * the module documentation).
 *
 * @param file the whole file.
 * @param path named in error messages.
 * @returns the header's floor and version, the valid records (bodies are views into `file`; marks
 *   left out), the end of the last valid record, the highest sequence a mark says was fsynced, and,
 *   if the file continues past the end, the torn tail's offset, reason and dropped records. The
 *   caller truncates the file to `end`.
 * @throws VectorDbError `data_loss` (DATA_LOSS) naming the file and byte offset when a bad record is
 *   followed by proof that it was fsynced (version 2) or by any valid record (version 1), when
 *   sequences do not strictly increase (or fall below the floor), when a mark claims a sequence not
 *   yet written, or when the header is damaged; `failed_precondition` for an unknown format version.
 */
export function scanWal(file: Buffer, path: string): WalScan {
  const { floor, version } = decodeWalHeader(file, path);
  const records: WalRecord[] = [];
  let previous = floor - 1;
  let markedThrough = floor - 1;
  let offset = walHeaderBytes;
  while (offset < file.length) {
    const check = checkRecordAt(file, offset);
    if (!check.ok) return { floor, version, records, end: offset, markedThrough, torn: tornTail(file, path, version, offset, previous, check.reason) };
    if (version >= 2 && check.type === walMarkType) {
      if (check.length !== 0 || check.sequence < 0 || check.sequence > previous) {
        throw dataLoss(path, `corrupt WAL durability mark at byte offset ${offset} (it claims sequence ${check.sequence < 0 ? "≥ 2^53" : check.sequence} with a ${check.length}-byte body; the last record before it is ${previous})`);
      }
      markedThrough = Math.max(markedThrough, check.sequence);
      offset += recordOverheadBytes;
      continue;
    }
    if (check.sequence < 0 || check.sequence <= previous) {
      const shown = check.sequence < 0 ? "≥ 2^53" : String(check.sequence);
      const expected = records.length === 0 ? `at least the header's floor ${floor}` : `above the previous record's ${previous}`;
      throw dataLoss(path, `corrupt WAL record at byte offset ${offset} (sequence ${shown}, expected ${expected})`);
    }
    const bodyStart = offset + recordHeaderBytes;
    records.push({ sequence: check.sequence, type: check.type, body: file.subarray(bodyStart, bodyStart + check.length), offset });
    previous = check.sequence;
    offset = bodyStart + check.length + recordTrailerBytes;
  }
  return { floor, version, records, end: offset, markedThrough };
}

/**
 * Decides what the bad record at `offset` is (see the module documentation): returns the torn tail,
 * or throws DATA_LOSS when what follows proves it is corruption.
 */
function tornTail(file: Buffer, path: string, version: number, offset: number, previous: number, reason: string): { offset: number; reason: string; droppedRecords: number } {
  if (version < 2) {
    const next = findValidRecordAfter(file, offset + 1, previous);
    if (next >= 0) throw dataLoss(path, `corrupt WAL record at byte offset ${offset} (${reason}); a valid record follows at byte offset ${next}, so this is not a torn tail`);
    return { offset, reason, droppedRecords: 0 };
  }
  const after = searchAfterHole(file, offset + 1, previous);
  if (after.proof !== undefined) {
    throw dataLoss(
      path,
      `corrupt WAL record at byte offset ${offset} (${reason}); the durability mark at byte offset ${after.proof.offset} says every record up to sequence ${after.proof.sequence} was fsynced, and the last valid record before the damage is ${previous}, so this is not a torn tail`,
    );
  }
  return { offset, reason, droppedRecords: after.validRecords };
}
