import { join } from "node:path";
import { VectorDbError } from "../errors.js";
import { errorCode, type FileSystem, fsyncFile, ioError, readFileBytes, writeChunksAt } from "../storage/index.js";

/** The lock file inside the data directory. */
export const lockFileName = "LOCK";

/**
 * Data directories this process holds (real paths), per file system: a simulated disk is a machine of
 * its own, and a simulated power cut forgets what its previous boot held.
 */
const lockedHere = new WeakMap<FileSystem, Set<string>>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes `<dataDir>/LOCK` for this process (every file operation through `fs`), so that two servers never write the same files. A lock
 * left by a process that no longer runs (killed) is taken over. Returns the function that releases it.
 *
 * @throws VectorDbError failed_precondition (FAILED_PRECONDITION) when a live process (or this one)
 *   holds the directory; unavailable (UNAVAILABLE) on an I/O error.
 */
export async function lockDataDir(fs: FileSystem, dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, lockFileName);
  let real: string;
  try {
    real = await fs.realpath(dataDir);
  } catch (error) {
    throw ioError(dataDir, "resolving the data directory", error, "unavailable");
  }
  const held = lockedHere.get(fs) ?? new Set<string>();
  lockedHere.set(fs, held);
  if (held.has(real)) throw new VectorDbError("failed_precondition", `${dataDir}: the data directory is already open in this process`);
  for (let attempt = 0; ; attempt++) {
    try {
      const file = await fs.open(path, "wx");
      try {
        await writeChunksAt(file, [Buffer.from(`${process.pid}\n`, "utf8")], 0);
      } finally {
        await file.close();
      }
      await fsyncFile(fs, path);
      break;
    } catch (error) {
      if (errorCode(error) !== "EEXIST" || attempt >= 2) throw ioError(path, "taking the lock", error, "unavailable");
    }
    let holder = Number.NaN;
    try {
      holder = Number.parseInt((await readFileBytes(fs, path)).toString("utf8"), 10);
    } catch {
      // Unreadable or gone: treat as stale.
    }
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
      throw new VectorDbError("failed_precondition", `${dataDir}: the data directory is in use by process ${holder} (${path}); stop it, or remove the lock file if that process is not a vectordb server`);
    }
    await fs.unlink(path).catch(() => undefined);
  }
  held.add(real);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    held.delete(real);
    await fs.unlink(path).catch(() => undefined);
  };
}
