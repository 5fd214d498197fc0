/**
 * File helpers of the storage layer, over the {@link FileSystem} seam: fsync of a file and of a
 * directory, an atomic whole-file write (temporary name, fsync, rename, directory fsync), cleanup of
 * temporaries left by a crash, a positional write that finishes partial writes, whole-file reads,
 * durable directory creation and recursive removal.
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
import { basename, dirname, join } from "node:path";
import { type ErrorCode, VectorDbError } from "../errors.js";
import { errorCode, type FileSystem, type StorageFile } from "./file-system.js";

/** The infix of temporary file names: `<final name>.tmp-<16 hex digits>`. */
export const temporaryInfix = ".tmp-";

/** Most buffers handed to one `writev` (Linux IOV_MAX is 1024). */
const iovecsPerWriteMax = 1024;

/**
 * Turns an error from a {@link FileSystem} (node:fs's errors) into a {@link VectorDbError}: ENOENT → `missing` (`not_found` unless
 * the caller knows a missing file means something else), anything else → `unavailable`. A
 * {@link VectorDbError} passes through unchanged.
 *
 * @param path the file the action was on, named in the message.
 * @param action what was being done, e.g. `"fsync"`, named in the message.
 */
export function ioError(path: string, action: string, error: unknown, missing: ErrorCode = "not_found"): VectorDbError {
  if (error instanceof VectorDbError) return error;
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  return new VectorDbError(code === "ENOENT" ? missing : "unavailable", `${path}: ${action} failed: ${detail}`, { cause: error });
}

/** A fresh temporary name next to `path`: `path + ".tmp-" + 16 hex digits` (from `fs.uniqueSuffix()`). */
export function temporaryPathFor(fs: FileSystem, path: string): string {
  return `${path}${temporaryInfix}${fs.uniqueSuffix()}`;
}

/** True if `name` (a file name, not a path) is a temporary made by {@link temporaryPathFor}. */
export function isTemporaryName(name: string): boolean {
  return /\.tmp-[0-9a-f]+$/.test(name);
}

/**
 * Flushes a file's data and metadata to stable storage (`fsync(2)`).
 *
 * @throws VectorDbError `not_found` (NOT_FOUND) if the file does not exist, `unavailable`
 *   (UNAVAILABLE) on any other I/O error.
 */
export async function fsyncFile(fs: FileSystem, path: string): Promise<void> {
  let file: StorageFile | undefined;
  try {
    file = await fs.open(path, "r");
    await file.sync();
  } catch (error) {
    throw ioError(path, "fsync", error);
  } finally {
    await file?.close().catch(() => undefined);
  }
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
export async function fsyncDirectory(fs: FileSystem, path: string): Promise<void> {
  try {
    await fs.syncDirectory(path);
  } catch (error) {
    throw ioError(path, "fsync of the directory", error);
  }
}

/**
 * Writes `chunks` in order at byte `position` of an open file, repeating `writev` until every byte is
 * written (a single call may write less, and takes at most 1024 buffers). Empty chunks are skipped.
 * Returns the number of bytes written (the sum of the chunk lengths).
 *
 * Raw errors from the file system propagate unchanged; callers wrap them with {@link ioError}.
 */
export async function writeChunksAt(file: StorageFile, chunks: readonly Uint8Array[], position: number): Promise<number> {
  const queue = chunks.filter((chunk) => chunk.byteLength > 0);
  let at = position;
  let next = 0;
  while (next < queue.length) {
    const group = queue.slice(next, next + iovecsPerWriteMax);
    const bytesWritten = await file.write(group, at);
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
export async function writeFileAtomic(fs: FileSystem, path: string, chunks: readonly Uint8Array[]): Promise<number> {
  const temporary = temporaryPathFor(fs, path);
  let file: StorageFile | undefined;
  let size: number;
  try {
    file = await fs.open(temporary, "wx");
    size = await writeChunksAt(file, chunks, 0);
    await file.sync();
    await file.close();
    file = undefined;
    await fs.rename(temporary, path);
  } catch (error) {
    await file?.close().catch(() => undefined);
    await fs.unlink(temporary).catch(() => undefined);
    throw ioError(path, "atomic write", error);
  }
  await fsyncDirectory(fs, dirname(path));
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
export async function removeStaleTemporaries(fs: FileSystem, dir: string, options: RemoveTemporariesOptions = {}): Promise<string[]> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).map((entry) => entry.name);
  } catch (error) {
    throw ioError(dir, "listing the directory", error);
  }
  const prefix = options.of === undefined ? undefined : basename(options.of) + temporaryInfix;
  const stale = names.filter((name) => isTemporaryName(name) && (prefix === undefined || name.startsWith(prefix))).sort();
  for (const name of stale) {
    try {
      await fs.unlink(join(dir, name));
    } catch (error) {
      if (errorCode(error) !== "ENOENT") throw ioError(join(dir, name), "removing a stale temporary", error);
    }
  }
  if (stale.length > 0) await fsyncDirectory(fs, dir);
  return stale;
}

/**
 * Reads a whole open file into one new buffer of its own, or into the start of `into` when it is large
 * enough (`byteOffset` 0 either way when `into` starts its own allocation, so views at 8-aligned offsets
 * are aligned for Float32Array / Float64Array). Raw errors propagate; callers wrap them.
 *
 * @param sizeBytes the file's size, from `stat`.
 * @param into a buffer to reuse (from `Buffer.allocUnsafeSlow`); the result is a view of it.
 */
export async function readWholeFile(file: StorageFile, sizeBytes: number, into?: Buffer): Promise<Buffer> {
  const buffer = into !== undefined && into.length >= sizeBytes ? into.subarray(0, sizeBytes) : Buffer.allocUnsafeSlow(sizeBytes);
  let at = 0;
  while (at < sizeBytes) {
    // A single read(2) returns at most ~2 GiB.
    const length = Math.min(sizeBytes - at, 1 << 30);
    const bytesRead = await file.read(buffer, at, length, at);
    if (bytesRead === 0) return buffer.subarray(0, at);
    at += bytesRead;
  }
  return buffer;
}

/**
 * Reads the whole file at `path` into one buffer of its own. Raw errors propagate (ENOENT for a
 * missing file); callers wrap them with {@link ioError}.
 */
export async function readFileBytes(fs: FileSystem, path: string): Promise<Buffer> {
  const file = await fs.open(path, "r");
  try {
    return await readWholeFile(file, await file.size());
  } finally {
    await file.close().catch(() => undefined);
  }
}

/**
 * Creates `path` and every missing parent, durably: after each directory is made its parent is
 * fsynced, so that a power loss cannot lose it. Does nothing for a directory that exists.
 *
 * @returns the directories created, outermost first (empty when `path` existed).
 * @throws VectorDbError `unavailable` (UNAVAILABLE) on an I/O error, or when `path` or a parent is a file.
 */
export async function makeDirectoryDurably(fs: FileSystem, path: string): Promise<string[]> {
  const missing: string[] = [];
  for (let at = path; ; ) {
    try {
      const found = await fs.stat(at);
      if (!found.isDirectory) throw new VectorDbError("unavailable", `${at}: creating the directory ${path} failed: ${at} is not a directory`);
      break;
    } catch (error) {
      if (errorCode(error) !== "ENOENT") throw ioError(at, "creating a directory", error, "unavailable");
    }
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  missing.reverse();
  for (const dir of missing) {
    try {
      await fs.mkdir(dir);
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw ioError(dir, "creating a directory", error, "unavailable");
    }
    await fsyncDirectory(fs, dirname(dir));
  }
  return missing;
}

/**
 * Removes `path` and everything below it (`rm -rf`); nothing when it does not exist. Not atomic: a
 * caller that needs atomicity renames the tree to a name its recovery removes first. Raw errors
 * propagate; callers wrap them with {@link ioError}.
 */
export async function removeTree(fs: FileSystem, path: string): Promise<void> {
  let entries;
  try {
    const found = await fs.stat(path);
    if (!found.isDirectory) {
      await fs.unlink(path);
      return;
    }
    entries = await fs.readdir(path);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return;
    throw error;
  }
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory) await removeTree(fs, child);
    else await fs.unlink(child).catch((error: unknown) => {
      if (errorCode(error) !== "ENOENT") throw error;
    });
  }
  await fs.rmdir(path).catch((error: unknown) => {
    if (errorCode(error) !== "ENOENT") throw error;
  });
}

/**
 * Reads the file at `path` in order, in chunks of at most `chunkBytes` bytes (each a new buffer), for
 * streaming a large file without holding it whole. The file is closed when the iteration ends, early
 * or not.
 *
 * @throws VectorDbError `not_found` (NOT_FOUND) if the file does not exist, `unavailable`
 *   (UNAVAILABLE) on any other I/O error.
 */
export async function* readFileChunks(fs: FileSystem, path: string, chunkBytes: number): AsyncGenerator<Buffer> {
  let file: StorageFile;
  try {
    file = await fs.open(path, "r");
  } catch (error) {
    throw ioError(path, "opening", error);
  }
  try {
    for (let at = 0; ; ) {
      const buffer = Buffer.allocUnsafe(chunkBytes);
      let bytesRead: number;
      try {
        bytesRead = await file.read(buffer, 0, chunkBytes, at);
      } catch (error) {
        throw ioError(path, "reading", error);
      }
      if (bytesRead === 0) return;
      at += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close().catch(() => undefined);
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
export async function writeNewFile(fs: FileSystem, path: string, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  let file: StorageFile | undefined;
  let size = 0;
  try {
    try {
      file = await fs.open(path, "wx");
    } catch (error) {
      throw ioError(path, "creating", error);
    }
    for await (const chunk of chunks) {
      try {
        size += await writeChunksAt(file, [chunk], size);
      } catch (error) {
        throw ioError(path, "writing", error);
      }
    }
    try {
      await file.sync();
    } catch (error) {
      throw ioError(path, "fsync", error);
    }
  } catch (error) {
    await file?.close().catch(() => undefined);
    file = undefined;
    await fs.unlink(path).catch(() => undefined);
    throw error;
  } finally {
    await file?.close().catch(() => undefined);
  }
  return size;
}
