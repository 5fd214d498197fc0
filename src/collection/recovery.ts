import { join } from "node:path";
import { VectorDbError } from "../errors.js";
import { fsyncDirectory, ioError, readSegment, removeStaleTemporaries, Wal, type StorageIo, type WalOptions, type WalRecord } from "../storage/index.js";
import {
  isSegmentFileName,
  readManifest,
  decodeDeleteFilterRecord,
  decodeDeletesSection,
  decodeDeleteIdsRecord,
  decodeIngestBatchRecord,
  decodePayloadChangeRecord,
  decodeStateSections,
  decodeUpsertRecord,
  manifestFileName,
  segmentFileName,
  walFileName,
  walRecordType,
} from "./disk/index.js";
import type { IndexingOptions } from "./indexer.js";
import { SegmentedCollection, type LoadedSegmentEntry, type SegmentEvents } from "./segmented-collection.js";
import type { CollectionState } from "./snapshot.js";
import type { CollectionSpec } from "./types.js";
import type { CollectionLimits } from "./validate-points.js";

/** What recovery found when a collection was opened. */
export interface RecoveryReport {
  /** The manifest's sequence (or the legacy segment's; 0 when there was none). */
  segmentSequence: number;
  /** Size of the segment files in bytes (0 when none). */
  segmentBytes: number;
  /** Segment files loaded. */
  segmentFiles: number;
  /** Whether the folder has a manifest (`segments.json`); false for a folder from before segments. */
  hasManifest: boolean;
  /** Segment files the manifest does not list (a crash between writing them and the manifest, or before removing them), removed. */
  removedOrphans: string[];
  /** Records in the WAL after its torn tail (if any) was cut. */
  walRecords: number;
  /** Records replayed (sequence above the segment's). */
  replayedRecords: number;
  /** Bytes of torn tail removed from the WAL's end. */
  truncatedBytes: number;
  /**
   * Valid WAL records dropped with the torn tail because they followed a hole in the part written
   * since the last fsync (write-back out of order before a power loss; never acknowledged under the
   * `fsync` policy). 0 almost always.
   */
  droppedRecords: number;
  /** Temporary files a crash left in the directory, removed. */
  removedTemporaries: string[];
  /** Reading and restoring the segment, ms. */
  segmentMs: number;
  /** Opening the WAL and replaying it, ms. */
  replayMs: number;
}

/** A recovered collection: memory equal to segment + WAL, and the WAL open for appends. */
export interface Recovered {
  collection: SegmentedCollection;
  wal: Wal;
  report: RecoveryReport;
}

/** The WAL settings of a durable collection (its sequence floor comes from the segment, its disk and clock from the collection). */
export type WalSettings = Omit<WalOptions, "minNextSequence" | "io">;

/**
 * The folder's `segment.bin`, read and decoded already by the caller (a restore verifies the file in
 * its staging folder before publishing it), so that recovery does not read it again.
 */
export interface LoadedSegment {
  state: CollectionState;
  /** Size of the file, bytes. */
  sizeBytes: number;
}

/**
 * Recovers the collection stored in `dir`, creating an empty WAL if there is none: removes temporaries
 * left by a crash, fsyncs the folder (a crash between a rename and its directory fsync leaves the new
 * name in the page cache only: what recovery reads must be durable before writes are acknowledged on
 * top of it), loads `segment.bin` if present, opens `wal.log` (cutting a torn tail, then fsyncing it)
 * and replays its records above the segment's sequence. Every file operation goes through `io.fs`.
 *
 * @param loaded the folder's segment, when the caller has read and decoded it already.
 * @throws VectorDbError data_loss (DATA_LOSS) naming the file and offset for a corrupt segment or WAL
 *   (a bad WAL record followed by good ones, a section failing its CRC, a record or section that does
 *   not decode, a WAL cut past the segment); failed_precondition (FAILED_PRECONDITION) for an unknown
 *   file format version; unavailable (UNAVAILABLE) / not_found (NOT_FOUND) on I/O errors.
 */
export async function recoverCollection(
  dir: string,
  spec: Readonly<CollectionSpec>,
  limits: Readonly<CollectionLimits>,
  indexing: IndexingOptions,
  walSettings: Readonly<WalSettings>,
  io: StorageIo,
  loaded?: LoadedSegment,
  events?: SegmentEvents,
): Promise<Recovered> {
  const removedTemporaries = await removeStaleTemporaries(io.fs, dir);
  await fsyncDirectory(io.fs, dir);
  let started = performance.now();
  const { collection, segmentSequence, segmentBytes, segmentFiles, hasManifest, listed } = await loadSegments(io, dir, spec, limits, indexing, loaded, events);
  const segmentMs = performance.now() - started;

  started = performance.now();
  const walPath = join(dir, walFileName);
  let opened;
  try {
    opened = await Wal.open(walPath, { ...walSettings, minNextSequence: segmentSequence + 1, io });
  } catch (error) {
    collection.close();
    throw error;
  }
  const { wal, records, truncatedBytes, droppedRecords } = opened;
  let replayedRecords = 0;
  let removedOrphans: string[] = [];
  try {
    // The WAL is cut up to S only once a segment holding S is durable: a floor above the segment's
    // sequence + 1 means a newer segment was lost or replaced, and the records between are gone.
    if (wal.floorSequence > segmentSequence + 1) {
      const segmentPath = join(dir, hasManifest ? manifestFileName : segmentFileName);
      throw new VectorDbError(
        "data_loss",
        `${walPath}: the WAL was cut up to sequence ${wal.floorSequence - 1} (header floor at byte offset 12), but ${segmentFiles > 0 || hasManifest ? `${segmentPath} holds sequences only up to ${segmentSequence}` : `${segmentPath} is missing`}: the writes in between are lost`,
      );
    }
    // Only now that the WAL agrees with the segments: segment files nothing lists are leftovers.
    removedOrphans = await removeOrphans(io, dir, listed);
    for (const record of records) {
      if (record.sequence <= segmentSequence) continue;
      applyWalRecord(collection, spec, record, walPath);
      replayedRecords++;
    }
  } catch (error) {
    collection.close();
    await wal.close().catch(() => undefined);
    throw error;
  }
  const replayMs = performance.now() - started;
  const report = { segmentSequence, segmentBytes, segmentFiles, hasManifest, removedOrphans, walRecords: records.length, replayedRecords, truncatedBytes, droppedRecords, removedTemporaries, segmentMs, replayMs };
  return { collection, wal, report };
}

/**
 * The collection as its manifest lists it (each segment file read and every CRC checked, graphs loaded
 * without a rebuild), or as a folder from before segments holds it (`segment.bin`, one segment), or an
 * empty one. Segment files the manifest does not list are removed (after a crash they may be
 * half-merged or half-checkpointed leftovers: never referenced, so never needed).
 */
async function loadSegments(
  io: StorageIo,
  dir: string,
  spec: Readonly<CollectionSpec>,
  limits: Readonly<CollectionLimits>,
  indexing: IndexingOptions,
  loaded: LoadedSegment | undefined,
  events: SegmentEvents | undefined,
): Promise<{ collection: SegmentedCollection; segmentSequence: number; segmentBytes: number; segmentFiles: number; hasManifest: boolean; listed: Set<string> }> {
  const manifest = loaded === undefined ? await readManifest(io.fs, dir) : undefined;
  const entries: LoadedSegmentEntry[] = [];
  let sequence = 0;
  let ingests: [string, number][] = [];
  let nextSegmentId = 1;
  let collection: SegmentedCollection;
  try {
    if (manifest !== undefined) {
      // One file at a time, restored before the next is read into the same buffer (see
      // SegmentedCollection.restoreSegment: nothing of a file's state is kept).
      const scratch = { buffer: Buffer.alloc(0) };
      for (const listed of manifest.segments) {
        const path = join(dir, listed.file);
        const segment = await readSegment(io.fs, path, { scratch }).catch((error: unknown) => {
          if (!(error instanceof VectorDbError && error.code === "not_found")) throw error;
          throw new VectorDbError("data_loss", `${path}: listed in ${join(dir, manifestFileName)} (as of sequence ${manifest.sequence}) but missing`, { cause: error });
        });
        let tombstones: { slots: Uint32Array; sequences: Float64Array } | undefined;
        let deletes: LoadedSegmentEntry["deletes"];
        if (listed.deletes !== undefined) {
          const deletesPath = join(dir, listed.deletes);
          const deletesFile = await readSegment(io.fs, deletesPath).catch((error: unknown) => {
            if (!(error instanceof VectorDbError && error.code === "not_found")) throw error;
            throw new VectorDbError("data_loss", `${deletesPath}: listed in ${join(dir, manifestFileName)} (as of sequence ${manifest.sequence}) but missing`, { cause: error });
          });
          tombstones = decodeDeletesSection(deletesFile, deletesPath);
          deletes = { file: listed.deletes, sizeBytes: deletesFile.sizeBytes };
        }
        const data = SegmentedCollection.restoreSegment(spec, limits, indexing, listed.file, decodeStateSections(segment, spec, path), tombstones);
        entries.push({ id: listed.id, sealed: listed.sealed, data, file: listed.file, sizeBytes: segment.sizeBytes, deletes });
      }
      ({ sequence, ingests, nextSegmentId } = manifest);
    } else {
      const legacy = await loadLegacySegment(io, dir, spec, loaded);
      if (legacy !== undefined) {
        const data = SegmentedCollection.restoreSegment(spec, limits, indexing, segmentFileName, legacy.state);
        entries.push({ id: 1, sealed: false, data, file: segmentFileName, sizeBytes: legacy.sizeBytes });
        ({ sequence, ingests } = legacy.state);
        nextSegmentId = 2;
      }
    }
    collection = new SegmentedCollection(spec, limits, indexing, entries, sequence, ingests, nextSegmentId, events);
  } catch (error) {
    for (const entry of entries) entry.data.close();
    throw error;
  }
  const segmentBytes = entries.reduce((sum, e) => sum + e.sizeBytes, 0);
  return { collection, segmentSequence: sequence, segmentBytes, segmentFiles: entries.length, hasManifest: manifest !== undefined, listed: new Set(entries.flatMap((e) => (e.deletes === undefined ? [e.file] : [e.file, e.deletes.file]))) };
}

/**
 * Removes the segment files in `dir` not in `listed`: written by a checkpoint or merge that crashed
 * before its manifest, or released by one that crashed before removing them. Never needed: nothing
 * durable refers to them.
 */
async function removeOrphans(io: StorageIo, dir: string, listed: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  let entries;
  try {
    entries = await io.fs.readdir(dir);
  } catch (error) {
    throw ioError(dir, "list", error);
  }
  for (const entry of entries) {
    if (entry.isDirectory || !isSegmentFileName(entry.name) || listed.has(entry.name)) continue;
    try {
      await io.fs.unlink(join(dir, entry.name));
    } catch (error) {
      throw ioError(join(dir, entry.name), "remove", error);
    }
    removed.push(entry.name);
  }
  return removed;
}

/** `segment.bin` of a folder from before segments (or `loaded`), undefined when there is none. */
async function loadLegacySegment(io: StorageIo, dir: string, spec: Readonly<CollectionSpec>, loaded: LoadedSegment | undefined): Promise<LoadedSegment | undefined> {
  if (loaded !== undefined) return loaded;
  const segmentPath = join(dir, segmentFileName);
  try {
    const segment = await readSegment(io.fs, segmentPath);
    return { state: decodeStateSections(segment, spec, segmentPath), sizeBytes: segment.sizeBytes };
  } catch (error) {
    if (error instanceof VectorDbError && error.code === "not_found") return undefined;
    throw error;
  }
}

/**
 * Applies one WAL record to `collection` with its sequence (recovery's replay, and replication's
 * records); returns what the collection's apply returned (an UpsertResult, or a count of points).
 * @param walPath where the record comes from, for messages (a file, or a replicated log).
 * @throws VectorDbError data_loss naming `walPath` and the record's offset when the record does not
 *   decode or has an unknown type.
 */
export function applyWalRecord(collection: SegmentedCollection, spec: Readonly<CollectionSpec>, record: Pick<WalRecord, "sequence" | "type" | "body" | "offset">, walPath: string): unknown {
  try {
    switch (record.type) {
      case walRecordType.upsert: {
        const { points, payloadBytes } = decodeUpsertRecord(record.body, spec.dimension);
        return collection.applyUpsert(points, payloadBytes, record.sequence);
      }
      case walRecordType.deleteIds:
        return collection.deleteIds(decodeDeleteIdsRecord(record.body), record.sequence);
      case walRecordType.deleteByFilter:
        return collection.deleteByFilter(decodeDeleteFilterRecord(record.body), record.sequence);
      case walRecordType.payloadChange: {
        const { selector, change } = decodePayloadChangeRecord(record.body);
        return collection.applyPayloadChange(selector, change, record.sequence);
      }
      case walRecordType.ingestBatch: {
        const { ingestId, batch, points, payloadBytes } = decodeIngestBatchRecord(record.body, spec.dimension);
        return collection.applyIngestBatch(ingestId, batch, points, payloadBytes, record.sequence);
      }
      default:
        throw new Error(`unknown record type ${record.type}`);
    }
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new VectorDbError("data_loss", `${walPath}: WAL record at byte offset ${record.offset} (sequence ${record.sequence}, type ${record.type}) cannot be replayed: ${detail}`, {
      cause: error,
    });
  }
}
