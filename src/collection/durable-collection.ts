import type { Logger } from "pino";
import { VectorDbError } from "../errors.js";
import { realStorageIo, type SegmentSectionInput, type StorageIo, type Wal } from "../storage/index.js";
import { Checkpointer, type CheckpointReport } from "./checkpointer.js";
import {
  encodeDeleteFilterRecord,
  encodeDeleteIdsRecord,
  encodeIngestBatchRecord,
  encodePayloadChangeRecord,
  encodeSnapshotSections,
  encodeUpsertRecord,
  walRecordType,
  writeSpec,
} from "./disk/index.js";
import type { IndexingOptions } from "./indexer.js";
import type { SegmentedCollection, SegmentEvents } from "./segmented-collection.js";
import { applyWalRecord, recoverCollection, type LoadedSegment, type RecoveryReport, type WalSettings } from "./recovery.js";
import type { SearchPlan } from "./search-planner.js";
import type { CollectionSpec, CollectionStats, Filter, Hit, PayloadChange, PointInput, PointRecord, PointSelector, ScrollPage, ScrollParams, SearchParams, UpsertResult } from "./types.js";
import type { CollectionLimits } from "./validate-points.js";
import { WriteSequencer } from "./write-sequencer.js";

/** How a {@link DurableCollection} stores its writes. */
export interface DurabilityOptions {
  /** How the WAL acknowledges and bounds writes (see `src/storage/wal/wal.ts`). */
  wal: WalSettings;
  /** WAL size in bytes past which a checkpoint runs. */
  walBytesMax: number;
  /** Where checkpoint failures and recovery details are logged; silent when absent. */
  logger?: Logger;
  /** The disk and the clock every file operation and timer goes through. Default the real ones. */
  io?: StorageIo;
}

/**
 * One write to a collection in domain form (what {@link DurableCollection.write} and
 * {@link DurableCollection.encodeWrite} take). `field` names the request field in error messages.
 */
export type WriteOp =
  | { kind: "upsert"; points: readonly PointInput[]; field: string }
  | { kind: "ingestBatch"; ingestId: string; batch: number; points: readonly PointInput[]; field: string }
  | { kind: "deleteIds"; ids: readonly string[] }
  | { kind: "deleteByFilter"; filter: Filter }
  | { kind: "payload"; selector: PointSelector; change: PayloadChange; field: string };

/** What a write returned (UpsertResult for upserts, a count of points otherwise) and its WAL sequence. */
export interface WriteOutcome {
  result: UpsertResult | number;
  sequence: number;
}

/** A validated write encoded as its WAL record: the record type and body chunks. */
export interface EncodedWrite {
  type: number;
  body: Uint8Array[];
}

/** A write validated and encoded, with how to apply it once durable (see DurableCollection.plan). */
interface PlannedWrite {
  type: number;
  body: Uint8Array[];
  apply(sequence: number): UpsertResult | number;
  /** New points reserved against collectionPointsMax until the write settles. */
  reserved: number;
}

/**
 * One collection with durable storage, the one the server uses: a {@link SegmentedCollection} in memory,
 * a write-ahead log and a segment file in its directory (see `disk/layout.ts`).
 *
 * Write path ({@link WriteSequencer}): validate the whole request (nothing is written for an invalid
 * one), append one WAL record, wait until the record is durable under the fsync policy, apply it to
 * the collection, then resolve. Reads (get, search) are synchronous and see every acknowledged write.
 * Checkpoints ({@link Checkpointer}) run when the WAL passes `walBytesMax` and on a clean close;
 * recovery is `recovery.ts`.
 *
 * Errors of the write methods: as {@link SegmentedCollection.prepareUpsert} for a bad request; UNAVAILABLE
 * (`unavailable`) when the WAL cannot write or fsync (the outcome is then unknown: the record may be
 * found on restart) or the collection is closing; NOT_FOUND (`not_found`) once it was dropped;
 * INTERNAL (`internal`) after a bug left memory and log out of step (the collection then refuses
 * further writes).
 */
export class DurableCollection {
  private written = 0;
  private readonly sequencer: WriteSequencer;
  private readonly checkpointer: Checkpointer;
  private newPointsInFlight = 0;
  private closing: Promise<void> | undefined;
  private dropped = false;
  /** Spec changes (UpdateCollection), chained so that they reach collection.json in order. */
  private specChain: Promise<unknown> = Promise.resolve();
  /** Ingest ids with an IngestStream open now (see {@link claimIngest}). */
  private readonly ingestsOpen = new Set<string>();
  /** The disk and clock of every file operation (see {@link DurabilityOptions.io}). */
  private readonly io: StorageIo;

  private constructor(
    readonly dir: string,
    private readonly collection: SegmentedCollection,
    private readonly wal: Wal,
    options: Readonly<DurabilityOptions>,
    /** What recovery found when the collection was opened. */
    readonly recovery: RecoveryReport,
  ) {
    this.io = options.io ?? realStorageIo;
    this.checkpointer = new Checkpointer(this.io, dir, collection, wal, options.walBytesMax, recovery.segmentSequence, options.logger, recovery.hasManifest, () => this.checkpointAllowed());
    this.sequencer = new WriteSequencer(wal, collection.name, () => this.maybeCheckpoint(), options.logger);
  }

  /**
   * Opens (recovers) the collection stored in `dir` (see `recoverCollection`), then starts a checkpoint
   * if the WAL is already past `walBytesMax`.
   *
   * @param loaded the folder's segment, when the caller has read and decoded it already (a restore).
   * @throws VectorDbError data_loss (DATA_LOSS) naming the file and offset for a corrupt segment or WAL;
   *   failed_precondition (FAILED_PRECONDITION) for an unknown file format version; unavailable
   *   (UNAVAILABLE) / not_found (NOT_FOUND) on I/O errors.
   */
  static async open(
    dir: string,
    spec: Readonly<CollectionSpec>,
    limits: Readonly<CollectionLimits>,
    indexing: IndexingOptions,
    options: Readonly<DurabilityOptions>,
    loaded?: LoadedSegment,
  ): Promise<DurableCollection> {
    const events: SegmentEvents = {};
    const { collection, wal, report } = await recoverCollection(dir, spec, limits, indexing, options.wal, options.io ?? realStorageIo, loaded, events);
    const durable = new DurableCollection(dir, collection, wal, options, report);
    // A merge replaced segments: a checkpoint writes the new one and releases the old files.
    events.onLayoutChanged = () => durable.maybeCheckpoint(true);
    events.onOptimizerError = (error) => options.logger?.error({ err: error, collection: durable.name }, "segment merge failed; the segments stay as they were");
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
    return this.checkpointer.segmentSequence;
  }

  /** The last checkpoint's report (undefined before the first). */
  get lastCheckpoint(): CheckpointReport | undefined {
    return this.checkpointer.lastReport;
  }

  /** The sequence the next write will take (its WAL record's): above every acknowledged or in-flight write. */
  get nextSequence(): number {
    return this.wal.nextSequence;
  }

  /** Duration of the last checkpoint, ms (undefined before the first); for the metrics. */
  get lastCheckpointMs(): number | undefined {
    return this.checkpointer.lastReport?.totalMs;
  }

  /** Points inserted or replaced since the collection was opened (acknowledged writes); for the metrics. */
  get pointsWritten(): number {
    return this.written;
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

  /** Point count, points linked into the graph, approximate memory (see {@link SegmentedCollection.stats}). */
  stats(): CollectionStats {
    return this.collection.stats();
  }

  /** Resolves when the recall monitor has scored every sample it queued (tests). */
  recallSettled(): Promise<void> {
    return this.collection.recallSettled();
  }

  /** Resolves when every point is linked into the graph. */
  whenIndexed(): Promise<void> {
    return this.collection.whenIndexed();
  }

  /** Resolves when the optimizer has nothing left to merge, and the checkpoint it asked for is done (tests, benchmarks). */
  async whenOptimized(): Promise<void> {
    await this.collection.whenOptimized();
    await this.checkpointer.whenIdle();
  }

  /** The segments (for tests and benchmarks). */
  get segments(): SegmentedCollection["segmentEntries"] {
    return this.collection.segmentEntries;
  }

  /** Merges the optimizer has done since the collection was opened. */
  get mergesDone(): number {
    return this.collection.mergesDone;
  }

  /** As {@link SegmentedCollection.get}. */
  get(ids: readonly string[], options: { withPayload: boolean; withVector: boolean }): PointRecord[] {
    return this.collection.get(ids, options);
  }

  /** As {@link SegmentedCollection.search}. @throws VectorDbError invalid_argument for a bad query. */
  search(params: SearchParams): Hit[] {
    return this.collection.search(params);
  }

  /** As {@link SegmentedCollection.searchFanOut}. @throws VectorDbError invalid_argument for a bad query. */
  searchFanOut(params: SearchParams): Promise<Hit[]> {
    return this.collection.searchFanOut(params);
  }

  /** Several searches, some on the builder threads (see {@link SegmentedCollection.searchBatch}). */
  searchBatch(batch: readonly SearchParams[], fieldOf: (i: number) => string): Promise<Hit[][]> {
    return this.collection.searchBatch(batch, fieldOf);
  }

  /**
   * Inserts or replaces points durably; resolves once the batch's WAL record is durable and applied.
   *
   * @param field name of the list in error messages.
   * @throws VectorDbError (as a rejection) invalid_argument / resource_exhausted as
   *   {@link SegmentedCollection.prepareUpsert} (nothing written); unavailable, not_found or internal as
   *   described in the class documentation.
   */
  upsert(points: readonly PointInput[], field = "points"): Promise<UpsertResult> {
    return this.write({ kind: "upsert", points, field }).then((outcome) => outcome.result as UpsertResult);
  }

  /**
   * Any write ({@link WriteOp}) durably, as the method of its kind ({@link upsert}, {@link ingestBatch},
   * {@link deleteIds}, {@link deleteByFilter}, {@link changePayload}) does it; resolves with the
   * result and the sequence of the write's WAL record.
   * @throws VectorDbError (as a rejection) as the method of the write's kind.
   */
  write(op: WriteOp): Promise<WriteOutcome> {
    let planned: PlannedWrite;
    try {
      this.checkWritable();
      planned = this.plan(op, true);
    } catch (error) {
      return Promise.reject(error);
    }
    this.newPointsInFlight += planned.reserved;
    return this.sequencer.submit(
      planned.type,
      planned.body,
      (sequence) => ({ result: planned.apply(sequence), sequence }),
      () => {
        this.newPointsInFlight -= planned.reserved;
      },
    );
  }

  /**
   * Validates `op` as {@link write} does and encodes its WAL record, without writing or applying it:
   * replication's leader publishes the record to the collection's replicated log instead, and every
   * replica applies it with {@link applyLogged}. (The point limit is checked against the points now
   * stored, not against writes in flight.)
   * @throws VectorDbError as the method of the write's kind, for a bad request (nothing is written).
   */
  encodeWrite(op: WriteOp): EncodedWrite {
    this.checkWritable();
    const { type, body } = this.plan(op, false);
    return { type, body };
  }

  /**
   * Writes a record that another node encoded ({@link encodeWrite}) to this collection's WAL under the
   * given `sequence` (its stream sequence in the replicated log; the WAL skips to it) and applies it
   * once durable, as recovery applies a WAL record. Callers apply the records of one log one at a time,
   * in ascending sequence; a record at or below {@link appliedSequence} was applied already and is
   * skipped (replay is idempotent), resolving with `result` 0.
   * @throws VectorDbError (as a rejection) data_loss when the record does not decode; unavailable,
   *   not_found or internal as described in the class documentation.
   */
  applyLogged(sequence: number, type: number, body: Uint8Array): Promise<WriteOutcome> {
    if (sequence <= this.collection.appliedSequence) return Promise.resolve({ result: 0, sequence });
    try {
      this.checkWritable();
      this.wal.skipTo(sequence);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.sequencer.submit(type, body, (walSequence) => {
      const result = applyWalRecord(this.collection, this.spec, { sequence: walSequence, type, body, offset: 0 }, `replicated log of collection "${this.name}"`) as UpsertResult | number;
      if (typeof result === "object") this.written += result.inserted + result.updated;
      return { result, sequence: walSequence };
    });
  }

  /**
   * Validates and encodes `op`; with `reserve`, counts the new points of writes in flight against the
   * point limit (the embedded write path, which reserves them until the write settles).
   */
  private plan(op: WriteOp, reserve: boolean): PlannedWrite {
    const inFlight = reserve ? this.newPointsInFlight : 0;
    switch (op.kind) {
      case "upsert":
      case "ingestBatch": {
        const { points } = op;
        const prepared = this.collection.prepareUpsert(points, op.field, inFlight);
        const upsertBody = encodeUpsertRecord(points, prepared.payloadJson, this.spec.dimension);
        const { payloadBytes } = prepared;
        const count = (result: UpsertResult): UpsertResult => {
          this.written += result.inserted + result.updated;
          return result;
        };
        if (op.kind === "upsert") {
          return { type: walRecordType.upsert, body: upsertBody, reserved: prepared.newPoints, apply: (sequence) => count(this.collection.applyUpsert(points, payloadBytes, sequence)) };
        }
        const { ingestId, batch } = op;
        return {
          type: walRecordType.ingestBatch,
          body: encodeIngestBatchRecord(ingestId, batch, upsertBody),
          reserved: prepared.newPoints,
          apply: (sequence) => count(this.collection.applyIngestBatch(ingestId, batch, points, payloadBytes, sequence)),
        };
      }
      case "deleteIds": {
        const ids = op.ids.slice();
        return { type: walRecordType.deleteIds, body: [encodeDeleteIdsRecord(ids)], reserved: 0, apply: (sequence) => this.collection.deleteIds(ids, sequence) };
      }
      case "deleteByFilter": {
        const { filter } = op;
        return { type: walRecordType.deleteByFilter, body: [encodeDeleteFilterRecord(filter)], reserved: 0, apply: (sequence) => this.collection.deleteByFilter(filter, sequence) };
      }
      case "payload": {
        const { selector, change } = op;
        const { payloadJson } = this.collection.preparePayloadChange(selector, change, op.field);
        return { type: walRecordType.payloadChange, body: encodePayloadChangeRecord(selector, change, payloadJson), reserved: 0, apply: (sequence) => this.collection.applyPayloadChange(selector, change, sequence) };
      }
    }
  }

  /** The highest batch of the resumable load `ingestId` that is durable and applied (0: none known). */
  durableIngestBatch(ingestId: string): number {
    return this.collection.durableIngestBatch(ingestId);
  }

  /**
   * Marks an IngestStream of `ingestId` open on this collection, so that no second stream of the same
   * load interleaves its batches; returns the function that releases it.
   * @throws VectorDbError aborted (ABORTED) when a stream of `ingestId` is open already.
   */
  claimIngest(ingestId: string, field: string): () => void {
    if (this.ingestsOpen.has(ingestId)) {
      throw new VectorDbError("aborted", `${field}: another IngestStream of ingest_id ${JSON.stringify(ingestId)} is open on collection "${this.name}"; retry once it has ended`);
    }
    this.ingestsOpen.add(ingestId);
    let released = false;
    return () => {
      if (!released) this.ingestsOpen.delete(ingestId);
      released = true;
    };
  }

  /**
   * Upserts batch `batch` of the resumable load `ingestId` durably: one WAL record holds the points and
   * the pair (`ingestId`, `batch`), so the batch and the fact that it is applied survive a crash
   * together. Resolves once the record is durable and applied; a batch at or below
   * {@link durableIngestBatch} when it is applied is skipped (counts 0).
   *
   * @param field name of the list in error messages.
   * @throws VectorDbError (as a rejection) as {@link upsert}.
   */
  ingestBatch(ingestId: string, batch: number, points: readonly PointInput[], field: string): Promise<UpsertResult> {
    return this.write({ kind: "ingestBatch", ingestId, batch, points, field }).then((outcome) => outcome.result as UpsertResult);
  }

  /** As {@link SegmentedCollection.scroll}. */
  scroll(params: ScrollParams): ScrollPage {
    return this.collection.scroll(params);
  }

  /** As {@link SegmentedCollection.count}. */
  count(filter?: Filter): number {
    return this.collection.count(filter);
  }

  /**
   * Applies a payload change durably to the points `selector` chooses (a filter is evaluated when the
   * change is applied, in sequence order); resolves with how many points it applied to.
   *
   * @param field the request field of the selector, for errors.
   * @throws VectorDbError (as a rejection) invalid_argument as {@link SegmentedCollection.preparePayloadChange}
   *   (nothing written); unavailable, not_found or internal as described in the class documentation.
   */
  changePayload(selector: PointSelector, change: PayloadChange, field: string): Promise<number> {
    return this.write({ kind: "payload", selector, change, field }).then((outcome) => outcome.result as number);
  }


  /**
   * Sets the default search `ef` durably: `collection.json` is replaced (atomically) before the new value
   * is used. Changes are applied in call order.
   * @throws VectorDbError (as a rejection) unavailable on an I/O error (the old value stays), not_found
   *   once the collection was dropped.
   */
  updateSearchEf(ef: number): Promise<Readonly<CollectionSpec>> {
    const next = this.specChain.then(async () => {
      this.checkWritable();
      const spec = { ...this.spec, hnsw: { ...this.spec.hnsw, ef } };
      await writeSpec(this.io.fs, this.dir, spec);
      this.collection.setSearchEf(ef);
      return this.spec;
    });
    this.specChain = next.catch(() => undefined);
    return next;
  }

  /**
   * A consistent copy of the collection at one sequence, encoded as the sections of a snapshot file
   * (`disk/snapshot-file.ts`): the state is taken as a checkpoint takes it (a short synchronous pause,
   * then the vectors copied in slices, copy-on-write, while reads and writes go on) with the spec of
   * that moment. Waits for a checkpoint's copy in progress first.
   */
  async captureSnapshot(): Promise<{ sequence: number; pointCount: number; spec: Readonly<CollectionSpec>; sections: SegmentSectionInput[] }> {
    if (this.dropped) throw new VectorDbError("not_found", `collection "${this.name}" does not exist (it was dropped)`);
    const snapshot = await this.collection.beginSnapshotWhenFree();
    const spec = this.spec;
    await snapshot.vectorsCopied;
    const sections = await encodeSnapshotSections(snapshot.state, spec);
    return { sequence: snapshot.state.sequence, pointCount: snapshot.state.liveCount, spec, sections };
  }

  /**
   * Deletes points by id durably; resolves with how many existed when the delete was applied.
   * @throws VectorDbError (as a rejection) unavailable, not_found or internal as described in the class
   *   documentation.
   */
  deleteIds(ids: readonly string[]): Promise<number> {
    return this.write({ kind: "deleteIds", ids }).then((outcome) => outcome.result as number);
  }


  /**
   * Deletes every point matching `filter` durably; the filter is evaluated when the delete is applied,
   * in sequence order. Resolves with how many points it deleted.
   * @throws VectorDbError (as a rejection) unavailable, not_found or internal as described in the class
   *   documentation.
   */
  deleteByFilter(filter: Filter): Promise<number> {
    return this.write({ kind: "deleteByFilter", filter }).then((outcome) => outcome.result as number);
  }


  /** As {@link Checkpointer.checkpoint}: a new segment at the last applied sequence, and the WAL cut. */
  checkpoint(): Promise<CheckpointReport | undefined> {
    return this.checkpointer.checkpoint();
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
        await this.sequencer.whenDrained();
        await this.checkpointer.whenIdle();
        if (options.checkpoint && !this.dropped && this.sequencer.failure === undefined) await this.checkpoint();
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
    if (this.sequencer.failure) throw this.sequencer.failure;
  }

  private maybeCheckpoint(force = false): void {
    this.checkpointer.maybeCheckpoint(this.checkpointAllowed(), force);
  }

  private checkpointAllowed(): boolean {
    return this.closing === undefined && this.sequencer.failure === undefined && !this.dropped;
  }
}
