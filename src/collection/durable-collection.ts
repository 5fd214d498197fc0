import { join } from "node:path";
import type { Logger } from "pino";
import type { IndexingConfig } from "../config.js";
import { VectorDbError } from "../errors.js";
import { readSegment, removeStaleTemporaries, Wal, writeSegment, type WalDurability, type WalRecord } from "../storage/index.js";
import { Collection, type CollectionLimits, type SearchPlan } from "./collection.js";
import { decodeStateSections, encodeStateSections } from "./segment-sections.js";
import type { CollectionSpec, CollectionStats, Filter, Hit, PointInput, PointRecord, SearchParams, UpsertResult } from "./types.js";
import {
  decodeDeleteFilterRecord,
  decodeDeleteIdsRecord,
  decodeUpsertRecord,
  encodeDeleteFilterRecord,
  encodeDeleteIdsRecord,
  encodeUpsertRecord,
  walRecordType,
} from "./wal-records.js";

/** The WAL's file name inside a collection directory. */
export const walFileName = "wal.log";
/** The segment's file name inside a collection directory. */
export const segmentFileName = "segment.bin";

/** How a {@link DurableCollection} stores its writes. */
export interface DurabilityOptions {
  /** When a write is acknowledged (see `src/storage/wal/wal.ts`). */
  durability: WalDurability;
  /** Period of the background fsync under `interval`, ms. */
  flushIntervalMs: number;
  /** WAL size in bytes past which a checkpoint runs. */
  walBytesMax: number;
  /** Largest WAL record body in bytes (an upsert batch), at most 2^32 − 1. */
  recordBytesMax: number;
  /** Where checkpoint failures and recovery details are logged; silent when absent. */
  logger?: Logger;
}

/** What recovery found when a collection was opened. */
export interface RecoveryReport {
  /** The segment's sequence (0 when there was no segment). */
  segmentSequence: number;
  /** Size of the segment file in bytes (0 when none). */
  segmentBytes: number;
  /** Records in the WAL after its torn tail (if any) was cut. */
  walRecords: number;
  /** Records replayed (sequence above the segment's). */
  replayedRecords: number;
  /** Bytes of torn tail removed from the WAL's end. */
  truncatedBytes: number;
  /** Temporary files a crash left in the directory, removed. */
  removedTemporaries: string[];
  /** Reading and restoring the segment, ms. */
  segmentMs: number;
  /** Opening the WAL and replaying it, ms. */
  replayMs: number;
}

/** What one checkpoint did. */
export interface CheckpointReport {
  /** The sequence the new segment holds everything up to. */
  sequence: number;
  /**
   * The synchronous part of the snapshot (graph bytes, ids, payload references, masks): how long
   * writes and searches were paused, ms.
   */
  pauseMs: number;
  /** Copying the vector rows, in slices between which writes and searches run (copy-on-write), ms. */
  vectorCopyMs: number;
  /** Encoding the sections (asynchronously, in slices), ms. */
  encodeMs: number;
  /** Writing, fsyncing and renaming the segment, ms (0 when the segment was current already). */
  writeMs: number;
  /** Cutting the WAL, ms. */
  cutMs: number;
  /** From start to end, ms. */
  totalMs: number;
  /** Size of the segment file, bytes. */
  segmentBytes: number;
  /** WAL records dropped by the cut. */
  droppedRecords: number;
}

/** One write on its way through the WAL, applied in sequence order once its record is durable. */
interface Submission {
  state: "waiting" | "written" | "failed";
  sequence: number;
  error: unknown;
  apply(sequence: number): unknown;
  /** Called once the write is applied or has failed (releases reservations). */
  settle(): void;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** After a checkpoint fails, the next automatic one waits this long, ms. */
const checkpointRetryMs = 5_000;

/**
 * One collection with durable storage: a {@link Collection} in memory, a write-ahead log and a segment
 * file in its directory.
 *
 * Write path: validate the whole request (nothing is written for an invalid one), append one WAL record
 * (see `wal-records.ts`), wait until the record is durable under the fsync policy, apply it to the
 * collection, then resolve. Records are applied strictly in sequence order (a write whose record is
 * durable waits for the writes before it), so memory always equals the log's prefix up to
 * {@link appliedSequence}. Reads (get, search) are synchronous and see every acknowledged write.
 *
 * Checkpoint (when the WAL passes `walBytesMax`, and on a clean close): the collection's state at
 * sequence S is taken by `Collection.beginSnapshot` (a synchronous copy of everything but the vector
 * rows, the only pause; the rows follow in slices, copy-on-write), then encoded and written as a new segment file
 * (temporary name, fsync, rename, directory fsync) while writes and searches go on; then the WAL drops
 * the records up to S. A crash at any point leaves a segment and a WAL that together hold every
 * acknowledged write.
 *
 * Recovery ({@link open}): removes temporaries, loads the segment (if any), opens the WAL (a torn tail is
 * cut) and replays the records above the segment's sequence. Corruption (a bad WAL record followed by
 * good ones, a section failing its CRC, a record or section that does not decode) rejects with
 * `data_loss` naming the file and byte offset.
 *
 * Errors of the write methods: as {@link Collection.prepareUpsert} for a bad request; UNAVAILABLE
 * (`unavailable`) when the WAL cannot write or fsync (the outcome is then unknown: the record may be
 * found on restart) or the collection is closing; NOT_FOUND (`not_found`) once it was dropped;
 * INTERNAL (`internal`) after a bug left memory and log out of step (the collection then refuses
 * further writes).
 */
export class DurableCollection {
  private readonly queue: Submission[] = [];
  private queueHead = 0;
  private newPointsInFlight = 0;
  private checkpointRunning: Promise<CheckpointReport | undefined> | undefined;
  private checkpointRetryAt = 0;
  private closing: Promise<void> | undefined;
  private dropped = false;
  private failure: VectorDbError | undefined;
  private drainWaiters: (() => void)[] = [];
  private segmentSeq: number;
  /** The last checkpoint's report (undefined before the first). */
  lastCheckpoint: CheckpointReport | undefined;

  private constructor(
    readonly dir: string,
    private readonly collection: Collection,
    private readonly wal: Wal,
    private readonly options: Readonly<DurabilityOptions>,
    segmentSequence: number,
    /** What recovery found when the collection was opened. */
    readonly recovery: RecoveryReport,
  ) {
    this.segmentSeq = segmentSequence;
  }

  /**
   * Opens (recovers) the collection stored in `dir`, creating an empty WAL if there is none: removes
   * temporaries left by a crash, loads `segment.bin` if present, opens `wal.log` (cutting a torn tail)
   * and replays its records above the segment's sequence.
   *
   * @throws VectorDbError data_loss (DATA_LOSS) naming the file and offset for a corrupt segment or WAL;
   *   failed_precondition (FAILED_PRECONDITION) for an unknown file format version; unavailable
   *   (UNAVAILABLE) / not_found (NOT_FOUND) on I/O errors.
   */
  static async open(
    dir: string,
    spec: Readonly<CollectionSpec>,
    limits: Readonly<CollectionLimits>,
    indexing: Readonly<IndexingConfig>,
    options: Readonly<DurabilityOptions>,
  ): Promise<DurableCollection> {
    const removedTemporaries = await removeStaleTemporaries(dir);
    const segmentPath = join(dir, segmentFileName);
    const walPath = join(dir, walFileName);

    let started = performance.now();
    let collection: Collection;
    let segmentSequence = 0;
    let segmentBytes = 0;
    try {
      const segment = await readSegment(segmentPath);
      segmentSequence = segment.sequence;
      segmentBytes = segment.sizeBytes;
      const state = decodeStateSections(segment, spec, segmentPath);
      try {
        collection = Collection.restore(spec, limits, indexing, state);
      } catch (error) {
        if (error instanceof VectorDbError) throw new VectorDbError(error.code, `${segmentPath}: segment ${error.rawMessage}`, { cause: error });
        throw error;
      }
    } catch (error) {
      if (!(error instanceof VectorDbError && error.code === "not_found")) throw error;
      collection = new Collection(spec, limits, indexing);
    }
    const segmentMs = performance.now() - started;

    started = performance.now();
    let opened;
    try {
      opened = await Wal.open(walPath, {
        durability: options.durability,
        flushIntervalMs: options.flushIntervalMs,
        recordBytesMax: options.recordBytesMax,
        minNextSequence: segmentSequence + 1,
      });
    } catch (error) {
      collection.close();
      throw error;
    }
    const { wal, records, truncatedBytes } = opened;
    let replayedRecords = 0;
    try {
      // The WAL is cut up to S only once a segment holding S is durable: a floor above the segment's
      // sequence + 1 means a newer segment was lost or replaced, and the records between are gone.
      if (wal.floorSequence > segmentSequence + 1) {
        throw new VectorDbError(
          "data_loss",
          `${walPath}: the WAL was cut up to sequence ${wal.floorSequence - 1} (header floor at byte offset 12), but ${segmentBytes > 0 ? `${segmentPath} holds sequences only up to ${segmentSequence}` : `${segmentPath} is missing`}: the writes in between are lost`,
        );
      }
      for (const record of records) {
        if (record.sequence <= segmentSequence) continue;
        replay(collection, spec, record, walPath);
        replayedRecords++;
      }
    } catch (error) {
      collection.close();
      await wal.close().catch(() => undefined);
      throw error;
    }
    const recovery: RecoveryReport = {
      segmentSequence,
      segmentBytes,
      walRecords: records.length,
      replayedRecords,
      truncatedBytes,
      removedTemporaries,
      segmentMs,
      replayMs: performance.now() - started,
    };
    const durable = new DurableCollection(dir, collection, wal, options, segmentSequence, recovery);
    durable.maybeCheckpoint();
    return durable;
  }

  /** The collection's name. */
  get name(): string {
    return this.collection.name;
  }

  /** What the collection was created with. */
  get spec(): Readonly<CollectionSpec> {
    return this.collection.spec;
  }

  /** Live points. */
  get size(): number {
    return this.collection.size;
  }

  /** The sequence of the last write applied in memory. */
  get appliedSequence(): number {
    return this.collection.appliedSequence;
  }

  /** The sequence the current segment file holds everything up to (0 when there is none). */
  get segmentSequence(): number {
    return this.segmentSeq;
  }

  /** Size of the WAL file in bytes. */
  get walBytes(): number {
    return this.wal.sizeBytes;
  }

  /** Records in the WAL file. */
  get walRecords(): number {
    return this.wal.recordCount;
  }

  /** The plan of the last search (for tests and benchmarks). */
  get lastPlan(): SearchPlan {
    return this.collection.lastPlan;
  }

  /** Point count, points linked into the graph, approximate memory (see {@link Collection.stats}). */
  stats(): CollectionStats {
    return this.collection.stats();
  }

  /** Resolves when every point is linked into the graph. */
  whenIndexed(): Promise<void> {
    return this.collection.whenIndexed();
  }

  /** As {@link Collection.get}. */
  get(ids: readonly string[], options: { withPayload: boolean; withVector: boolean }): PointRecord[] {
    return this.collection.get(ids, options);
  }

  /** As {@link Collection.search}. @throws VectorDbError invalid_argument for a bad query. */
  search(params: SearchParams): Hit[] {
    return this.collection.search(params);
  }

  /**
   * Inserts or replaces points durably; resolves once the batch's WAL record is durable and applied.
   *
   * @param field name of the list in error messages.
   * @throws VectorDbError (as a rejection) invalid_argument / resource_exhausted as
   *   {@link Collection.prepareUpsert} (nothing written); unavailable, not_found or internal as
   *   described in the class documentation.
   */
  upsert(points: readonly PointInput[], field = "points"): Promise<UpsertResult> {
    let prepared;
    try {
      this.checkWritable();
      prepared = this.collection.prepareUpsert(points, field, this.newPointsInFlight);
    } catch (error) {
      return Promise.reject(error);
    }
    const body = encodeUpsertRecord(points, prepared.payloadJson, this.spec.dimension);
    const reserved = prepared.newPoints;
    this.newPointsInFlight += reserved;
    return this.submit(
      walRecordType.upsert,
      body,
      (sequence) => this.collection.applyUpsert(points, prepared.payloadBytes, sequence),
      () => {
        this.newPointsInFlight -= reserved;
      },
    );
  }

  /**
   * Deletes points by id durably; resolves with how many existed when the delete was applied.
   * @throws VectorDbError (as a rejection) unavailable, not_found or internal as described in the class
   *   documentation.
   */
  deleteIds(ids: readonly string[]): Promise<number> {
    try {
      this.checkWritable();
    } catch (error) {
      return Promise.reject(error);
    }
    const copy = ids.slice();
    return this.submit(walRecordType.deleteIds, encodeDeleteIdsRecord(copy), (sequence) => this.collection.deleteIds(copy, sequence));
  }

  /**
   * Deletes every point matching `filter` durably; the filter is evaluated when the delete is applied,
   * in sequence order. Resolves with how many points it deleted.
   * @throws VectorDbError (as a rejection) unavailable, not_found or internal as described in the class
   *   documentation.
   */
  deleteByFilter(filter: Filter): Promise<number> {
    try {
      this.checkWritable();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.submit(walRecordType.deleteByFilter, encodeDeleteFilterRecord(filter), (sequence) => this.collection.deleteByFilter(filter, sequence));
  }

  /**
   * Writes a segment holding the state at the last applied sequence and cuts the WAL up to it (see
   * the class documentation). Joins a checkpoint already running. Resolves undefined when there was
   * nothing to do (no write since the last segment and an empty WAL).
   *
   * @throws VectorDbError (as a rejection) unavailable on an I/O error (the previous segment and the
   *   whole WAL stay valid).
   */
  checkpoint(): Promise<CheckpointReport | undefined> {
    this.checkpointRunning ??= this.runCheckpoint().finally(() => {
      this.checkpointRunning = undefined;
    });
    return this.checkpointRunning;
  }

  /**
   * Marks the collection dropped: from now on writes reject with `not_found`. Then {@link close}.
   */
  markDropped(): void {
    this.dropped = true;
  }

  /**
   * Waits for the writes in progress, runs a last checkpoint when `checkpoint` is true (a clean
   * shutdown: the next open loads the segment and replays nothing), closes the WAL and stops background
   * indexing. Writes arriving from then on reject with `unavailable`. Idempotent.
   *
   * @throws VectorDbError (as a rejection) unavailable when the last checkpoint or the WAL's final
   *   fsync fails (the WAL still holds every acknowledged write).
   */
  close(options: { checkpoint: boolean }): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.whenDrained();
        await this.checkpointRunning?.catch(() => undefined);
        if (options.checkpoint && !this.dropped && this.failure === undefined) await this.checkpoint();
      } finally {
        this.collection.close();
        await this.wal.close();
      }
    })();
    return this.closing;
  }

  private checkWritable(): void {
    if (this.dropped) throw new VectorDbError("not_found", `collection "${this.name}" does not exist (it was dropped)`);
    if (this.closing) throw new VectorDbError("unavailable", `collection "${this.name}" is closing`);
    if (this.failure) throw this.failure;
  }

  /** Appends a record; once it is durable and every earlier write is applied, applies it. */
  private submit<T>(type: number, body: Uint8Array | Uint8Array[], apply: (sequence: number) => T, settle: () => void = () => undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const submission: Submission = { state: "waiting", sequence: 0, error: undefined, apply, settle, resolve: resolve as (value: unknown) => void, reject };
      this.queue.push(submission);
      this.wal.append(type, body).then(
        (sequence) => {
          submission.state = "written";
          submission.sequence = sequence;
          this.drain();
        },
        (error: unknown) => {
          submission.state = "failed";
          submission.error = error;
          this.drain();
        },
      );
    });
  }

  /** Applies settled submissions from the head of the queue, in order. */
  private drain(): void {
    while (this.queueHead < this.queue.length) {
      const submission = this.queue[this.queueHead]!;
      if (submission.state === "waiting") break;
      this.queueHead++;
      submission.settle();
      if (submission.state === "failed") {
        submission.reject(submission.error);
        continue;
      }
      if (this.failure) {
        submission.reject(this.failure);
        continue;
      }
      try {
        submission.resolve(submission.apply(submission.sequence));
      } catch (error) {
        // A validated write cannot fail to apply; if it did, memory no longer matches the log.
        this.failure = new VectorDbError(
          "internal",
          `collection "${this.name}": applying WAL record ${submission.sequence} failed (${error instanceof Error ? error.message : String(error)}); restart the server to recover from the log`,
          { cause: error },
        );
        this.options.logger?.error({ err: error, collection: this.name, sequence: submission.sequence }, "applying a durable write failed");
        submission.reject(this.failure);
      }
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const wake of waiters) wake();
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    this.maybeCheckpoint();
  }

  private whenDrained(): Promise<void> {
    if (this.queueHead === this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Starts a background checkpoint when the WAL has grown past `walBytesMax`. */
  private maybeCheckpoint(): void {
    if (this.wal.sizeBytes <= this.options.walBytesMax || this.checkpointRunning || this.closing || this.failure) return;
    if (performance.now() < this.checkpointRetryAt) return;
    this.checkpoint().catch((error: unknown) => {
      this.checkpointRetryAt = performance.now() + checkpointRetryMs;
      this.options.logger?.error({ err: error, collection: this.name }, "checkpoint failed; the WAL keeps every write and the checkpoint will be retried");
    });
  }

  private async runCheckpoint(): Promise<CheckpointReport | undefined> {
    const started = performance.now();
    if (this.collection.appliedSequence === this.segmentSeq && this.wal.recordCount === 0) return undefined;
    let pauseMs = 0;
    let vectorCopyMs = 0;
    let encodeMs = 0;
    let writeMs = 0;
    let segmentBytes = 0;
    let sequence = this.segmentSeq;
    if (this.collection.appliedSequence > this.segmentSeq) {
      const snapshot = this.collection.beginSnapshot();
      const state = snapshot.state;
      pauseMs = performance.now() - started;
      sequence = state.sequence;
      await snapshot.vectorsCopied;
      vectorCopyMs = performance.now() - started - pauseMs;
      const encodeStarted = performance.now();
      const sections = await encodeStateSections(state, this.spec);
      encodeMs = performance.now() - encodeStarted;
      const writeStarted = performance.now();
      segmentBytes = (await writeSegment(join(this.dir, segmentFileName), { sequence, sections })).sizeBytes;
      writeMs = performance.now() - writeStarted;
      this.segmentSeq = sequence;
    }
    const cutStarted = performance.now();
    const droppedRecords = await this.wal.truncateUpTo(sequence);
    const cutMs = performance.now() - cutStarted;
    const report: CheckpointReport = { sequence, pauseMs, vectorCopyMs, encodeMs, writeMs, cutMs, totalMs: performance.now() - started, segmentBytes, droppedRecords };
    this.lastCheckpoint = report;
    this.options.logger?.debug({ collection: this.name, ...report }, "checkpoint");
    return report;
  }
}

/**
 * Applies one recovered WAL record to `collection` with its sequence.
 * @throws VectorDbError data_loss naming the WAL file and the record's offset when the record does not
 *   decode or has an unknown type.
 */
function replay(collection: Collection, spec: Readonly<CollectionSpec>, record: WalRecord, walPath: string): void {
  try {
    switch (record.type) {
      case walRecordType.upsert: {
        const { points, payloadBytes } = decodeUpsertRecord(record.body, spec.dimension);
        collection.applyUpsert(points, payloadBytes, record.sequence);
        return;
      }
      case walRecordType.deleteIds:
        collection.deleteIds(decodeDeleteIdsRecord(record.body), record.sequence);
        return;
      case walRecordType.deleteByFilter:
        collection.deleteByFilter(decodeDeleteFilterRecord(record.body), record.sequence);
        return;
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
