import { type DistanceKind, type DistanceKernel, kernelOf, normalizeInPlace } from "./distance.js";
import { TopK } from "./top-k.js";

/** Search options of {@link FlatIndex.search}. */
export interface FlatSearchOptions {
  /** Only slots for which this returns true are hits. Called only for a slot that would enter the top-k. */
  accept?: (slot: number) => boolean;
  /** Largest internal distance a hit may have (see `internalThreshold` in distance.ts). */
  maxDistance?: number;
}

/** Hits of a search: parallel arrays, ascending internal distance. */
export interface SlotHits {
  slots: Uint32Array;
  distances: Float64Array;
}

/**
 * Exact (brute-force) nearest-neighbour index over a dense matrix of vectors.
 *
 * Layout: one `Float32Array` of `capacity × dimension` components; row `s` (the slot) occupies
 * `[s·dimension, (s+1)·dimension)`. Slots are dense `0 .. size-1`: removing a slot moves the last row
 * into it, so a scan never skips holes. Capacity grows by doubling. For cosine, rows are stored
 * normalised to unit length and queries are normalised before scoring.
 *
 * Search scans every row once, O(size·dimension), and keeps the top-k in a bounded heap.
 * This index is also the oracle the HNSW index is tested against. It does no I/O.
 */
export class FlatIndex {
  private data: Float32Array;
  private count = 0;
  private readonly kernel: DistanceKernel;

  /**
   * @param dimension components per vector, at least 1.
   * @param distance how vectors are compared.
   * @param initialCapacity rows allocated up front (grows by doubling).
   */
  constructor(
    readonly dimension: number,
    readonly distance: DistanceKind,
    initialCapacity = 1024,
  ) {
    if (!Number.isInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be a positive integer, got ${dimension}`);
    this.data = new Float32Array(Math.max(1, initialCapacity) * dimension);
    this.kernel = kernelOf(distance);
  }

  /** Number of vectors stored. */
  get size(): number {
    return this.count;
  }

  /** Bytes of the vector matrix as allocated (capacity, not size). */
  get allocatedBytes(): number {
    return this.data.byteLength;
  }

  /**
   * Appends a vector (copied; normalised for cosine) and returns its slot. Throws RangeError if
   * `vector.length !== dimension`.
   */
  add(vector: Float32Array): number {
    this.checkLength(vector);
    if ((this.count + 1) * this.dimension > this.data.length) this.grow();
    const slot = this.count++;
    this.write(slot, vector);
    return slot;
  }

  /** Replaces the vector in `slot` (copied; normalised for cosine). */
  set(slot: number, vector: Float32Array): void {
    this.checkLength(vector);
    this.checkSlot(slot);
    this.write(slot, vector);
  }

  /**
   * Removes `slot` by moving the last row into it. Returns the slot that moved (the old last slot),
   * or -1 when `slot` was the last one and nothing moved.
   */
  removeSwap(slot: number): number {
    this.checkSlot(slot);
    const last = this.count - 1;
    this.count = last;
    if (slot === last) return -1;
    this.data.copyWithin(slot * this.dimension, last * this.dimension, (last + 1) * this.dimension);
    return last;
  }

  /** A view (not a copy) of the stored vector in `slot`; valid until the next write. */
  vectorAt(slot: number): Float32Array {
    this.checkSlot(slot);
    return this.data.subarray(slot * this.dimension, (slot + 1) * this.dimension);
  }

  /**
   * The `k` stored vectors nearest to `query`, ascending internal distance (ties by slot).
   * `query` must have `dimension` components; for cosine it is normalised on a copy.
   */
  search(query: Float32Array, k: number, options: FlatSearchOptions = {}): SlotHits {
    this.checkLength(query);
    const q = this.prepareQuery(query);
    const top = new TopK(Math.max(1, Math.min(k, this.count || 1)));
    const { accept, maxDistance = Number.POSITIVE_INFINITY } = options;
    const dimension = this.dimension;
    const data = this.data;
    const kernel = this.kernel;
    for (let slot = 0, offset = 0; slot < this.count; slot++, offset += dimension) {
      const d = kernel(q, 0, data, offset, dimension);
      // The filter runs only for a candidate that would enter the heap: distance first, it is cheaper.
      if (d > maxDistance || d >= top.worst) continue;
      if (accept !== undefined && !accept(slot)) continue;
      top.push(d, slot);
    }
    return top.drainSorted();
  }

  /** The query as it is compared: a normalised copy for cosine, the query itself otherwise. */
  prepareQuery(query: Float32Array): Float32Array {
    if (this.distance !== "cosine") return query;
    const copy = Float32Array.from(query);
    normalizeInPlace(copy);
    return copy;
  }

  private write(slot: number, vector: Float32Array): void {
    const offset = slot * this.dimension;
    this.data.set(vector, offset);
    if (this.distance === "cosine") normalizeInPlace(this.data.subarray(offset, offset + this.dimension));
  }

  private grow(): void {
    const next = new Float32Array(Math.max(this.data.length * 2, this.dimension));
    next.set(this.data.subarray(0, this.count * this.dimension));
    this.data = next;
  }

  private checkLength(vector: Float32Array): void {
    if (vector.length !== this.dimension) {
      throw new RangeError(`vector has ${vector.length} components, the index's dimension is ${this.dimension}`);
    }
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.count) throw new RangeError(`slot ${slot} is outside 0..${this.count - 1}`);
  }
}
