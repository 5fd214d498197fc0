import type { DistanceKind } from "../distance.js";
import { batchRowsMax, VectorStore } from "../vector-store.js";
import { DistanceHeap } from "./heap.js";

/** Construction parameters of an {@link HnswIndex}. */
export interface HnswIndexOptions {
  /**
   * The vectors the graph links, shared with the caller: node `n` is row `n` of the store. When
   * absent the index makes its own store from `dimension` and `distance`, and {@link HnswIndex.add}
   * appends rows to it.
   */
  store?: VectorStore;
  /** Components per vector, at least 1 (ignored when `store` is given). */
  dimension?: number;
  /** Cosine or euclidean (ignored when `store` is given). Raw dot product is not a metric: see the class comment. */
  distance?: DistanceKind;
  /** Links per node on layers above 0 (layer 0 keeps `2·m`); at least 2. */
  m: number;
  /** Width of the candidate list while inserting; at least 1. */
  efConstruction: number;
  /** Nodes allocated up front (grows by doubling). */
  initialCapacity?: number;
  /**
   * Share of a replaced node's neighbours whose lists are rebuilt by {@link HnswIndex.replace}
   * (hnswlib's `update_neighbor_probability`), 0..1; default 1.
   */
  replaceRepairShare?: number;
  /** Seed of the level generator, so that a build is reproducible. */
  seed?: number;
}

/** Nearest nodes found by a search: parallel arrays, ascending internal distance. */
export interface HnswHits {
  ids: Uint32Array;
  distances: Float64Array;
}

/** Highest layer a node may be drawn on; with m ≥ 2 the chance of reaching it is below 2^-31. */
const levelMax = 31;

/**
 * Hierarchical Navigable Small World graph: approximate nearest-neighbour search after Malkov &
 * Yashunin, "Efficient and robust approximate nearest neighbor search using Hierarchical Navigable
 * Small World graphs" (arXiv:1603.09320): levels drawn with mL = 1/ln(m) (§4.1), insertion by
 * Algorithm 1, layer search by Algorithm 2, neighbour selection by the heuristic of Algorithm 4 both
 * for a new node's links and for shrinking an overfull list.
 *
 * Memory layout, as in hnswlib: node `n` is row `n` of a {@link VectorStore} (one WebAssembly memory
 * of float32 rows scored by SIMD kernels; cosine rows normalised); layer-0 links in one Uint32Array
 * with a fixed stride of `1 + 2m` (`[count, id, id, …]`); upper layers in one small Uint32Array per
 * node that has them, stride `1 + m` per layer. Node ids need not be dense: a row becomes a node when
 * {@link insert} links it, so a caller may keep rows that are not (yet) in the graph. The visited set is
 * a Uint16Array of epoch tags, reset only when the epoch wraps; the queues are typed-array heaps, so
 * the search allocates nothing per visited node.
 *
 * Deletion is a tombstone: deleted nodes are still walked (they keep the graph connected) but never
 * returned. A tombstoned node is reused by writing a new vector into its row and calling
 * {@link replace}, which repairs the links around it (hnswlib's `updatePoint`), so a delete-heavy
 * workload does not grow the graph. Every loop is bounded: a layer search visits each node at most
 * once, and the greedy descent strictly decreases the distance at each step. The index does no I/O.
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

  /** The rows the graph links (shared with the caller when given in the options). */
  readonly store: VectorStore;
  private readonly replaceRepairShare: number;
  private readonly levelMultiplier: number;
  private readonly stride0: number;
  private readonly strideUpper: number;
  private capacity: number;
  private count = 0;
  private deletedCount = 0;
  /** Next row {@link add} appends (only for an index that owns its store). */
  private nextRow = 0;
  private present: Uint8Array;
  private links0: Uint32Array;
  private upperLinks: (Uint32Array | undefined)[] = [];
  private levels: Uint8Array;
  private deleted: Uint8Array;
  /** Layer-0 links pointing at each node; a node whose count drops to 0 is queued in `orphans`. */
  private inDegree: Uint32Array;
  private orphans: number[] = [];
  private visitTags: Uint16Array;
  private epoch = 0;
  private entryPoint = -1;
  private topLevel = -1;
  private randomState: number;
  private readonly candidates = new DistanceHeap();
  private readonly results = new DistanceHeap();

  /** @throws RangeError for a dimension, m or ef_construction out of range, or the dot distance. */
  constructor(options: HnswIndexOptions) {
    const { m, efConstruction } = options;
    if (!Number.isInteger(m) || m < 2 || 2 * m > batchRowsMax) throw new RangeError(`m must be an integer in 2..${batchRowsMax / 2}, got ${m}`);
    if (!Number.isInteger(efConstruction) || efConstruction < 1) throw new RangeError(`ef_construction must be a positive integer, got ${efConstruction}`);
    const share = options.replaceRepairShare ?? 1;
    if (!(share >= 0 && share <= 1)) throw new RangeError(`replaceRepairShare must be in 0..1, got ${share}`);
    this.capacity = Math.max(16, options.initialCapacity ?? 1024);
    this.store = options.store ?? new VectorStore(options.dimension ?? 0, options.distance ?? "euclidean", this.capacity);
    if (this.store.distance === "dot") throw new RangeError("HNSW needs a metric: dot product is not supported yet (use exact search)");
    this.dimension = this.store.dimension;
    this.distance = this.store.distance;
    this.replaceRepairShare = share;
    this.m = m;
    this.m0 = 2 * m;
    this.efConstruction = efConstruction;
    this.levelMultiplier = 1 / Math.log(m);
    this.stride0 = 1 + this.m0;
    this.strideUpper = 1 + m;
    this.present = new Uint8Array(this.capacity);
    this.links0 = new Uint32Array(this.capacity * this.stride0);
    this.levels = new Uint8Array(this.capacity);
    this.deleted = new Uint8Array(this.capacity);
    this.inDegree = new Uint32Array(this.capacity);
    this.visitTags = new Uint16Array(this.capacity);
    this.randomState = (options.seed ?? 0x9e3779b9) >>> 0;
  }

  /** Nodes in the graph, deleted ones included. */
  get size(): number {
    return this.count;
  }

  /** Whether row `id` is a node of the graph (deleted or not). */
  has(id: number): boolean {
    return id >= 0 && id < this.capacity && this.present[id] === 1;
  }

  /** Nodes not marked deleted. */
  get liveCount(): number {
    return this.count - this.deletedCount;
  }

  /**
   * Approximate bytes allocated by the graph: layer-0 links, upper layers, per-node tags; plus the
   * vector store when the index owns it.
   */
  get allocatedBytes(): number {
    let upper = 0;
    for (const links of this.upperLinks) if (links !== undefined) upper += links.byteLength + 64;
    const graph = this.links0.byteLength + upper + this.capacity * 5;
    return this.nextRow > 0 ? graph + this.store.allocatedBytes : graph;
  }

  /** A copy of the stored vector of node `id` (for cosine the unit vector). */
  vectorAt(id: number): Float32Array {
    this.checkId(id);
    return this.store.read(id);
  }

  /** Whether node `id` is marked deleted. */
  isDeleted(id: number): boolean {
    this.checkId(id);
    return this.deleted[id] === 1;
  }

  /**
   * Marks node `id` deleted: it stays in the graph for navigation and is never returned by search,
   * until {@link replace} reuses it. @throws RangeError if `id` is not a node.
   */
  markDeleted(id: number): void {
    this.checkId(id);
    if (this.deleted[id] === 0) {
      this.deleted[id] = 1;
      this.deletedCount++;
    }
  }

  /**
   * Appends a vector (copied; normalised for cosine) as a new row of the index's own store and links
   * it (Algorithm 1); returns its node id. Only for an index that owns its store.
   * @throws RangeError if `vector.length !== dimension`, or the store is shared.
   */
  add(vector: Float32Array): number {
    if (vector.length !== this.dimension) throw new RangeError(`vector has ${vector.length} components, the index's dimension is ${this.dimension}`);
    if (this.nextRow < this.count) throw new RangeError("add() appends to the index's own store; with a shared store write the row and call insert()");
    const id = this.nextRow++;
    this.store.ensureCapacity(id + 1);
    this.store.write(id, vector);
    this.insert(id);
    return id;
  }

  /**
   * Links row `id` of the store into the graph (Algorithm 1): draws its level, descends greedily
   * through the layers above it, then on each of its layers finds `ef_construction` candidates, keeps
   * up to m by the heuristic (Algorithm 4) and links both ways, shrinking overfull lists.
   * @throws RangeError if `id` is already a node or is not a row of the store.
   */
  insert(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.store.capacity) throw new RangeError(`row ${id} is outside the vector store`);
    if (this.has(id)) throw new RangeError(`node ${id} is already in the graph; use replace()`);
    this.ensureNodeCapacity(id + 1);
    const level = this.randomLevel();
    this.present[id] = 1;
    this.deleted[id] = 0;
    this.count++;
    this.levels[id] = level;
    this.links0[id * this.stride0] = 0;
    this.upperLinks[id] = level > 0 ? new Uint32Array(level * this.strideUpper) : undefined;
    if (this.entryPoint < 0) {
      this.entryPoint = id;
      this.topLevel = level;
      return;
    }
    this.store.setQueryFromRow(id);
    this.linkNode(id, level, false);
    if (level > this.topLevel) {
      this.topLevel = level;
      this.entryPoint = id;
    }
    this.relinkOrphans();
  }

  /**
   * Re-links node `id` after its row was overwritten with a new vector (hnswlib's `updatePoint`), and
   * clears its deleted mark: this is how an upsert replaces a vector and how a tombstoned node is
   * reused. On each of the node's layers, the lists of (a `replaceRepairShare` of) its neighbours are
   * rebuilt by the heuristic from their one- and two-hop neighbourhood; then the node's own links are
   * found again by a search from the entry point, as for an insert. A row that is not a node yet is
   * inserted. @throws RangeError if `id` is not a row of the store.
   */
  replace(id: number): void {
    if (!this.has(id)) {
      this.insert(id);
      return;
    }
    if (this.deleted[id] === 1) {
      this.deleted[id] = 0;
      this.deletedCount--;
    }
    if (this.count === 1) return;
    const level = this.levels[id]!;
    for (let layer = 0; layer <= level; layer++) this.repairNeighbours(id, layer);
    this.store.setQueryFromRow(id);
    this.linkNode(id, level, true);
    this.relinkOrphans();
  }

  /**
   * The `k` nearest live nodes to `query` (ascending internal distance), searching layer 0 with a
   * candidate list of `max(ef, k)` after a greedy descent through the upper layers. `accept`, when
   * given, restricts the results: the walk still goes through rejected nodes and goes on until it
   * holds `max(ef, k)` accepted ones or has nothing left to expand, so a selective filter widens the
   * search instead of returning fewer hits.
   * @throws RangeError if `query.length !== dimension`.
   */
  search(query: Float32Array, k: number, ef: number, accept?: (id: number) => boolean): HnswHits {
    if (query.length !== this.dimension) throw new RangeError(`query has ${query.length} components, the index's dimension is ${this.dimension}`);
    if (this.entryPoint < 0 || k < 1) return { ids: new Uint32Array(0), distances: new Float64Array(0) };
    this.store.setQuery(query);
    let entry = this.entryPoint;
    let entryDistance = this.store.distanceToQuery(entry);
    for (let layer = this.topLevel; layer > 0; layer--) {
      [entry, entryDistance] = this.greedyClosest(entry, entryDistance, layer);
    }
    this.searchLayer(entry, entryDistance, Math.max(ef, k), 0, accept, true);
    const found = this.drainResults();
    if (found.ids.length <= k) return found;
    return { ids: found.ids.slice(0, k), distances: found.distances.slice(0, k) };
  }

  /**
   * The graph as bytes, for a segment file: one little-endian buffer a later
   * {@link HnswIndex.fromBytes} maps back without per-node parsing (apart from the upper layers of the
   * ~1/m nodes that have them). Vectors are not included: they live in the store. Layout:
   *
   * | offset | type | content |
   * |---|---|---|
   * | 0 | u32 × 10 | format 1, m, ef_construction, node span S (highest node id + 1), entry point (0xFFFFFFFF = none), top level + 1, node count, deleted count, level generator state, upper-layer u32 count U |
   * | 40 | u8 × S | level of each node |
   * | 40 + S | u8 × S | flags: bit 0 present, bit 1 deleted |
   * | A = align4(40 + 2S) | u32 × S·(1 + 2m) | layer-0 lists `[count, id × 2m]` |
   * | A + 4·S·(1 + 2m) | u32 × U | upper-layer lists of the nodes with level > 0, in node order, `level × (1 + m)` each |
   */
  toBytes(): Uint8Array {
    let span = 0;
    let upperWords = 0;
    for (let id = 0; id < this.capacity; id++) {
      if (this.present[id] === 0) continue;
      span = id + 1;
      upperWords += this.levels[id]! * this.strideUpper;
    }
    const headerBytes = 40;
    const linksOffset = align4(headerBytes + 2 * span);
    const bytes = new Uint8Array(linksOffset + 4 * (span * this.stride0 + upperWords));
    const words = new Uint32Array(bytes.buffer);
    words.set([1, this.m, this.efConstruction, span, this.entryPoint < 0 ? 0xffffffff : this.entryPoint, this.topLevel + 1, this.count, this.deletedCount, this.randomState, upperWords]);
    bytes.set(this.levels.subarray(0, span), headerBytes);
    for (let id = 0; id < span; id++) bytes[headerBytes + span + id] = this.present[id]! | (this.deleted[id]! << 1);
    words.set(this.links0.subarray(0, span * this.stride0), linksOffset / 4);
    let at = linksOffset / 4 + span * this.stride0;
    for (let id = 0; id < span; id++) {
      const upper = this.upperLinks[id];
      if (this.present[id] === 1 && upper !== undefined) {
        words.set(upper, at);
        at += upper.length;
      }
    }
    return bytes;
  }

  /**
   * Rebuilds an index from {@link toBytes} over `store` (which must hold the same rows). The in-link
   * counts are recomputed from layer 0 (one pass over the lists).
   * @throws RangeError when the bytes are not a graph of this format, disagree with `store`
   *   (a link or node beyond its rows), or fail the structural checks (a count above 2m, a level above 31).
   */
  static fromBytes(store: VectorStore, bytes: Uint8Array): HnswIndex {
    if (bytes.byteLength < 40 || bytes.byteOffset % 4 !== 0) throw new RangeError("graph bytes: shorter than the header or not 4-byte aligned");
    const header = new Uint32Array(bytes.buffer, bytes.byteOffset, 10);
    const [format, m, efConstruction, span, entry, topPlusOne, count, deletedCount, randomState, upperWords] = header as unknown as number[];
    if (format !== 1) throw new RangeError(`graph bytes: format ${format}, expected 1`);
    const index = new HnswIndex({ store, m: m!, efConstruction: efConstruction!, initialCapacity: Math.max(span!, 16) });
    const stride0 = index.stride0;
    const linksOffset = align4(40 + 2 * span!);
    const expected = linksOffset + 4 * (span! * stride0 + upperWords!);
    if (bytes.byteLength !== expected) throw new RangeError(`graph bytes: ${bytes.byteLength} bytes, the header implies ${expected}`);
    if (span! > store.capacity) throw new RangeError(`graph bytes: ${span} nodes, the vector store has ${store.capacity} rows`);
    index.levels.set(bytes.subarray(40, 40 + span!));
    for (let id = 0; id < span!; id++) {
      const flags = bytes[40 + span! + id]!;
      index.present[id] = flags & 1;
      index.deleted[id] = (flags >> 1) & 1;
    }
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + linksOffset, span! * stride0 + upperWords!);
    index.links0.set(words.subarray(0, span! * stride0));
    let at = span! * stride0;
    for (let id = 0; id < span!; id++) {
      const level = index.levels[id]!;
      if (level > levelMax) throw new RangeError(`graph bytes: node ${id} has level ${level}, above ${levelMax}`);
      if (index.present[id] === 1 && level > 0) {
        const length = level * index.strideUpper;
        if (at + length > words.length) throw new RangeError("graph bytes: upper layers are shorter than the levels imply");
        index.upperLinks[id] = words.slice(at, at + length);
        at += length;
      }
    }
    for (let id = 0; id < span!; id++) {
      if (index.present[id] === 0) continue;
      const base = id * stride0;
      const n = index.links0[base]!;
      if (n > index.m0) throw new RangeError(`graph bytes: node ${id} has ${n} layer-0 links, above ${index.m0}`);
      for (let i = 1; i <= n; i++) {
        const other = index.links0[base + i]!;
        if (other >= span!) throw new RangeError(`graph bytes: node ${id} links to ${other}, beyond ${span} nodes`);
        index.inDegree[other]!++;
      }
    }
    index.count = count!;
    index.deletedCount = deletedCount!;
    index.entryPoint = entry === 0xffffffff ? -1 : entry!;
    index.topLevel = topPlusOne! - 1;
    index.randomState = randomState!;
    return index;
  }

  /**
   * Asserts the graph's invariants; throws an Error naming the first violation. Checks: link counts
   * within m0 (layer 0) or m, no self links, no duplicate links, linked ids in range and present on
   * that layer, the entry point on the top layer, and every node reachable from the entry point
   * (descending layer by layer, then over layer 0).
   */
  checkIntegrity(): void {
    let maxLevel = -1;
    for (let id = 0; id < this.capacity; id++) {
      if (this.present[id] === 0) continue;
      const level = this.levels[id]!;
      maxLevel = Math.max(maxLevel, level);
      for (let layer = 0; layer <= level; layer++) {
        const { links, offset } = this.linksAt(id, layer);
        const n = links[offset]!;
        const limit = layer === 0 ? this.m0 : this.m;
        if (n > limit) throw new Error(`node ${id} layer ${layer}: ${n} links, more than ${limit}`);
        const seen = new Set<number>();
        for (let i = 1; i <= n; i++) {
          const other = links[offset + i]!;
          if (other === id) throw new Error(`node ${id} layer ${layer}: links to itself`);
          if (other >= this.capacity || this.present[other] === 0) throw new Error(`node ${id} layer ${layer}: link ${other} is not a node`);
          if (this.levels[other]! < layer) throw new Error(`node ${id} layer ${layer}: link ${other} has no layer ${layer}`);
          if (seen.has(other)) throw new Error(`node ${id} layer ${layer}: duplicate link ${other}`);
          seen.add(other);
        }
      }
    }
    if (this.count === 0) return;
    if (maxLevel !== this.topLevel || this.levels[this.entryPoint] !== this.topLevel) {
      throw new Error(`entry point ${this.entryPoint} is on layer ${this.levels[this.entryPoint]}, the top layer is ${maxLevel}`);
    }
    const reached = new Uint8Array(this.capacity);
    const queue = [this.entryPoint];
    reached[this.entryPoint] = 1;
    for (let head = 0; head < queue.length; head++) {
      const id = queue[head]!;
      for (let layer = 0; layer <= this.levels[id]!; layer++) {
        const { links, offset } = this.linksAt(id, layer);
        for (let i = 1; i <= links[offset]!; i++) {
          const other = links[offset + i]!;
          if (reached[other] === 0) {
            reached[other] = 1;
            queue.push(other);
          }
        }
      }
    }
    if (queue.length !== this.count) {
      let missing = 0;
      while (this.present[missing] === 0 || reached[missing] === 1) missing++;
      throw new Error(`${this.count - queue.length} of ${this.count} nodes are unreachable from the entry point (first: ${missing})`);
    }
  }

  /** Greedy search with ef = 1 on one layer (Algorithm 2 with ef = 1): the closest node found and its distance. */
  private greedyClosest(entry: number, entryDistance: number, layer: number): [number, number] {
    let best = entry;
    let bestDistance = entryDistance;
    // Each step strictly lowers the distance, so this ends after at most `count` steps.
    for (let steps = 0; steps < this.count; steps++) {
      const { links, offset } = this.linksAt(best, layer);
      const n = links[offset]!;
      let moved = false;
      for (let i = 1; i <= n; i++) {
        const other = links[offset + i]!;
        const d = this.store.distanceToQuery(other);
        if (d < bestDistance) {
          bestDistance = d;
          best = other;
          moved = true;
        }
      }
      if (!moved) break;
    }
    return [best, bestDistance];
  }

  /**
   * Algorithm 2: beam search of width `ef` on one layer from one entry point. Leaves the results in
   * `this.results` (keys are negated distances, so the root is the farthest kept), measured from the
   * store's query scratch. Only nodes that pass `accept` (and, with `skipDeleted`, are not deleted)
   * become results; the walk continues until `ef` results are found or the candidates are exhausted.
   * Each node is visited at most once.
   */
  private searchLayer(
    entry: number,
    entryDistance: number,
    ef: number,
    layer: number,
    accept: ((id: number) => boolean) | undefined,
    skipDeleted: boolean,
  ): void {
    const epoch = this.nextEpoch();
    const tags = this.visitTags;
    const candidates = this.candidates;
    const results = this.results;
    const store = this.store;
    const deleted = skipDeleted && this.deletedCount > 0 ? this.deleted : undefined;
    candidates.clear();
    results.clear();
    tags[entry] = epoch;
    candidates.push(entryDistance, entry);
    if ((deleted === undefined || deleted[entry] === 0) && (accept === undefined || accept(entry))) results.push(-entryDistance, entry);
    let bound = results.size > 0 ? entryDistance : Number.POSITIVE_INFINITY;
    const batchIds = store.batchIds;
    const batchDistances = store.batchDistances;
    const links0 = this.links0;
    const stride0 = this.stride0;
    while (candidates.size > 0) {
      const distance = candidates.peekKey();
      if (distance > bound && results.size >= ef) break;
      const current = candidates.pop();
      let links: Uint32Array;
      let offset: number;
      if (layer === 0) {
        links = links0;
        offset = current * stride0;
      } else {
        links = this.upperLinks[current]!;
        offset = (layer - 1) * this.strideUpper;
      }
      const n = links[offset]!;
      // Score the unvisited neighbours in one call (m0 <= batchRowsMax), then weigh them in order.
      let fresh = 0;
      for (let i = 1; i <= n; i++) {
        const other = links[offset + i]!;
        if (tags[other] === epoch) continue;
        tags[other] = epoch;
        batchIds[fresh++] = other;
      }
      if (fresh === 0) continue;
      store.scoreBatch(fresh);
      for (let j = 0; j < fresh; j++) {
        const other = batchIds[j]!;
        const d = batchDistances[j]!;
        if (results.size < ef || d < bound) {
          candidates.push(d, other);
          if ((deleted === undefined || deleted[other] === 0) && (accept === undefined || accept(other))) {
            results.push(-d, other);
            if (results.size > ef) results.pop();
            bound = -results.peekKey();
          }
        }
      }
    }
  }

  /**
   * Finds and sets the links of node `id` on layers `min(level, topLevel) .. 0`, starting from the
   * entry point, with the store's query scratch holding the node's vector (Algorithm 1, lines 5-17).
   * `excludeSelf`: the node is already in the graph (a replace) and is dropped from its own candidates.
   */
  private linkNode(id: number, level: number, excludeSelf: boolean): void {
    let entry = this.entryPoint;
    let entryDistance = this.store.distanceToQuery(entry);
    for (let layer = this.topLevel; layer > level; layer--) {
      [entry, entryDistance] = this.greedyClosest(entry, entryDistance, layer);
    }
    for (let layer = Math.min(level, this.topLevel); layer >= 0; layer--) {
      this.searchLayer(entry, entryDistance, this.efConstruction, layer, undefined, false);
      let found = this.drainResults();
      if (excludeSelf) found = withoutNode(found, id);
      const chosen = this.selectNeighbours(found.ids, found.distances, this.m);
      this.setLinks(id, layer, chosen);
      const maxLinks = layer === 0 ? this.m0 : this.m;
      for (const neighbour of chosen) this.connect(neighbour, id, layer, maxLinks);
      if (found.ids.length > 0) {
        entry = found.ids[0]!;
        entryDistance = found.distances[0]!;
      }
    }
  }

  /**
   * First half of hnswlib's `updatePoint` on one layer: the neighbours of `id` (a share of them, see
   * `replaceRepairShare`) get their lists rebuilt by the heuristic from the one- and two-hop
   * neighbourhood of `id`, keeping the `ef_construction` closest candidates. This reconnects the
   * region around a node whose vector changed.
   */
  private repairNeighbours(id: number, layer: number): void {
    const { links, offset } = this.linksAt(id, layer);
    const n = links[offset]!;
    if (n === 0) return;
    const oneHop = Array.from(links.subarray(offset + 1, offset + 1 + n));
    const neighbourhood = new Set<number>(oneHop);
    neighbourhood.add(id);
    const repaired: number[] = [];
    for (const neighbour of oneHop) {
      if (this.replaceRepairShare < 1 && this.nextRandom() >= this.replaceRepairShare) continue;
      repaired.push(neighbour);
      const twoHop = this.linksAt(neighbour, layer);
      const count = twoHop.links[twoHop.offset]!;
      for (let i = 1; i <= count; i++) neighbourhood.add(twoHop.links[twoHop.offset + i]!);
    }
    const maxLinks = layer === 0 ? this.m0 : this.m;
    const heap = this.candidates;
    for (const neighbour of repaired) {
      heap.clear();
      for (const candidate of neighbourhood) {
        if (candidate !== neighbour) heap.push(this.store.distanceBetween(neighbour, candidate), candidate);
      }
      const keep = Math.min(this.efConstruction, heap.size);
      const ids = new Uint32Array(keep);
      const distances = new Float64Array(keep);
      for (let i = 0; i < keep; i++) {
        distances[i] = heap.peekKey();
        ids[i] = heap.pop();
      }
      this.setLinks(neighbour, layer, this.selectNeighbours(ids, distances, maxLinks));
    }
  }

  /** Empties `this.results` into arrays sorted by ascending distance. */
  private drainResults(): HnswHits {
    const n = this.results.size;
    const ids = new Uint32Array(n);
    const distances = new Float64Array(n);
    for (let i = n - 1; i >= 0; i--) {
      distances[i] = -this.results.peekKey();
      ids[i] = this.results.pop();
    }
    return { ids, distances };
  }

  /**
   * Algorithm 4 (the neighbour-selection heuristic, without extending candidates or keeping pruned
   * ones, as in hnswlib): walking candidates nearest first, keep one only if it is closer to the base
   * than to every neighbour already kept, until `limit` are kept. `ids`/`distances` must be sorted by
   * ascending distance to the base.
   */
  private selectNeighbours(ids: Uint32Array, distances: Float64Array, limit: number): number[] {
    if (ids.length <= limit) return Array.from(ids);
    const chosen: number[] = [];
    const store = this.store;
    const batchIds = store.batchIds;
    const batchDistances = store.batchDistances;
    for (let i = 0; i < ids.length && chosen.length < limit; i++) {
      const candidate = ids[i]!;
      const toBase = distances[i]!;
      // Distances from the candidate to every kept neighbour in one call (at most m0 of them).
      for (let j = 0; j < chosen.length; j++) batchIds[j] = chosen[j]!;
      store.scoreBatchFromRow(candidate, chosen.length);
      let keep = true;
      for (let j = 0; j < chosen.length; j++) {
        if (batchDistances[j]! < toBase) {
          keep = false;
          break;
        }
      }
      if (keep) chosen.push(candidate);
    }
    return chosen;
  }


  /**
   * Adds a link `from → to` on `layer` unless it is there; when the list is full, shrinks it with the
   * heuristic.
   */
  private connect(from: number, to: number, layer: number, maxLinks: number): void {
    const { links, offset } = this.linksAt(from, layer);
    const n = links[offset]!;
    for (let i = 1; i <= n; i++) if (links[offset + i] === to) return;
    if (n < maxLinks) {
      links[offset + 1 + n] = to;
      links[offset] = n + 1;
      if (layer === 0) this.inDegree[to]!++;
      return;
    }
    const store = this.store;
    const batchIds = store.batchIds;
    const batchDistances = store.batchDistances;
    batchIds[0] = to;
    for (let i = 1; i <= n; i++) batchIds[i] = links[offset + i]!;
    store.scoreBatchFromRow(from, n + 1);
    const heap = this.candidates;
    heap.clear();
    for (let i = 0; i <= n; i++) heap.push(batchDistances[i]!, batchIds[i]!);
    const ids = new Uint32Array(heap.size);
    const distances = new Float64Array(heap.size);
    for (let i = 0; heap.size > 0; i++) {
      distances[i] = heap.peekKey();
      ids[i] = heap.pop();
    }
    this.setLinks(from, layer, this.selectNeighbours(ids, distances, maxLinks));
  }

  private setLinks(id: number, layer: number, neighbours: readonly number[]): void {
    const { links, offset } = this.linksAt(id, layer);
    if (layer === 0) {
      const inDegree = this.inDegree;
      for (let i = 1; i <= links[offset]!; i++) {
        const old = links[offset + i]!;
        if (--inDegree[old]! === 0) this.orphans.push(old);
      }
      for (const neighbour of neighbours) inDegree[neighbour]!++;
    }
    links[offset] = neighbours.length;
    for (let i = 0; i < neighbours.length; i++) links[offset + 1 + i] = neighbours[i]!;
  }

  /**
   * Gives every node that lost its last layer-0 in-link an in-link again, so that it stays reachable.
   * Shrinking a full list by the heuristic (on insert) and rebuilding lists around a replaced node can
   * drop a node from every list that named it; hnswlib leaves such nodes unreachable. Here each orphan
   * is searched for like a new node (ef_construction candidates from the entry point, which are
   * reachable) and linked from the closest candidate that has room, or else in place of that
   * candidate's farthest link whose target keeps another in-link. This creates no new orphan, so the
   * loop ends after one pass over the queue.
   */
  private relinkOrphans(): void {
    while (this.orphans.length > 0) {
      const orphan = this.orphans.pop()!;
      if (this.present[orphan] === 0 || this.inDegree[orphan]! > 0 || orphan === this.entryPoint || this.count < 2) continue;
      this.store.setQueryFromRow(orphan);
      let entry = this.entryPoint;
      let entryDistance = this.store.distanceToQuery(entry);
      for (let layer = this.topLevel; layer > 0; layer--) [entry, entryDistance] = this.greedyClosest(entry, entryDistance, layer);
      this.searchLayer(entry, entryDistance, this.efConstruction, 0, undefined, false);
      const found = withoutNode(this.drainResults(), orphan);
      for (let i = 0; i < found.ids.length && this.inDegree[orphan] === 0; i++) this.adoptOrphan(found.ids[i]!, orphan);
    }
  }

  /** Links `parent → orphan` on layer 0 if `parent` has room or a link it can give up; see relinkOrphans. */
  private adoptOrphan(parent: number, orphan: number): void {
    const { links, offset } = this.linksAt(parent, 0);
    const n = links[offset]!;
    for (let i = 1; i <= n; i++) if (links[offset + i] === orphan) return;
    if (n < this.m0) {
      links[offset + 1 + n] = orphan;
      links[offset] = n + 1;
      this.inDegree[orphan]!++;
      return;
    }
    let victim = -1;
    let victimDistance = -Infinity;
    for (let i = 1; i <= n; i++) {
      const other = links[offset + i]!;
      if (this.inDegree[other]! < 2) continue;
      const d = this.store.distanceBetween(parent, other);
      if (d > victimDistance) {
        victimDistance = d;
        victim = i;
      }
    }
    if (victim < 0) return;
    this.inDegree[links[offset + victim]!]!--;
    links[offset + victim] = orphan;
    this.inDegree[orphan]!++;
  }

  private linksAt(id: number, layer: number): { links: Uint32Array; offset: number } {
    if (layer === 0) return { links: this.links0, offset: id * this.stride0 };
    return { links: this.upperLinks[id]!, offset: (layer - 1) * this.strideUpper };
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

  private nextEpoch(): number {
    this.epoch = (this.epoch + 1) & 0xffff;
    if (this.epoch === 0) {
      this.visitTags.fill(0);
      this.epoch = 1;
    }
    return this.epoch;
  }

  /** Grows the per-node arrays (by doubling) to hold node ids below `nodes`. */
  private ensureNodeCapacity(nodes: number): void {
    if (nodes <= this.capacity) return;
    let capacity = this.capacity * 2;
    while (capacity < nodes) capacity *= 2;
    const links0 = new Uint32Array(capacity * this.stride0);
    links0.set(this.links0);
    const levels = new Uint8Array(capacity);
    levels.set(this.levels);
    const deleted = new Uint8Array(capacity);
    deleted.set(this.deleted);
    const present = new Uint8Array(capacity);
    present.set(this.present);
    const inDegree = new Uint32Array(capacity);
    inDegree.set(this.inDegree);
    this.inDegree = inDegree;
    this.links0 = links0;
    this.levels = levels;
    this.deleted = deleted;
    this.present = present;
    this.visitTags = new Uint16Array(capacity);
    this.epoch = 0;
    this.capacity = capacity;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || !this.has(id)) throw new RangeError(`node ${id} is not in the graph`);
  }
}

/** The hits without node `id` (still sorted). */
function withoutNode(hits: HnswHits, id: number): HnswHits {
  const at = hits.ids.indexOf(id);
  if (at < 0) return hits;
  const ids = new Uint32Array(hits.ids.length - 1);
  const distances = new Float64Array(hits.ids.length - 1);
  ids.set(hits.ids.subarray(0, at));
  ids.set(hits.ids.subarray(at + 1), at);
  distances.set(hits.distances.subarray(0, at));
  distances.set(hits.distances.subarray(at + 1), at);
  return { ids, distances };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
