import { open, readFile, realpath, unlink } from "node:fs/promises";
import { join } from "node:path";
import { VectorDbError } from "../errors.js";
import { fsyncFile, ioError } from "../storage/index.js";

/** The lock file inside the data directory. */
export const lockFileName = "LOCK";

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
    throw ioError(dataDir, "resolving the data directory", error, "unavailable");
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
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 2) throw ioError(path, "taking the lock", error, "unavailable");
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
