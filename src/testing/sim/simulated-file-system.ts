/**
 * The file system of one boot of a {@link SimulatedDisk} (see there for the model): the
 * {@link FileSystem} the process uses. Every operation is queued on the disk and takes effect when
 * the disk completes it.
 */
import { type DirectoryEntry, type FileStat, type FileSystem, fileSystemError, type OpenFlags, type StorageFile } from "../../storage/index.js";
import { type DirNode, type FileNode, grow, neverSettles, type Node, splitPath } from "./disk-nodes.js";
import type { SimulatedDisk } from "./simulated-disk.js";

/** One open file of a {@link SimulatedFileSystem}. */
class SimulatedFile implements StorageFile {
  private closed = false;

  constructor(
    private readonly fs: SimulatedFileSystem,
    private readonly node: FileNode,
    private readonly path: string,
    private readonly writable: boolean,
  ) {}

  write(buffers: readonly Uint8Array[], position: number): Promise<number> {
    let length = 0;
    for (const buffer of buffers) length += buffer.byteLength;
    // Copied now: the caller may reuse its buffers once the promise settles, not before, but the
    // operation takes effect later.
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const buffer of buffers) {
      bytes.set(buffer, at);
      at += buffer.byteLength;
    }
    return this.fs.run(true, () => `write ${this.name()} @${position} +${length}`, () => {
      this.check("write", true);
      const disk = this.fs.disk;
      const fault = disk.takeFault("write", this.name(), length > 1);
      if (fault === "EIO" || fault === "ENOSPC") throw fileSystemError(fault, "write", this.path);
      const written = fault === "short" ? 1 + disk.randomInt(length - 1) : length;
      if (written === 0) return 0;
      const chunk = bytes.slice(0, written);
      const end = position + written;
      this.node.data = grow(this.node.data, end);
      if (position > this.node.size) this.node.data.fill(0, this.node.size, position);
      this.node.data.set(chunk, position);
      this.node.size = Math.max(this.node.size, end);
      this.node.dirty.push({ kind: "write", offset: position, bytes: chunk });
      return written;
    });
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.fs.run(false, () => `read ${this.name()} @${position} +${length}`, () => {
      this.check("read", false);
      const available = Math.max(0, Math.min(length, this.node.size - position));
      buffer.set(this.node.data.subarray(position, position + available), offset);
      return available;
    });
  }

  size(): Promise<number> {
    return this.fs.run(false, () => `fstat ${this.name()}`, () => {
      this.check("fstat", false);
      return this.node.size;
    });
  }

  truncate(lengthBytes: number): Promise<void> {
    return this.fs.run(true, () => `truncate ${this.name()} to ${lengthBytes}`, () => {
      this.check("ftruncate", true);
      if (lengthBytes > this.node.size) {
        this.node.data = grow(this.node.data, lengthBytes);
        this.node.data.fill(0, this.node.size, lengthBytes);
      }
      this.node.size = lengthBytes;
      this.node.dirty.push({ kind: "truncate", length: lengthBytes });
    });
  }

  sync(): Promise<void> {
    return this.syncAs("fsync");
  }

  datasync(): Promise<void> {
    return this.syncAs("fdatasync");
  }

  close(): Promise<void> {
    return this.fs.run(false, () => `close ${this.name()}`, () => {
      this.check("close", false);
      this.closed = true;
    });
  }

  private syncAs(syscall: string): Promise<void> {
    const disk = this.fs.disk;
    disk.onSync?.(this.name(), "issued");
    return this.fs.run(true, () => `${syscall} ${this.name()}`, () => {
      this.check(syscall, false);
      if (disk.takeFault("sync", this.name(), false) !== undefined) {
        disk.failFileSync(this.node);
        disk.onSync?.(this.name(), "failed");
        throw fileSystemError("EIO", syscall, this.path);
      }
      disk.syncFile(this.node);
      disk.onSync?.(this.name(), "done");
    });
  }

  /** The file's name now: a rename moves it (the name it was opened under once it has none). */
  private name(): string {
    return this.fs.disk.currentPath(this.node.id) ?? this.path;
  }

  private check(syscall: string, writing: boolean): void {
    if (this.closed) throw fileSystemError("EBADF", syscall, this.path);
    if (writing && !this.writable) throw fileSystemError("EBADF", syscall, this.path);
  }
}

/**
 * The file system of one boot of a {@link SimulatedDisk}: what the process sees. Dead after the next
 * power cut (its operations never settle).
 */
export class SimulatedFileSystem implements FileSystem {
  private alive = true;
  /** The clock of this boot, stopped with it (set by the simulation). */
  clock: { stop(): void } | undefined;

  constructor(
    /** @internal */ readonly disk: SimulatedDisk,
    /** Boot number: 0 before the first power cut. */
    readonly bootNumber: number,
  ) {}

  /** @internal */
  kill(): void {
    this.alive = false;
    this.clock?.stop();
  }

  /** @internal Queues `operation` on the disk. */
  run<T>(mutating: boolean, describe: () => string, operation: () => T): Promise<T> {
    if (!this.alive) return neverSettles();
    return this.disk.enqueue(this, mutating, describe, operation);
  }

  open(path: string, flags: OpenFlags): Promise<StorageFile> {
    const creating = flags === "wx" || flags === "wx+";
    return this.run(creating, () => `open ${path} ${flags}`, () => {
      const { dir, name } = this.parent(path, "open");
      const existing = dir.entries.get(name);
      if (creating) {
        if (existing !== undefined) throw fileSystemError("EEXIST", "open", path);
        const node = this.disk.newFile();
        this.disk.changeEntries(dir, [[name, node.id]]);
        return new SimulatedFile(this, node, path, true);
      }
      if (existing === undefined) throw fileSystemError("ENOENT", "open", path);
      const node = this.disk.node(existing);
      if (node.kind !== "file") throw fileSystemError("EISDIR", "open", path);
      return new SimulatedFile(this, node, path, flags === "r+");
    });
  }

  stat(path: string): Promise<FileStat> {
    return this.run(false, () => `stat ${path}`, () => {
      const node = this.lookup(path, "stat");
      return { sizeBytes: node.kind === "file" ? node.size : 0, isDirectory: node.kind === "dir" };
    });
  }

  readdir(path: string): Promise<DirectoryEntry[]> {
    return this.run(false, () => `readdir ${path}`, () => {
      const node = this.lookup(path, "scandir");
      if (node.kind !== "dir") throw fileSystemError("ENOTDIR", "scandir", path);
      return [...node.entries].map(([name, id]) => ({ name, isDirectory: this.disk.node(id).kind === "dir" }));
    });
  }

  mkdir(path: string): Promise<void> {
    return this.run(true, () => `mkdir ${path}`, () => {
      const { dir, name } = this.parent(path, "mkdir");
      if (dir.entries.has(name)) throw fileSystemError("EEXIST", "mkdir", path);
      this.disk.changeEntries(dir, [[name, this.disk.newDirectory().id]]);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.run(true, () => `rename ${from} -> ${to}`, () => {
      const source = this.parent(from, "rename");
      const target = this.parent(to, "rename");
      if (source.dir !== target.dir) throw fileSystemError("EXDEV", "rename", from, "the simulated disk renames within a directory only");
      const id = source.dir.entries.get(source.name);
      if (id === undefined) throw fileSystemError("ENOENT", "rename", from);
      if (source.name === target.name) return;
      const moving = this.disk.node(id);
      const replaced = target.dir.entries.get(target.name);
      if (replaced !== undefined) {
        const old = this.disk.node(replaced);
        if (moving.kind === "dir" && old.kind !== "dir") throw fileSystemError("ENOTDIR", "rename", to);
        if (moving.kind === "file" && old.kind === "dir") throw fileSystemError("EISDIR", "rename", to);
        if (old.kind === "dir" && old.entries.size > 0) throw fileSystemError("ENOTEMPTY", "rename", to);
      }
      this.disk.changeEntries(source.dir, [
        [source.name, undefined],
        [target.name, id],
      ]);
    });
  }

  unlink(path: string): Promise<void> {
    return this.run(true, () => `unlink ${path}`, () => {
      const { dir, name } = this.parent(path, "unlink");
      const id = dir.entries.get(name);
      if (id === undefined) throw fileSystemError("ENOENT", "unlink", path);
      if (this.disk.node(id).kind === "dir") throw fileSystemError("EISDIR", "unlink", path);
      this.disk.changeEntries(dir, [[name, undefined]]);
    });
  }

  rmdir(path: string): Promise<void> {
    return this.run(true, () => `rmdir ${path}`, () => {
      const { dir, name } = this.parent(path, "rmdir");
      const id = dir.entries.get(name);
      if (id === undefined) throw fileSystemError("ENOENT", "rmdir", path);
      const node = this.disk.node(id);
      if (node.kind !== "dir") throw fileSystemError("ENOTDIR", "rmdir", path);
      if (node.entries.size > 0) throw fileSystemError("ENOTEMPTY", "rmdir", path);
      this.disk.changeEntries(dir, [[name, undefined]]);
    });
  }

  syncDirectory(path: string): Promise<void> {
    return this.run(true, () => `fsync directory ${path}`, () => {
      const node = this.lookup(path, "fsync");
      if (node.kind !== "dir") throw fileSystemError("ENOTDIR", "fsync", path);
      if (this.disk.takeFault("syncDirectory", path, false) !== undefined) {
        this.disk.failDirectorySync(node);
        throw fileSystemError("EIO", "fsync", path);
      }
      this.disk.syncDirectory(node);
    });
  }

  realpath(path: string): Promise<string> {
    return this.run(false, () => `realpath ${path}`, () => {
      this.lookup(path, "realpath");
      return `/${splitPath(path).join("/")}`;
    });
  }

  uniqueSuffix(): string {
    return this.disk.uniqueSuffix();
  }

  private lookup(path: string, syscall: string): Node {
    let node: Node = this.disk.node(0);
    for (const part of splitPath(path)) {
      if (node.kind !== "dir") throw fileSystemError("ENOTDIR", syscall, path);
      const id = node.entries.get(part);
      if (id === undefined) throw fileSystemError("ENOENT", syscall, path);
      node = this.disk.node(id);
    }
    return node;
  }

  private parent(path: string, syscall: string): { dir: DirNode; name: string } {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw fileSystemError("EINVAL", syscall, path);
    const dir = this.lookup(`/${parts.join("/")}`, syscall);
    if (dir.kind !== "dir") throw fileSystemError("ENOTDIR", syscall, path);
    return { dir, name };
  }
}
