/**
 * Snapshot files in the data directory:
 *
 * ```
 * <dataDir>/snapshots/
 *   <collection>/
 *     <name>.snapshot        the snapshot: a segment file with a spec section (collection/disk/snapshot-file.ts)
 *     <name>.snapshot.json   its manifest: {formatVersion, name, collection, sizeBytes, sha256, createdAt,
 *                            sequence, pointCount}
 * ```
 *
 * `<name>` is `<collection>-<UTC yyyymmddThhmmssmmmZ>-<8 hex digits>`, so names sort by time. A
 * snapshot exists when both files do: the snapshot file is written first (temporary name, fsync,
 * rename, directory fsync), then its manifest the same way; a delete removes the manifest first. A
 * crash in between leaves one of the two, which {@link SnapshotStore.removeLeftovers} deletes on the
 * next start (that snapshot was never acknowledged, or its delete was). Snapshots outlive their
 * collection: dropping a collection leaves its folder here.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { snapshotChunkBytes } from "../config.js";
import { parseVersionedJson } from "../collection/index.js";
import { VectorDbError } from "../errors.js";
import {
  encodeSegment,
  errorCode,
  fsyncDirectory,
  ioError,
  isTemporaryName,
  makeDirectoryDurably,
  readFileBytes,
  readFileChunks,
  writeFileAtomic,
  type FileSystem,
  type SegmentContents,
} from "../storage/index.js";

/** The folder of snapshots inside the data directory. */
export const snapshotsDirName = "snapshots";

const snapshotExtension = ".snapshot";
const manifestExtension = ".snapshot.json";
const manifestFormatVersion = 1;
const snapshotNamePattern = /^[A-Za-z0-9_-]{1,64}-\d{8}T\d{9}Z-[0-9a-f]{8}\.snapshot$/;

/** A snapshot as its manifest describes it. */
export interface SnapshotRecord {
  /** File name, `<collection>-<time>-<hex>.snapshot`. */
  name: string;
  /** The collection it was taken of. */
  collection: string;
  sizeBytes: number;
  /** SHA-256 of the file, 64 lowercase hex digits. */
  sha256: string;
  /** When it was taken, ms since the epoch. */
  createdAtMs: number;
  /** The last write sequence it holds. */
  sequence: number;
  pointCount: number;
}

/** Bytes hashed between two yields to the event loop (hashing 60 MB at once would stall calls). */
const hashSliceBytes = 4 * 1024 * 1024;

/** SHA-256 of the concatenated chunks, hex, computed in slices between which the event loop runs. */
async function sha256Of(chunks: readonly Uint8Array[]): Promise<string> {
  const hash = createHash("sha256");
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.byteLength; at += hashSliceBytes) {
      hash.update(chunk.subarray(at, at + hashSliceBytes));
      await yieldToEventLoop();
    }
  }
  return hash.digest("hex");
}

/** `2024-05-01T12:34:56.789Z` → `20240501T123456789Z`. */
function compactTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, "");
}

/**
 * Checks a snapshot file name given by a client.
 * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming `field`.
 */
export function checkSnapshotName(name: string, field: string): void {
  if (!snapshotNamePattern.test(name)) {
    throw new VectorDbError("invalid_argument", `${field}: ${JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name)} is not a snapshot name (<collection>-<yyyymmddThhmmssmmmZ>-<8 hex>.snapshot, as CreateSnapshot and ListSnapshots give it)`);
  }
}

/**
 * The snapshot files of a data directory (layout in the module documentation). Every file operation
 * goes through `fs` (the storage seam, `src/storage/file-system.ts`).
 */
export class SnapshotStore {
  constructor(
    private readonly fs: FileSystem,
    private readonly dataDir: string,
  ) {}

  /** `<dataDir>/snapshots`. */
  get root(): string {
    return join(this.dataDir, snapshotsDirName);
  }

  /** The folder of a collection's snapshots. */
  dirOf(collection: string): string {
    return join(this.root, collection);
  }

  /**
   * Writes a new snapshot of `collection` holding `contents` (a segment with a spec section), then its
   * manifest; both durable when this resolves.
   * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error (nothing is listed then).
   */
  async create(collection: string, contents: SegmentContents, pointCount: number): Promise<SnapshotRecord> {
    const dir = this.dirOf(collection);
    await this.ensureDir(dir);
    const createdAtMs = Date.now();
    const name = `${collection}-${compactTime(createdAtMs)}-${this.fs.uniqueSuffix().slice(0, 8)}${snapshotExtension}`;
    const { chunks, sizeBytes } = encodeSegment(contents);
    const record: SnapshotRecord = { name, collection, sizeBytes, sha256: await sha256Of(chunks), createdAtMs, sequence: contents.sequence, pointCount };
    await writeFileAtomic(this.fs, join(dir, name), chunks);
    const manifest = { formatVersion: manifestFormatVersion, ...record, createdAt: new Date(createdAtMs).toISOString() };
    await writeFileAtomic(this.fs, join(dir, name.replace(/\.snapshot$/, manifestExtension)), [Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, "utf8")]);
    return record;
  }

  /** Whether `collection` has a snapshot folder (it may be empty). */
  async hasFolder(collection: string): Promise<boolean> {
    try {
      return (await this.fs.stat(this.dirOf(collection))).isDirectory;
    } catch {
      return false;
    }
  }

  /**
   * The snapshots of `collection`, oldest first (empty when it has none).
   * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error; data_loss for a damaged manifest.
   */
  async list(collection: string): Promise<SnapshotRecord[]> {
    const dir = this.dirOf(collection);
    let names: string[];
    try {
      names = await this.names(dir);
    } catch (error) {
      if (errorCode(error) === "ENOENT") return [];
      throw ioError(dir, "listing snapshots", error, "unavailable");
    }
    const present = new Set(names);
    const snapshots = names.filter((name) => snapshotNamePattern.test(name) && present.has(name.replace(/\.snapshot$/, manifestExtension))).sort();
    return Promise.all(snapshots.map((name) => this.readManifest(collection, name)));
  }

  /**
   * The snapshot `name` of `collection`.
   * @throws VectorDbError not_found (NOT_FOUND) when it does not exist; invalid_argument for a bad name.
   */
  async get(collection: string, name: string, field = "name"): Promise<SnapshotRecord> {
    checkSnapshotName(name, field);
    const path = join(this.dirOf(collection), name);
    try {
      await this.fs.stat(path);
      await this.fs.stat(path.replace(/\.snapshot$/, manifestExtension));
    } catch (error) {
      if (errorCode(error) === "ENOENT") throw new VectorDbError("not_found", `${field}: collection "${collection}" has no snapshot "${name}"`);
      throw ioError(path, "finding the snapshot", error, "unavailable");
    }
    return this.readManifest(collection, name, field);
  }

  /**
   * Deletes the snapshot `name` of `collection`: its manifest, then the file, durably.
   * @throws VectorDbError not_found (NOT_FOUND) when it does not exist; unavailable on an I/O error.
   */
  async delete(collection: string, name: string, field = "name"): Promise<void> {
    await this.get(collection, name, field);
    const dir = this.dirOf(collection);
    for (const file of [name.replace(/\.snapshot$/, manifestExtension), name]) {
      try {
        await this.fs.unlink(join(dir, file));
      } catch (error) {
        throw ioError(join(dir, file), "deleting the snapshot", error, "not_found");
      }
    }
    await fsyncDirectory(this.fs, dir);
  }

  /** The bytes of the snapshot file `name` of `collection`, in chunks of 1 MiB. */
  chunks(collection: string, name: string): AsyncGenerator<Buffer> {
    return readFileChunks(this.fs, join(this.dirOf(collection), name), snapshotChunkBytes);
  }

  /**
   * Removes what a crash left in the snapshot folders: temporaries, snapshot files without a
   * manifest and manifests without a snapshot file. Returns the paths removed.
   * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error.
   */
  async removeLeftovers(): Promise<string[]> {
    let collections: string[];
    try {
      collections = await this.names(this.root);
    } catch (error) {
      if (errorCode(error) === "ENOENT") return [];
      throw ioError(this.root, "listing snapshots", error, "unavailable");
    }
    const removed: string[] = [];
    for (const collection of collections) {
      const dir = this.dirOf(collection);
      let names: string[];
      try {
        names = await this.names(dir);
      } catch {
        continue;
      }
      const present = new Set(names);
      const doomed = names.filter(
        (name) =>
          isTemporaryName(name) ||
          (name.endsWith(snapshotExtension) && !present.has(name.replace(/\.snapshot$/, manifestExtension))) ||
          (name.endsWith(manifestExtension) && !present.has(name.replace(/\.snapshot\.json$/, snapshotExtension))),
      );
      for (const name of doomed) {
        await this.fs.unlink(join(dir, name)).catch((error: unknown) => {
          throw ioError(join(dir, name), "removing a leftover snapshot file", error, "unavailable");
        });
        removed.push(join(dir, name));
      }
      if (doomed.length > 0) await fsyncDirectory(this.fs, dir);
    }
    return removed;
  }

  private async readManifest(collection: string, name: string, field = "name"): Promise<SnapshotRecord> {
    const path = join(this.dirOf(collection), name.replace(/\.snapshot$/, manifestExtension));
    let text: string;
    try {
      text = (await readFileBytes(this.fs, path)).toString("utf8");
    } catch (error) {
      throw ioError(path, `reading the manifest of ${field} "${name}"`, error, "not_found");
    }
    const json = parseVersionedJson(text, path, [manifestFormatVersion]);
    const { sizeBytes, sha256, sequence, pointCount, createdAtMs } = json;
    const numbers = [sizeBytes, sequence, pointCount, createdAtMs];
    if (json.name !== name || json.collection !== collection || typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256) || numbers.some((n) => !Number.isSafeInteger(n))) {
      throw new VectorDbError("data_loss", `${path}: not a manifest of snapshot "${name}" of collection "${collection}"`);
    }
    return { name, collection, sizeBytes: sizeBytes as number, sha256, createdAtMs: createdAtMs as number, sequence: sequence as number, pointCount: pointCount as number };
  }

  /** The entry names of the directory `dir`. Raw errors propagate. */
  private async names(dir: string): Promise<string[]> {
    return (await this.fs.readdir(dir)).map((entry) => entry.name);
  }

  /** Creates `dir` (and the folders above it, up to the data directory) durably: each new folder's parent is fsynced. */
  private async ensureDir(dir: string): Promise<void> {
    try {
      await makeDirectoryDurably(this.fs, dir);
    } catch (error) {
      throw ioError(dir, "creating the snapshot folder", error, "unavailable");
    }
  }
}
