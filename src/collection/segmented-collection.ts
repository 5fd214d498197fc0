import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { defaultSegments } from "../config.js";
import { VectorDbError } from "../errors.js";
import { IngestProgress } from "./ingest-progress.js";
import type { IndexingOptions } from "./indexer.js";
import { MemoryCollection, type PreparedUpsert } from "./memory-collection.js";
import { emptyParts, rowCopySliceBytes, type CollectionState } from "./snapshot.js";
import type { SearchPlan } from "./search-planner.js";
import type { CollectionSpec, CollectionStats, Filter, Hit, PayloadChange, PointInput, PointRecord, PointSelector, ScrollPage, ScrollParams, SearchParams, SegmentStats, UpsertResult } from "./types.js";
import { validatePoints, type CollectionLimits } from "./validate-points.js";

/**
 * When {@link SegmentedCollection.searchFanOut} sends a single search's segments to the builder threads
 * at once: distance work per segment (dimension × ef) of at least `workMin` and at least `pointsMin`
 * points in the collection. Measured with `bench/fan-out-bench.ts` (4 segments, 2 threads): at 768-d
 * and ef 64 the threads answer 1.13× faster than the main thread with segments of 50,000 points but
 * 0.86× with segments of 10,000; at dimension × ef 32,768 they lose (0.85 – 0.89×) at 10,000. Tests
 * may lower them to reach the threaded path with small collections.
 */
export const fanOutBounds = { workMin: 49_152, pointsMin: 100_000 };

/** One segment of a {@link SegmentedCollection}, and what the last checkpoint wrote of it. */
export interface SegmentEntry {
  /** Unique within the collection, never reused (names its files). */
  readonly id: number;
  readonly data: MemoryCollection;
  /** Sealed segments take no new points: only tombstones and payload changes. */
  sealed: boolean;
  /** Counts the writes that changed this segment; a checkpoint writes it when this moved since. */
  changes: number;
  /** Counts the changes that were not deletes (inserts, payload changes): a deletes file cannot carry them. */
  contentChanges: number;
  /**
   * The files holding this segment as of `changes` (undefined: never written): a base file as of
   * `contentChanges`, and maybe a deletes file on top of it. `indexed`: every live point of the base
   * file was linked into its graph (false: opening the file links the rest again, see
   * {@link SegmentedCollection.beginCheckpoint}).
   */
  persisted: { file: string; fileBytes: number; deletes: string | undefined; deletesBytes: number; changes: number; contentChanges: number; indexed: boolean } | undefined;
  /** Being merged by the optimizer (it picks a segment once at a time). */
  merging: boolean;
}

/** A segment as a checkpoint sees it: clean ones keep their file, changed ones come with their state. */
export interface CheckpointSegment {
  entry: SegmentEntry;
  /** The state to write (undefined: the segment is unchanged since `entry.persisted`, or only lost points). */
  state: CollectionState | undefined;
  /** The segment only lost points since its base file: its dead slots, for a deletes file. */
  tombstones: { slots: Uint32Array; sequences: Float64Array } | undefined;
  /** `entry.changes` and `entry.contentChanges` when the state was taken. */
  changes: number;
  contentChanges: number;
  /** Whether every live point was linked into the segment's graph at the cut. */
  indexed: boolean;
  /** Whether the segment was sealed at the cut. */
  sealed: boolean;
  /** The base file of an unchanged segment, or of one that only lost points. */
  file: string | undefined;
  /** The deletes file of an unchanged segment. */
  deletes: string | undefined;
}

/** The cut of a checkpoint: every segment at one sequence, and the collection-level records. */
export interface CheckpointCut {
  sequence: number;
  segments: CheckpointSegment[];
  ingests: [string, number][];
  nextSegmentId: number;
  /** Resolves when the vector rows of every changed segment are copied. */
  vectorsCopied: Promise<void>;
  /** The synchronous part, ms. */
  pauseMs: number;
  /** The collection's {@link SegmentedCollection.layoutVersion} at the cut. */
  layoutVersion: number;
}

/** How the optimizer reports (the collection does no I/O and has no logger of its own). */
export interface SegmentEvents {
  /** A merge replaced segments: the next checkpoint persists it and deletes the old files. */
  onLayoutChanged?: () => void;
  /** A merge failed (the old segments stay in place). */
  onOptimizerError?: (error: unknown) => void;
}

/** A segment loaded from disk (recovery): its state, and the file it came from. */
export interface LoadedSegmentEntry {
  id: number;
  sealed: boolean;
  /** The segment, restored from its file by {@link SegmentedCollection.restoreSegment}. */
  data: MemoryCollection;
  file: string;
  sizeBytes: number;
  /** The deletes file written since `file` (its tombstones already applied to `data`). */
  deletes?: { file: string; sizeBytes: number } | undefined;
}

/** Better-first comparison of two hits' scores: euclidean scores are distances, others similarities. */
function hitOrder(spec: Readonly<CollectionSpec>): (a: Hit, b: Hit) => number {
  return spec.distance === "euclidean" ? (a, b) => a.score - b.score : (a, b) => b.score - a.score;
}

/**
 * A collection as a set of segments (Qdrant's and Lucene's design): one appendable segment that takes
 * new points, and sealed segments, each a {@link MemoryCollection} with its own WebAssembly memory,
 * graph and segment file, each bounded by `segmentPointsMax` points and `segmentBytesMax` bytes of
 * vectors. Ids are unique across segments: an upsert of an id held by a sealed segment tombstones it
 * there and writes the point to the appendable segment. Reads fan out over the segments and merge
 * (top-k by score, scroll pages by id, counts by sum). No I/O: the checkpointer persists what
 * {@link beginCheckpoint} cuts.
 *
 * Sequences: each write is applied once, with its WAL sequence, to each segment it touches (one call
 * per segment), so every segment's own idempotence holds; the collection's {@link appliedSequence}
 * gates replays. Resumable loads are recorded here (persisted in the manifest, not the segments).
 *
 * The optimizer ({@link optimize}, started after writes, one merge at a time per collection): picks
 * sealed segments whose dead share passes `vacuumDeletedRatio`, and small sealed segments (at most
 * half the bound), groups them up to the bounds, copies their live points (main thread, in 4 MiB
 * slices), builds a fresh graph for them (on the builder threads when there are, else on the main
 * thread in `indexSliceMs` slices), then swaps the new segment in synchronously, carrying over the
 * deletes and payload changes its sources received meanwhile.
 */
export class SegmentedCollection {
  private segments: SegmentEntry[] = [];
  private nextSegmentId: number;
  private lastSequence: number;
  private readonly ingests: IngestProgress;
  private currentSpec: Readonly<CollectionSpec>;
  private readonly pointsMax: number;
  private readonly bytesMax: number;
  private readonly deletedRatio: number;
  private readonly order: (a: Hit, b: Hit) => number;
  /** Serialises snapshot cuts (a checkpoint's and a SnapshotService snapshot's). */
  private snapshotChain: Promise<void> = Promise.resolve();
  private optimizing: Promise<void> | undefined;
  /** A merge's new segment while its graph is built (closed with the collection). */
  private building: MemoryCollection | undefined;
  private closed = false;
  /** Segments whose graph completion is awaited by {@link watchIndexing}. */
  private readonly indexingWatched = new Set<SegmentEntry>();
  /**
   * Changes of the segment list (seals, merges) since the collection was opened, and of segments
   * whose graph completed after their file was written: each asks for a checkpoint.
   */
  layoutVersion = 0;
  /** Merges done since the collection was opened. */
  mergesDone = 0;
  lastPlan: SearchPlan = "exact";

  /**
   * @param loaded the segments read from disk (recovery), in manifest order; empty for a new collection.
   * @param sequence the sequence the loaded segments hold everything up to.
   */
  constructor(
    spec: Readonly<CollectionSpec>,
    private readonly limits: Readonly<CollectionLimits>,
    private readonly indexing: IndexingOptions,
    loaded: readonly LoadedSegmentEntry[] = [],
    sequence = 0,
    ingests: [string, number][] = [],
    nextSegmentId = 1,
    private readonly events: SegmentEvents = {},
  ) {
    this.currentSpec = spec;
    this.pointsMax = indexing.segmentPointsMax ?? defaultSegments.segmentPointsMax;
    this.bytesMax = indexing.segmentBytesMax ?? defaultSegments.segmentBytesMax;
    this.deletedRatio = indexing.vacuumDeletedRatio ?? defaultSegments.vacuumDeletedRatio;
    this.order = hitOrder(spec);
    this.lastSequence = sequence;
    this.ingests = new IngestProgress(ingests);
    this.nextSegmentId = nextSegmentId;
    for (const segment of loaded) {
      const indexed = segment.data.fullyIndexed;
      const persisted = { file: segment.file, fileBytes: segment.sizeBytes, deletes: segment.deletes?.file, deletesBytes: segment.deletes?.sizeBytes ?? 0, changes: 0, contentChanges: 0, indexed };
      const entry: SegmentEntry = { id: segment.id, data: segment.data, sealed: segment.sealed, changes: 0, contentChanges: 0, persisted, merging: false };
      this.segments.push(entry);
      this.nextSegmentId = Math.max(this.nextSegmentId, segment.id + 1);
      if (!indexed) this.watchIndexing(entry);
    }
    if (this.segments.length === 0 || this.segments[this.segments.length - 1]!.sealed) this.startAppendable();
    this.scheduleOptimize();
  }

  /**
   * One segment as its file holds it: the state decoded from the file (vectors copied into the
   * segment's memory, the graph loaded without a rebuild), then the tombstones of its deletes file.
   * Nothing of `state` is referenced afterwards, so the file's buffer can be released before the next
   * file is read: opening a collection then needs its own memory plus one file, not twice its size.
   * @param file the segment file's name, prefixed to errors.
   * @throws VectorDbError data_loss (DATA_LOSS) naming the file when the state is inconsistent.
   */
  static restoreSegment(
    spec: Readonly<CollectionSpec>,
    limits: Readonly<CollectionLimits>,
    indexing: IndexingOptions,
    file: string,
    state: CollectionState,
    tombstones?: { slots: Uint32Array; sequences: Float64Array },
  ): MemoryCollection {
    let data: MemoryCollection;
    try {
      data = MemoryCollection.restore(spec, limits, indexing, state);
    } catch (error) {
      if (error instanceof VectorDbError) throw new VectorDbError(error.code, `${file}: segment ${error.rawMessage}`, { cause: error });
      throw error;
    }
    if (tombstones !== undefined) data.applyTombstones(tombstones.slots, tombstones.sequences);
    return data;
  }

  /** The sequence of the last write applied (0 when none). */
  get appliedSequence(): number {
    return this.lastSequence;
  }

  get spec(): Readonly<CollectionSpec> {
    return this.currentSpec;
  }

  get name(): string {
    return this.currentSpec.name;
  }

  /** Live points over every segment. */
  get size(): number {
    let size = 0;
    for (const segment of this.segments) size += segment.data.size;
    return size;
  }

  /** The segments now, appendable last (for tests and the checkpointer). */
  get segmentEntries(): readonly SegmentEntry[] {
    return this.segments;
  }

  /** Sets the default search `ef` of every segment. */
  setSearchEf(ef: number): void {
    this.currentSpec = { ...this.currentSpec, hnsw: { ...this.currentSpec.hnsw, ef } };
    for (const segment of this.segments) segment.data.setSearchEf(ef);
  }

  /** Totals over the segments, and one line per segment. */
  stats(): CollectionStats {
    const total: CollectionStats = { pointCount: 0, memoryBytes: 0, indexedPointCount: 0, vectorBytes: 0, quantizedVectorBytes: 0, quantizationTrained: false, recallSamples: 0, segments: [] };
    let recallSum = 0;
    for (const segment of this.segments) {
      const stats = segment.data.stats();
      total.pointCount += stats.pointCount;
      total.memoryBytes += stats.memoryBytes;
      total.indexedPointCount += stats.indexedPointCount;
      total.vectorBytes += stats.vectorBytes;
      total.quantizedVectorBytes += stats.quantizedVectorBytes;
      total.quantizationTrained ||= stats.quantizationTrained;
      if (stats.recallEstimate !== undefined) {
        recallSum += stats.recallEstimate * stats.recallSamples;
        total.recallSamples += stats.recallSamples;
      }
      total.segments!.push(this.segmentStats(segment, stats));
    }
    if (total.recallSamples > 0) total.recallEstimate = recallSum / total.recallSamples;
    return total;
  }

  private segmentStats(segment: SegmentEntry, stats: CollectionStats): SegmentStats {
    return {
      id: segment.id,
      pointCount: stats.pointCount,
      deletedCount: segment.data.deletedCount,
      memoryBytes: stats.memoryBytes,
      indexed: stats.indexedPointCount === stats.pointCount,
      sealed: segment.sealed,
      fileBytes: (segment.persisted?.fileBytes ?? 0) + (segment.persisted?.deletesBytes ?? 0),
    };
  }

  /** Resolves when the recall monitors have scored every sample queued (tests). */
  async recallSettled(): Promise<void> {
    await Promise.all(this.segments.map((s) => s.data.recallSettled()));
  }

  /** Resolves when every segment's pending points are linked into its graph. */
  async whenIndexed(): Promise<void> {
    for (let round = 0; round < 1_000; round++) {
      const segments = this.segments;
      await Promise.all(segments.map((s) => s.data.whenIndexed()));
      if (segments === this.segments && segments.every((s) => s.data.fullyIndexed)) return;
    }
  }

  /** Resolves when the optimizer has nothing left to do (tests, benchmarks). */
  async whenOptimized(): Promise<void> {
    for (let round = 0; round < 1_000 && this.optimizing !== undefined; round++) await this.optimizing;
  }

  /** Stops the optimizer and background work of every segment. */
  close(): void {
    this.closed = true;
    this.building?.close();
    for (const segment of this.segments) segment.data.close();
  }

  /** Checks every segment's graph (tests). @throws Error naming a violation. */
  checkIntegrity(): void {
    for (const segment of this.segments) segment.data.checkIntegrity();
  }

  /** Links pending points of every segment for at most `budgetMs` each; whether some are left (tests). */
  indexStep(budgetMs: number): boolean {
    let left = false;
    for (const segment of this.segments) left = segment.data.indexStep(budgetMs) || left;
    return left;
  }

  // ---- writes ----

  /**
   * Validates an upsert batch (see `validatePoints`) and checks that its new ids (new to every segment)
   * fit below `collectionPointsMax`, counting `newPointsInFlight`. Changes nothing.
   * @throws VectorDbError invalid_argument naming the point and field; resource_exhausted past
   *   `collectionPointsMax`.
   */
  prepareUpsert(points: readonly PointInput[], field = "points", newPointsInFlight = 0): PreparedUpsert {
    const { json, sizes } = validatePoints(points, field, this.spec, this.limits);
    let newPoints = 0;
    for (const point of points) if (this.holder(point.id) === undefined) newPoints++;
    const held = this.size + newPointsInFlight;
    if (held + newPoints > this.limits.collectionPointsMax) {
      throw new VectorDbError(
        "resource_exhausted",
        `${field}: collection "${this.name}" holds ${held} points${newPointsInFlight > 0 ? " (counting writes in progress)" : ""}; ${newPoints} more would exceed collection_points_max ${this.limits.collectionPointsMax}`,
      );
    }
    const appendable = this.appendable.data;
    if (appendable.slotCount + points.length > appendable.rowsMax && appendable.size < this.pointsMax) {
      throw new VectorDbError("resource_exhausted", `${field}: ${points.length} vectors of dimension ${this.spec.dimension} do not fit in one segment's 4 GiB memory; send smaller batches`);
    }
    return { points, payloadJson: json, payloadBytes: sizes, newPoints };
  }

  /** Validates and applies an upsert with the next sequence (tests and benchmarks). */
  upsert(points: readonly PointInput[], field = "points"): UpsertResult {
    const prepared = this.prepareUpsert(points, field);
    return this.applyUpsert(prepared.points, prepared.payloadBytes);
  }

  /**
   * Applies a validated upsert as the write `sequence` (default the next): seals the appendable segment
   * first when it is full, tombstones each id held by a sealed segment there, and writes every point
   * to the appendable segment. A sequence not above {@link appliedSequence} changes nothing.
   */
  applyUpsert(points: readonly PointInput[], payloadBytes: readonly number[], sequence = this.lastSequence + 1): UpsertResult {
    if (sequence <= this.lastSequence) return { inserted: 0, updated: 0 };
    this.lastSequence = sequence;
    this.sealIfFull();
    const appendable = this.appendable;
    const moved = new Map<SegmentEntry, string[]>();
    for (const point of points) {
      const holder = this.holder(point.id);
      if (holder === undefined || holder === appendable) continue;
      const ids = moved.get(holder) ?? [];
      if (ids.length === 0) moved.set(holder, ids);
      ids.push(point.id);
    }
    let movedCount = 0;
    for (const [segment, ids] of moved) {
      const deleted = segment.data.deleteIds(ids, sequence);
      if (deleted > 0) segment.changes++;
      movedCount += deleted;
    }
    const result = appendable.data.applyUpsert(points, payloadBytes, sequence);
    appendable.changes++;
    appendable.contentChanges++;
    if (moved.size > 0) this.scheduleOptimize();
    return { inserted: result.inserted - movedCount, updated: result.updated + movedCount };
  }

  /** As {@link MemoryCollection.applyIngestBatch}, the loads recorded for the whole collection. */
  applyIngestBatch(ingestId: string, batch: number, points: readonly PointInput[], payloadBytes: readonly number[], sequence = this.lastSequence + 1): UpsertResult {
    if (sequence <= this.lastSequence) return { inserted: 0, updated: 0 };
    if (batch <= this.ingests.durableBatch(ingestId)) {
      this.lastSequence = sequence;
      return { inserted: 0, updated: 0 };
    }
    const result = this.applyUpsert(points, payloadBytes, sequence);
    this.ingests.record(ingestId, batch);
    return result;
  }

  /** The highest batch of the resumable load `ingestId` applied, 0 when none is known. */
  durableIngestBatch(ingestId: string): number {
    return this.ingests.durableBatch(ingestId);
  }

  /** Deletes these ids in whichever segment holds them, as the write `sequence`; how many existed. */
  deleteIds(ids: readonly string[], sequence = this.lastSequence + 1): number {
    if (sequence <= this.lastSequence) return 0;
    this.lastSequence = sequence;
    let deleted = 0;
    for (const segment of this.segments) {
      const count = segment.data.deleteIds(ids, sequence);
      if (count > 0) segment.changes++;
      deleted += count;
    }
    if (deleted > 0) this.scheduleOptimize();
    return deleted;
  }

  /** Deletes every point matching `filter`, in every segment, as the write `sequence`; how many. */
  deleteByFilter(filter: Filter, sequence = this.lastSequence + 1): number {
    if (sequence <= this.lastSequence) return 0;
    this.lastSequence = sequence;
    let deleted = 0;
    for (const segment of this.segments) {
      const count = segment.data.deleteByFilter(filter, sequence);
      if (count > 0) segment.changes++;
      deleted += count;
    }
    if (deleted > 0) this.scheduleOptimize();
    return deleted;
  }

  /** Checks a payload change against every segment's selected points (see `checkPayloadChange`). */
  preparePayloadChange(selector: PointSelector, change: PayloadChange, field: string): { payloadJson: string | undefined } {
    let result: { payloadJson: string | undefined } = { payloadJson: undefined };
    for (const segment of this.segments) result = segment.data.preparePayloadChange(selector, change, field);
    return result;
  }

  /** Applies a payload change in every segment as the write `sequence`; how many points it changed. */
  applyPayloadChange(selector: PointSelector, change: PayloadChange, sequence = this.lastSequence + 1): number {
    if (sequence <= this.lastSequence) return 0;
    this.lastSequence = sequence;
    let changed = 0;
    for (const segment of this.segments) {
      const count = segment.data.applyPayloadChange(selector, change, sequence);
      if (count > 0) {
        segment.changes++;
        segment.contentChanges++;
      }
      changed += count;
    }
    return changed;
  }

  // ---- reads ----

  /** The points with these ids that exist, in the order asked. */
  get(ids: readonly string[], options: { withPayload: boolean; withVector: boolean }): PointRecord[] {
    const records: PointRecord[] = [];
    for (const id of ids) {
      const holder = this.holder(id);
      if (holder !== undefined) records.push(...holder.data.get([id], options));
    }
    return records;
  }

  /**
   * The `k` best points over every segment: each segment is searched with the same parameters (its own
   * plan: exact, graph or filtered), and the hits merged by score.
   * @throws VectorDbError invalid_argument for a bad query vector.
   */
  search(params: SearchParams): Hit[] {
    const lists: Hit[][] = [];
    let largest = -1;
    for (const segment of this.segments) {
      lists.push(segment.data.search(params));
      if (segment.data.size > largest) {
        largest = segment.data.size;
        this.lastPlan = segment.data.lastPlan;
      }
    }
    return this.mergeHits(lists, params.k);
  }

  /**
   * One search over every segment, the segments searched at the same time on the builder threads when
   * that pays off: at least two segments, each with builder threads and nothing waiting to be linked,
   * an unfiltered graph search, and enough work ({@link fanOutBounds}); below that, handing a query to a
   * thread costs more than it saves. The main thread is then busy ~0.3 ms a query instead of the whole
   * search (1.9 ms at 4 × 50,000 × 768-d). Otherwise exactly {@link search}, on this thread. Writes
   * applied while the threads search make it run again here (see {@link searchBatch}).
   * @throws VectorDbError invalid_argument for a bad query vector.
   */
  async searchFanOut(params: SearchParams): Promise<Hit[]> {
    const segments = this.segments;
    const work = this.spec.dimension * (params.ef ?? this.spec.hnsw.ef);
    if (segments.length < 2 || params.filter !== undefined || params.exact === true || work < fanOutBounds.workMin || this.size < fanOutBounds.pointsMin || !segments.every((s) => s.data.searchesOnBuilders)) {
      return this.search(params);
    }
    const [hits] = await this.searchBatch([params], () => "", { builderBatchMin: 1 });
    let largest = -1;
    for (const segment of segments) {
      if (segment.data.size > largest) {
        largest = segment.data.size;
        this.lastPlan = segment.data.lastPlan;
      }
    }
    return hits!;
  }

  /**
   * Several searches: each segment runs the batch ({@link MemoryCollection.searchBatch}: on the builder
   * threads where it can), all segments at once, and each query's hits are merged. When a write was
   * applied while the segments searched (a point may have moved between segments), the batch runs
   * again here synchronously, so every answer holds for one moment of the collection.
   */
  async searchBatch(batch: readonly SearchParams[], fieldOf: (i: number) => string, options: { builderBatchMin?: number } = {}): Promise<Hit[][]> {
    const segments = this.segments;
    if (segments.length === 1) return segments[0]!.data.searchBatch(batch, fieldOf, options);
    const sequence = this.lastSequence;
    const perSegment = await Promise.all(segments.map((s) => s.data.searchBatch(batch, fieldOf, options)));
    if (sequence !== this.lastSequence || segments !== this.segments) {
      return batch.map((params, i) => {
        try {
          return this.search(params);
        } catch (error) {
          const field = fieldOf(i);
          if (error instanceof VectorDbError && field !== "") throw new VectorDbError(error.code, `${field}.${error.rawMessage}`);
          throw error;
        }
      });
    }
    return batch.map((params, i) => this.mergeHits(perSegment.map((hits) => hits[i]!), params.k));
  }

  private mergeHits(lists: Hit[][], k: number): Hit[] {
    if (lists.length === 1) return lists[0]!;
    const all = lists.flat();
    all.sort(this.order);
    return all.slice(0, k);
  }

  /** The next page in ascending id order, merged from every segment's page (ids are unique across segments). */
  scroll(params: ScrollParams): ScrollPage {
    if (this.segments.length === 1) return this.segments[0]!.data.scroll(params);
    const pages = this.segments.map((s) => s.data.scroll(params));
    const points = pages.flatMap((page) => page.points);
    points.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const more = points.length > params.limit || pages.some((page) => page.nextAfter !== undefined);
    const kept = points.slice(0, params.limit);
    return { points: kept, nextAfter: more && kept.length > 0 ? kept[kept.length - 1]!.id : undefined };
  }

  /** The exact number of points matching `filter` over every segment. */
  count(filter?: Filter): number {
    let count = 0;
    for (const segment of this.segments) count += segment.data.count(filter);
    return count;
  }

  // ---- snapshots and checkpoints ----

  /**
   * Cuts a checkpoint: every segment at the last applied sequence, in one synchronous step; changed
   * segments come with their state (the vector rows follow in slices, copy-on-write, until
   * `vectorsCopied`), unchanged ones with the file that holds them. One cut at a time.
   *
   * A segment written while its graph was still being built (a segment is sealed, and written, long
   * before the builder threads have linked its points) counts as changed once its graph is complete,
   * and is written again whole: otherwise every open would link those points again (an hour of
   * builder time for a 2,000,000-point segment on two threads). {@link watchIndexing} asks for that
   * checkpoint when the graph completes.
   */
  async beginCheckpoint(): Promise<CheckpointCut> {
    return this.exclusiveCut(() => {
      const started = performance.now();
      const copies: Promise<void>[] = [];
      const segments = this.segments.map((entry): CheckpointSegment => {
        const { changes, contentChanges, sealed, persisted } = entry;
        const indexed = entry.data.fullyIndexed;
        const cut = { entry, changes, contentChanges, sealed, indexed };
        const graphCompletedSinceFile = persisted !== undefined && !persisted.indexed && indexed;
        if (persisted !== undefined && !graphCompletedSinceFile && persisted.changes === changes) return { ...cut, state: undefined, tombstones: undefined, file: persisted.file, deletes: persisted.deletes };
        if (persisted !== undefined && !graphCompletedSinceFile && persisted.contentChanges === contentChanges) {
          return { ...cut, state: undefined, tombstones: entry.data.deadSlots(), file: persisted.file, deletes: undefined };
        }
        const { state, vectorsCopied } = entry.data.beginSnapshot();
        copies.push(vectorsCopied);
        return { ...cut, state, tombstones: undefined, file: undefined, deletes: undefined };
      });
      const cut: CheckpointCut = {
        sequence: this.lastSequence,
        segments,
        ingests: this.ingests.entries(),
        nextSegmentId: this.nextSegmentId,
        vectorsCopied: Promise.all(copies).then(() => undefined),
        pauseMs: 0,
        layoutVersion: this.layoutVersion,
      };
      cut.pauseMs = performance.now() - started;
      return { result: cut, done: cut.vectorsCopied };
    });
  }

  /**
   * The whole collection as one state at the last applied sequence (a SnapshotService snapshot file):
   * a single segment as it is (its graph included); several concatenated, without their graphs (an
   * empty graph: restoring links every point anew). `pauseMs` is the synchronous part.
   */
  async beginSnapshotWhenFree(): Promise<{ state: CollectionState; vectorsCopied: Promise<void>; pauseMs: number }> {
    return this.exclusiveCut(() => {
      const started = performance.now();
      const parts = this.segments.filter((s) => s.data.size > 0 || this.segments.length === 1).map((s) => s.data.beginSnapshot());
      if (parts.length === 0) parts.push(this.appendable.data.beginSnapshot());
      const copied = Promise.all(parts.map((p) => p.vectorsCopied)).then(() => undefined);
      const pauseMs = performance.now() - started;
      if (parts.length === 1) {
        const only = parts[0]!;
        only.state.sequence = this.lastSequence;
        only.state.ingests = this.ingests.entries();
        return { result: { state: only.state, vectorsCopied: copied, pauseMs }, done: copied };
      }
      const state = this.concatenate(parts.map((p) => p.state));
      const vectorsCopied = copied.then(() => {
        let at = 0;
        for (const part of parts) {
          state.vectors.set(part.state.vectors, at);
          at += part.state.vectors.byteLength;
        }
      });
      return { result: { state, vectorsCopied, pauseMs }, done: vectorsCopied };
    });
  }

  /** Runs `cut` once no other cut's vectors are being copied; the next waits for `done`. */
  private async exclusiveCut<T>(cut: () => { result: T; done: Promise<void> }): Promise<T> {
    const previous = this.snapshotChain;
    let release!: () => void;
    this.snapshotChain = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      const { result, done } = cut();
      done.then(release, release);
      return result;
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Several segments' states as one (live points packed, an empty graph, all of them pending). */
  private concatenate(states: CollectionState[]): CollectionState {
    const rowBytes = this.spec.dimension * 4;
    let slotCount = 0;
    for (const state of states) slotCount += state.slotCount;
    const out: CollectionState = {
      sequence: this.lastSequence,
      slotCount,
      liveCount: 0,
      freeSlots: new Uint32Array(0),
      pending: new Uint32Array(0),
      ids: [],
      payloads: [],
      payloadBytes: [],
      vectors: new Uint8Array(slotCount * rowBytes),
      live: new Uint8Array(slotCount),
      pointSequences: new Float64Array(slotCount),
      graph: this.spec.distance === "dot" ? undefined : emptyParts(this.spec, 1).graph!.toBytes(),
      quantization: undefined,
      ingests: this.ingests.entries(),
    };
    const free: number[] = [];
    let at = 0;
    for (const state of states) {
      for (let slot = 0; slot < state.slotCount; slot++, at++) {
        out.ids.push(state.ids[slot]);
        out.payloads.push(state.payloads[slot]);
        out.payloadBytes.push(state.payloadBytes[slot] ?? 0);
        out.live[at] = state.live[slot]!;
        out.pointSequences[at] = state.pointSequences[slot]!;
        if (state.live[slot] === 1) out.liveCount++;
        else free.push(at);
      }
    }
    out.freeSlots = Uint32Array.from(free);
    return out;
  }

  /**
   * Records what a checkpoint wrote of `segment` (as of its cut): a new base file (a full rewrite), or a
   * deletes file on top of the base file it had.
   */
  markPersisted(segment: CheckpointSegment, written: { file: string; bytes: number } | { deletes: string; bytes: number }): void {
    const { entry, changes, contentChanges, indexed } = segment;
    if ("file" in written) {
      entry.persisted = { file: written.file, fileBytes: written.bytes, deletes: undefined, deletesBytes: 0, changes, contentChanges, indexed };
      if (!indexed) this.watchIndexing(entry);
    } else {
      entry.persisted = { ...entry.persisted!, deletes: written.deletes, deletesBytes: written.bytes, changes };
    }
  }

  /**
   * Once `entry`'s graph is complete, asks for a checkpoint (as a layout change does) if the file that
   * holds it was written before the graph was: that checkpoint writes the segment again, graph
   * included (see {@link beginCheckpoint}). Not when new points or payloads arrived since that
   * file: the next checkpoint writes the segment anyway (and watches it again if its graph is still
   * incomplete then), so an appendable segment under a steady load is not rewritten each time its
   * queue drains. One watch per segment at a time; a segment still incomplete when its builder goes
   * idle (a failed link) is watched again at its next write.
   */
  private watchIndexing(entry: SegmentEntry): void {
    if (this.indexingWatched.has(entry)) return;
    this.indexingWatched.add(entry);
    void entry.data.whenIndexed().then(() => {
      this.indexingWatched.delete(entry);
      const persisted = entry.persisted;
      if (this.closed || !this.segments.includes(entry) || persisted?.indexed !== false || persisted.contentChanges !== entry.contentChanges) return;
      if (!entry.data.fullyIndexed) return;
      this.layoutVersion++;
      this.events.onLayoutChanged?.();
    });
  }

  // ---- segments and the optimizer ----

  private get appendable(): SegmentEntry {
    return this.segments[this.segments.length - 1]!;
  }

  /** The segment holding live point `id` (the appendable one first). */
  private holder(id: string): SegmentEntry | undefined {
    for (let i = this.segments.length - 1; i >= 0; i--) if (this.segments[i]!.data.holds(id)) return this.segments[i];
    return undefined;
  }

  private startAppendable(): void {
    const data = new MemoryCollection(this.spec, this.limits, this.indexing);
    this.segments = [...this.segments, { id: this.nextSegmentId++, data, sealed: false, changes: 0, contentChanges: 0, persisted: undefined, merging: false }];
  }

  /** Seals the appendable segment when it holds `segmentPointsMax` points or `segmentBytesMax` of vectors. */
  private sealIfFull(): void {
    const appendable = this.appendable;
    const data = appendable.data;
    if (data.size < this.pointsMax && data.slotCount * this.spec.dimension * 4 < this.bytesMax) return;
    // Its contents do not change: its file (if any) stays valid; the manifest records the seal.
    appendable.sealed = true;
    this.startAppendable();
    this.layoutVersion++;
    this.scheduleOptimize();
  }

  private scheduleOptimize(): void {
    if (this.optimizing !== undefined || this.closed || this.pickMergeGroup() === undefined) return;
    this.optimizing = (async () => {
      try {
        await yieldToEventLoop();
        for (let merges = 0; merges < 1_000 && !this.closed; merges++) {
          const group = this.pickMergeGroup();
          if (group === undefined) break;
          await this.merge(group);
        }
      } catch (error) {
        this.events.onOptimizerError?.(error);
      } finally {
        this.optimizing = undefined;
      }
    })();
  }

  /**
   * The next sealed segments to merge: those past the deleted ratio, then small ones (at most half
   * the bounds), smallest first, as many as fit in one segment's bounds; undefined when there is
   * nothing worth doing (a single small segment with no deletes).
   */
  private pickMergeGroup(): SegmentEntry[] | undefined {
    const sealed = this.segments.filter((s) => s.sealed && !s.merging);
    const rowBytes = this.spec.dimension * 4;
    const dirty = (s: SegmentEntry): boolean => s.data.slotCount > 0 && s.data.deletedCount > this.deletedRatio * s.data.slotCount;
    const small = (s: SegmentEntry): boolean => 2 * s.data.size <= this.pointsMax && 2 * s.data.size * rowBytes <= this.bytesMax;
    const candidates = [...sealed.filter(dirty), ...sealed.filter((s) => !dirty(s) && small(s)).sort((a, b) => a.data.size - b.data.size)];
    const group: SegmentEntry[] = [];
    let points = 0;
    for (const candidate of candidates) {
      const size = candidate.data.size;
      if (group.length > 0 && (points + size > this.pointsMax || (points + size) * rowBytes > this.bytesMax)) continue;
      group.push(candidate);
      points += size;
    }
    if (group.length === 0 || (group.length === 1 && !dirty(group[0]!))) return undefined;
    return group;
  }

  /** Merges `group` into one new sealed segment with a fresh graph, then swaps it in. */
  private async merge(group: SegmentEntry[]): Promise<void> {
    for (const segment of group) segment.merging = true;
    try {
      const sequence = this.lastSequence;
      const sources = group.map((segment) => ({ segment, points: segment.data.livePoints() }));
      const total = sources.reduce((sum, s) => sum + s.points.slots.length, 0);
      let merged: MemoryCollection | undefined;
      if (total > 0) {
        merged = await this.buildMerged(sources, total, sequence);
        if (merged === undefined) return;
      }
      if (this.closed) {
        merged?.close();
        return;
      }
      this.swap(group, sources, merged, sequence);
    } finally {
      for (const segment of group) segment.merging = false;
      this.building = undefined;
    }
  }

  /** Copies the sources' live points into a new segment and waits until its graph is built. */
  private async buildMerged(sources: { segment: SegmentEntry; points: ReturnType<MemoryCollection["livePoints"]> }[], total: number, sequence: number): Promise<MemoryCollection | undefined> {
    const rowBytes = this.spec.dimension * 4;
    const vectors = new Uint8Array(total * rowBytes);
    const rowsPerSlice = Math.max(1, Math.floor(rowCopySliceBytes / rowBytes));
    let at = 0;
    // Rows of a sealed segment never change (it takes no new points), so they may be copied in slices.
    for (const { segment, points } of sources) {
      for (let i = 0; i < points.slots.length; i++, at++) {
        segment.data.copyRowOut(points.slots[i]!, vectors, at * rowBytes);
        if (at % rowsPerSlice === rowsPerSlice - 1) await yieldToEventLoop();
        if (this.closed) return undefined;
      }
    }
    const state: CollectionState = {
      sequence,
      slotCount: total,
      liveCount: total,
      freeSlots: new Uint32Array(0),
      pending: new Uint32Array(0),
      ids: sources.flatMap((s) => s.points.ids),
      payloads: sources.flatMap((s) => s.points.payloads),
      payloadBytes: sources.flatMap((s) => s.points.payloadBytes),
      vectors,
      live: new Uint8Array(total).fill(1),
      pointSequences: Float64Array.from(sources.flatMap((s) => s.points.sequences)),
      graph: undefined,
      graphRebuild: true,
      quantization: undefined,
      ingests: [],
    };
    const merged = MemoryCollection.restore(this.spec, this.limits, this.indexing, state);
    this.building = merged;
    await merged.whenIndexed();
    if (this.closed) {
      merged.close();
      return undefined;
    }
    return merged;
  }

  /**
   * Replaces `group` by `merged` (synchronously): first the deletes and payload changes the sources
   * received since `sequence` are carried over, so the new segment holds exactly their live points now.
   */
  private swap(group: SegmentEntry[], sources: { segment: SegmentEntry; points: ReturnType<MemoryCollection["livePoints"]> }[], merged: MemoryCollection | undefined, sequence: number): void {
    if (merged !== undefined && this.lastSequence > sequence) {
      const gone: string[] = [];
      const changed: { id: string; now: NonNullable<ReturnType<MemoryCollection["pointState"]>> }[] = [];
      for (const { segment, points } of sources) {
        points.ids.forEach((id, i) => {
          const now = segment.data.pointState(id);
          if (now === undefined || now.slot !== points.slots[i]) gone.push(id);
          else if (now.sequence !== points.sequences[i]) changed.push({ id, now });
        });
      }
      // Deletes first: they are gated by the merged segment's sequence, which payload changes raise.
      merged.deleteIds(gone, this.lastSequence);
      for (const { id, now } of changed) merged.replacePayload(id, now.payload, now.payloadBytes, now.sequence);
    }
    const doomed = new Set(group);
    const next: SegmentEntry[] = [];
    let placed = false;
    for (const segment of this.segments) {
      if (!doomed.has(segment)) {
        next.push(segment);
      } else if (!placed) {
        placed = true;
        if (merged !== undefined) next.push({ id: this.nextSegmentId++, data: merged, sealed: true, changes: 1, contentChanges: 1, persisted: undefined, merging: false });
      }
    }
    if (merged !== undefined && this.spec.hnsw.ef !== merged.spec.hnsw.ef) merged.setSearchEf(this.spec.hnsw.ef);
    this.segments = next;
    for (const segment of group) segment.data.close();
    this.layoutVersion++;
    this.mergesDone++;
    this.events.onLayoutChanged?.();
  }
}
