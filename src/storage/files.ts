/**
 * File helpers of the storage layer: fsync of a file and of a directory, an atomic whole-file write
 * (temporary name, fsync, rename, directory fsync), cleanup of temporaries left by a crash, and a
 * positional write that finishes partial writes.
 *
 * Every failure is a {@link VectorDbError}: a missing file is `not_found` (gRPC NOT_FOUND), any other
 * I/O error (ENOSPC, EIO, EACCES, …) is `unavailable` (gRPC UNAVAILABLE), with the path, the action
 * and the operating system's message, and the original error as `cause`.
 *
 * Crash model: a rename is atomic, and after `fsync(file)` + `rename` + `fsync(directory)` the new
 * contents are on stable storage under the final name. Before the directory fsync completes, a crash
 * leaves either the old file or the new one under the final name, never a mix; a temporary may remain
 * and is removed by {@link removeStaleTemporaries} on the next open.
 */
import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { open, readdir, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type ErrorCode, VectorDbError } from "../errors.js";

/** The infix of temporary file names: `<final name>.tmp-<16 hex digits>`. */
export const temporaryInfix = ".tmp-";

/** Most buffers handed to one `writev` (Linux IOV_MAX is 1024). */
const iovecsPerWriteMax = 1024;

/**
 * Turns an error from `node:fs` into a {@link VectorDbError}: ENOENT → `missing` (`not_found` unless
 * the caller knows a missing file means something else), anything else → `unavailable`. A
 * {@link VectorDbError} passes through unchanged.
 *
 * @param path the file the action was on, named in the message.
 * @param action what was being done, e.g. `"fsync"`, named in the message.
 */
export function ioError(path: string, action: string, error: unknown, missing: ErrorCode = "not_found"): VectorDbError {
  if (error instanceof VectorDbError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  return new VectorDbError(code === "ENOENT" ? missing : "unavailable", `${path}: ${action} failed: ${detail}`, { cause: error });
}

/** A fresh temporary name next to `path`: `path + ".tmp-" + 16 random hex digits`. */
export function temporaryPathFor(path: string): string {
  return `${path}${temporaryInfix}${randomBytes(8).toString("hex")}`;
}

/** True if `name` (a file name, not a path) is a temporary made by {@link temporaryPathFor}. */
export function isTemporaryName(name: string): boolean {
  return /\.tmp-[0-9a-f]+$/.test(name);
}

/** Opens `path` read-only and fsyncs it; `action` names the step in the error. */
async function fsyncPath(path: string, action: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "r");
    await handle.sync();
  } catch (error) {
    throw ioError(path, action, error);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Flushes a file's data and metadata to stable storage (`fsync(2)`).
 *
 * @throws VectorDbError `not_found` (NOT_FOUND) if the file does not exist, `unavailable`
 *   (UNAVAILABLE) on any other I/O error.
 */
export function fsyncFile(path: string): Promise<void> {
  return fsyncPath(path, "fsync");
}

/**
 * Flushes a directory's entries to stable storage, so that files created, renamed or deleted in it
 * survive a power loss. Needed after a rename for the rename itself to be durable.
 *
 * On Windows, where a directory cannot be opened for fsync, this does nothing.
 *
 * @throws VectorDbError `not_found` (NOT_FOUND) if the directory does not exist, `unavailable`
 *   (UNAVAILABLE) on any other I/O error.
 */
export async function fsyncDirectory(path: string): Promise<void> {
  if (process.platform === "win32") return;
  await fsyncPath(path, "fsync of the directory");
}

/**
 * Writes `chunks` in order at byte `position` of an open file, repeating `writev` until every byte is
 * written (a single call may write less, and takes at most 1024 buffers). Empty chunks are skipped.
 * Returns the number of bytes written (the sum of the chunk lengths).
 *
 * Raw errors from `node:fs` propagate unchanged; callers wrap them with {@link ioError}.
 */
export async function writeChunksAt(handle: FileHandle, chunks: readonly Uint8Array[], position: number): Promise<number> {
  const queue = chunks.filter((chunk) => chunk.byteLength > 0);
  let at = position;
  let next = 0;
  while (next < queue.length) {
    const group = queue.slice(next, next + iovecsPerWriteMax);
    const { bytesWritten } = await handle.writev(group, at);
    if (bytesWritten <= 0) throw new Error(`writev at byte ${at} wrote ${bytesWritten} bytes`);
    at += bytesWritten;
    let remaining = bytesWritten;
    while (remaining > 0) {
      const chunk = queue[next]!;
      if (chunk.byteLength <= remaining) {
        remaining -= chunk.byteLength;
        next++;
      } else {
        queue[next] = chunk.subarray(remaining);
        remaining = 0;
      }
    }
  }
  return at - position;
}

/**
 * Replaces the file at `path` with the concatenation of `chunks`, atomically and durably: writes a
 * temporary `path + ".tmp-<random>"` in the same directory, fsyncs it, renames it over `path`, and
 * fsyncs the directory. A crash at any point leaves either the old file or the complete new one under
 * `path` (and possibly a temporary, see {@link removeStaleTemporaries}). On failure the temporary is
 * removed and the old file is untouched.
 *
 * The chunks are written by reference: do not modify them until the promise settles.
 *
 * @returns the size of the new file, in bytes.
 * @throws VectorDbError `not_found` (NOT_FOUND) if the directory does not exist, `unavailable`
 *   (UNAVAILABLE) on any other I/O error (ENOSPC, EIO, …).
 */
export async function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): Promise<number> {
  const temporary = temporaryPathFor(path);
  let handle: FileHandle | undefined;
  let size: number;
  try {
    handle = await open(temporary, "wx");
    size = await writeChunksAt(handle, chunks, 0);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw ioError(path, "atomic write", error);
  }
  await fsyncDirectory(dirname(path));
  return size;
}

/** Options of {@link removeStaleTemporaries}. */
export interface RemoveTemporariesOptions {
  /** Only remove temporaries of this final file name (e.g. `"wal.log"`); all temporaries if absent. */
  of?: string;
}

/**
 * Deletes the temporaries (`*.tmp-<hex>`) a crash left in `dir`, then fsyncs `dir` if anything was
 * deleted. A half-written temporary is never a valid file: its final name holds the previous complete
 * version. Call it when opening the directory, never while a write into it may be in progress.
 *
 * @returns the names (not paths) of the files deleted.
 * @throws VectorDbError `not_found` (NOT_FOUND) if `dir` does not exist, `unavailable` (UNAVAILABLE)
 *   on any other I/O error.
 */
export async function removeStaleTemporaries(dir: string, options: RemoveTemporariesOptions = {}): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw ioError(dir, "listing the directory", error);
  }
  const prefix = options.of === undefined ? undefined : basename(options.of) + temporaryInfix;
  const stale = names.filter((name) => isTemporaryName(name) && (prefix === undefined || name.startsWith(prefix))).sort();
  for (const name of stale) {
    try {
      await unlink(join(dir, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(join(dir, name), "removing a stale temporary", error);
    }
  }
  if (stale.length > 0) await fsyncDirectory(dir);
  return stale;
}

/**
 * Reads a whole open file into one new buffer of its own (`byteOffset` 0, so views at 8-aligned offsets
 * are aligned for Float32Array / Float64Array). Raw errors propagate; callers wrap them.
 *
 * @param sizeBytes the file's size, from `stat`.
 */
export async function readWholeFile(handle: FileHandle, sizeBytes: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafeSlow(sizeBytes);
  let at = 0;
  while (at < sizeBytes) {
    // A single read(2) returns at most ~2 GiB.
    const length = Math.min(sizeBytes - at, 1 << 30);
    const { bytesRead } = await handle.read(buffer, at, length, at);
    if (bytesRead === 0) return buffer.subarray(0, at);
    at += bytesRead;
  }
  return buffer;
}

/**
 * Reads the file at `path` in order, in chunks of at most `chunkBytes` bytes (each a new buffer), for
 * streaming a large file without holding it whole. The file is closed when the iteration ends, early
 * or not.
 *
 * @throws VectorDbError `not_found` (NOT_FOUND) if the file does not exist, `unavailable`
 *   (UNAVAILABLE) on any other I/O error.
 */
export async function* readFileChunks(path: string, chunkBytes: number): AsyncGenerator<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw ioError(path, "opening", error);
  }
  try {
    for (let at = 0; ; ) {
      const buffer = Buffer.allocUnsafe(chunkBytes);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, chunkBytes, at));
      } catch (error) {
        throw ioError(path, "reading", error);
      }
      if (bytesRead === 0) return;
      at += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Creates the file `path` (which must not exist) from `chunks` as they arrive, in order, then fsyncs
 * it (not its directory: the caller renames or fsyncs what holds it). On any failure, of the I/O or
 * of the iteration, the partial file is removed and the error rethrown.
 *
 * @returns the size of the file, in bytes.
 * @throws VectorDbError `not_found` (NOT_FOUND) if the directory does not exist, `unavailable`
 *   (UNAVAILABLE) on any other I/O error; the iteration's own errors unchanged.
 */
export async function writeNewFile(path: string, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  let handle: FileHandle | undefined;
  let size = 0;
  try {
    try {
      handle = await open(path, "wx");
    } catch (error) {
      throw ioError(path, "creating", error);
    }
    for await (const chunk of chunks) {
      try {
        size += await writeChunksAt(handle, [chunk], size);
      } catch (error) {
        throw ioError(path, "writing", error);
      }
    }
    try {
      await handle.sync();
    } catch (error) {
      throw ioError(path, "fsync", error);
    }
  } catch (error) {
    await handle?.close().catch(() => undefined);
    handle = undefined;
    await unlink(path).catch(() => undefined);
    throw error;
  } finally {
    await handle?.close().catch(() => undefined);
  }
  return size;
}
