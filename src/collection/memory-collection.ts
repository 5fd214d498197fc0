import { quantizationDefaults } from "../config.js";
import { VectorDbError } from "../errors.js";
import { type HnswIndex, internalThreshold, type QuantizedSearch, scanRows, scoreOf, type SlotHits, TopK, type VectorStore } from "../index/index.js";
import { matchesFilter } from "./filter.js";
import { IngestProgress } from "./ingest-progress.js";
import { Indexer, type IndexingOptions } from "./indexer.js";
import { RecallMonitor } from "./recall-monitor.js";
import { changedPayload, checkPayloadChange, payloadJsonBytes } from "./payload-change.js";
import { countMatching, scrollSlots, selectedSlots } from "./point-queries.js";
import type { PointTable } from "./point-table.js";
import { SearchPlanner, type SearchPlan } from "./search-planner.js";
import { captureState, emptyParts, restoreParts, RowCopy, type CollectionState } from "./snapshot.js";
import type { CollectionSpec, CollectionStats, Filter, Hit, JsonObject, PayloadChange, PointInput, PointRecord, PointSelector, ScrollPage, ScrollParams, SearchParams, UpsertResult } from "./types.js";
import { checkVector, validatePoints, type CollectionLimits } from "./validate-points.js";

/** A BatchSearch of at least this many queries sends its graph searches to the builder threads. */
const builderSearchBatchMin = 8;

/** Estimated heap bytes per slot beyond its vector: the id string, map entry and array slots. */
const pointOverheadBytes = 96;

/**
 * An upsert batch that passed {@link MemoryCollection.prepareUpsert}: the points as given, each
 * payload's JSON (undefined for a point without one) and its size in UTF-8 bytes, and how many ids
 * were new when it was checked (the reservation against `collectionPointsMax`).
 */
export interface PreparedUpsert {
  points: readonly PointInput[];
  payloadJson: (string | undefined)[];
  payloadBytes: number[];
  newPoints: number;
}

/**
 * One collection in memory: points (id, vector, payload) of one dimension and distance, searched
 * through an HNSW graph or by exact scan. The server uses it through `DurableCollection`, which logs
 * every write first; tests and benchmarks use it directly.
 *
 * Storage: every vector in one {@link VectorStore} (a WebAssembly memory, row = slot); ids, payloads
 * and liveness in a {@link PointTable} indexed by the same slot. A delete tombstones the slot's graph
 * node and frees the slot; the next new point reuses it and the graph re-links the node with
 * `HnswIndex.replace` (hnswlib's `updatePoint`), so slots, memory and graph never exceed the peak live
 * count. Upserting an existing id overwrites its row and re-links its node the same way. Linking runs
 * in the background ({@link Indexer}); searches follow the {@link SearchPlanner}.
 *
 * Every write is validated as a whole before anything changes, so a rejected batch leaves the
 * collection as it was. Errors: INVALID_ARGUMENT (`invalid_argument`) for a bad point or filter,
 * RESOURCE_EXHAUSTED (`resource_exhausted`) past `collectionPointsMax` or the 4 GiB vector store.
 *
 * Sequences (for durable storage): each write carries the sequence of its WAL record and writes are
 * applied in ascending sequence. A write whose sequence is not above {@link appliedSequence} was
 * applied already and changes nothing, and every slot records the sequence of the last write that
 * touched it (an upsert never overwrites a point written by a later sequence), so replaying a log
 * twice changes nothing. Validation ({@link prepareUpsert}) is separate from application
 * ({@link applyUpsert}), which never fails for a validated batch: the WAL record is written between
 * the two. {@link snapshot} and {@link restore} take and rebuild the exact state at a sequence.
 */
export class MemoryCollection {
  private readonly store: VectorStore;
  /** The graph; undefined for dot-product collections, which are always searched exactly. */
  private readonly graph: HnswIndex | undefined;
  /** Links written slots into the graph; undefined when there is no graph. */
  private readonly indexer: Indexer | undefined;
  private readonly table: PointTable;
  private readonly planner: SearchPlanner;
  private lastSequence = 0;
  /** The vector copy of a snapshot taken by {@link beginSnapshot}, while it runs. */
  private rowCopy: RowCopy | undefined;
  /** Settles when the copy of {@link rowCopy} has finished. */
  private rowCopyDone: Promise<void> = Promise.resolve();
  private currentSpec: Readonly<CollectionSpec>;
  private readonly ingests: IngestProgress;
  /** The plan of the last search (for tests and the benchmark). */
  lastPlan: SearchPlan = "exact";
  /** Samples graph searches and re-runs them exactly (see RecallMonitor); undefined without a graph or at rate 0. */
  private readonly recall: RecallMonitor | undefined;

  /**
   * An empty collection (`restored` is for {@link restore}).
   * @throws RangeError (from the index) for a dimension below 1 or HNSW parameters out of range.
   */
  constructor(
    spec: Readonly<CollectionSpec>,
    private readonly limits: Readonly<CollectionLimits>,
    indexing: IndexingOptions,
    restored?: CollectionState,
  ) {
    this.currentSpec = spec;
    this.ingests = new IngestProgress(restored?.ingests);
    const threadSlots = indexing.builders?.threadSlots ?? 1;
    const parts = restored === undefined ? emptyParts(spec, threadSlots) : restoreParts(spec, restored, threadSlots);
    this.store = parts.store;
    this.graph = parts.graph;
    this.table = parts.table;
    this.lastSequence = restored?.sequence ?? 0;
    const table = this.table;
    this.planner = new SearchPlanner(indexing, () => ({ mask: table.live, slotCount: table.slotCount }));
    if (this.graph === undefined) return;
    this.indexer = new Indexer(this.graph, (slot) => table.live[slot] === 1, { sliceMs: indexing.indexSliceMs, builders: indexing.builders });
    this.indexer.ensureCapacity(table.live.length);
    for (const slot of parts.pending) this.indexer.enqueue(slot);
    this.indexer.schedule();
    this.trainQuantizationIfDue();
    if (indexing.recallSampleRate > 0) this.recall = new RecallMonitor(indexing.recallSampleRate, (query, k) => this.exactTopK(query, k));
  }

  /**
   * Rebuilds a collection from a {@link CollectionState} (as read from a segment file): the vectors in
   * one bulk copy, the graph from its bytes (no rebuild); the `ids`, `payloads` and `payloadBytes`
   * arrays are taken over (the caller must not use them afterwards). Points that were waiting to be
   * linked into the graph are queued again.
   *
   * @throws VectorDbError data_loss (DATA_LOSS) when the state is inconsistent (sizes, counts, a
   *   duplicate or missing id, a free slot that is live, graph bytes that do not fit the store).
   */
  static restore(spec: Readonly<CollectionSpec>, limits: Readonly<CollectionLimits>, indexing: IndexingOptions, state: CollectionState): MemoryCollection {
    return new MemoryCollection(spec, limits, indexing, state);
  }

  /** The sequence of the last write applied (0 when none). */
  get appliedSequence(): number {
    return this.lastSequence;
  }

  /** What the collection was created with, and its settings since changed (see {@link setSearchEf}). */
  get spec(): Readonly<CollectionSpec> {
    return this.currentSpec;
  }

  /** Sets the default search `ef` (`spec.hnsw.ef`), the one setting that changes without a rebuild. */
  setSearchEf(ef: number): void {
    this.currentSpec = { ...this.currentSpec, hnsw: { ...this.currentSpec.hnsw, ef } };
  }

  get name(): string {
    return this.spec.name;
  }

  /** Number of points stored. */
  get size(): number {
    return this.table.liveCount;
  }

  /** Point count, points linked into the graph, approximate memory, and the bytes of vectors and codes. */
  stats(): CollectionStats {
    return {
      pointCount: this.size,
      memoryBytes: this.memoryBytes(),
      indexedPointCount: this.indexedPointCount(),
      vectorBytes: this.store.rowBytesAllocated,
      quantizedVectorBytes: this.store.codeBytesAllocated,
      quantizationTrained: this.store.quantization !== undefined,
      recallEstimate: this.recall?.estimate,
      recallSamples: this.recall?.samples ?? 0,
    };
  }

  /** Resolves when the recall monitor has scored every sample it queued (tests). */
  recallSettled(): Promise<void> {
    return this.recall?.settled() ?? Promise.resolve();
  }

  /**
   * The slots of the exact top-k of `query` over the live points now (the recall monitor's
   * reference): on a builder thread when there is one; else here, in slices of 16,384 rows between
   * which the event loop runs, so that calls are never held up for long.
   */
  private async exactTopK(query: Float32Array, k: number): Promise<ArrayLike<number>> {
    const indexer = this.indexer;
    const rows = this.table.slotCount;
    if (indexer !== undefined && indexer.searchThreads > 0) {
      const kept = Math.min(k, Math.max(1, this.table.liveCount));
      const found = await indexer.searchOnBuilders({
        queries: query,
        count: 1,
        dimension: this.spec.dimension,
        k: Uint32Array.of(kept),
        width: Uint32Array.of(kept),
        codes: Uint8Array.of(0),
        rescored: Uint32Array.of(0),
        exactRows: rows,
      });
      return found.ids.subarray(0, found.found[0]!);
    }
    const top = new TopK(Math.max(1, Math.min(k, this.table.liveCount)));
    const slice = 16_384;
    for (let start = 0; start < rows; start += slice) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      // Other searches use the query scratch between slices: set it each time.
      this.store.setQuery(query);
      scanRows(this.store, top, { start, end: Math.min(rows, start + slice), mask: this.table.live });
    }
    return top.drainSorted().slots;
  }

  /**
   * int8 quantization: trains the ranges from the stored vectors when the collection is quantized,
   * has none yet and holds at least {@link quantizationDefaults}.trainingPoints points (codes every
   * row); afterwards writes are coded as they land.
   */
  private trainQuantizationIfDue(): void {
    const quantization = this.spec.quantization;
    if (quantization === undefined || this.store.quantization !== undefined || this.table.liveCount < quantizationDefaults.trainingPoints) return;
    this.store.trainQuantization(this.table.slotCount, quantization.quantile);
  }

  /**
   * int8 quantization: trains the ranges again (and re-codes every row) when the vectors coded since
   * the last training are clipped much more often than the quantile implies (see
   * {@link quantizationDefaults}). Runs at checkpoints; returns whether it trained.
   */
  retrainQuantizationIfDrifted(): boolean {
    const quantization = this.spec.quantization;
    const store = this.store;
    if (quantization === undefined || store.quantization === undefined) return false;
    const { trainingPoints, driftFactor, driftSlack } = quantizationDefaults;
    if (store.valuesCodedSinceTraining < trainingPoints * this.spec.dimension) return false;
    if (store.clippedShare <= driftFactor * (1 - quantization.quantile) + driftSlack) return false;
    store.trainQuantization(this.table.slotCount, quantization.quantile);
    return true;
  }

  /**
   * Approximate bytes of memory held: the vector store and graph as allocated, plus per slot its id
   * (2 bytes per UTF-16 unit), a fixed overhead for the map entry and array slots, and twice the
   * payload's JSON size (parsed objects take roughly that). An estimate for capacity planning.
   */
  memoryBytes(): number {
    const graph = this.graph?.allocatedBytes ?? 0;
    const { slotCount, idBytesTotal, payloadBytesTotal } = this.table;
    return this.store.allocatedBytes + graph + slotCount * pointOverheadBytes + idBytesTotal + 2 * payloadBytesTotal;
  }

  /** Live points linked into the graph: all of them once background indexing has caught up. */
  indexedPointCount(): number {
    if (this.indexer === undefined) return this.table.liveCount;
    const live = this.table.live;
    return this.table.liveCount - this.indexer.countPending((slot) => live[slot] === 1);
  }

  /** True when every live point is linked into the graph (O(pending points), as {@link indexedPointCount}). */
  get fullyIndexed(): boolean {
    return this.indexedPointCount() === this.size;
  }

  /** Resolves when every pending point is linked into the graph (at once if none is). */
  whenIndexed(): Promise<void> {
    return this.indexer?.whenIndexed() ?? Promise.resolve();
  }

  /** Stops background indexing and recall sampling; the collection is being dropped or the server is closing. */
  close(): void {
    this.indexer?.close();
    this.recall?.close();
  }

  /**
   * Inserts or replaces points: {@link prepareUpsert} then {@link applyUpsert} with the next sequence.
   * The points are searchable on return; they are linked into the graph in the background.
   *
   * @param field name of the list in error messages, e.g. `points` → `points[3].vector: ...`.
   * @throws VectorDbError as {@link prepareUpsert}; on any error nothing is written.
   */
  upsert(points: readonly PointInput[], field = "points"): UpsertResult {
    const prepared = this.prepareUpsert(points, field);
    return this.applyUpsert(prepared.points, prepared.payloadBytes);
  }

  /**
   * Validates an upsert batch without changing anything (see `validatePoints`), and checks that the
   * new points fit below `collectionPointsMax` and the 4 GiB store, counting `newPointsInFlight`
   * points of batches validated but not yet applied.
   *
   * @param field name of the list in error messages.
   * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming the point and field;
   *   resource_exhausted (RESOURCE_EXHAUSTED) when the collection would exceed `collectionPointsMax`
   *   or its 4 GiB vector store.
   */
  prepareUpsert(points: readonly PointInput[], field = "points", newPointsInFlight = 0): PreparedUpsert {
    const { json, sizes } = validatePoints(points, field, this.spec, this.limits);
    const newPoints = this.table.countNew(points);
    const held = this.size + newPointsInFlight;
    if (held + newPoints > this.limits.collectionPointsMax) {
      throw new VectorDbError(
        "resource_exhausted",
        `${field}: collection "${this.name}" holds ${held} points${newPointsInFlight > 0 ? " (counting writes in progress)" : ""}; ${newPoints} more would exceed collection_points_max ${this.limits.collectionPointsMax}`,
      );
    }
    const slotsNeeded = this.table.slotCount + this.table.slotsToGrow(newPointsInFlight + newPoints);
    if (slotsNeeded > this.store.rowsMax) {
      throw new VectorDbError(
        "resource_exhausted",
        `${field}: collection "${this.name}" would need ${slotsNeeded} vectors of dimension ${this.spec.dimension}, more than its 4 GiB vector store holds (${this.store.rowsMax})`,
      );
    }
    return { points, payloadJson: json, payloadBytes: sizes, newPoints };
  }

  /**
   * Applies a batch that passed {@link prepareUpsert} (or was read back from the WAL) as the write with
   * `sequence` (default: the next one). Nothing happens when `sequence` is not above
   * {@link appliedSequence} (the write was applied already); a point whose slot was last written by a
   * later sequence is left alone. Never throws for a validated batch, apart from running out of memory.
   *
   * @param payloadBytes each payload's JSON size in bytes (for the memory estimate).
   * @returns how many points were inserted and how many replaced.
   */
  applyUpsert(points: readonly PointInput[], payloadBytes: readonly number[], sequence = this.lastSequence + 1): UpsertResult {
    if (sequence <= this.lastSequence) return { inserted: 0, updated: 0 };
    this.lastSequence = sequence;
    const table = this.table;
    this.ensureSlotCapacity(table.slotCount + table.slotsToGrow(table.countNew(points)));
    let inserted = 0;
    let updated = 0;
    points.forEach((point, i) => {
      const bytes = payloadBytes[i] ?? 0;
      const existing = table.slotById.get(point.id);
      if (existing === undefined) {
        const slot = table.takeSlot();
        this.writeRow(slot, point.vector);
        table.insert(slot, point, bytes, sequence);
        inserted++;
      } else {
        if (table.pointSequences[existing]! >= sequence) return;
        this.writeRow(existing, point.vector);
        table.update(existing, point.payload, bytes, sequence);
        updated++;
      }
    });
    this.indexer?.schedule();
    this.trainQuantizationIfDue();
    return { inserted, updated };
  }

  /** The points with these ids that exist, in the order asked; missing ids are left out. */
  get(ids: readonly string[], options: { withPayload: boolean; withVector: boolean }): PointRecord[] {
    const records: PointRecord[] = [];
    for (const id of ids) {
      const slot = this.table.slotById.get(id);
      if (slot !== undefined) records.push(this.record(slot, options.withPayload, options.withVector));
    }
    return records;
  }

  /**
   * Deletes the points with these ids as the write with `sequence` (default: the next one); returns
   * how many existed. Unknown ids are ignored; a sequence not above {@link appliedSequence} changes
   * nothing and returns 0.
   */
  deleteIds(ids: readonly string[], sequence = this.lastSequence + 1): number {
    if (sequence <= this.lastSequence) return 0;
    this.lastSequence = sequence;
    let deleted = 0;
    for (const id of ids) {
      const slot = this.table.slotById.get(id);
      if (slot === undefined) continue;
      this.table.remove(slot, sequence);
      this.graph?.markDeleted(slot);
      deleted++;
    }
    return deleted;
  }

  /**
   * Deletes every point matching `filter` as the write with `sequence` (default: the next one);
   * returns how many. The filter is evaluated against the state at that sequence, so replaying the
   * same writes in order deletes the same points.
   */
  deleteByFilter(filter: Filter, sequence = this.lastSequence + 1): number {
    if (sequence <= this.lastSequence) return 0;
    const { ids, payloads, live, slotCount } = this.table;
    const doomed: string[] = [];
    for (let slot = 0; slot < slotCount; slot++) {
      const id = ids[slot];
      if (live[slot] === 1 && id !== undefined && matchesFilter(filter, id, payloads[slot])) doomed.push(id);
    }
    return this.deleteIds(doomed, sequence);
  }

  /**
   * The next page of points in ascending id order (see {@link ScrollParams}); synchronous, so the page
   * is one consistent state. A point live for the whole scroll is in exactly one page.
   */
  scroll(params: ScrollParams): ScrollPage {
    const { slots, more } = scrollSlots(this.table, params);
    const points = slots.map((slot) => this.record(slot, params.withPayload, params.withVector));
    return { points, nextAfter: more ? points[points.length - 1]?.id : undefined };
  }

  /** The exact number of points matching `filter` (all of them without one). */
  count(filter?: Filter): number {
    return countMatching(this.table, filter);
  }

  /**
   * Checks a payload change against the points `selector` chooses now (see `checkPayloadChange`);
   * returns the JSON of its payload. @throws VectorDbError invalid_argument for a payload too large.
   */
  preparePayloadChange(selector: PointSelector, change: PayloadChange, field: string): { payloadJson: string | undefined } {
    return checkPayloadChange(this.table, selectedSlots(this.table, selector), change, field, this.limits.payloadBytesMax);
  }

  /**
   * Applies a payload change to the selected points as the write with `sequence` (default: the next
   * one); the selector is evaluated now, against the state at that sequence. Returns how many points
   * it applied to; a sequence not above {@link appliedSequence} changes nothing and returns 0.
   */
  applyPayloadChange(selector: PointSelector, change: PayloadChange, sequence = this.lastSequence + 1): number {
    if (sequence <= this.lastSequence) return 0;
    this.lastSequence = sequence;
    const slots = selectedSlots(this.table, selector);
    for (const slot of slots) {
      const payload = changedPayload(this.table.payloads[slot], change);
      this.table.update(slot, payload, payloadJsonBytes(payload), sequence);
    }
    return slots.length;
  }

  /** The highest batch of the resumable load `ingestId` applied, 0 when none is known. */
  durableIngestBatch(ingestId: string): number {
    return this.ingests.durableBatch(ingestId);
  }

  /**
   * Applies batch `batch` of the resumable load `ingestId` (an upsert that passed
   * {@link prepareUpsert}) as the write with `sequence` (default: the next one), and records the batch
   * as applied. A batch at or below the one recorded is skipped (the write still takes its sequence),
   * so a batch is never applied twice. Never throws for a validated batch.
   */
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

  /**
   * The exact state at {@link appliedSequence}, copied synchronously (vector rows, graph bytes, masks
   * and sequences are copied; ids and payloads are immutable values whose arrays are copied). Writes
   * may continue while the caller encodes it. See {@link beginSnapshot} for the same state with a
   * shorter pause.
   */
  snapshot(): CollectionState {
    const state = this.snapshotWithoutVectors();
    state.vectors = new Uint8Array(state.slotCount * this.spec.dimension * 4);
    this.store.copyRowsOut(0, state.slotCount, state.vectors);
    return state;
  }

  /**
   * The exact state at {@link appliedSequence}, like {@link snapshot}, with a shorter pause: everything
   * but the vector rows is copied now, and the rows are copied in slices between which the event loop
   * runs, copy-on-write (see {@link RowCopy}), until `vectorsCopied` resolves. One snapshot copy at a
   * time per collection.
   *
   * @throws Error if the vectors of a previous `beginSnapshot` are still being copied.
   */
  beginSnapshot(): { state: CollectionState; vectorsCopied: Promise<void> } {
    // A checkpoint is when quantization ranges that no longer fit the data are trained again.
    this.retrainQuantizationIfDrifted();
    if (this.rowCopy !== undefined) throw new Error(`collection "${this.name}": a snapshot is being copied already`);
    const state = this.snapshotWithoutVectors();
    const copy = new RowCopy(this.store, state.slotCount, this.spec.dimension);
    state.vectors = copy.target;
    this.rowCopy = copy;
    const vectorsCopied = copy.run(() => {
      this.rowCopy = undefined;
    });
    this.rowCopyDone = vectorsCopied.catch(() => undefined);
    return { state, vectorsCopied };
  }

  /**
   * {@link beginSnapshot} once no other snapshot copy runs (waiting for it first, if one does), so that
   * a checkpoint and a SnapshotService snapshot may start at any time. `pauseMs` is the synchronous
   * part (how long writes and searches were held), not counting the wait.
   */
  async beginSnapshotWhenFree(): Promise<{ state: CollectionState; vectorsCopied: Promise<void>; pauseMs: number }> {
    while (this.rowCopy !== undefined) await this.rowCopyDone;
    // No await between the check above and this call: no other snapshot can start in between.
    const started = performance.now();
    const snapshot = this.beginSnapshot();
    return { ...snapshot, pauseMs: performance.now() - started };
  }

  /**
   * The `k` points nearest to `params.vector` that pass the filter and the score threshold, best first,
   * by the plan the {@link SearchPlanner} chooses. `ef` (default the collection's) is raised to `k`.
   *
   * @throws VectorDbError invalid_argument when the query's dimension is wrong, a component is not
   *   finite, or (cosine) the query is a zero vector.
   */
  search(params: SearchParams): Hit[] {
    checkVector(params.vector, "vector", this.spec);
    if (this.table.liveCount === 0) return [];
    const { ids, payloads, live } = this.table;
    const filter = params.filter;
    const accept = filter === undefined ? undefined : (slot: number) => matchesFilter(filter, ids[slot]!, payloads[slot]);
    const maxDistance = params.scoreThreshold === undefined ? Number.POSITIVE_INFINITY : internalThreshold(this.spec.distance, params.scoreThreshold);
    const k = Math.min(params.k, this.table.liveCount);
    const top = new TopK(k);
    const graphUsable = this.graph !== undefined && this.graph.size > 0;
    const pendingCount = this.indexer?.hasPending === true ? this.indexer.countPending((slot) => live[slot] === 1) : 0;
    const plan = this.planner.plan({ graphUsable, exact: params.exact, liveCount: this.table.liveCount, pendingCount, accept });
    this.lastPlan = plan;
    if (this.graph === undefined || this.indexer === undefined || plan === "exact" || plan === "filtered-exact") {
      this.store.setQuery(params.vector);
      scanRows(this.store, top, { end: this.table.slotCount, mask: live }, { accept, maxDistance });
    } else {
      this.searchGraph(this.graph, this.indexer, params, k, top, accept, maxDistance);
    }
    const found = top.drainSorted();
    if (plan === "graph") this.recall?.offer(params.vector, k, found.slots);
    return this.hits(found, params);
  }

  /** Whether an unfiltered search would run on the builder threads now: threads, a graph, nothing waiting to be linked. */
  get searchesOnBuilders(): boolean {
    const indexer = this.indexer;
    return this.graph !== undefined && indexer !== undefined && indexer.searchThreads > 0 && !indexer.hasPending && this.graph.size > 0;
  }

  /**
   * Several searches at once (BatchSearch). With builder threads, no point waiting to be linked, and
   * at least 8 queries, the unfiltered graph searches run on the builder threads, split between them,
   * while this thread is free; the others run here one by one, as {@link search} does. A query whose
   * hits were rewritten or deleted while the threads searched runs again here, so every answer holds
   * for one moment of the collection.
   *
   * @param fieldOf the request field of query `i`, prefixed to its errors (e.g. `queries[3]`; "" for none).
   * @param options.builderBatchMin the fewest queries sent to the builder threads (default 8; 1 lets a
   *   single search go there, as {@link SegmentedCollection.searchFanOut} does).
   * @throws VectorDbError as {@link search}, its message prefixed with the query's field; every
   *   query's vector is checked before any search runs.
   */
  async searchBatch(batch: readonly SearchParams[], fieldOf: (i: number) => string, options: { builderBatchMin?: number } = {}): Promise<Hit[][]> {
    const prefixed = <T>(i: number, run: () => T): T => {
      try {
        return run();
      } catch (error) {
        const field = fieldOf(i);
        if (error instanceof VectorDbError && field !== "") throw new VectorDbError(error.code, `${field}.${error.rawMessage}`);
        throw error;
      }
    };
    batch.forEach((params, i) => prefixed(i, () => checkVector(params.vector, "vector", this.spec)));
    const results: Hit[][] = new Array(batch.length);
    const offloaded: number[] = [];
    const graph = this.graph;
    const indexer = this.indexer;
    if (this.searchesOnBuilders && batch.length >= (options.builderBatchMin ?? builderSearchBatchMin)) {
      batch.forEach((params, i) => {
        const plan = this.planner.plan({ graphUsable: true, exact: params.exact, liveCount: this.table.liveCount, pendingCount: 0, accept: params.filter === undefined ? undefined : () => true });
        if (plan === "graph") offloaded.push(i);
      });
    }
    const onBuilders = new Set(offloaded);
    batch.forEach((params, i) => {
      if (!onBuilders.has(i)) results[i] = prefixed(i, () => this.search(params));
    });
    if (offloaded.length === 0 || graph === undefined || indexer === undefined) return results;
    const sequence = this.lastSequence;
    const dimension = this.spec.dimension;
    const job = {
      queries: new Float32Array(offloaded.length * dimension),
      count: offloaded.length,
      dimension,
      k: new Uint32Array(offloaded.length),
      width: new Uint32Array(offloaded.length),
      codes: new Uint8Array(offloaded.length),
      rescored: new Uint32Array(offloaded.length),
    };
    offloaded.forEach((i, j) => {
      const params = batch[i]!;
      const k = Math.min(params.k, this.table.liveCount);
      const { codes, kept, width } = graph.widths(k, Math.max(params.ef ?? this.spec.hnsw.ef, k), this.quantizedSearch(params));
      job.queries.set(params.vector, j * dimension);
      job.k[j] = k;
      job.width[j] = width;
      job.codes[j] = codes ? 1 : 0;
      job.rescored[j] = codes && (params.rescore ?? true) ? kept : 0;
    });
    const found = await indexer.searchOnBuilders(job);
    const { live, pointSequences } = this.table;
    let at = 0;
    offloaded.forEach((i, j) => {
      const params = batch[i]!;
      const n = found.found[j]!;
      let stale = false;
      for (let h = at; h < at + n; h++) {
        const slot = found.ids[h]!;
        if (live[slot] !== 1 || pointSequences[slot]! > sequence) stale = true;
      }
      if (stale) {
        results[i] = prefixed(i, () => this.search(params));
      } else {
        const top = new TopK(Math.max(1, job.k[j]!));
        const maxDistance = params.scoreThreshold === undefined ? Number.POSITIVE_INFINITY : internalThreshold(this.spec.distance, params.scoreThreshold);
        for (let h = at; h < at + n; h++) if (found.distances[h]! <= maxDistance) top.push(found.distances[h]!, found.ids[h]!);
        const sorted = top.drainSorted();
        this.lastPlan = "graph";
        this.recall?.offer(params.vector, job.k[j]!, sorted.slots);
        results[i] = this.hits(sorted, params);
      }
      at += job.k[j]!;
    });
    return results;
  }

  /**
   * Links pending slots into the graph for at most `budgetMs` ms (at least one slot); returns whether
   * some are left. Exposed for tests and benchmarks; the server runs it from the background indexer.
   */
  indexStep(budgetMs: number): boolean {
    return this.indexer?.step(budgetMs) ?? false;
  }

  /**
   * Checks the graph's invariants (see HnswIndex.checkIntegrity), with the builder threads paused;
   * throws an Error naming a violation.
   */
  checkIntegrity(): void {
    const graph = this.graph;
    if (graph !== undefined) this.indexer!.quiesced(() => graph.checkIntegrity());
  }

  /** Walks the graph for the linked slots, then scores the pending ones exactly into the same `top`. */
  private searchGraph(
    graph: HnswIndex,
    indexer: Indexer,
    params: SearchParams,
    k: number,
    top: TopK,
    accept: ((slot: number) => boolean) | undefined,
    maxDistance: number,
  ): void {
    const live = this.table.live;
    const ef = Math.max(params.ef ?? this.spec.hnsw.ef, k);
    // The graph returns no deleted or pending node (a reused slot still linked under its old vector
    // is pending): those are scored exactly below.
    const found = graph.search(params.vector, k, ef, accept, this.quantizedSearch(params));
    for (let i = 0; i < found.ids.length; i++) {
      if (found.distances[i]! <= maxDistance) top.push(found.distances[i]!, found.ids[i]!);
    }
    if (indexer.hasPending) {
      // graph.search left the query in the store's scratch.
      const pendingLive = indexer.pendingSlots((slot) => live[slot] === 1);
      scanRows(this.store, top, { list: pendingLive }, { accept, maxDistance });
    }
  }

  /** How a graph search walks the codes of a quantized collection; undefined without quantization. */
  private quantizedSearch(params: SearchParams): QuantizedSearch | undefined {
    if (this.spec.quantization === undefined) return undefined;
    return { oversampling: params.oversampling ?? quantizationDefaults.oversampling, rescore: params.rescore ?? true };
  }

  /** The hits in `top`, best first, with payloads and vectors as asked. */
  private hits(found: SlotHits, params: SearchParams): Hit[] {
    const hits: Hit[] = [];
    for (let i = 0; i < found.slots.length; i++) {
      const slot = found.slots[i]!;
      const hit: Hit = { id: this.table.ids[slot]!, score: scoreOf(this.spec.distance, found.distances[i]!) };
      const payload = this.table.payloads[slot];
      if (params.withPayload && payload !== undefined) hit.payload = payload;
      if (params.withVector) hit.vector = this.store.read(slot);
      hits.push(hit);
    }
    return hits;
  }

  /** Everything of a snapshot but the vector rows (`vectors` is left empty). */
  private snapshotWithoutVectors(): CollectionState {
    const live = this.table.live;
    const pending = this.indexer?.pendingSlots((slot) => live[slot] === 1) ?? [];
    const capture = (): CollectionState => captureState(this.table, this.lastSequence, pending, this.graph, this.store, this.ingests.entries());
    // The graph's bytes are taken between two links of the builder threads.
    return this.indexer === undefined ? capture() : this.indexer.quiesced(capture);
  }

  // ---- Used by SegmentedCollection, for which a MemoryCollection is one segment. ----

  /** Slots in use, live or dead (a sealed segment's dead slots are what a vacuum reclaims). */
  get slotCount(): number {
    return this.table.slotCount;
  }

  /** Dead slots (tombstones) among {@link slotCount}. */
  get deletedCount(): number {
    return this.table.slotCount - this.table.liveCount;
  }

  /** Most vector rows this collection's 4 GiB store can hold. */
  get rowsMax(): number {
    return this.store.rowsMax;
  }

  /** Whether a live point has this id. */
  holds(id: string): boolean {
    return this.table.slotById.has(id);
  }

  /** The live point `id`: its slot, the sequence of its last write and its payload; undefined when absent. */
  pointState(id: string): { slot: number; sequence: number; payload: JsonObject | undefined; payloadBytes: number } | undefined {
    const slot = this.table.slotById.get(id);
    if (slot === undefined) return undefined;
    const table = this.table;
    return { slot, sequence: table.pointSequences[slot]!, payload: table.payloads[slot], payloadBytes: table.payloadBytes[slot] ?? 0 };
  }

  /**
   * The live points now, in slot order: slots, ids, payloads (references to immutable values), their
   * JSON sizes and the sequences of their last writes. Synchronous: one state.
   */
  livePoints(): { slots: number[]; ids: string[]; payloads: (JsonObject | undefined)[]; payloadBytes: number[]; sequences: number[] } {
    const { live, ids, payloads, payloadBytes, pointSequences, slotCount } = this.table;
    const out = { slots: [] as number[], ids: [] as string[], payloads: [] as (JsonObject | undefined)[], payloadBytes: [] as number[], sequences: [] as number[] };
    for (let slot = 0; slot < slotCount; slot++) {
      if (live[slot] !== 1) continue;
      out.slots.push(slot);
      out.ids.push(ids[slot]!);
      out.payloads.push(payloads[slot]);
      out.payloadBytes.push(payloadBytes[slot] ?? 0);
      out.sequences.push(pointSequences[slot]!);
    }
    return out;
  }

  /** Copies the stored row of `slot` (as stored: cosine rows normalised) into `target` at `byteOffset`. */
  copyRowOut(slot: number, target: Uint8Array, byteOffset: number): void {
    this.store.copyRowsOut(slot, slot + 1, target, byteOffset);
  }

  /**
   * Replaces the payload of the live point `id` as written by `sequence` (a merge carrying over a
   * payload change made to its source meanwhile); nothing when `id` is not live. Not gated by
   * {@link appliedSequence}; raises it to `sequence`.
   */
  replacePayload(id: string, payload: JsonObject | undefined, payloadBytes: number, sequence: number): void {
    const slot = this.table.slotById.get(id);
    if (slot === undefined) return;
    this.table.update(slot, payload, payloadBytes, sequence);
    this.lastSequence = Math.max(this.lastSequence, sequence);
  }

  /**
   * Marks these slots dead as deleted by `sequences` (a deletes file read on top of the segment's base
   * file): as a delete by id, by slot. @throws VectorDbError data_loss for a slot beyond the segment.
   */
  applyTombstones(slots: Uint32Array, sequences: Float64Array): void {
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      if (slot >= this.table.slotCount) throw new VectorDbError("data_loss", `deletes: slot ${slot} is beyond the segment's ${this.table.slotCount} slots`);
      if (this.table.live[slot] !== 1) continue;
      this.table.remove(slot, sequences[i]!);
      this.graph?.markDeleted(slot);
    }
  }

  /** The dead slots now and the sequences of the writes that deleted them (for a deletes file). */
  deadSlots(): { slots: Uint32Array; sequences: Float64Array } {
    const { live, pointSequences, slotCount } = this.table;
    const slots: number[] = [];
    for (let slot = 0; slot < slotCount; slot++) if (live[slot] !== 1) slots.push(slot);
    return { slots: Uint32Array.from(slots), sequences: Float64Array.from(slots, (slot) => pointSequences[slot]!) };
  }

  /** The resumable loads recorded in this collection (a segment file of the format before segments carried them). */
  ingestEntries(): [string, number][] {
    return this.ingests.entries();
  }

  /** Writes a point's vector into row `slot`, saving the old row first for a snapshot being copied. */
  private writeRow(slot: number, vector: Float32Array): void {
    this.rowCopy?.preserve(slot);
    this.store.write(slot, vector);
    this.indexer?.enqueue(slot);
  }

  private ensureSlotCapacity(slots: number): void {
    this.store.ensureCapacity(slots);
    this.table.ensureCapacity(slots);
    this.indexer?.ensureCapacity(this.table.live.length);
  }

  private record(slot: number, withPayload: boolean, withVector: boolean): PointRecord {
    const record: PointRecord = { id: this.table.ids[slot]! };
    if (withVector) record.vector = this.store.read(slot);
    const payload = this.table.payloads[slot];
    if (withPayload && payload !== undefined) record.payload = payload;
    return record;
  }
}
