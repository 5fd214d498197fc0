/**
 * The file operations of the WAL that are not appends: opening and scanning the file on recovery, and
 * writing a replacement file (for a cut, and for the rewrite on recovery). `wal.ts` keeps the state.
 */
import { constants as bufferConstants } from "node:buffer";
import { dirname } from "node:path";
import { VectorDbError } from "../../errors.js";
import { errorCode, type FileSystem, type StorageFile } from "../file-system.js";
import { ioError, readWholeFile, removeStaleTemporaries, temporaryPathFor, writeChunksAt, writeFileAtomic } from "../files.js";
import { encodeWalHeader, scanWal, walHeaderBytes, type WalScan } from "./format.js";

/** Bytes copied per read/write when a replacement file is written. */
const copyChunkBytes = 4 * 1024 * 1024;

/** What {@link openAndScan} found: the open file (read-write), the scan, the torn bytes cut off. */
export interface ScannedWal {
  handle: StorageFile;
  scan: WalScan;
  truncatedBytes: number;
}

/**
 * Deletes the log's stale temporaries, creates the file (atomically, with a header of floor
 * `floorIfNew`) if it does not exist, opens it read-write, reads it whole, scans it, and truncates a
 * torn tail (not fsynced: the caller makes the result durable). On failure the file is closed.
 *
 * @throws VectorDbError as `scanWal` (DATA_LOSS naming the file and offset, FAILED_PRECONDITION for
 *   an unknown version); `resource_exhausted` (RESOURCE_EXHAUSTED) for a file larger than one buffer
 *   (4 GiB); `unavailable` / `not_found` on I/O errors.
 */
export async function openAndScan(fs: FileSystem, path: string, floorIfNew: number): Promise<ScannedWal> {
  await removeStaleTemporaries(fs, dirname(path), { of: path });
  let exists = true;
  try {
    await fs.stat(path);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw ioError(path, "stat", error);
    exists = false;
  }
  if (!exists) await writeFileAtomic(fs, path, [encodeWalHeader(floorIfNew)]);

  let handle: StorageFile;
  try {
    handle = await fs.open(path, "r+");
  } catch (error) {
    throw ioError(path, "opening the WAL", error);
  }
  try {
    const size = await handle.size();
    if (size > bufferConstants.MAX_LENGTH) {
      throw new VectorDbError("resource_exhausted", `${path}: WAL file is ${size} bytes, more than the ${bufferConstants.MAX_LENGTH} bytes one buffer can hold`);
    }
    const file = await readWholeFile(handle, size);
    const scan = scanWal(file, path);
    let truncatedBytes = 0;
    if (scan.end < file.length) {
      truncatedBytes = file.length - scan.end;
      await handle.truncate(scan.end);
    }
    return { handle, scan, truncatedBytes };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw ioError(path, "recovering the WAL", error);
  }
}

/** What to copy into a replacement (see {@link writeReplacement}). */
export interface ReplacementPlan {
  /** First byte of the current file to copy (a record's offset, or the end). */
  copyFrom: number;
  /** End of the current file's valid bytes. */
  endBytes: number;
  /** The replacement's header floor. */
  newFloor: number;
  /** Named in errors, e.g. "WAL cut". */
  action: string;
}

/**
 * Writes a replacement of the WAL at `path`: a temporary holding a header with `newFloor` and the
 * bytes `copyFrom … endBytes` of `current` (records and durability marks: marks name sequences, not
 * offsets, so they stay true), fdatasynced, then renamed over `path`. The caller fsyncs the
 * directory. Before the rename `path` is untouched; on failure the temporary is removed.
 *
 * @returns the replacement, open read-write, and its size in bytes.
 * @throws VectorDbError `unavailable` (UNAVAILABLE) on an I/O error.
 */
export async function writeReplacement(fs: FileSystem, path: string, current: StorageFile, plan: ReplacementPlan): Promise<{ file: StorageFile; sizeBytes: number }> {
  const { copyFrom, endBytes, newFloor, action } = plan;
  const temporary = temporaryPathFor(fs, path);
  let replacement: StorageFile | undefined;
  let sizeBytes = walHeaderBytes;
  try {
    replacement = await fs.open(temporary, "wx+");
    await writeChunksAt(replacement, [encodeWalHeader(newFloor)], 0);
    const buffer = Buffer.allocUnsafe(Math.min(copyChunkBytes, Math.max(1, endBytes - copyFrom)));
    for (let at = copyFrom; at < endBytes; ) {
      const bytesRead = await current.read(buffer, 0, Math.min(buffer.length, endBytes - at), at);
      if (bytesRead === 0) throw new Error(`the WAL ended at byte ${at}, expected ${endBytes} bytes`);
      await writeChunksAt(replacement, [buffer.subarray(0, bytesRead)], sizeBytes);
      sizeBytes += bytesRead;
      at += bytesRead;
    }
    await replacement.datasync();
    await fs.rename(temporary, path);
    return { file: replacement, sizeBytes };
  } catch (error) {
    await replacement?.close().catch(() => undefined);
    await fs.unlink(temporary).catch(() => undefined);
    throw ioError(path, action, error);
  }
}
