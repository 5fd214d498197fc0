/**
 * The simulated disk's inodes and the pure functions over them (`simulated-disk.ts` keeps the state,
 * `simulated-file-system.ts` is what the process sees). A node's cached state is what reads return;
 * its durable state is what a power cut keeps; its dirty list is what was changed in between.
 */
import { posix } from "node:path";

/** A change to a file's contents since its last successful sync. */
export type FileChange = { kind: "write"; offset: number; bytes: Uint8Array } | { kind: "truncate"; length: number };

/** A file: its cached and durable contents, and the changes in between. */
export interface FileNode {
  kind: "file";
  id: number;
  /** Cached contents: bytes 0 … size − 1 of `data`. */
  data: Uint8Array;
  size: number;
  /** Durable contents. */
  durable: Uint8Array;
  /** Changes since the last successful sync, in order. */
  dirty: FileChange[];
}

/** A change to a directory's entries since its last successful sync. */
export interface EntryChange {
  /** Global order of entry changes (the journal's order). */
  order: number;
  /** Names set (to a node) or removed (undefined), applied together. */
  set: [string, number | undefined][];
}

/** A directory: its cached and durable entries (name → node id), and the changes in between. */
export interface DirNode {
  kind: "dir";
  id: number;
  entries: Map<string, number>;
  durable: Map<string, number>;
  dirty: EntryChange[];
}

/** A file or a directory. */
export type Node = FileNode | DirNode;

/**
 * A promise that never settles: an operation of a process that lost power. A new one each time: what
 * awaits it is garbage once nothing else holds it (a shared one would keep every waiter alive).
 */
export function neverSettles(): Promise<never> {
  return new Promise<never>(() => undefined);
}

/** `data`, or a longer copy of it that holds `size` bytes. */
export function grow(data: Uint8Array, size: number): Uint8Array {
  if (size <= data.length) return data;
  const grown = new Uint8Array(Math.max(size, data.length * 2, 256));
  grown.set(data);
  return grown;
}

/** Applies a write to `bytes` (a durable image), extending it with zeros where needed. */
export function applyWrite(bytes: Uint8Array, offset: number, written: Uint8Array): Uint8Array {
  const end = offset + written.length;
  const result = end > bytes.length ? new Uint8Array(end) : bytes;
  if (result !== bytes) result.set(bytes);
  result.set(written, offset);
  return result;
}

/** `bytes` cut or zero-extended to `length`. */
export function applyTruncate(bytes: Uint8Array, length: number): Uint8Array {
  if (length <= bytes.length) return bytes.slice(0, length);
  const result = new Uint8Array(length);
  result.set(bytes);
  return result;
}

/** Applies an entry change to a directory's entries. */
export function applyEntryChange(entries: Map<string, number>, change: EntryChange): void {
  for (const [name, id] of change.set) {
    if (id === undefined) entries.delete(name);
    else entries.set(name, id);
  }
}

/** The components of an absolute POSIX path. */
export function splitPath(path: string): string[] {
  if (!path.startsWith("/")) throw new Error(`simulated disk: paths are absolute, got ${JSON.stringify(path)}`);
  return posix
    .normalize(path)
    .split("/")
    .filter((part) => part.length > 0);
}
