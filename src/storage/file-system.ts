/**
 * The seam between the storage code and the disk: every file operation of the WAL, the segment
 * writer, the collection folder and data-directory layout and the lock goes through a
 * {@link FileSystem}, and every timer through a {@link Clock} (`clock.ts`). Production uses
 * `nodeFileSystem` (node:fs, `node-file-system.ts`) and `systemClock`; the power-loss simulation
 * (`src/testing/sim/`) uses a simulated disk and a simulated clock, so that it can cut the power
 * between any two operations, inject faults and replay a run exactly.
 *
 * The interface is node:fs's, reduced to what the storage code needs. Paths are absolute or relative
 * to the process's working directory (the simulated disk takes absolute POSIX paths only). Positions,
 * lengths and sizes are in bytes. Errors are raw, as node:fs throws them: an `Error` with `code` set
 * to the errno name (`ENOENT`, `EEXIST`, `ENOTEMPTY`, `ENOTDIR`, `EISDIR`, `EIO`, `ENOSPC`, …); the
 * storage code turns them into `VectorDbError`s (`files.ts`, `ioError`).
 *
 * Durability contract (what callers may rely on, and what the simulated disk enforces): a write,
 * truncation, creation, rename or unlink is durable only once the file ({@link StorageFile.sync} /
 * {@link StorageFile.datasync}) or, for names, its directory ({@link FileSystem.syncDirectory}) was
 * synced after it. After a failed sync the state of the data written since the last successful one is
 * unknown (it may be gone, even from the cache: PostgreSQL's "fsyncgate"); a later sync that succeeds
 * says nothing about it.
 */

/**
 * How a file is opened: `"r"` read-only and `"r+"` read-write (the file must exist: ENOENT);
 * `"wx"` write-only and `"wx+"` read-write, creating the file (it must not exist: EEXIST).
 */
export type OpenFlags = "r" | "r+" | "wx" | "wx+";

/** An open file. Not safe for overlapping calls that change it: the storage code serialises them. */
export interface StorageFile {
  /**
   * Writes `buffers`, concatenated, at byte `position` (`pwritev`). May write fewer bytes than given
   * (a short write); the caller writes the rest (see `writeChunksAt`). At most 1024 buffers.
   * @returns the number of bytes written, at least 1 when anything was given.
   */
  write(buffers: readonly Uint8Array[], position: number): Promise<number>;
  /**
   * Reads up to `length` bytes at byte `position` into `buffer` at `offset` (`pread`).
   * @returns the number of bytes read; 0 at the end of the file.
   */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** The file's size in bytes (`fstat`). */
  size(): Promise<number>;
  /** Cuts or extends (with zero bytes) the file to `lengthBytes` (`ftruncate`). */
  truncate(lengthBytes: number): Promise<void>;
  /** Flushes the file's data and metadata to stable storage (`fsync`). */
  sync(): Promise<void>;
  /** Flushes the file's data and the metadata needed to read it back, its size included (`fdatasync`). */
  datasync(): Promise<void>;
  /** Closes the file. Does not sync. */
  close(): Promise<void>;
}

/** What {@link FileSystem.stat} reports. */
export interface FileStat {
  /** Size in bytes (0 for a directory on the simulated disk). */
  sizeBytes: number;
  isDirectory: boolean;
}

/** One entry of a directory listing. */
export interface DirectoryEntry {
  name: string;
  isDirectory: boolean;
}

/** The file operations of the storage code (see the module documentation). */
export interface FileSystem {
  /** Opens a file (see {@link OpenFlags}). */
  open(path: string, flags: OpenFlags): Promise<StorageFile>;
  /** Size and kind of `path`; ENOENT if it does not exist. */
  stat(path: string): Promise<FileStat>;
  /** The entries of a directory, in no particular order. */
  readdir(path: string): Promise<DirectoryEntry[]>;
  /** Creates one directory; its parent must exist (ENOENT), and the path must be free (EEXIST). */
  mkdir(path: string): Promise<void>;
  /**
   * Renames `from` to `to` atomically (`rename(2)`): a file replaces a file at `to`; a directory
   * replaces an empty directory at `to` (ENOTEMPTY if it holds anything).
   */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file name (`unlink(2)`). */
  unlink(path: string): Promise<void>;
  /** Removes an empty directory (`rmdir(2)`; ENOTEMPTY otherwise). */
  rmdir(path: string): Promise<void>;
  /**
   * Flushes a directory's entries to stable storage, so that files created, renamed or removed in it
   * survive a power loss (`open(dir)` + `fsync`). A no-op where directories cannot be synced (Windows).
   */
  syncDirectory(path: string): Promise<void>;
  /** The canonical absolute path (`realpath(3)`). */
  realpath(path: string): Promise<string>;
  /**
   * A fresh name component for temporaries, 16 lowercase hex digits: random in production, drawn
   * from the run's seed on the simulated disk (so that a run replays exactly).
   */
  uniqueSuffix(): string;
}

/** An error as node:fs raises it: `code` is the errno name, e.g. `"ENOENT"`. */
export function fileSystemError(code: string, syscall: string, path: string, detail?: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: ${detail ?? code}, ${syscall} '${path}'`);
  error.code = code;
  error.syscall = syscall;
  error.path = path;
  return error;
}

/** The errno name of an error from a {@link FileSystem}, if it has one. */
export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
