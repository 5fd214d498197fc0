/**
 * The data directory on disk:
 *
 * ```
 * <dataDir>/
 *   LOCK                          pid of the server using the directory
 *   collections/
 *     <name>/                     one folder per collection (names are [A-Za-z0-9_-]{1,64})
 *       collection.json           the spec: format version, name, dimension, distance, HNSW parameters
 *       wal.log                   write-ahead log (src/storage/wal/format.ts)
 *       segment.bin               latest checkpoint (src/storage/segment/segment.ts, sections in
 *                                 src/collection/segment-sections.ts); absent before the first one
 *     <name>.tmp-<hex>/           a collection being created (removed on open: never acknowledged)
 *     <name>.dropped-<hex>/       a collection being dropped (removed on open: the drop was durable)
 * ```
 *
 * Creating a collection writes its folder under a temporary name, fsyncs the file and the folder,
 * renames it to `<name>` and fsyncs `collections/`. Dropping renames `<name>` to a `.dropped-` name,
 * fsyncs `collections/`, then deletes it. Both are atomic: after a crash the collection either exists
 * whole or not at all.
 *
 * Every failure is a {@link VectorDbError}: I/O errors are `unavailable` (UNAVAILABLE) naming the path,
 * a damaged `collection.json` is `data_loss` (DATA_LOSS), a directory locked by a live process is
 * `failed_precondition` (FAILED_PRECONDITION).
 */
import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readdir, readFile, realpath, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { CollectionSpec, HnswParams } from "../collection/index.js";
import { VectorDbError } from "../errors.js";
import type { DistanceKind } from "../index/index.js";
import { fsyncDirectory, fsyncFile } from "../storage/index.js";

/** The folder of collections inside the data directory. */
export const collectionsDirName = "collections";
/** The spec file inside a collection folder. */
export const specFileName = "collection.json";
/** The lock file inside the data directory. */
export const lockFileName = "LOCK";
/** Format version of the files of a collection (spec, WAL record bodies, segment sections). */
export const storageFormatVersion = 1;

const temporaryDirPattern = /^[A-Za-z0-9_-]{1,64}\.(tmp|dropped)-[0-9a-f]+$/;
const namePattern = /^[A-Za-z0-9_-]{1,64}$/;

function ioError(path: string, action: string, error: unknown): VectorDbError {
  if (error instanceof VectorDbError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new VectorDbError("unavailable", `${path}: ${action} failed: ${detail}`, { cause: error });
}

/** The folder of collections of a data directory. */
export function collectionsDir(dataDir: string): string {
  return join(dataDir, collectionsDirName);
}

/**
 * Creates `<dataDir>/collections/` if needed (and the data directory itself), durably.
 * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error.
 */
export async function prepareDataDir(dataDir: string): Promise<void> {
  const dir = collectionsDir(dataDir);
  try {
    const created = await mkdir(dir, { recursive: true });
    if (created !== undefined) {
      await fsyncDirectory(dataDir);
      await fsyncDirectory(join(dataDir, ".."));
    }
  } catch (error) {
    throw ioError(dir, "creating the data directory", error);
  }
}

/** The collection folders found by {@link scanCollections}. */
export interface CollectionScan {
  /** Names of the collection folders, sorted. */
  names: string[];
  /** Leftover `.tmp-` / `.dropped-` folders that were removed. */
  removed: string[];
  /** Entries that are neither (left alone). */
  ignored: string[];
}

/**
 * Lists the collection folders of `collections/` and removes the temporary ones a crash left behind
 * (a create that was never acknowledged, or a drop that was already durable).
 * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error.
 */
export async function scanCollections(dataDir: string): Promise<CollectionScan> {
  const dir = collectionsDir(dataDir);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw ioError(dir, "listing collections", error);
  }
  const scan: CollectionScan = { names: [], removed: [], ignored: [] };
  for (const entry of entries) {
    if (entry.isDirectory() && namePattern.test(entry.name)) scan.names.push(entry.name);
    else if (temporaryDirPattern.test(entry.name)) scan.removed.push(entry.name);
    else scan.ignored.push(entry.name);
  }
  for (const name of scan.removed) {
    try {
      await rm(join(dir, name), { recursive: true, force: true });
    } catch (error) {
      throw ioError(join(dir, name), "removing a leftover folder", error);
    }
  }
  if (scan.removed.length > 0) await fsyncDirectory(dir);
  scan.names.sort();
  return scan;
}

/** The JSON of `collection.json`. */
export function encodeSpec(spec: Readonly<CollectionSpec>): string {
  const { name, dimension, distance, hnsw } = spec;
  return `${JSON.stringify({ formatVersion: storageFormatVersion, name, dimension, distance, hnsw: { m: hnsw.m, efConstruction: hnsw.efConstruction, ef: hnsw.ef } }, null, 2)}\n`;
}

/**
 * Parses `collection.json`.
 * @param path named in errors.
 * @throws VectorDbError data_loss (DATA_LOSS) when it is not a spec of this format;
 *   failed_precondition (FAILED_PRECONDITION) for another format version.
 */
export function decodeSpec(text: string, path: string): CollectionSpec {
  const bad = (what: string): never => {
    throw new VectorDbError("data_loss", `${path}: ${what}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return bad(`not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof json !== "object" || json === null) return bad("not a JSON object");
  const spec = json as Record<string, unknown>;
  if (spec.formatVersion !== storageFormatVersion) {
    throw new VectorDbError("failed_precondition", `${path}: format version ${JSON.stringify(spec.formatVersion)} is not supported (this build reads version ${storageFormatVersion})`);
  }
  const positive = (value: unknown, what: string): number => (Number.isSafeInteger(value) && (value as number) >= 1 ? (value as number) : bad(`${what} must be a positive integer, got ${JSON.stringify(value)}`));
  if (typeof spec.name !== "string" || !namePattern.test(spec.name)) bad(`name ${JSON.stringify(spec.name)} is not a collection name`);
  const distance = spec.distance;
  if (distance !== "cosine" && distance !== "dot" && distance !== "euclidean") bad(`distance ${JSON.stringify(distance)} is not cosine, dot or euclidean`);
  const hnsw = spec.hnsw as Record<string, unknown> | null | undefined;
  if (typeof hnsw !== "object" || hnsw === null) bad("hnsw is missing");
  const params: HnswParams = { m: positive(hnsw!.m, "hnsw.m"), efConstruction: positive(hnsw!.efConstruction, "hnsw.efConstruction"), ef: positive(hnsw!.ef, "hnsw.ef") };
  return { name: spec.name as string, dimension: positive(spec.dimension, "dimension"), distance: distance as DistanceKind, hnsw: params };
}

/**
 * Reads the spec of the collection folder `dir`, which must be named after the collection.
 * @throws VectorDbError data_loss (DATA_LOSS) for a damaged or missing file, or one naming another
 *   collection; failed_precondition for another format version; unavailable on an I/O error.
 */
export async function readSpec(dir: string, name: string): Promise<CollectionSpec> {
  const path = join(dir, specFileName);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new VectorDbError("data_loss", `${path}: missing`, { cause: error });
    throw ioError(path, "reading", error);
  }
  const spec = decodeSpec(text, path);
  if (spec.name !== name) throw new VectorDbError("data_loss", `${path}: names collection "${spec.name}" but is in folder "${name}"`);
  return spec;
}

/**
 * Creates the folder of a new collection atomically and durably (see the module documentation) and
 * returns its path. The WAL is created when the collection is opened.
 * @throws VectorDbError already_exists (ALREADY_EXISTS) if the folder exists; unavailable
 *   (UNAVAILABLE) on an I/O error (nothing is left under the final name).
 */
export async function createCollectionDir(dataDir: string, spec: Readonly<CollectionSpec>): Promise<string> {
  const parent = collectionsDir(dataDir);
  const final = join(parent, spec.name);
  const temporary = join(parent, `${spec.name}.tmp-${randomBytes(8).toString("hex")}`);
  try {
    await mkdir(temporary);
    const specPath = join(temporary, specFileName);
    let handle: FileHandle | undefined;
    try {
      handle = await open(specPath, "wx");
      await handle.writeFile(encodeSpec(spec), "utf8");
      await handle.sync();
    } finally {
      await handle?.close();
    }
    await fsyncDirectory(temporary);
    try {
      await rename(temporary, final);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") throw new VectorDbError("already_exists", `name: collection "${spec.name}" already exists on disk (${final})`);
      throw error;
    }
  } catch (error) {
    await rm(temporary, { recursive: true, force: true }).catch(() => undefined);
    throw ioError(final, "creating the collection folder", error);
  }
  await fsyncDirectory(parent);
  return final;
}

/**
 * Drops a collection folder atomically and durably: renames it to a `.dropped-` name, fsyncs
 * `collections/`, then deletes it (a crash during the delete leaves a folder that the next open removes).
 * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error.
 */
export async function dropCollectionDir(dataDir: string, name: string): Promise<void> {
  const parent = collectionsDir(dataDir);
  const dir = join(parent, name);
  const doomed = join(parent, `${name}.dropped-${randomBytes(8).toString("hex")}`);
  try {
    await rename(dir, doomed);
  } catch (error) {
    throw ioError(dir, "renaming the collection folder for the drop", error);
  }
  await fsyncDirectory(parent);
  try {
    await rm(doomed, { recursive: true, force: true });
  } catch (error) {
    throw ioError(doomed, "deleting the dropped collection folder", error);
  }
}

/** Data directories this process holds (real paths). */
const lockedHere = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes `<dataDir>/LOCK` for this process, so that two servers never write the same files. A lock
 * left by a process that no longer runs (killed) is taken over. Returns the function that releases it.
 *
 * @throws VectorDbError failed_precondition (FAILED_PRECONDITION) when a live process (or this one)
 *   holds the directory; unavailable (UNAVAILABLE) on an I/O error.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, lockFileName);
  let real: string;
  try {
    real = await realpath(dataDir);
  } catch (error) {
    throw ioError(dataDir, "resolving the data directory", error);
  }
  if (lockedHere.has(real)) throw new VectorDbError("failed_precondition", `${dataDir}: the data directory is already open in this process`);
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(`${process.pid}\n`, "utf8");
      } finally {
        await handle.close();
      }
      await fsyncFile(path);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 2) throw ioError(path, "taking the lock", error);
    }
    let holder = Number.NaN;
    try {
      holder = Number.parseInt(await readFile(path, "utf8"), 10);
    } catch {
      // Unreadable or gone: treat as stale.
    }
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
      throw new VectorDbError("failed_precondition", `${dataDir}: the data directory is in use by process ${holder} (${path}); stop it, or remove the lock file if that process is not a vectordb server`);
    }
    await unlink(path).catch(() => undefined);
  }
  lockedHere.add(real);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    lockedHere.delete(real);
    await unlink(path).catch(() => undefined);
  };
}
