import { constants as bufferConstants } from "node:buffer";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { decodeSnapshotSpec, decodeStateSections, sectionKindName, segmentFileName, writeSpec, type CollectionSpec, type LoadedSegment } from "../collection/index.js";
import type { Limits } from "../config.js";
import { VectorDbError } from "../errors.js";
import { readSegment, removeTree, writeNewFile, type FileSystem, type Segment } from "../storage/index.js";
import { makeStagingDir } from "./data-dir.js";

/** How snapshot files are named in restore errors. */
const label = "snapshot";

/** A snapshot received and verified in a staging folder, ready to be published as a collection. */
export interface StagedRestore {
  /** The staging folder: `segment.bin` (the snapshot file) and `collection.json` (the spec, renamed). */
  dir: string;
  spec: CollectionSpec;
  /** The segment as read and decoded here, for the collection to open without reading it again. */
  loaded: LoadedSegment;
}

/**
 * Receives a snapshot file into a new staging folder `collections/<name>.tmp-<hex>/` as its
 * `segment.bin`, and verifies it whole before anything else sees it: every CRC of the segment format
 * (header, section table, each section), the SHA-256 of the bytes received against `sha256`, the spec
 * section against this server's limits, and the consistency of the sections with each other (as
 * recovery checks them). Then writes `collection.json` with the spec under its new name. On any
 * failure the staging folder is removed.
 *
 * @param fs the storage seam every file operation goes through.
 * @param chunks the file's bytes, in order (read as they come, never held whole in memory here).
 * @throws VectorDbError data_loss (DATA_LOSS) naming the section (`segment section 3 (vectors) at
 *   offset …`) for a corrupt file, or `sha256` when only the hash disagrees; invalid_argument for a
 *   segment that is not a snapshot (no spec section); failed_precondition (FAILED_PRECONDITION) when
 *   the snapshot exceeds this server's limits or has a format this build does not read;
 *   resource_exhausted past the largest file one buffer holds; unavailable on an I/O error; the
 *   stream's own errors (e.g. cancelled).
 */
export async function stageRestore(fs: FileSystem, dataDir: string, name: string, sha256: string, chunks: AsyncIterable<Uint8Array>, limits: Readonly<Limits>): Promise<StagedRestore> {
  const dir = await makeStagingDir(fs, dataDir, name);
  try {
    const path = join(dir, segmentFileName);
    const hash = createHash("sha256");
    const sizeBytes = await writeNewFile(fs, path, hashed(chunks, hash));
    const received = hash.digest("hex");
    const segment = await readVerified(fs, path, received, sha256, sizeBytes);
    const spec: CollectionSpec = { ...decodeSnapshotSpec(segment, label), name };
    checkLimits(spec, limits);
    const state = decodeStateSections(segment, spec, label);
    if (state.liveCount > limits.collectionPointsMax) {
      throw new VectorDbError("failed_precondition", `${label}: holds ${state.liveCount} points, more than this server's collection_points_max ${limits.collectionPointsMax}`);
    }
    await writeSpec(fs, dir, spec);
    return { dir, spec, loaded: { state, sizeBytes } };
  } catch (error) {
    await removeTree(fs, dir).catch(() => undefined);
    throw error;
  }
}

/** The chunks, fed to `hash` as they pass; refuses more bytes than one buffer (the segment reader's) holds. */
async function* hashed(chunks: AsyncIterable<Uint8Array>, hash: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.byteLength;
    if (bytes > bufferConstants.MAX_LENGTH) {
      throw new VectorDbError("resource_exhausted", `chunk: the snapshot is larger than the ${bufferConstants.MAX_LENGTH} bytes this server can restore`);
    }
    hash.update(chunk);
    yield chunk;
  }
}

/**
 * Reads the received file as a segment (every CRC checked), then compares the hashes: a damaged
 * section is named even when the hash disagrees too (the usual case of a corrupted file).
 */
async function readVerified(fs: FileSystem, path: string, received: string, expected: string, sizeBytes: number): Promise<Segment> {
  const hashNote = received === expected ? "" : `; the sha256 of the ${sizeBytes} bytes received is ${received}, the request says ${expected}`;
  let segment: Segment;
  try {
    segment = await readSegment(fs, path, { label, kindName: sectionKindName });
  } catch (error) {
    if (error instanceof VectorDbError && hashNote !== "") throw new VectorDbError(error.code, `${error.rawMessage}${hashNote}`, { cause: error });
    throw error;
  }
  if (hashNote !== "") throw new VectorDbError("data_loss", `sha256: every section passes its CRC, but the sha256 of the ${sizeBytes} bytes received is ${received}, the request says ${expected}`);
  return segment;
}

/** @throws VectorDbError failed_precondition when the spec exceeds this server's limits. */
function checkLimits(spec: CollectionSpec, limits: Readonly<Limits>): void {
  const over = (what: string, value: number, limit: string, max: number): never => {
    throw new VectorDbError("failed_precondition", `${label}: its ${what} ${value} exceeds this server's ${limit} ${max}`);
  };
  if (spec.dimension > limits.dimensionMax) over("dimension", spec.dimension, "dimension_max", limits.dimensionMax);
  if (spec.hnsw.m > limits.hnswMMax) over("hnsw.m", spec.hnsw.m, "hnsw_m_max", limits.hnswMMax);
  if (spec.hnsw.efConstruction > limits.efMax) over("hnsw.ef_construction", spec.hnsw.efConstruction, "ef_max", limits.efMax);
  if (spec.hnsw.ef > limits.efMax) over("hnsw.ef", spec.hnsw.ef, "ef_max", limits.efMax);
}
