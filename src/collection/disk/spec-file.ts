import { join } from "node:path";
import { VectorDbError } from "../../errors.js";
import { isDistanceKind } from "../../index/index.js";
import { errorCode, type FileSystem, ioError, readFileBytes } from "../../storage/index.js";
import { collectionNamePattern } from "../collection-name.js";
import type { CollectionSpec, HnswParams } from "../types.js";
import { collectionFormatVersion, specFileName } from "./layout.js";

/** The JSON of `collection.json`. */
export function encodeSpec(spec: Readonly<CollectionSpec>): string {
  const { name, dimension, distance, hnsw } = spec;
  return `${JSON.stringify({ formatVersion: collectionFormatVersion, name, dimension, distance, hnsw: { m: hnsw.m, efConstruction: hnsw.efConstruction, ef: hnsw.ef } }, null, 2)}\n`;
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
  if (spec.formatVersion !== collectionFormatVersion) {
    throw new VectorDbError("failed_precondition", `${path}: format version ${JSON.stringify(spec.formatVersion)} is not supported (this build reads version ${collectionFormatVersion})`);
  }
  const positive = (value: unknown, what: string): number => (Number.isSafeInteger(value) && (value as number) >= 1 ? (value as number) : bad(`${what} must be a positive integer, got ${JSON.stringify(value)}`));
  const name = spec.name;
  if (typeof name !== "string" || !collectionNamePattern.test(name)) return bad(`name ${JSON.stringify(name)} is not a collection name`);
  const distance = spec.distance;
  if (!isDistanceKind(distance)) return bad(`distance ${JSON.stringify(distance)} is not cosine, dot or euclidean`);
  const hnsw = spec.hnsw;
  if (typeof hnsw !== "object" || hnsw === null) return bad("hnsw is missing");
  const fields = hnsw as Record<string, unknown>;
  const params: HnswParams = { m: positive(fields.m, "hnsw.m"), efConstruction: positive(fields.efConstruction, "hnsw.efConstruction"), ef: positive(fields.ef, "hnsw.ef") };
  return { name, dimension: positive(spec.dimension, "dimension"), distance, hnsw: params };
}

/**
 * Reads the spec of the collection folder `dir`, which must be named after the collection.
 * @throws VectorDbError data_loss (DATA_LOSS) for a damaged or missing file, or one naming another
 *   collection; failed_precondition for another format version; unavailable on an I/O error.
 */
export async function readSpec(fs: FileSystem, dir: string, name: string): Promise<CollectionSpec> {
  const path = join(dir, specFileName);
  let text: string;
  try {
    text = (await readFileBytes(fs, path)).toString("utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") throw new VectorDbError("data_loss", `${path}: missing`, { cause: error });
    throw ioError(path, "reading", error, "unavailable");
  }
  const spec = decodeSpec(text, path);
  if (spec.name !== name) throw new VectorDbError("data_loss", `${path}: names collection "${spec.name}" but is in folder "${name}"`);
  return spec;
}
