import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdir, readFile, realpath, rename, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * What `vectordb ingest` remembers of a load so that `--resume` can continue it: the `ingest_id` the
 * server stores with each batch, and the file and batch size that define the batches. One small JSON
 * file per (collection, file, batch size) in the state directory:
 * `$VECTORDB_STATE_DIR`, else `$XDG_STATE_HOME/vectordb`, else `~/.local/state/vectordb`, under `ingest/`.
 */
export interface IngestState {
  formatVersion: 1;
  /** The load's identity on the server (a UUID). */
  ingestId: string;
  collection: string;
  /** Real path of the file. */
  file: string;
  /** Size and modification time of the file when the load started: a changed file cannot be resumed. */
  fileBytes: number;
  fileMtimeMs: number;
  /** Points per batch: batch N holds the same points in every run only with the same size. */
  batchSize: number;
  /** True once a run finished the whole file. */
  complete: boolean;
}

/** The directory where load states are kept. */
export function stateDir(): string {
  const base = process.env.VECTORDB_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "vectordb");
  return join(base, "ingest");
}

/** The state file of loads of `file` into `collection` in batches of `batchSize`. */
async function statePath(collection: string, file: string, batchSize: number): Promise<{ path: string; real: string }> {
  const real = await realpath(file);
  const key = createHash("sha256").update(JSON.stringify([collection, real, batchSize])).digest("hex").slice(0, 32);
  return { path: join(stateDir(), `${key}.json`), real };
}

/** Writes a state file atomically (temporary name, then rename). */
async function save(path: string, state: IngestState): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const temporary = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, "utf8");
  await rename(temporary, path);
}

/** A recorded load, and how to mark it complete. */
export interface IngestLoad {
  state: IngestState;
  /** Records that the whole file is durable. */
  markComplete(): Promise<void>;
}

/** Starts a new load of `file` (a fresh ingest id), replacing what was recorded for it. */
export async function startLoad(collection: string, file: string, batchSize: number): Promise<IngestLoad> {
  const { path, real } = await statePath(collection, file, batchSize);
  const { size, mtimeMs } = await stat(real);
  const state: IngestState = { formatVersion: 1, ingestId: randomUUID(), collection, file: real, fileBytes: size, fileMtimeMs: mtimeMs, batchSize, complete: false };
  await save(path, state);
  return { state, markComplete: () => save(path, { ...state, complete: true }) };
}

/**
 * The recorded load of `file` into `collection` in batches of `batchSize`, to resume.
 * @throws Error when none is recorded, or the file changed since it started.
 */
export async function resumeLoad(collection: string, file: string, batchSize: number): Promise<IngestLoad> {
  const { path, real } = await statePath(collection, file, batchSize);
  let state: IngestState;
  try {
    state = JSON.parse(await readFile(path, "utf8")) as IngestState;
  } catch {
    throw new Error(`nothing to resume: no load of ${real} into "${collection}" in batches of ${batchSize} is recorded in ${stateDir()} (run without --resume to start one)`);
  }
  const { size, mtimeMs } = await stat(real);
  if (size !== state.fileBytes || mtimeMs !== state.fileMtimeMs) {
    throw new Error(`cannot resume: ${real} changed since the load started (${state.fileBytes} bytes then, ${size} now); run without --resume to load it again`);
  }
  return { state, markComplete: () => save(path, { ...state, complete: true }) };
}
