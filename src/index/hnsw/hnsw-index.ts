import type { DistanceKind } from "../distance.js";
import { VectorStore } from "../vector-store.js";
import { levelShift, nodeFlags, nodeWords } from "../wasm/engine-module.js";

/** Construction parameters of an {@link HnswIndex}. */
export interface HnswIndexOptions {
  /**
   * The vectors the graph links, shared with the caller: node `n` is row `n` of the store, which must
   * be laid out for this graph (`graph: { m, efConstruction }` in its options). When absent the index
   * makes its own store from `dimension` and `distance`, and {@link HnswIndex.add} appends rows to it.
   */
  store?: VectorStore;
  /** Components per vector, at least 1 (ignored when `store` is given). */
  dimension?: number;
  /** Cosine or euclidean (ignored when `store` is given). Raw dot product is not a metric: see the class comment. */
  distance?: DistanceKind;
  /** Links per node on layers above 0 (layer 0 keeps `2·m`); 2 to 256. */
  m: number;
  /** Width of the candidate list while inserting; at least 1. */
  efConstruction: number;
  /** Rows allocated up front when the index makes its own store. */
  initialCapacity?: number;
  /** Lay out the index's own store for int8 quantization (see VectorStore.trainQuantization). */
  quantized?: boolean;
  /** Seed of the level generator, so that a build is reproducible. */
  seed?: number;
}

/**
 * A search on the int8 codes of a quantized store (ignored while the store has no codes yet): the
 * walk scores nodes by their codes, keeps `max(ef, oversampling × k)` candidates, and with `rescore`
 * re-scores the best `oversampling × k` of them on their float32 rows (exact distances), of which the
 * `k` best are returned. Without `rescore` the `k` best by code distance are returned, with their
 * approximate distances.
 */
export interface QuantizedSearch {
  /** At least 1. */
  oversampling: number;
  rescore: boolean;
}

/** Nearest nodes found by a search: parallel arrays, ascending internal distance. */
export interface HnswHits {
  ids: Uint32Array;
  distances: Float64Array;
}

/** Highest layer a node may be drawn on; with m ≥ 2 the chance of reaching it is below 2^-31. */
const levelMax = 31;
/** Format of {@link HnswIndex.toBytes}. */
const graphFormat = 1;
const headerBytes = 40;

/**
 * Hierarchical Navigable Small World graph: approximate nearest-neighbour search after Malkov &
 * Yashunin, "Efficient and robust approximate nearest neighbor search using Hierarchical Navigable
 * Small World graphs" (arXiv:1603.09320): levels drawn with mL = 1/ln(m) (§4.1), insertion by
 * Algorithm 1, layer search by Algorithm 2, neighbour selection by the heuristic of Algorithm 4 both
 * for a new node's links and for shrinking an overfull list.
 *
 * The graph lives in its {@link VectorStore}'s shared WebAssembly memory beside the vectors, and the
 * search and construction run there (src/index/wasm/assembly/engine.ts): a search is one call. Node
 * `n` is row `n`: a record of flags, level, layer-0 in-degree and the layer-0 list (`[count, id × 2m]`),
 * plus `level` upper-layer lists of `[count, id × m]` when the node has them. Node ids need not be
 * dense: a row becomes a node when it is linked, so a caller may keep rows that are not (yet) in the
 * graph.
 *
 * Threads: this object lives on the thread that owns the store and is the only one that assigns
 * levels and sets the DELETED and PENDING flags. Linking ({@link link}) may run here (thread slot 0)
 * or on builder threads (see GraphBuilderPool) over the same memory, with per-node locks; searches
 * here read links without locks, as hnswlib's do, and never return a node that is pending.
 *
 * Deletion is a tombstone: deleted nodes are still walked (they keep the graph connected) but never
 * returned. A tombstoned node is reused by writing a new vector into its row and linking it again
 * (hnswlib's `updatePoint`: the lists around it are rebuilt), so a delete-heavy workload does not grow
 * the graph. After any re-linking, a node left with no layer-0 in-link is linked again from its
 * nearest reachable node (hnswlib does not), so every node stays reachable. Every loop is bounded.
 * The index does no I/O.
 *
 * Dot product is refused: with -dot as the distance, small-norm vectors are nobody's nearest
 * neighbour, so the heuristic leaves them without incoming links (measured: 461 of 3,000 clustered
 * vectors unreachable). The way forward is the MIPS-to-L2 reduction (Bachrach et al., RecSys 2014:
 * one extra component sqrt(max‖x‖² − ‖x‖²)); until then dot collections use exact search.
 */
export class HnswIndex {
  readonly dimension: number;
  readonly distance: DistanceKind;
  readonly m: number;
  /** Links per node on layer 0: 2·m. */
  readonly m0: number;
  readonly efConstruction: number;
  /** The rows the graph links, and the memory the graph lives in. */
  readonly store: VectorStore;

  private readonly ownsStore: boolean;
  private readonly levelMultiplier: number;
  private deletedCount = 0;
  /** Next row {@link add} appends (only for an index that owns its store). */
  private nextRow = 0;
  private randomState: number;

  /** @throws RangeError for a dimension, m or ef_construction out of range, a store not laid out for them, or the dot distance. */
  constructor(options: HnswIndexOptions) {
    const { m, efConstruction } = options;
    if (!Number.isInteger(m) || m < 2 || m > 256) throw new RangeError(`m must be an integer in 2..256, got ${m}`);
    if (!Number.isInteger(efConstruction) || efConstruction < 1) throw new RangeError(`ef_construction must be a positive integer, got ${efConstruction}`);
    const distance = options.store?.distance ?? options.distance ?? "euclidean";
    if (distance === "dot") throw new RangeError("HNSW needs a metric: dot product is not supported yet (use exact search)");
    this.ownsStore = options.store === undefined;
    this.store =
      options.store ??
      new VectorStore(options.dimension ?? 0, distance, { initialCapacity: options.initialCapacity, graph: { m, efConstruction, quantized: options.quantized ?? false } });
    const layout = this.store.graph;
    if (layout === undefined || layout.m !== m || layout.efConstruction !== efConstruction) {
      throw new RangeError(`the vector store is laid out for ${layout === undefined ? "no graph" : `m=${layout.m}, ef_construction=${layout.efConstruction}`}, not m=${m}, ef_construction=${efConstruction}`);
    }
    this.dimension = this.store.dimension;
    this.distance = distance;
    this.m = m;
    this.m0 = 2 * m;
    this.efConstruction = efConstruction;
    this.levelMultiplier = 1 / Math.log(m);
    this.randomState = (options.seed ?? 0x9e3779b9) >>> 0;
  }

  /** Nodes linked into the graph, deleted ones included. */
  get size(): number {
    return this.store.engine.nodeCount();
  }

  /** Whether row `id` is linked into the graph (deleted or not). */
  has(id: number): boolean {
    return id >= 0 && id < this.store.capacity && (this.store.engine.flags(id) & nodeFlags.present) !== 0;
  }

  /** Nodes linked and not marked deleted (exact when no link is in progress). */
  get liveCount(): number {
    return this.size - this.deletedCount;
  }

  /** Bytes allocated for the graph beyond its store's: 0 when the store is shared (the graph lives in it). */
  get allocatedBytes(): number {
    return this.ownsStore ? this.store.allocatedBytes : 0;
  }

  /** A copy of the stored vector of node `id` (for cosine the unit vector). */
  vectorAt(id: number): Float32Array {
    this.checkId(id);
    return this.store.read(id);
  }

  /** Whether node `id` is marked deleted. */
  isDeleted(id: number): boolean {
    this.checkId(id);
    return (this.store.engine.flags(id) & nodeFlags.deleted) !== 0;
  }

  /**
   * Marks row `id` deleted: a linked node stays in the graph for navigation and is never returned by
   * search, until it is linked again ({@link prepare} + link). A row that was only assigned is simply
   * never returned. No-op for a row never assigned.
   */
  markDeleted(id: number): void {
    if (id < 0 || id >= this.store.capacity) return;
    const flags = this.store.engine.flags(id);
    if ((flags & nodeFlags.assigned) === 0 || (flags & nodeFlags.deleted) !== 0) return;
    this.store.engine.updateFlags(id, nodeFlags.deleted, 0);
    if ((flags & nodeFlags.present) !== 0) this.deletedCount++;
  }

  /**
   * Appends a vector (copied; normalised for cosine) as a new row of the index's own store and links
   * it (Algorithm 1); returns its node id. Only for an index that owns its store.
   * @throws RangeError if `vector.length !== dimension`, or the store is shared.
   */
  add(vector: Float32Array): number {
    if (vector.length !== this.dimension) throw new RangeError(`vector has ${vector.length} components, the index's dimension is ${this.dimension}`);
    if (!this.ownsStore) throw new RangeError("add() appends to the index's own store; with a shared store write the row and call insert()");
    const id = this.nextRow++;
    this.store.ensureCapacity(id + 1);
    this.store.write(id, vector);
    this.insert(id);
    return id;
  }

  /**
   * Links row `id` of the store into the graph on this thread (Algorithm 1): draws its level,
   * descends greedily through the layers above it, then on each of its layers finds `ef_construction`
   * candidates, keeps up to m by the heuristic (Algorithm 4) and links both ways, shrinking overfull
   * lists. A row that is a node already is re-linked instead (see {@link replace}).
   * @throws RangeError if `id` is not a row of the store.
   */
  insert(id: number): void {
    this.prepare(id);
    this.link(id);
    this.settle(id);
  }

  /**
   * Re-links node `id` after its row was overwritten with a new vector (hnswlib's `updatePoint`), and
   * clears its deleted mark: this is how an upsert replaces a vector and how a tombstoned node is
   * reused. On each of the node's layers, the lists of its neighbours are rebuilt by the heuristic
   * from their one- and two-hop neighbourhood; then the node's own links are found again by a search
   * from the entry point, as for an insert. A row that is not a node yet is inserted.
   * @throws RangeError if `id` is not a row of the store.
   */
  replace(id: number): void {
    this.insert(id);
  }

  /**
   * First step of linking row `id`, on the owning thread: gives a new row its level (drawn with
   * mL = 1/ln m) and upper-layer lists, clears a deleted mark and marks it pending (so searches do not
   * return it from the graph until {@link settle}). Then {@link link} it here, or on a builder thread.
   * @throws RangeError if `id` is not a row of the store or the memory is full.
   */
  prepare(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.store.capacity) throw new RangeError(`row ${id} is outside the vector store`);
    const engine = this.store.engine;
    const flags = engine.flags(id);
    if ((flags & nodeFlags.assigned) === 0) {
      if (engine.assignNode(id, this.randomLevel()) === 0) throw new RangeError(`the graph's memory is full (4 GiB): node ${id} cannot get its upper-layer lists`);
      this.store.refreshViews();
    }
    if ((flags & nodeFlags.deleted) !== 0 && (flags & nodeFlags.present) !== 0) this.deletedCount--;
    engine.updateFlags(id, nodeFlags.pending, nodeFlags.deleted);
  }

  /** Links a prepared row on this thread (thread slot 0): inserts it, or re-links a node. */
  link(id: number): void {
    this.store.engine.link(0, id);
  }

  /** Last step of linking: the row may be returned by searches again. */
  settle(id: number): void {
    this.store.engine.updateFlags(id, 0, nodeFlags.pending);
  }

  /** Whether row `id` is waiting to be (re)linked. */
  isPending(id: number): boolean {
    return (this.store.engine.flags(id) & nodeFlags.pending) !== 0;
  }

  /**
   * The `k` nearest live nodes to `query` (ascending internal distance), searching layer 0 with a
   * candidate list of `max(ef, k)` after a greedy descent through the upper layers. Deleted and
   * pending nodes are walked but never returned. `accept`, when given, restricts the results further:
   * the walk still goes through rejected nodes and goes on until it holds `max(ef, k)` accepted ones
   * or has nothing left to expand, so a selective filter widens the search instead of returning fewer
   * hits. `quantized`: see {@link QuantizedSearch}.
   * @throws RangeError if `query.length !== dimension`.
   */
  search(query: Float32Array, k: number, ef: number, accept?: (id: number) => boolean, quantized?: QuantizedSearch): HnswHits {
    if (query.length !== this.dimension) throw new RangeError(`query has ${query.length} components, the index's dimension is ${this.dimension}`);
    this.store.setQuery(query);
    return this.searchPrepared(k, ef, accept, quantized);
  }

  /** {@link search} with the query already in the store's scratch (`store.setQuery`). */
  searchPrepared(k: number, ef: number, accept?: (id: number) => boolean, quantized?: QuantizedSearch): HnswHits {
    if (k < 1 || this.size === 0) return { ids: new Uint32Array(0), distances: new Float64Array(0) };
    const store = this.store;
    const engine = store.engine;
    const { codes, kept, width } = this.widths(k, ef, quantized);
    if (engine.ensureScratch(0, width) === 0) throw new RangeError(`no memory for a search of width ${width}`);
    store.refreshViews();
    store.acceptForSearch = accept;
    let found: number;
    try {
      found = engine.search(0, width, accept === undefined ? 0 : 1, codes ? 1 : 0);
    } finally {
      store.acceptForSearch = undefined;
    }
    if (codes && quantized!.rescore) {
      found = Math.min(found, kept);
      engine.rescore(0, found);
    }
    const n = Math.min(found, k);
    const idsAt = engine.slotOutIdsPtr(0) >>> 2;
    const distancesAt = engine.slotOutDistancesPtr(0) >>> 2;
    return { ids: store.words.slice(idsAt, idsAt + n), distances: Float64Array.from(store.floats.subarray(distancesAt, distancesAt + n)) };
  }

  /**
   * How a search of `k` with list width `ef` runs: on the codes or not (the store must have them),
   * how many candidates it keeps for rescoring (oversampling × k on codes, else k), and the list
   * width (at least both).
   */
  widths(k: number, ef: number, quantized?: QuantizedSearch): { codes: boolean; kept: number; width: number } {
    const codes = quantized !== undefined && this.store.quantization !== undefined;
    // The walk on codes keeps oversampling × k candidates, the best of which are rescored.
    const kept = codes ? Math.max(k, Math.ceil(quantized.oversampling * k)) : k;
    return { codes, kept, width: Math.max(ef, kept) };
  }

  /**
   * The graph as bytes, for a segment file: one little-endian buffer a later
   * {@link HnswIndex.fromBytes} maps back. Vectors are not included: they live in the store. Take it
   * while no builder thread is linking (GraphBuildQueue.pause). Layout:
   *
   * | offset | type | content |
   * |---|---|---|
   * | 0 | u32 × 10 | format 1, m, ef_construction, node span S (highest node or assigned row id + 1), entry point (0xFFFFFFFF = none), top level + 1, node count, deleted count, level generator state, upper-layer u32 count U |
   * | 40 | u8 × S | level of each node (and of each row that has one but is not linked yet) |
   * | 40 + S | u8 × S | flags: bit 0 present, bit 1 deleted, bit 2 level assigned but not linked yet (a pending row: its level is kept so that linking it after a restore draws no new level) |
   * | A = align4(40 + 2S) | u32 × S·(1 + 2m) | layer-0 lists `[count, id × 2m]` |
   * | A + 4·S·(1 + 2m) | u32 × U | upper-layer lists of the nodes with level > 0, in node order, `level × (1 + m)` each |
   */
  toBytes(): Uint8Array {
    const engine = this.store.engine;
    const words = this.store.words;
    const stride0 = 1 + this.m0;
    const strideUpper = 1 + this.m;
    let span = 0;
    let upperWords = 0;
    let count = 0;
    let deleted = 0;
    const capacity = this.store.capacity;
    for (let id = 0; id < capacity; id++) {
      const flags = engine.flags(id);
      if ((flags & nodeFlags.assigned) !== 0) span = id + 1;
      if ((flags & nodeFlags.present) === 0) continue;
      count++;
      if ((flags & nodeFlags.deleted) !== 0) deleted++;
      upperWords += ((flags >>> levelShift) & 0xff) * strideUpper;
    }
    const linksOffset = align4(headerBytes + 2 * span);
    const bytes = new Uint8Array(linksOffset + 4 * (span * stride0 + upperWords));
    const out = new Uint32Array(bytes.buffer);
    const entry = engine.entryPoint();
    out.set([graphFormat, this.m, this.efConstruction, span, entry < 0 ? 0xffffffff : entry, engine.topLevel() + 1, count, deleted, this.randomState, upperWords]);
    let at = linksOffset / 4 + span * stride0;
    for (let id = 0; id < span; id++) {
      const flags = engine.flags(id);
      const level = (flags >>> levelShift) & 0xff;
      if ((flags & nodeFlags.present) === 0) {
        if ((flags & nodeFlags.assigned) !== 0) {
          bytes[headerBytes + id] = level;
          bytes[headerBytes + span + id] = 4;
        }
        continue;
      }
      bytes[headerBytes + id] = level;
      bytes[headerBytes + span + id] = 1 | ((flags & nodeFlags.deleted) !== 0 ? 2 : 0);
      const record = engine.nodeRecordPtr(id) >>> 2;
      out.set(words.subarray(record + nodeWords.count, record + nodeWords.count + stride0), linksOffset / 4 + id * stride0);
      if (level > 0) {
        const upper = words[record + nodeWords.upper]! >>> 2;
        out.set(words.subarray(upper, upper + level * strideUpper), at);
        at += level * strideUpper;
      }
    }
    return bytes;
  }

  /**
   * Rebuilds an index from {@link toBytes} over `store` (which must hold the same rows, be laid out
   * for the graph's m and ef_construction, and have no graph yet). The in-link counts are recomputed.
   * @throws RangeError when the bytes are not a graph of this format, disagree with `store`
   *   (a link or node beyond its rows), or fail the structural checks (a count above 2m, a level above 31).
   */
  static fromBytes(store: VectorStore, bytes: Uint8Array): HnswIndex {
    if (bytes.byteLength < headerBytes || bytes.byteOffset % 4 !== 0) throw new RangeError("graph bytes: shorter than the header or not 4-byte aligned");
    const header = new Uint32Array(bytes.buffer, bytes.byteOffset, 10);
    const [format, m, efConstruction, span, entry, topPlusOne, count, deletedCount, randomState, upperWords] = Array.from(header) as [
      number, number, number, number, number, number, number, number, number, number,
    ];
    if (format !== graphFormat) throw new RangeError(`graph bytes: format ${format}, expected ${graphFormat}`);
    const index = new HnswIndex({ store, m, efConstruction });
    const stride0 = 1 + index.m0;
    const strideUpper = 1 + m;
    const linksOffset = align4(headerBytes + 2 * span);
    const expected = linksOffset + 4 * (span * stride0 + upperWords);
    if (bytes.byteLength !== expected) throw new RangeError(`graph bytes: ${bytes.byteLength} bytes, the header implies ${expected}`);
    if (span > store.capacity) throw new RangeError(`graph bytes: ${span} nodes, the vector store has ${store.capacity} rows`);
    if (store.engine.nodeCount() !== 0) throw new RangeError("graph bytes: the vector store holds a graph already");
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + linksOffset, span * stride0 + upperWords);
    const engine = store.engine;
    let at = span * stride0;
    let present = 0;
    let deleted = 0;
    for (let id = 0; id < span; id++) {
      const flags = bytes[headerBytes + span + id]!;
      const level = bytes[headerBytes + id]!;
      if ((flags & 1) === 0) {
        if ((flags & 4) === 0) continue;
        if (level > levelMax) throw new RangeError(`graph bytes: row ${id} has level ${level}, above ${levelMax}`);
        if (engine.assignNode(id, level) === 0) throw new RangeError("graph bytes: the vector store's memory is full");
        store.refreshViews();
        continue;
      }
      if (level > levelMax) throw new RangeError(`graph bytes: node ${id} has level ${level}, above ${levelMax}`);
      const list = words.subarray(id * stride0, (id + 1) * stride0);
      if (list[0]! > index.m0) throw new RangeError(`graph bytes: node ${id} has ${list[0]} layer-0 links, above ${index.m0}`);
      for (let i = 1; i <= list[0]!; i++) if (list[i]! >= span) throw new RangeError(`graph bytes: node ${id} links to ${list[i]}, beyond ${span} nodes`);
      if (engine.assignNode(id, level) === 0) throw new RangeError("graph bytes: the vector store's memory is full");
      store.refreshViews();
      const record = engine.nodeRecordPtr(id) >>> 2;
      const memoryWords = store.words;
      memoryWords.set(list, record + nodeWords.count);
      if (level > 0) {
        const length = level * strideUpper;
        if (at + length > words.length) throw new RangeError("graph bytes: upper layers are shorter than the levels imply");
        const upper = words.subarray(at, at + length);
        for (let layer = 0; layer < level; layer++) {
          const n = upper[layer * strideUpper]!;
          if (n > m) throw new RangeError(`graph bytes: node ${id} has ${n} links on layer ${layer + 1}, above ${m}`);
          for (let i = 1; i <= n; i++) if (upper[layer * strideUpper + i]! >= span) throw new RangeError(`graph bytes: node ${id} links to a node beyond ${span} nodes`);
        }
        memoryWords.set(upper, memoryWords[record + nodeWords.upper]! >>> 2);
        at += length;
      }
      engine.updateFlags(id, nodeFlags.present | ((flags & 2) !== 0 ? nodeFlags.deleted : 0), 0);
      present++;
      if ((flags & 2) !== 0) deleted++;
    }
    if (present !== count || deleted !== deletedCount) throw new RangeError(`graph bytes: ${present} nodes (${deleted} deleted) where the header says ${count} (${deletedCount})`);
    if (count > 0 && (entry >= span || (bytes[headerBytes + span + entry]! & 1) === 0)) throw new RangeError(`graph bytes: entry point ${entry} is not a node`);
    engine.restoreHeader(count === 0 ? -1 : entry, topPlusOne - 1, count);
    engine.recountInDegrees();
    index.deletedCount = deleted;
    index.randomState = randomState;
    return index;
  }

  /**
   * Asserts the graph's invariants; throws an Error naming the first violation. Checks: link counts
   * within m0 (layer 0) or m, no self links, no duplicate links, linked ids in range and present on
   * that layer, the entry point on the top layer, and every node reachable from the entry point
   * (descending layer by layer, then over layer 0). Call it while no builder thread is linking.
   */
  checkIntegrity(): void {
    const engine = this.store.engine;
    const capacity = this.store.capacity;
    const levels = new Int8Array(capacity).fill(-1);
    for (let id = 0; id < capacity; id++) {
      const flags = engine.flags(id);
      if ((flags & nodeFlags.present) !== 0) levels[id] = (flags >>> levelShift) & 0xff;
    }
    let maxLevel = -1;
    let count = 0;
    for (let id = 0; id < capacity; id++) {
      const level = levels[id]!;
      if (level < 0) continue;
      count++;
      maxLevel = Math.max(maxLevel, level);
      for (let layer = 0; layer <= level; layer++) {
        const list = this.listAt(id, layer);
        const limit = layer === 0 ? this.m0 : this.m;
        if (list.length > limit) throw new Error(`node ${id} layer ${layer}: ${list.length} links, more than ${limit}`);
        const seen = new Set<number>();
        for (const other of list) {
          if (other === id) throw new Error(`node ${id} layer ${layer}: links to itself`);
          if (other >= capacity || levels[other]! < 0) throw new Error(`node ${id} layer ${layer}: link ${other} is not a node`);
          if (levels[other]! < layer) throw new Error(`node ${id} layer ${layer}: link ${other} has no layer ${layer}`);
          if (seen.has(other)) throw new Error(`node ${id} layer ${layer}: duplicate link ${other}`);
          seen.add(other);
        }
      }
    }
    if (count !== this.size) throw new Error(`${count} nodes are present, the header counts ${this.size}`);
    if (count === 0) return;
    const entry = engine.entryPoint();
    if (maxLevel !== engine.topLevel() || levels[entry] !== maxLevel) {
      throw new Error(`entry point ${entry} is on layer ${levels[entry]}, the top layer is ${maxLevel}`);
    }
    const reached = new Uint8Array(capacity);
    const queue = [entry];
    reached[entry] = 1;
    for (let head = 0; head < queue.length; head++) {
      const id = queue[head]!;
      for (let layer = 0; layer <= levels[id]!; layer++) {
        for (const other of this.listAt(id, layer)) {
          if (reached[other] === 0) {
            reached[other] = 1;
            queue.push(other);
          }
        }
      }
    }
    if (queue.length !== count) {
      let missing = 0;
      while (levels[missing]! < 0 || reached[missing] === 1) missing++;
      throw new Error(`${count - queue.length} of ${count} nodes are unreachable from the entry point (first: ${missing})`);
    }
  }

  /** Node `id`'s list on `layer` (a copy). */
  listAt(id: number, layer: number): Uint32Array {
    const words = this.store.words;
    const record = this.store.engine.nodeRecordPtr(id) >>> 2;
    const at = layer === 0 ? record + nodeWords.count : (words[record + nodeWords.upper]! >>> 2) + (layer - 1) * (1 + this.m);
    return words.slice(at + 1, at + 1 + words[at]!);
  }

  /** Level of a new node: floor(-ln(U)·mL) with mL = 1/ln(m), U uniform in (0, 1] (§4.1), capped. */
  private randomLevel(): number {
    const u = 1 - this.nextRandom();
    return Math.min(levelMax, Math.floor(-Math.log(u) * this.levelMultiplier));
  }

  /** mulberry32: a small seeded generator, uniform in [0, 1). */
  private nextRandom(): number {
    this.randomState = (this.randomState + 0x6d2b79f5) >>> 0;
    let r = Math.imul(this.randomState ^ (this.randomState >>> 15), 1 | this.randomState);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || !this.has(id)) throw new RangeError(`node ${id} is not in the graph`);
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
