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

/** How a search was answered, for tests and the benchmark. */
export type SearchPlan = "exact" | "filtered-exact" | "graph" | "filtered-graph";

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
 */
export class Collection {
  private readonly store: VectorStore;
  /** The graph; undefined for dot-product collections, which are always searched exactly. */
  private readonly graph: HnswIndex | undefined;
  private readonly ids: (string | undefined)[] = [];
  private readonly payloads: (JsonObject | undefined)[] = [];
  private readonly payloadBytes: number[] = [];
  private readonly slotById = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private live: Uint8Array = new Uint8Array(1024);
  private pendingFlags: Uint8Array = new Uint8Array(1024);
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

  constructor(
    readonly spec: Readonly<CollectionSpec>,
    private readonly limits: Readonly<CollectionLimits>,
    private readonly indexing: Readonly<IndexingConfig>,
  ) {
    this.store = new VectorStore(spec.dimension, spec.distance);
    this.graph =
      spec.distance === "dot"
        ? undefined
        : new HnswIndex({ store: this.store, m: spec.hnsw.m, efConstruction: spec.hnsw.efConstruction, seed: 0x5eed });
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
   * Inserts or replaces points. Validates the whole batch first (ids unique, non-empty and at most
   * `idBytesMax` bytes; vectors of the collection's dimension with finite components, non-zero for
   * cosine; payloads at most `payloadBytesMax` bytes of JSON); on any error nothing is written.
   * The points are searchable on return; they are linked into the graph in the background.
   *
   * @param field name of the list in error messages, e.g. `points` → `points[3].vector: ...`.
   * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming the point and field;
   *   resource_exhausted (RESOURCE_EXHAUSTED) when the collection would exceed `collectionPointsMax`
   *   or its 4 GiB vector store.
   */
  upsert(points: readonly PointInput[], field = "points"): UpsertResult {
    const sizes = this.validatePoints(points, field);
    let newPoints = 0;
    for (const point of points) if (!this.slotById.has(point.id)) newPoints++;
    if (this.size + newPoints > this.limits.collectionPointsMax) {
      throw new VectorDbError(
        "resource_exhausted",
        `${field}: collection "${this.name}" holds ${this.size} points; ${newPoints} more would exceed collection_points_max ${this.limits.collectionPointsMax}`,
      );
    }
    const slotsNeeded = this.slotCount + Math.max(0, newPoints - this.freeSlots.length);
    if (slotsNeeded > this.store.rowsMax) {
      throw new VectorDbError(
        "resource_exhausted",
        `${field}: collection "${this.name}" would need ${slotsNeeded} vectors of dimension ${this.spec.dimension}, more than its 4 GiB vector store holds (${this.store.rowsMax})`,
      );
    }
    this.ensureSlotCapacity(slotsNeeded);
    let inserted = 0;
    let updated = 0;
    for (let i = 0; i < points.length; i++) {
      const point = points[i]!;
      const bytes = sizes[i]!;
      const existing = this.slotById.get(point.id);
      if (existing === undefined) {
        const slot = this.freeSlots.pop() ?? this.slotCount++;
        this.store.write(slot, point.vector);
        this.ids[slot] = point.id;
        this.payloads[slot] = point.payload;
        this.payloadBytes[slot] = bytes;
        this.live[slot] = 1;
        this.liveCount++;
        this.slotById.set(point.id, slot);
        this.idBytesTotal += point.id.length * 2;
        this.payloadBytesTotal += bytes;
        this.enqueue(slot);
        inserted++;
      } else {
        this.store.write(existing, point.vector);
        this.payloadBytesTotal += bytes - this.payloadBytes[existing]!;
        this.payloads[existing] = point.payload;
        this.payloadBytes[existing] = bytes;
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

  /** Deletes the points with these ids; returns how many existed. Unknown ids are ignored. */
  deleteIds(ids: readonly string[]): number {
    let deleted = 0;
    for (const id of ids) {
      const slot = this.slotById.get(id);
      if (slot === undefined) continue;
      this.removeSlot(slot);
      deleted++;
    }
    return deleted;
  }

  /** Deletes every point matching `filter`; returns how many. */
  deleteByFilter(filter: Filter): number {
    const doomed: string[] = [];
    for (let slot = 0; slot < this.slotCount; slot++) {
      if (this.live[slot] === 1 && matchesFilter(filter, this.ids[slot]!, this.payloads[slot])) doomed.push(this.ids[slot]!);
    }
    return this.deleteIds(doomed);
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
    this.live = live;
    this.pendingFlags = pendingFlags;
  }

  private record(slot: number, withPayload: boolean, withVector: boolean): PointRecord {
    const record: PointRecord = { id: this.ids[slot]! };
    if (withVector) record.vector = this.store.read(slot);
    if (withPayload && this.payloads[slot] !== undefined) record.payload = this.payloads[slot];
    return record;
  }

  private removeSlot(slot: number): void {
    const id = this.ids[slot]!;
    this.slotById.delete(id);
    this.idBytesTotal -= id.length * 2;
    this.payloadBytesTotal -= this.payloadBytes[slot]!;
    this.ids[slot] = undefined;
    this.payloads[slot] = undefined;
    this.payloadBytes[slot] = 0;
    this.live[slot] = 0;
    this.liveCount--;
    if (this.graph !== undefined && this.graph.has(slot)) this.graph.markDeleted(slot);
    this.freeSlots.push(slot);
  }

  /** Validates a batch; returns each point's payload size in JSON bytes. */
  private validatePoints(points: readonly PointInput[], field: string): number[] {
    const seen = new Set<string>();
    const sizes: number[] = new Array(points.length);
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
      const bytes = point.payload === undefined ? 0 : Buffer.byteLength(JSON.stringify(point.payload), "utf8");
      if (bytes > this.limits.payloadBytesMax) {
        throw invalidArgument(
          `${at} (id "${point.id}").payload: is ${bytes} bytes of JSON, the limit is payload_bytes_max ${this.limits.payloadBytesMax}`,
        );
      }
      sizes[i] = bytes;
    }
    return sizes;
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
