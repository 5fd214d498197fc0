/**
 * The production {@link FileSystem}: node:fs. The only module of the data path (storage/, collection/,
 * db/) that imports node:fs; a test checks that the others do not.
 */
import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readdir, realpath, rename, rmdir, stat, unlink } from "node:fs/promises";
import { systemClock, type StorageIo } from "./clock.js";
import type { DirectoryEntry, FileStat, FileSystem, OpenFlags, StorageFile } from "./file-system.js";

class NodeStorageFile implements StorageFile {
  constructor(private readonly handle: FileHandle) {}

  async write(buffers: readonly Uint8Array[], position: number): Promise<number> {
    const { bytesWritten } = await this.handle.writev(buffers as Uint8Array[], position);
    return bytesWritten;
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.handle.read(buffer, offset, length, position);
    return bytesRead;
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  truncate(lengthBytes: number): Promise<void> {
    return this.handle.truncate(lengthBytes);
  }

  sync(): Promise<void> {
    return this.handle.sync();
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

async function syncDirectory(path: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** The real disk, through node:fs/promises. */
export const nodeFileSystem: FileSystem = Object.freeze({
  async open(path: string, flags: OpenFlags): Promise<StorageFile> {
    return new NodeStorageFile(await open(path, flags));
  },
  async stat(path: string): Promise<FileStat> {
    const stats = await stat(path);
    return { sizeBytes: stats.size, isDirectory: stats.isDirectory() };
  },
  async readdir(path: string): Promise<DirectoryEntry[]> {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.map((entry) => ({ name: entry.name, isDirectory: entry.isDirectory() }));
  },
  async mkdir(path: string): Promise<void> {
    await mkdir(path);
  },
  rename,
  unlink,
  rmdir: (path: string) => rmdir(path),
  syncDirectory,
  realpath: (path: string) => realpath(path),
  uniqueSuffix: () => randomBytes(8).toString("hex"),
});

/** The production seam: the real disk and real time. */
export const realStorageIo: StorageIo = Object.freeze({ fs: nodeFileSystem, clock: systemClock });
