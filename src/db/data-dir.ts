/**
 * The data directory on disk:
 *
 * ```
 * <dataDir>/
 *   LOCK                          pid of the server using the directory (lock.ts)
 *   collections/
 *     <name>/                     one folder per collection (names are [A-Za-z0-9_-]{1,64}); its
 *                                 files are the collection's (src/collection/disk/layout.ts)
 *     <name>.tmp-<hex>/           a collection being created (removed on open: never acknowledged)
 *     <name>.dropped-<hex>/       a collection being dropped (removed on open: the drop was durable)
 * ```
 *
 * Creating a collection writes its folder under a temporary name, fsyncs the file and the folder,
 * renames it to `<name>` and fsyncs `collections/`. Dropping renames `<name>` to a `.dropped-` name,
 * fsyncs `collections/`, then deletes it. Both are atomic: after a crash the collection either exists
 * whole or not at all.
 *
 * Every failure is a {@link VectorDbError}: I/O errors are `unavailable` (UNAVAILABLE) naming the path.
 * Every file operation goes through the {@link FileSystem} given.
 */
import { dirname, join } from "node:path";
import { collectionNamePattern, collectionNameSource, writeSpec, type CollectionSpec } from "../collection/index.js";
import { VectorDbError } from "../errors.js";
import { errorCode, type FileSystem, fsyncDirectory, makeDirectoryDurably, removeTree, ioError as storageIoError } from "../storage/index.js";

/** The folder of collections inside the data directory. */
export const collectionsDirName = "collections";

const leftoverDirPattern = new RegExp(`^${collectionNameSource}\\.(tmp|dropped)-[0-9a-f]+$`);

/** Every I/O failure of the data directory is UNAVAILABLE, a missing entry included. */
function ioError(path: string, action: string, error: unknown): VectorDbError {
  return storageIoError(path, action, error, "unavailable");
}

/** The folder of collections of a data directory. */
export function collectionsDir(dataDir: string): string {
  return join(dataDir, collectionsDirName);
}

/**
 * Creates `<dataDir>/collections/` if needed (and the data directory and its missing parents), durably:
 * each directory created is followed by an fsync of its parent; then fsyncs the data directory and
 * its parent anyway, in case a crashed predecessor created them and died before its fsync.
 * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error.
 */
export async function prepareDataDir(fs: FileSystem, dataDir: string): Promise<void> {
  const dir = collectionsDir(dataDir);
  try {
    await makeDirectoryDurably(fs, dir);
    await fsyncDirectory(fs, dataDir);
    await fsyncDirectory(fs, dirname(dataDir));
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
 * (a create that was never acknowledged, or a drop that was already durable), then fsyncs
 * `collections/`: a create whose rename was done but not yet fsynced when the process died is
 * visible now, and must not vanish at a later power loss once it serves.
 * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error.
 */
export async function scanCollections(fs: FileSystem, dataDir: string): Promise<CollectionScan> {
  const dir = collectionsDir(dataDir);
  let entries;
  try {
    entries = await fs.readdir(dir);
  } catch (error) {
    throw ioError(dir, "listing collections", error);
  }
  const scan: CollectionScan = { names: [], removed: [], ignored: [] };
  for (const entry of entries) {
    if (entry.isDirectory && collectionNamePattern.test(entry.name)) scan.names.push(entry.name);
    else if (leftoverDirPattern.test(entry.name)) scan.removed.push(entry.name);
    else scan.ignored.push(entry.name);
  }
  scan.removed.sort();
  for (const name of scan.removed) {
    try {
      await removeTree(fs, join(dir, name));
    } catch (error) {
      throw ioError(join(dir, name), "removing a leftover folder", error);
    }
  }
  await fsyncDirectory(fs, dir);
  scan.names.sort();
  return scan;
}

/**
 * A new, empty staging folder for collection `name`: `collections/<name>.tmp-<hex>/` (removed on the
 * next open if it is never published). Returns its path.
 * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error.
 */
export async function makeStagingDir(fs: FileSystem, dataDir: string, name: string): Promise<string> {
  const temporary = join(collectionsDir(dataDir), `${name}.tmp-${fs.uniqueSuffix()}`);
  try {
    await fs.mkdir(temporary);
  } catch (error) {
    throw ioError(temporary, "creating a staging folder", error);
  }
  return temporary;
}

/**
 * Publishes a complete staging folder (from {@link makeStagingDir}, its files fsynced) as collection
 * `name`: fsyncs it, renames it to `collections/<name>` and fsyncs `collections/`. Returns the final
 * path. On failure the staging folder is removed and nothing is left under the final name.
 * @throws VectorDbError already_exists (ALREADY_EXISTS) if the folder exists; unavailable
 *   (UNAVAILABLE) on an I/O error.
 */
export async function publishCollectionDir(fs: FileSystem, dataDir: string, staging: string, name: string): Promise<string> {
  const parent = collectionsDir(dataDir);
  const final = join(parent, name);
  try {
    await fsyncDirectory(fs, staging);
    try {
      await fs.rename(staging, final);
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOTEMPTY" || code === "EEXIST") throw new VectorDbError("already_exists", `name: collection "${name}" already exists on disk (${final})`);
      throw error;
    }
  } catch (error) {
    await removeTree(fs, staging).catch(() => undefined);
    throw ioError(final, "creating the collection folder", error);
  }
  await fsyncDirectory(fs, parent);
  return final;
}

/**
 * Creates the folder of a new collection atomically and durably (see the module documentation) and
 * returns its path. The WAL is created when the collection is opened.
 * @throws VectorDbError already_exists (ALREADY_EXISTS) if the folder exists; unavailable
 *   (UNAVAILABLE) on an I/O error (nothing is left under the final name).
 */
export async function createCollectionDir(fs: FileSystem, dataDir: string, spec: Readonly<CollectionSpec>): Promise<string> {
  const staging = await makeStagingDir(fs, dataDir, spec.name);
  try {
    // Fsyncs the file and the staging folder.
    await writeSpec(fs, staging, spec);
  } catch (error) {
    await removeTree(fs, staging).catch(() => undefined);
    throw ioError(join(collectionsDir(dataDir), spec.name), "creating the collection folder", error);
  }
  return publishCollectionDir(fs, dataDir, staging, spec.name);
}

/**
 * Drops a collection folder atomically and durably: renames it to a `.dropped-` name, fsyncs
 * `collections/`, then deletes it (a crash during the delete leaves a folder that the next open removes).
 * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error.
 */
export async function dropCollectionDir(fs: FileSystem, dataDir: string, name: string): Promise<void> {
  const parent = collectionsDir(dataDir);
  const dir = join(parent, name);
  const doomed = join(parent, `${name}.dropped-${fs.uniqueSuffix()}`);
  try {
    await fs.rename(dir, doomed);
  } catch (error) {
    throw ioError(dir, "renaming the collection folder for the drop", error);
  }
  await fsyncDirectory(fs, parent);
  try {
    await removeTree(fs, doomed);
  } catch (error) {
    throw ioError(doomed, "deleting the dropped collection folder", error);
  }
}
