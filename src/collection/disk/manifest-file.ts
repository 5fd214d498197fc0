import { join } from "node:path";
import { VectorDbError } from "../../errors.js";
import { errorCode, ioError, readFileBytes, writeFileAtomic, type FileSystem } from "../../storage/index.js";
import { parseVersionedJson } from "./json-file.js";
import { manifestFileName, segmentFileName } from "./layout.js";

/** `formatVersion` of `segments.json`. */
export const manifestFormatVersion = 1;

/** Most segments a manifest may list (a bound on a file read at open; merges keep far fewer). */
export const manifestSegmentsMax = 100_000;

/** One segment listed in the manifest. */
export interface ManifestSegment {
  /** The segment's id within the collection. */
  id: number;
  /** Its file in the collection folder. */
  file: string;
  /** False for the appendable segment. */
  sealed: boolean;
  /** A deletes file (`segment-<id>-<seq>.del`): slots of `file` deleted since it was written. */
  deletes?: string | undefined;
}

/**
 * `segments.json`: the segments of a collection as of checkpoint `sequence`, the next segment id,
 * and the resumable loads. Replaced atomically (temporary, fsync, rename, folder fsync) after every
 * file it lists is durable; a segment file it does not list is an orphan (removed on open).
 */
export interface Manifest {
  /** Every write up to this sequence is in the listed files; the WAL holds the ones after it. */
  sequence: number;
  nextSegmentId: number;
  segments: ManifestSegment[];
  /** The resumable loads: `[ingest_id, highest batch_seq applied]`, least recently written first. */
  ingests: [string, number][];
}

/** Name of the file of segment `id` written by the checkpoint at `sequence`: `segment-<id>-<sequence>.bin`. */
export function segmentFileNameFor(id: number, sequence: number): string {
  return `segment-${id}-${sequence}.bin`;
}

/** Name of the deletes file of segment `id` written by the checkpoint at `sequence`: `segment-<id>-<sequence>.del`. */
export function deletesFileNameFor(id: number, sequence: number): string {
  return `segment-${id}-${sequence}.del`;
}

/** Whether a name in a collection folder is a segment or deletes file (listed in a manifest, or an orphan). */
export function isSegmentFileName(name: string): boolean {
  return /^segment-\d+-\d+\.(bin|del)$/.test(name) || name === segmentFileName;
}

/** Writes `manifest` into `dir` atomically. @throws VectorDbError unavailable / not_found on I/O errors. */
export async function writeManifest(fs: FileSystem, dir: string, manifest: Manifest): Promise<void> {
  const json = JSON.stringify({ formatVersion: manifestFormatVersion, ...manifest });
  await writeFileAtomic(fs, join(dir, manifestFileName), [Buffer.from(json, "utf8")]);
}

/**
 * Reads `dir`'s manifest; undefined when there is none (a folder from before segments, or one never
 * checkpointed).
 * @throws VectorDbError data_loss naming the file for a manifest that does not parse or is
 *   inconsistent; failed_precondition for an unknown format version; unavailable on I/O errors.
 */
export async function readManifest(fs: FileSystem, dir: string): Promise<Manifest | undefined> {
  const path = join(dir, manifestFileName);
  let bytes: Buffer;
  try {
    bytes = await readFileBytes(fs, path);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw ioError(path, "reading", error, "unavailable");
  }
  const json = parseVersionedJson(bytes.toString("utf8"), path, [manifestFormatVersion]);
  const bad = (what: string): VectorDbError => new VectorDbError("data_loss", `${path}: ${what}`);
  const count = (value: unknown, what: string): number => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw bad(`${what} is not a non-negative integer`);
    return value;
  };
  const sequence = count(json.sequence, "sequence");
  const nextSegmentId = count(json.nextSegmentId, "nextSegmentId");
  if (!Array.isArray(json.segments) || json.segments.length > manifestSegmentsMax) throw bad(`segments is not a list of at most ${manifestSegmentsMax}`);
  const ids = new Set<number>();
  const segments = json.segments.map((entry: unknown, i: number): ManifestSegment => {
    const item = entry as Record<string, unknown>;
    const id = count(item?.id, `segments[${i}].id`);
    if (typeof item.file !== "string" || !isSegmentFileName(item.file)) throw bad(`segments[${i}].file is not a segment file name`);
    if (typeof item.sealed !== "boolean") throw bad(`segments[${i}].sealed is not a boolean`);
    if (item.deletes !== undefined && (typeof item.deletes !== "string" || !isSegmentFileName(item.deletes))) throw bad(`segments[${i}].deletes is not a deletes file name`);
    if (ids.has(id) || id >= nextSegmentId) throw bad(`segments[${i}].id ${id} is repeated or not below nextSegmentId ${nextSegmentId}`);
    ids.add(id);
    return { id, file: item.file, sealed: item.sealed, deletes: item.deletes as string | undefined };
  });
  if (!Array.isArray(json.ingests)) throw bad("ingests is not a list");
  const ingests = json.ingests.map((entry: unknown, i: number): [string, number] => {
    if (!Array.isArray(entry) || typeof entry[0] !== "string") throw bad(`ingests[${i}] is not [ingest_id, batch_seq]`);
    return [entry[0], count(entry[1], `ingests[${i}][1]`)];
  });
  return { sequence, nextSegmentId, segments, ingests };
}
