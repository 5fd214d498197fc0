import { type DistanceKernel, type DistanceKind, kernelOf, normalizeInPlace } from "../distance.js";
import { DistanceHeap } from "./heap.js";

/** Construction parameters of an {@link HnswIndex}. */
export interface HnswIndexOptions {
  /** Components per vector, at least 1. */
  dimension: number;
  /** Cosine or euclidean. Raw dot product is not a metric: see the class comment. */
  distance: DistanceKind;
  /** Links per node on layers above 0 (layer 0 keeps `2·m`); at least 2. */
  m: number;
  /** Width of the candidate list while inserting; at least 1. */
  efConstruction: number;
  /** Nodes allocated up front (grows by doubling). */
  initialCapacity?: number;
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
 * Memory layout, as in hnswlib: node ids are dense `0 .. size-1`; all vectors in one Float32Array
 * (`id·dimension`, cosine vectors normalised on insert); layer-0 links in one Uint32Array with a fixed
 * stride of `1 + 2m` (`[count, id, id, …]`); upper layers in one small Uint32Array per node that has
 * them, stride `1 + m` per layer. The visited set is a Uint16Array of epoch tags, reset only when the
 * epoch wraps; the queues are typed-array heaps, so the search allocates nothing per visited node.
 *
 * Deletion is a tombstone: deleted nodes are still walked (they keep the graph connected) but never
 * returned. Every loop is bounded: a layer search visits each node at most once, and the greedy
 * descent strictly decreases the distance at each step. The index does no I/O.
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

  private readonly kernel: DistanceKernel;
  private readonly levelMultiplier: number;
  private readonly stride0: number;
  private readonly strideUpper: number;
  private capacity: number;
  private count = 0;
  private deletedCount = 0;
  private vectors: Float32Array;
  private links0: Uint32Array;
  private upperLinks: (Uint32Array | undefined)[] = [];
  private levels: Uint8Array;
  private deleted: Uint8Array;
  private visitTags: Uint16Array;
  private epoch = 0;
  private entryPoint = -1;
  private topLevel = -1;
  private randomState: number;
  private readonly candidates = new DistanceHeap();
  private readonly results = new DistanceHeap();

  /** @throws RangeError for a dimension, m or ef_construction out of range, or the dot distance. */
  constructor(options: HnswIndexOptions) {
    const { dimension, distance, m, efConstruction } = options;
    if (!Number.isInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be a positive integer, got ${dimension}`);
    if (!Number.isInteger(m) || m < 2) throw new RangeError(`m must be an integer of at least 2, got ${m}`);
    if (!Number.isInteger(efConstruction) || efConstruction < 1) throw new RangeError(`ef_construction must be a positive integer, got ${efConstruction}`);
    if (distance === "dot") throw new RangeError("HNSW needs a metric: dot product is not supported yet (use exact search)");
    this.dimension = dimension;
    this.distance = distance;
    this.m = m;
    this.m0 = 2 * m;
    this.efConstruction = efConstruction;
    this.kernel = kernelOf(distance);
    this.levelMultiplier = 1 / Math.log(m);
    this.stride0 = 1 + this.m0;
    this.strideUpper = 1 + m;
    this.capacity = Math.max(16, options.initialCapacity ?? 1024);
    this.vectors = new Float32Array(this.capacity * dimension);
    this.links0 = new Uint32Array(this.capacity * this.stride0);
    this.levels = new Uint8Array(this.capacity);
    this.deleted = new Uint8Array(this.capacity);
    this.visitTags = new Uint16Array(this.capacity);
    this.randomState = (options.seed ?? 0x9e3779b9) >>> 0;
  }

  /** Nodes in the graph, deleted ones included. */
  get size(): number {
    return this.count;
  }

  /** Nodes not marked deleted. */
  get liveCount(): number {
    return this.count - this.deletedCount;
  }

  /** Approximate bytes allocated: vectors, layer-0 links, upper layers, per-node tags. */
  get allocatedBytes(): number {
    let upper = 0;
    for (const links of this.upperLinks) if (links !== undefined) upper += links.byteLength;
    return this.vectors.byteLength + this.links0.byteLength + upper + this.capacity * 4;
  }

  /** The stored vector of node `id` (a view; for cosine the unit vector). */
  vectorAt(id: number): Float32Array {
    this.checkId(id);
    return this.vectors.subarray(id * this.dimension, (id + 1) * this.dimension);
  }

  /** Whether node `id` is marked deleted. */
  isDeleted(id: number): boolean {
    this.checkId(id);
    return this.deleted[id] === 1;
  }

  /** Marks node `id` deleted: it stays in the graph for navigation and is never returned by search. */
  markDeleted(id: number): void {
    this.checkId(id);
    if (this.deleted[id] === 0) {
      this.deleted[id] = 1;
      this.deletedCount++;
    }
  }

  /**
   * Inserts a vector (copied; normalised for cosine) and returns its node id, `size - 1`
   * (Algorithm 1). @throws RangeError if `vector.length !== dimension`.
   */
  add(vector: Float32Array): number {
    if (vector.length !== this.dimension) throw new RangeError(`vector has ${vector.length} components, the index's dimension is ${this.dimension}`);
    if (this.count === this.capacity) this.grow();
    const id = this.count++;
    const offset = id * this.dimension;
    this.vectors.set(vector, offset);
    if (this.distance === "cosine") normalizeInPlace(this.vectors.subarray(offset, offset + this.dimension));
    const level = this.randomLevel();
    this.levels[id] = level;
    this.links0[id * this.stride0] = 0;
    this.upperLinks[id] = level > 0 ? new Uint32Array(level * this.strideUpper) : undefined;

    if (this.entryPoint < 0) {
      this.entryPoint = id;
      this.topLevel = level;
      return id;
    }
    const vectors = this.vectors;
    let entry = this.entryPoint;
    let entryDistance = this.kernel(vectors, offset, vectors, entry * this.dimension, this.dimension);
    for (let layer = this.topLevel; layer > level; layer--) {
      [entry, entryDistance] = this.greedyClosest(vectors, offset, entry, entryDistance, layer);
    }
    for (let layer = Math.min(level, this.topLevel); layer >= 0; layer--) {
      this.searchLayer(vectors, offset, entry, entryDistance, this.efConstruction, layer, undefined);
      const found = this.drainResults();
      const chosen = this.selectNeighbours(found.ids, found.distances, this.m);
      this.setLinks(id, layer, chosen);
      const maxLinks = layer === 0 ? this.m0 : this.m;
      for (const neighbour of chosen) this.connect(neighbour, id, layer, maxLinks);
      entry = found.ids[0]!;
      entryDistance = found.distances[0]!;
    }
    if (level > this.topLevel) {
      this.topLevel = level;
      this.entryPoint = id;
    }
    return id;
  }

  /**
   * The `k` nearest live nodes to `query` (ascending internal distance), searching layer 0 with a
   * candidate list of `max(ef, k)` after a greedy descent through the upper layers. `accept`, when
   * given, restricts the results (the walk still goes through rejected nodes).
   * @throws RangeError if `query.length !== dimension`.
   */
  search(query: Float32Array, k: number, ef: number, accept?: (id: number) => boolean): HnswHits {
    if (query.length !== this.dimension) throw new RangeError(`query has ${query.length} components, the index's dimension is ${this.dimension}`);
    if (this.entryPoint < 0 || k < 1) return { ids: new Uint32Array(0), distances: new Float64Array(0) };
    let q = query;
    if (this.distance === "cosine") {
      q = Float32Array.from(query);
      normalizeInPlace(q);
    }
    let entry = this.entryPoint;
    let entryDistance = this.kernel(q, 0, this.vectors, entry * this.dimension, this.dimension);
    for (let layer = this.topLevel; layer > 0; layer--) {
      [entry, entryDistance] = this.greedyClosest(q, 0, entry, entryDistance, layer);
    }
    const deleted = this.deleted;
    const filter =
      this.deletedCount === 0 ? accept : accept === undefined ? (id: number) => deleted[id] === 0 : (id: number) => deleted[id] === 0 && accept(id);
    this.searchLayer(q, 0, entry, entryDistance, Math.max(ef, k), 0, filter);
    const found = this.drainResults();
    if (found.ids.length <= k) return found;
    return { ids: found.ids.slice(0, k), distances: found.distances.slice(0, k) };
  }

  /**
   * Asserts the graph's invariants; throws an Error naming the first violation. Checks: link counts
   * within m0 (layer 0) or m, no self links, no duplicate links, linked ids in range and present on
   * that layer, the entry point on the top layer, and every node reachable from the entry point
   * (descending layer by layer, then over layer 0).
   */
  checkIntegrity(): void {
    let maxLevel = -1;
    for (let id = 0; id < this.count; id++) {
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
          if (other >= this.count) throw new Error(`node ${id} layer ${layer}: link ${other} is out of range`);
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
    const reached = new Uint8Array(this.count);
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
      const missing = reached.indexOf(0);
      throw new Error(`${this.count - queue.length} of ${this.count} nodes are unreachable from the entry point (first: ${missing})`);
    }
  }

  /** Greedy search with ef = 1 on one layer (Algorithm 2 with ef = 1): the closest node found and its distance. */
  private greedyClosest(q: Float32Array, qOffset: number, entry: number, entryDistance: number, layer: number): [number, number] {
    let best = entry;
    let bestDistance = entryDistance;
    // Each step strictly lowers the distance, so this ends after at most `count` steps.
    for (let steps = 0; steps < this.count; steps++) {
      const { links, offset } = this.linksAt(best, layer);
      const n = links[offset]!;
      let moved = false;
      for (let i = 1; i <= n; i++) {
        const other = links[offset + i]!;
        const d = this.kernel(q, qOffset, this.vectors, other * this.dimension, this.dimension);
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
   * `this.results` (keys are negated distances, so the root is the farthest kept). Only nodes that
   * pass `accept` become results; the walk continues until `ef` results are found or the candidates
   * are exhausted. Each node is visited at most once.
   */
  private searchLayer(
    q: Float32Array,
    qOffset: number,
    entry: number,
    entryDistance: number,
    ef: number,
    layer: number,
    accept: ((id: number) => boolean) | undefined,
  ): void {
    const epoch = this.nextEpoch();
    const tags = this.visitTags;
    const candidates = this.candidates;
    const results = this.results;
    const vectors = this.vectors;
    const dimension = this.dimension;
    const kernel = this.kernel;
    candidates.clear();
    results.clear();
    tags[entry] = epoch;
    candidates.push(entryDistance, entry);
    if (accept === undefined || accept(entry)) results.push(-entryDistance, entry);
    let bound = results.size > 0 ? entryDistance : Number.POSITIVE_INFINITY;
    while (candidates.size > 0) {
      const distance = candidates.peekKey();
      if (distance > bound && results.size >= ef) break;
      const current = candidates.pop();
      const { links, offset } = this.linksAt(current, layer);
      const n = links[offset]!;
      for (let i = 1; i <= n; i++) {
        const other = links[offset + i]!;
        if (tags[other] === epoch) continue;
        tags[other] = epoch;
        const d = kernel(q, qOffset, vectors, other * dimension, dimension);
        if (results.size < ef || d < bound) {
          candidates.push(d, other);
          if (accept === undefined || accept(other)) {
            results.push(-d, other);
            if (results.size > ef) results.pop();
            bound = -results.peekKey();
          }
        }
      }
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
    const vectors = this.vectors;
    const dimension = this.dimension;
    for (let i = 0; i < ids.length && chosen.length < limit; i++) {
      const candidate = ids[i]!;
      const toBase = distances[i]!;
      let keep = true;
      for (const kept of chosen) {
        if (this.kernel(vectors, candidate * dimension, vectors, kept * dimension, dimension) < toBase) {
          keep = false;
          break;
        }
      }
      if (keep) chosen.push(candidate);
    }
    return chosen;
  }

  /** Adds a link `from → to` on `layer`; when the list is full, shrinks it with the heuristic. */
  private connect(from: number, to: number, layer: number, maxLinks: number): void {
    const { links, offset } = this.linksAt(from, layer);
    const n = links[offset]!;
    if (n < maxLinks) {
      links[offset + 1 + n] = to;
      links[offset] = n + 1;
      return;
    }
    const vectors = this.vectors;
    const dimension = this.dimension;
    const base = from * dimension;
    const heap = this.candidates;
    heap.clear();
    heap.push(this.kernel(vectors, base, vectors, to * dimension, dimension), to);
    for (let i = 1; i <= n; i++) {
      const other = links[offset + i]!;
      heap.push(this.kernel(vectors, base, vectors, other * dimension, dimension), other);
    }
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
    links[offset] = neighbours.length;
    for (let i = 0; i < neighbours.length; i++) links[offset + 1 + i] = neighbours[i]!;
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

  private grow(): void {
    const capacity = this.capacity * 2;
    const vectors = new Float32Array(capacity * this.dimension);
    vectors.set(this.vectors);
    const links0 = new Uint32Array(capacity * this.stride0);
    links0.set(this.links0);
    const levels = new Uint8Array(capacity);
    levels.set(this.levels);
    const deleted = new Uint8Array(capacity);
    deleted.set(this.deleted);
    const visitTags = new Uint16Array(capacity);
    visitTags.set(this.visitTags);
    this.vectors = vectors;
    this.links0 = links0;
    this.levels = levels;
    this.deleted = deleted;
    this.visitTags = visitTags;
    this.capacity = capacity;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.count) throw new RangeError(`node ${id} is outside 0..${this.count - 1}`);
  }
}
