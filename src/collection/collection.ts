import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { IndexingConfig } from "../config.js";
import { invalidArgument, VectorDbError } from "../errors.js";
import { HnswIndex, internalThreshold, norm, scanRows, scoreOf, TopK, VectorStore } from "../index/index.js";
import { matchesFilter } from "./filter.js";
import type {
  CollectionSpec,
  CollectionStats,
  Filter,
  Hit,
  JsonObject,
  JsonValue,
  PointInput,
  PointRecord,
  SearchParams,
  UpsertResult,
} from "./types.js";

/** Limits a collection enforces on its own writes. */
export interface CollectionLimits {
  /** Longest id in UTF-8 bytes. */
  idBytesMax: number;
  /** Largest payload, in bytes of its JSON serialisation. */
  payloadBytesMax: number;
  /** Most points the collection may hold. */
  collectionPointsMax: number;
}

/** Estimated heap bytes per slot beyond its vector: the id string, map entry and array slots. */
const pointOverheadBytes = 96;
/** Points sampled to estimate how many match a filter (see {@link Collection.search}). */
const filterSampleSize = 256;

/** Bytes of vector rows {@link Collection.beginSnapshot} copies per turn of the event loop. */
export const rowCopySliceBytes = 4 * 1024 * 1024;

/** The state of a vector copy started by {@link Collection.beginSnapshot}. */
interface RowCopy {
  /** Where the rows go: `rows` rows. */
  target: Uint8Array;
  rows: number;
  /** Rows below this are copied. */
  copied: number;
  /** Rows at or above `copied` saved before a write overwrote them, by slot. */
  saved: Map<number, Uint8Array>;
}

/** How a search was answered, for tests and the benchmark. */
export type SearchPlan = "exact" | "filtered-exact" | "graph" | "filtered-graph";

/**
 * An upsert batch that passed {@link Collection.prepareUpsert}: the points as given, each payload's JSON
 * (undefined for a point without one) and its size in UTF-8 bytes, and how many ids were new when it
 * was checked (the reservation against `collectionPointsMax`).
 */
export interface PreparedUpsert {
  points: readonly PointInput[];
  payloadJson: (string | undefined)[];
  payloadBytes: number[];
  newPoints: number;
}

/**
 * The whole state of a collection at one sequence, as {@link Collection.snapshot} takes it and
 * {@link Collection.restore} rebuilds from it. Slots `0 .. slotCount-1`; arrays are indexed by slot.
 * Every array is a copy (or an immutable value) owned by the holder: later writes to the collection do
 * not change it.
 */
export interface CollectionState {
  /** The last write sequence whose effect the state holds (0 = none). */
  sequence: number;
  /** Slots in use, live or dead. */
  slotCount: number;
  /** Live slots. */
  liveCount: number;
  /** Dead slots, in the order the next inserts take them (the last one first). */
  freeSlots: Uint32Array;
  /** Live slots written but not yet linked into the graph, in the order the indexer takes them. */
  pending: Uint32Array;
  /** Point id per slot; undefined for a dead slot. */
  ids: (string | undefined)[];
  /** Payload per slot; undefined for a dead slot or a point without payload. Treated as immutable. */
  payloads: (JsonObject | undefined)[];
  /** Size of each payload's JSON in UTF-8 bytes (0 when none). */
  payloadBytes: number[];
  /** Rows `0 .. slotCount-1` of the vector store, little-endian float32 (cosine rows normalised). */
  vectors: Uint8Array;
  /** 1 for a live slot, 0 for a dead one; `slotCount` bytes. */
  live: Uint8Array;
  /** Sequence of the last write applied to each slot (its upsert or delete); `slotCount` entries. */
  pointSequences: Float64Array;
  /** `HnswIndex.toBytes()` of the graph; undefined for a dot-product collection (no graph). */
  graph: Uint8Array | undefined;
}

/**
 * One collection: points (id, vector, payload) of one dimension and distance, searched through an
 * HNSW graph or by exact scan.
 *
 * Storage layout: every vector in one {@link VectorStore} (a WebAssembly memory, row = slot); `ids`,
 * `payloads` and `live` are indexed by the same slot; `slotById` maps an id to its slot. Slots are
 * stable, because the graph's links name them. A delete marks the slot dead, tombstones its graph node
 * and puts the slot on a free list; the next new point reuses it (the graph re-links the node with
 * `HnswIndex.replace`, hnswlib's `updatePoint`), so slots, memory and graph never exceed the peak live
 * count: a delete-heavy workload does not grow without bound. Upserting an existing id overwrites its
 * row and re-links its node the same way.
 *
 * Background indexing: a write lands in the store at once and its slot joins a FIFO of pending slots;
 * the indexer links pending slots into the graph in slices of at most `indexSliceMs` ms, yielding to
 * the event loop between slices (setImmediate), so a bulk load never freezes the server. A search
 * walks the graph for the linked slots and scores the pending ones exactly, so every acknowledged
 * write is visible to the next search.
 *
 * Search plan, per query:
 * - exact scan when `exact` is asked, the distance is dot (HNSW needs a metric; see HnswIndex), or the
 *   collection has at most `fullScanPointsMax` live points;
 * - with a filter: the number of matching points is estimated from 256 sampled points; at most
 *   `filteredScanPointsMax` → score exactly the points that match; otherwise walk the graph with the
 *   filter applied to results during the walk, which continues until `ef` allowed hits are found;
 * - otherwise the graph with `ef = max(ef, k)`.
 *
 * Every write is validated as a whole before anything changes, so a rejected batch leaves the collection
 * as it was. Errors: INVALID_ARGUMENT (`invalid_argument`) for a bad point or filter,
 * RESOURCE_EXHAUSTED (`resource_exhausted`) past `collectionPointsMax` or the 4 GiB vector store.
 *
 * Sequences (for durable storage, see `DurableCollection`): each write carries the sequence of its WAL
 * record and writes are applied in ascending sequence. A write whose sequence is not above
 * {@link appliedSequence} was applied already and changes nothing, and every slot records the sequence
 * of the last write that touched it (an upsert never overwrites a point written by a later sequence),
 * so replaying a log twice changes nothing. Validation ({@link prepareUpsert}) is separate from
 * application ({@link applyUpsert}), which never fails for a validated batch: the WAL record is written
 * between the two. {@link snapshot} and {@link restore} take and rebuild the exact state at a sequence.
 */
export class Collection {
  private readonly store: VectorStore;
  /** The graph; undefined for dot-product collections, which are always searched exactly. */
  private readonly graph: HnswIndex | undefined;
  private ids: (string | undefined)[] = [];
  private payloads: (JsonObject | undefined)[] = [];
  private payloadBytes: number[] = [];
  private readonly slotById = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private live: Uint8Array = new Uint8Array(1024);
  private pendingFlags: Uint8Array = new Uint8Array(1024);
  private pointSequences: Float64Array = new Float64Array(1024);
  private lastSequence = 0;
  /** The vector copy of a snapshot taken by {@link beginSnapshot}, while it runs. */
  private rowCopy: RowCopy | undefined;
  private pending: number[] = [];
  private pendingHead = 0;
  private slotCount = 0;
  private liveCount = 0;
  private payloadBytesTotal = 0;
  private idBytesTotal = 0;
  private indexingScheduled = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private sampleState = 0x2545f491;
  /** The plan of the last search (for tests and the benchmark). */
  lastPlan: SearchPlan = "exact";

  /**
   * An empty collection (`restored` is for {@link restore}).
   * @throws RangeError (from the index) for a dimension below 1 or HNSW parameters out of range.
   */
  constructor(
    readonly spec: Readonly<CollectionSpec>,
    private readonly limits: Readonly<CollectionLimits>,
    private readonly indexing: Readonly<IndexingConfig>,
    restored?: CollectionState,
  ) {
    this.store = new VectorStore(spec.dimension, spec.distance, restored !== undefined && restored.slotCount > 0 ? restored.slotCount : undefined);
    if (restored === undefined) {
      this.graph =
        spec.distance === "dot"
          ? undefined
          : new HnswIndex({ store: this.store, m: spec.hnsw.m, efConstruction: spec.hnsw.efConstruction, seed: 0x5eed });
      return;
    }
    const state = restored;
    const rowBytes = spec.dimension * 4;
    if (state.vectors.byteLength !== state.slotCount * rowBytes) {
      throw new VectorDbError("data_loss", `vectors: ${state.vectors.byteLength} bytes, expected ${state.slotCount} slots × ${rowBytes} bytes`);
    }
    if (state.slotCount > this.store.rowsMax) throw new VectorDbError("data_loss", `${state.slotCount} slots exceed the 4 GiB vector store (${this.store.rowsMax} rows)`);
    // One bulk copy of every row: no per-point parsing.
    this.store.rowBytesView(state.slotCount).set(state.vectors);
    if (spec.distance === "dot") {
      this.graph = undefined;
    } else {
      if (state.graph === undefined) throw new VectorDbError("data_loss", `graph: missing for a ${spec.distance} collection`);
      try {
        this.graph = HnswIndex.fromBytes(this.store, state.graph);
      } catch (error) {
        throw new VectorDbError("data_loss", `graph: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    }
    this.ensureSlotCapacity(state.slotCount);
    this.slotCount = state.slotCount;
    this.lastSequence = state.sequence;
    this.live.set(state.live.subarray(0, state.slotCount));
    this.pointSequences.set(state.pointSequences.subarray(0, state.slotCount));
    // The state's arrays are taken over, not copied.
    if (state.ids.length !== state.slotCount || state.payloads.length !== state.slotCount || state.payloadBytes.length !== state.slotCount) {
      throw new VectorDbError("data_loss", `ids, payloads: ${state.ids.length}, ${state.payloads.length} and ${state.payloadBytes.length} entries for ${state.slotCount} slots`);
    }
    this.ids = state.ids;
    this.payloads = state.payloads;
    this.payloadBytes = state.payloadBytes;
    const ids = this.ids;
    const live = state.live;
    const slotById = this.slotById;
    for (let slot = 0; slot < state.slotCount; slot++) {
      if (live[slot] !== 1) {
        ids[slot] = undefined;
        this.payloads[slot] = undefined;
        this.payloadBytes[slot] = 0;
        continue;
      }
      const id = ids[slot];
      if (id === undefined || id === "") throw new VectorDbError("data_loss", `ids: live slot ${slot} has no id`);
      const size = slotById.size;
      slotById.set(id, slot);
      if (slotById.size === size) throw new VectorDbError("data_loss", `ids: id ${JSON.stringify(id)} is held by two slots (${slot} and another)`);
      this.idBytesTotal += id.length * 2;
      this.payloadBytesTotal += this.payloadBytes[slot]!;
      this.liveCount++;
    }
    if (this.liveCount !== state.liveCount) throw new VectorDbError("data_loss", `live count ${state.liveCount} disagrees with the ${this.liveCount} live slots`);
    if (state.freeSlots.length !== state.slotCount - state.liveCount) {
      throw new VectorDbError("data_loss", `free slots: ${state.freeSlots.length} listed, ${state.slotCount - state.liveCount} slots are dead`);
    }
    const listed = new Uint8Array(state.slotCount);
    for (const slot of state.freeSlots) {
      if (slot >= state.slotCount || state.live[slot] === 1 || listed[slot] === 1) throw new VectorDbError("data_loss", `free slots: slot ${slot} is not a dead slot listed once`);
      listed[slot] = 1;
      this.freeSlots.push(slot);
    }
    for (const slot of state.pending) {
      if (slot >= state.slotCount) throw new VectorDbError("data_loss", `pending slots: slot ${slot} is beyond ${state.slotCount} slots`);
      this.enqueue(slot);
    }
    // A live slot that is neither in the graph nor pending would never be linked: queue it.
    const graph = this.graph;
    if (graph !== undefined) for (let slot = 0; slot < state.slotCount; slot++) if (state.live[slot] === 1 && !graph.has(slot)) this.enqueue(slot);
    this.scheduleIndexing();
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
  static restore(
    spec: Readonly<CollectionSpec>,
    limits: Readonly<CollectionLimits>,
    indexing: Readonly<IndexingConfig>,
    state: CollectionState,
  ): Collection {
    return new Collection(spec, limits, indexing, state);
  }

  /** The sequence of the last write applied (0 when none). */
  get appliedSequence(): number {
    return this.lastSequence;
  }

  get name(): string {
    return this.spec.name;
  }

  /** Number of points stored. */
  get size(): number {
    return this.liveCount;
  }

  /** Point count, points linked into the graph, and approximate memory. */
  stats(): CollectionStats {
    return { pointCount: this.size, memoryBytes: this.memoryBytes(), indexedPointCount: this.indexedPointCount() };
  }

  /**
   * Approximate bytes of memory held: the vector store and graph as allocated, plus per slot its id
   * (2 bytes per UTF-16 unit), a fixed overhead for the map entry and array slots, and twice the
   * payload's JSON size (parsed objects take roughly that). An estimate for capacity planning.
   */
  memoryBytes(): number {
    const graph = this.graph?.allocatedBytes ?? 0;
    return this.store.allocatedBytes + graph + this.slotCount * pointOverheadBytes + this.idBytesTotal + 2 * this.payloadBytesTotal;
  }

  /** Live points linked into the graph: all of them once background indexing has caught up. */
  indexedPointCount(): number {
    if (this.graph === undefined) return this.liveCount;
    let pendingLive = 0;
    for (let i = this.pendingHead; i < this.pending.length; i++) if (this.live[this.pending[i]!] === 1) pendingLive++;
    return this.liveCount - pendingLive;
  }

  /** Resolves when every pending point is linked into the graph (at once if none is). */
  whenIndexed(): Promise<void> {
    if (this.pendingHead === this.pending.length || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops background indexing; the collection is being dropped or the server is closing. */
  close(): void {
    this.closed = true;
    this.wakeIdleWaiters();
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
   * Validates an upsert batch without changing anything: ids unique, non-empty and at most
   * `idBytesMax` bytes; vectors of the collection's dimension with finite components, non-zero for
   * cosine; payloads at most `payloadBytesMax` bytes of JSON, holding no NaN or infinite number (JSON
   * cannot store them); and room for the new points below `collectionPointsMax` and the 4 GiB store,
   * counting `newPointsInFlight` points of batches validated but not yet applied.
   *
   * @param field name of the list in error messages.
   * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming the point and field;
   *   resource_exhausted (RESOURCE_EXHAUSTED) when the collection would exceed `collectionPointsMax`
   *   or its 4 GiB vector store.
   */
  prepareUpsert(points: readonly PointInput[], field = "points", newPointsInFlight = 0): PreparedUpsert {
    const { json, sizes } = this.validatePoints(points, field);
    let newPoints = 0;
    for (const point of points) if (!this.slotById.has(point.id)) newPoints++;
    const held = this.size + newPointsInFlight;
    if (held + newPoints > this.limits.collectionPointsMax) {
      throw new VectorDbError(
        "resource_exhausted",
        `${field}: collection "${this.name}" holds ${held} points${newPointsInFlight > 0 ? " (counting writes in progress)" : ""}; ${newPoints} more would exceed collection_points_max ${this.limits.collectionPointsMax}`,
      );
    }
    const slotsNeeded = this.slotCount + Math.max(0, newPointsInFlight + newPoints - this.freeSlots.length);
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
    let newPoints = 0;
    for (const point of points) if (!this.slotById.has(point.id)) newPoints++;
    this.ensureSlotCapacity(this.slotCount + Math.max(0, newPoints - this.freeSlots.length));
    let inserted = 0;
    let updated = 0;
    for (let i = 0; i < points.length; i++) {
      const point = points[i]!;
      const bytes = payloadBytes[i] ?? 0;
      const existing = this.slotById.get(point.id);
      if (existing === undefined) {
        const slot = this.freeSlots.pop() ?? this.slotCount++;
        this.preserveRow(slot);
        this.store.write(slot, point.vector);
        this.ids[slot] = point.id;
        this.payloads[slot] = point.payload;
        this.payloadBytes[slot] = bytes;
        this.live[slot] = 1;
        this.pointSequences[slot] = sequence;
        this.liveCount++;
        this.slotById.set(point.id, slot);
        this.idBytesTotal += point.id.length * 2;
        this.payloadBytesTotal += bytes;
        this.enqueue(slot);
        inserted++;
      } else {
        if (this.pointSequences[existing]! >= sequence) continue;
        this.preserveRow(existing);
        this.store.write(existing, point.vector);
        this.payloadBytesTotal += bytes - this.payloadBytes[existing]!;
        this.payloads[existing] = point.payload;
        this.payloadBytes[existing] = bytes;
        this.pointSequences[existing] = sequence;
        this.enqueue(existing);
        updated++;
      }
    }
    this.scheduleIndexing();
    return { inserted, updated };
  }

  /** The points with these ids that exist, in the order asked; missing ids are left out. */
  get(ids: readonly string[], options: { withPayload: boolean; withVector: boolean }): PointRecord[] {
    const records: PointRecord[] = [];
    for (const id of ids) {
      const slot = this.slotById.get(id);
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
      const slot = this.slotById.get(id);
      if (slot === undefined) continue;
      this.removeSlot(slot, sequence);
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
    const doomed: string[] = [];
    for (let slot = 0; slot < this.slotCount; slot++) {
      if (this.live[slot] === 1 && matchesFilter(filter, this.ids[slot]!, this.payloads[slot])) doomed.push(this.ids[slot]!);
    }
    return this.deleteIds(doomed, sequence);
  }

  /**
   * The exact state at {@link appliedSequence}, copied synchronously (vector rows, graph bytes, masks
   * and sequences are copied; ids and payloads are immutable values whose arrays are copied). Writes
   * may continue while the caller encodes it. See {@link beginSnapshot} for the same state with a
   * shorter pause.
   */
  snapshot(): CollectionState {
    const state = this.snapshotWithoutVectors();
    state.vectors = this.store.rowBytesView(state.slotCount).slice();
    return state;
  }

  /**
   * The exact state at {@link appliedSequence}, like {@link snapshot}, with a shorter pause: everything
   * but the vector rows is copied now (the graph's bytes, ids, payload references, masks), and the rows
   * are copied in slices of {@link rowCopySliceBytes} between which the event loop runs, until
   * `vectorsCopied` resolves. Writes may go on meanwhile: a row about to be overwritten before its slice
   * is copied is saved first (copy-on-write), so `state.vectors` holds the rows as they were at the
   * snapshot's sequence. One snapshot copy at a time per collection.
   *
   * @throws Error if the vectors of a previous `beginSnapshot` are still being copied.
   */
  beginSnapshot(): { state: CollectionState; vectorsCopied: Promise<void> } {
    if (this.rowCopy !== undefined) throw new Error(`collection "${this.name}": a snapshot is being copied already`);
    const state = this.snapshotWithoutVectors();
    const rowBytes = this.spec.dimension * 4;
    const copy: RowCopy = { target: new Uint8Array(state.slotCount * rowBytes), rows: state.slotCount, copied: 0, saved: new Map() };
    state.vectors = copy.target;
    this.rowCopy = copy;
    const rowsPerSlice = Math.max(1, Math.floor(rowCopySliceBytes / rowBytes));
    const vectorsCopied = (async () => {
      try {
        while (copy.copied < copy.rows) {
          const start = copy.copied;
          const end = Math.min(copy.rows, start + rowsPerSlice);
          const view = this.store.rowBytesView(end);
          copy.target.set(view.subarray(start * rowBytes, end * rowBytes), start * rowBytes);
          for (const [slot, row] of copy.saved) if (slot >= start && slot < end) copy.target.set(row, slot * rowBytes);
          copy.copied = end;
          if (copy.copied < copy.rows) await yieldToEventLoop();
        }
      } finally {
        this.rowCopy = undefined;
      }
    })();
    return { state, vectorsCopied };
  }

  /** Copy-on-write for {@link beginSnapshot}: keeps row `slot` as it is now if its slice is not copied yet. */
  private preserveRow(slot: number): void {
    const copy = this.rowCopy;
    if (copy === undefined || slot < copy.copied || slot >= copy.rows || copy.saved.has(slot)) return;
    const rowBytes = this.spec.dimension * 4;
    copy.saved.set(slot, this.store.rowBytesView(slot + 1).slice(slot * rowBytes, (slot + 1) * rowBytes));
  }

  /** Everything of a snapshot but the vector rows (`vectors` is left empty). */
  private snapshotWithoutVectors(): CollectionState {
    const slotCount = this.slotCount;
    const pending: number[] = [];
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      const slot = this.pending[i]!;
      if (this.live[slot] === 1) pending.push(slot);
    }
    return {
      sequence: this.lastSequence,
      slotCount,
      liveCount: this.liveCount,
      freeSlots: Uint32Array.from(this.freeSlots),
      pending: Uint32Array.from(pending),
      ids: this.ids.slice(0, slotCount),
      payloads: this.payloads.slice(0, slotCount),
      payloadBytes: this.payloadBytes.slice(0, slotCount),
      vectors: new Uint8Array(0),
      live: this.live.slice(0, slotCount),
      pointSequences: this.pointSequences.slice(0, slotCount),
      graph: this.graph?.toBytes(),
    };
  }

  /**
   * The `k` points nearest to `params.vector` that pass the filter and the score threshold, best first,
   * by the plan described in the class comment. `ef` (default the collection's) is raised to `k`.
   *
   * @throws VectorDbError invalid_argument when the query's dimension is wrong, a component is not
   *   finite, or (cosine) the query is a zero vector.
   */
  search(params: SearchParams): Hit[] {
    this.checkVector(params.vector, "vector");
    if (this.liveCount === 0) return [];
    const distance = this.spec.distance;
    const filter = params.filter;
    const accept = filter === undefined ? undefined : (slot: number) => matchesFilter(filter, this.ids[slot]!, this.payloads[slot]);
    const maxDistance = params.scoreThreshold === undefined ? Number.POSITIVE_INFINITY : internalThreshold(distance, params.scoreThreshold);
    const k = Math.min(params.k, this.liveCount);
    const top = new TopK(k);
    const graph = this.graph;
    let plan: SearchPlan;
    if (graph === undefined || params.exact || this.liveCount <= this.indexing.fullScanPointsMax || graph.size === 0) {
      plan = "exact";
    } else if (accept !== undefined && this.estimateMatches(accept) <= this.indexing.filteredScanPointsMax) {
      plan = "filtered-exact";
    } else {
      plan = accept === undefined ? "graph" : "filtered-graph";
    }
    this.lastPlan = plan;
    if (plan === "exact" || plan === "filtered-exact") {
      this.store.setQuery(params.vector);
      scanRows(this.store, top, { end: this.slotCount, mask: this.live }, { accept, maxDistance });
    } else {
      const live = this.live;
      const pendingFlags = this.pendingFlags;
      const ef = Math.max(params.ef ?? this.spec.hnsw.ef, k);
      // Pending slots are scored exactly below; a reused slot still linked under its old vector is one.
      const allowed =
        accept === undefined
          ? (slot: number) => live[slot] === 1 && pendingFlags[slot] === 0
          : (slot: number) => live[slot] === 1 && pendingFlags[slot] === 0 && accept(slot);
      const found = graph!.search(params.vector, k, ef, allowed);
      for (let i = 0; i < found.ids.length; i++) {
        if (found.distances[i]! <= maxDistance) top.push(found.distances[i]!, found.ids[i]!);
      }
      if (this.pendingHead < this.pending.length) {
        // graph.search left the query in the store's scratch.
        const pendingLive = this.pending.slice(this.pendingHead).filter((slot) => live[slot] === 1);
        scanRows(this.store, top, { list: pendingLive }, { accept, maxDistance });
      }
    }
    const found = top.drainSorted();
    const hits: Hit[] = [];
    for (let i = 0; i < found.slots.length; i++) {
      const slot = found.slots[i]!;
      const hit: Hit = { id: this.ids[slot]!, score: scoreOf(distance, found.distances[i]!) };
      if (params.withPayload && this.payloads[slot] !== undefined) hit.payload = this.payloads[slot];
      if (params.withVector) hit.vector = this.store.read(slot);
      hits.push(hit);
    }
    return hits;
  }

  /**
   * Links pending slots into the graph for at most `budgetMs` ms (at least one slot); returns whether
   * some are left. Exposed for tests and benchmarks; the server runs it from the background indexer.
   */
  indexStep(budgetMs: number): boolean {
    const graph = this.graph;
    const started = performance.now();
    while (this.pendingHead < this.pending.length) {
      const slot = this.pending[this.pendingHead++]!;
      this.pendingFlags[slot] = 0;
      if (graph !== undefined && this.live[slot] === 1) {
        if (graph.has(slot)) graph.replace(slot);
        else graph.insert(slot);
      }
      if (performance.now() - started >= budgetMs) break;
    }
    if (this.pendingHead === this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
      return false;
    }
    if (this.pendingHead > 65_536 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    return true;
  }

  /** Checks the graph's invariants (see HnswIndex.checkIntegrity); throws an Error naming a violation. */
  checkIntegrity(): void {
    this.graph?.checkIntegrity();
  }

  private enqueue(slot: number): void {
    if (this.graph === undefined || this.pendingFlags[slot] === 1) return;
    this.pendingFlags[slot] = 1;
    this.pending.push(slot);
  }

  private scheduleIndexing(): void {
    if (this.indexingScheduled || this.closed || this.pendingHead === this.pending.length) return;
    this.indexingScheduled = true;
    const run = (): void => {
      if (this.closed) {
        this.indexingScheduled = false;
        return;
      }
      if (this.indexStep(this.indexing.indexSliceMs)) {
        setImmediate(run);
      } else {
        this.indexingScheduled = false;
        this.wakeIdleWaiters();
      }
    };
    setImmediate(run);
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Estimated number of live points passing `accept`: the share of `filterSampleSize` live slots drawn
   * at random (with a fixed-seed generator, so plans are reproducible) times the live count.
   */
  private estimateMatches(accept: (slot: number) => boolean): number {
    const samples = Math.min(filterSampleSize, this.liveCount);
    let drawn = 0;
    let matched = 0;
    // Bounded tries: after mass deletes most slots may be free until new points reuse them.
    for (let tries = 0; drawn < samples && tries < samples * 8; tries++) {
      const slot = Math.floor(this.nextSample() * this.slotCount);
      if (this.live[slot] !== 1) continue;
      drawn++;
      if (accept(slot)) matched++;
    }
    return drawn === 0 ? 0 : (matched / drawn) * this.liveCount;
  }

  /** xorshift32, uniform in [0, 1). */
  private nextSample(): number {
    let x = this.sampleState;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.sampleState = x >>> 0;
    return this.sampleState / 4294967296;
  }

  private ensureSlotCapacity(slots: number): void {
    this.store.ensureCapacity(slots);
    if (slots <= this.live.length) return;
    let capacity = this.live.length * 2;
    while (capacity < slots) capacity *= 2;
    const live = new Uint8Array(capacity);
    live.set(this.live);
    const pendingFlags = new Uint8Array(capacity);
    pendingFlags.set(this.pendingFlags);
    const pointSequences = new Float64Array(capacity);
    pointSequences.set(this.pointSequences);
    this.live = live;
    this.pendingFlags = pendingFlags;
    this.pointSequences = pointSequences;
  }

  private record(slot: number, withPayload: boolean, withVector: boolean): PointRecord {
    const record: PointRecord = { id: this.ids[slot]! };
    if (withVector) record.vector = this.store.read(slot);
    if (withPayload && this.payloads[slot] !== undefined) record.payload = this.payloads[slot];
    return record;
  }

  private removeSlot(slot: number, sequence: number): void {
    const id = this.ids[slot]!;
    this.slotById.delete(id);
    this.idBytesTotal -= id.length * 2;
    this.payloadBytesTotal -= this.payloadBytes[slot]!;
    this.ids[slot] = undefined;
    this.payloads[slot] = undefined;
    this.payloadBytes[slot] = 0;
    this.live[slot] = 0;
    this.pointSequences[slot] = sequence;
    this.liveCount--;
    if (this.graph !== undefined && this.graph.has(slot)) this.graph.markDeleted(slot);
    this.freeSlots.push(slot);
  }

  /** Validates a batch; returns each point's payload JSON (undefined when none) and its size in bytes. */
  private validatePoints(points: readonly PointInput[], field: string): { json: (string | undefined)[]; sizes: number[] } {
    const seen = new Set<string>();
    const sizes: number[] = new Array(points.length);
    const json: (string | undefined)[] = new Array(points.length);
    for (let i = 0; i < points.length; i++) {
      const point = points[i]!;
      const at = `${field}[${i}]`;
      const idBytes = Buffer.byteLength(point.id, "utf8");
      if (idBytes === 0) throw invalidArgument(`${at}.id: must not be empty`);
      if (idBytes > this.limits.idBytesMax) {
        throw invalidArgument(`${at}.id: is ${idBytes} bytes, the limit is id_bytes_max ${this.limits.idBytesMax}`);
      }
      if (seen.has(point.id)) throw invalidArgument(`${at}.id: "${point.id}" appears more than once in ${field}`);
      seen.add(point.id);
      this.checkVector(point.vector, `${at} (id "${point.id}").vector`);
      const text = point.payload === undefined ? undefined : JSON.stringify(point.payload);
      const bytes = text === undefined ? 0 : Buffer.byteLength(text, "utf8");
      if (bytes > this.limits.payloadBytesMax) {
        throw invalidArgument(
          `${at} (id "${point.id}").payload: is ${bytes} bytes of JSON, the limit is payload_bytes_max ${this.limits.payloadBytesMax}`,
        );
      }
      // JSON writes NaN and ±Infinity as null, which would change the payload on restart; they can only
      // be where the text says "null", so the walk runs only then.
      if (text !== undefined && text.includes("null")) {
        const where = nonFiniteNumberPath(point.payload!);
        if (where !== undefined) {
          throw invalidArgument(`${at} (id "${point.id}").payload${where}: is not a finite number (NaN and Infinity cannot be stored)`);
        }
      }
      json[i] = text;
      sizes[i] = bytes;
    }
    return { json, sizes };
  }

  private checkVector(vector: Float32Array, at: string): void {
    if (vector.length !== this.spec.dimension) {
      throw invalidArgument(`${at}: has ${vector.length} components, the collection's dimension is ${this.spec.dimension}`);
    }
    for (let j = 0; j < vector.length; j++) {
      if (!Number.isFinite(vector[j]!)) throw invalidArgument(`${at}[${j}]: is ${vector[j]}, components must be finite`);
    }
    if (this.spec.distance === "cosine" && norm(vector) === 0) {
      throw invalidArgument(`${at}: is a zero vector, which has no direction for cosine distance`);
    }
  }
}

/** The path (`.a[2].b`) of the first NaN or infinite number inside a JSON value, or undefined. */
function nonFiniteNumberPath(value: JsonValue, path = ""): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : path;
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nonFiniteNumberPath(value[i]!, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const found = nonFiniteNumberPath(value[key]!, `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
