import { join } from "node:path";
import { VectorDbError } from "../errors.js";
import { errorCode, ioError, readFileBytes, writeFileAtomic, type FileSystem } from "../storage/index.js";

/** The file in the data directory where a replica keeps how far it applied the meta log. */
export const replicationStateFileName = "replication.json";
const formatVersion = 1;

/**
 * What a replica has applied of the meta log, kept in `<dataDir>/replication.json` (replaced
 * atomically after each meta record): the meta sequence, and the incarnation (meta sequence of the
 * create) of each collection it holds. The collections' own positions are their applied sequences.
 */
export interface ReplicationState {
  metaSequence: number;
  collections: Record<string, number>;
}

/**
 * Reads the state; a missing file is a new (or wiped) replica: meta sequence 0, no collections.
 * @throws VectorDbError data_loss naming the file when it does not parse; unavailable on an I/O error.
 */
export async function readReplicationState(fs: FileSystem, dataDir: string): Promise<ReplicationState> {
  const path = join(dataDir, replicationStateFileName);
  let bytes: Buffer;
  try {
    bytes = await readFileBytes(fs, path);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return { metaSequence: 0, collections: {} };
    throw ioError(path, "reading", error, "unavailable");
  }
  try {
    const parsed = JSON.parse(bytes.toString("utf8")) as { version?: unknown; metaSequence?: unknown; collections?: unknown };
    if (parsed.version !== formatVersion || !Number.isSafeInteger(parsed.metaSequence) || typeof parsed.collections !== "object" || parsed.collections === null) {
      throw new Error(`expected {"version":${formatVersion},"metaSequence":n,"collections":{...}}`);
    }
    const collections: Record<string, number> = {};
    for (const [name, incarnation] of Object.entries(parsed.collections as Record<string, unknown>)) {
      if (!Number.isSafeInteger(incarnation)) throw new Error(`collection "${name}" has no integer incarnation`);
      collections[name] = incarnation as number;
    }
    return { metaSequence: parsed.metaSequence as number, collections };
  } catch (error) {
    throw new VectorDbError("data_loss", `${path}: ${error instanceof Error ? error.message : String(error)}; remove the file to rebuild this replica's collections from the cluster`);
  }
}

/** Replaces the state file atomically (temporary file, fsync, rename, directory fsync). */
export async function writeReplicationState(fs: FileSystem, dataDir: string, state: ReplicationState): Promise<void> {
  const json = JSON.stringify({ version: formatVersion, metaSequence: state.metaSequence, collections: state.collections });
  await writeFileAtomic(fs, join(dataDir, replicationStateFileName), [Buffer.from(json, "utf8")]);
}
