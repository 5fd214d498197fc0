import { join } from "node:path";
import { VectorDbError } from "../../errors.js";
import { isDistanceKind } from "../../index/index.js";
import { errorCode, type FileSystem, ioError, readFileBytes, writeFileAtomic } from "../../storage/index.js";
import { collectionNamePattern } from "../collection-name.js";
import type { CollectionSpec, HnswParams } from "../types.js";
import { parseVersionedJson } from "./json-file.js";
import { collectionFormatVersion, collectionFormatVersionsRead, specFileName } from "./layout.js";

/** The JSON of `collection.json`. */
export function encodeSpec(spec: Readonly<CollectionSpec>): string {
  const { name, dimension, distance, hnsw, quantization } = spec;
  const json: Record<string, unknown> = { formatVersion: collectionFormatVersion, name, dimension, distance, hnsw: { m: hnsw.m, efConstruction: hnsw.efConstruction, ef: hnsw.ef } };
  if (quantization !== undefined) json.quantization = { type: quantization.type, quantile: quantization.quantile, alwaysRam: quantization.alwaysRam };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/**
 * Parses `collection.json`.
 * @param path named in errors.
 * @throws VectorDbError data_loss (DATA_LOSS) when it is not a spec of this format;
 *   failed_precondition (FAILED_PRECONDITION) for another format version.
 */
export function decodeSpec(text: string, path: string): CollectionSpec {
  return decodeSpecFile(text, path).spec;
}

/**
 * Parses `collection.json` and tells its format version (one of {@link collectionFormatVersionsRead}).
 * @throws VectorDbError as {@link decodeSpec}.
 */
export function decodeSpecFile(text: string, path: string): { spec: CollectionSpec; formatVersion: number } {
  const bad = (what: string): never => {
    throw new VectorDbError("data_loss", `${path}: ${what}`);
  };
  const spec = parseVersionedJson(text, path, collectionFormatVersionsRead);
  const formatVersion = spec.formatVersion as number;
  const positive = (value: unknown, what: string): number => (Number.isSafeInteger(value) && (value as number) >= 1 ? (value as number) : bad(`${what} must be a positive integer, got ${JSON.stringify(value)}`));
  const name = spec.name;
  if (typeof name !== "string" || !collectionNamePattern.test(name)) return bad(`name ${JSON.stringify(name)} is not a collection name`);
  const distance = spec.distance;
  if (!isDistanceKind(distance)) return bad(`distance ${JSON.stringify(distance)} is not cosine, dot or euclidean`);
  const hnsw = spec.hnsw;
  if (typeof hnsw !== "object" || hnsw === null) return bad("hnsw is missing");
  const fields = hnsw as Record<string, unknown>;
  const params: HnswParams = { m: positive(fields.m, "hnsw.m"), efConstruction: positive(fields.efConstruction, "hnsw.efConstruction"), ef: positive(fields.ef, "hnsw.ef") };
  const decoded: CollectionSpec = { name, dimension: positive(spec.dimension, "dimension"), distance, hnsw: params };
  // Absent in files written before quantization existed: those collections have none.
  if (spec.quantization !== undefined) {
    const quantization = spec.quantization as Record<string, unknown> | null;
    if (typeof quantization !== "object" || quantization === null) return bad("quantization is not an object");
    const { type, quantile, alwaysRam } = quantization;
    if (type !== "int8") return bad(`quantization.type ${JSON.stringify(type)} is not int8`);
    if (typeof quantile !== "number" || !(quantile > 0.5 && quantile <= 1)) return bad(`quantization.quantile ${JSON.stringify(quantile)} is outside (0.5, 1]`);
    if (typeof alwaysRam !== "boolean") return bad(`quantization.alwaysRam ${JSON.stringify(alwaysRam)} is not a boolean`);
    decoded.quantization = { type, quantile, alwaysRam };
  }
  return { spec: decoded, formatVersion };
}

/**
 * Reads the spec of the collection folder `dir`, which must be named after the collection.
 * @throws VectorDbError data_loss (DATA_LOSS) for a damaged or missing file, or one naming another
 *   collection; failed_precondition for another format version; unavailable on an I/O error.
 */
export async function readSpec(fs: FileSystem, dir: string, name: string): Promise<CollectionSpec> {
  return (await readSpecFile(fs, dir, name)).spec;
}

/**
 * Reads the spec of the collection folder `dir` and tells its format version.
 * @throws VectorDbError as {@link readSpec}.
 */
export async function readSpecFile(fs: FileSystem, dir: string, name: string): Promise<{ spec: CollectionSpec; formatVersion: number }> {
  const path = join(dir, specFileName);
  let text: string;
  try {
    text = (await readFileBytes(fs, path)).toString("utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") throw new VectorDbError("data_loss", `${path}: missing`, { cause: error });
    throw ioError(path, "reading", error, "unavailable");
  }
  const decoded = decodeSpecFile(text, path);
  if (decoded.spec.name !== name) throw new VectorDbError("data_loss", `${path}: names collection "${decoded.spec.name}" but is in folder "${name}"`);
  return decoded;
}

/**
 * Replaces `collection.json` in the folder `dir` with `spec` at the current format version,
 * atomically and durably (temporary file, fsync, rename, directory fsync).
 * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error (the old file stays).
 */
export async function writeSpec(fs: FileSystem, dir: string, spec: Readonly<CollectionSpec>): Promise<void> {
  await writeFileAtomic(fs, join(dir, specFileName), [Buffer.from(encodeSpec(spec), "utf8")]);
}
