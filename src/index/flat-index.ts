import type { DistanceKind } from "./distance.js";
import { TopK } from "./top-k.js";
import { batchRowsMax, VectorStore } from "./vector-store.js";

/** Search options of {@link FlatIndex.search}. */
export interface FlatSearchOptions {
  /** Only slots for which this returns true are hits. Called only for a slot that would enter the top-k. */
  accept?: (slot: number) => boolean;
  /** Largest internal distance a hit may have (see `internalThreshold` in distance.ts). */
  maxDistance?: number;
}

/**
 * Which rows {@link scanRows} scores: rows `start .. end-1` (start 0 by default; those with
 * `mask[row] === 1` when a mask is given), or exactly the rows in `list`.
 */
export type RowSelection = { start?: number; end: number; mask?: Uint8Array } | { list: ArrayLike<number> };

/**
 * Exact search over chosen rows of a store: scores each selected row against the store's query
 * scratch (set it first with `store.setQuery`), 1,024 rows per WebAssembly call, and offers the
 * rows within `maxDistance` that pass `accept` to `top`. The filter runs only for a row that would
 * enter the heap (distance first: it is cheaper). O(rows · dimension).
 */
export function scanRows(store: VectorStore, top: TopK, selection: RowSelection, options: FlatSearchOptions = {}): void {
  const { accept, maxDistance = Number.POSITIVE_INFINITY } = options;
  const ids = store.batchIds;
  const distances = store.batchDistances;
  let fill = 0;
  const flush = (): void => {
    store.scoreBatch(fill);
    for (let i = 0; i < fill; i++) {
      const d = distances[i]!;
      if (d > maxDistance || d >= top.worst) continue;
      const row = ids[i]!;
      if (accept !== undefined && !accept(row)) continue;
      top.push(d, row);
    }
    fill = 0;
  };
  if ("list" in selection) {
    const list = selection.list;
    for (let i = 0; i < list.length; i++) {
      ids[fill++] = list[i]!;
      if (fill === batchRowsMax) flush();
    }
  } else {
    const { start = 0, end, mask } = selection;
    for (let row = start; row < end; row++) {
      if (mask !== undefined && mask[row] !== 1) continue;
      ids[fill++] = row;
      if (fill === batchRowsMax) flush();
    }
  }
  if (fill > 0) flush();
}

/** Hits of a search: parallel arrays, ascending internal distance. */
export interface SlotHits {
  slots: Uint32Array;
  distances: Float64Array;
}

/**
 * Exact (brute-force) nearest-neighbour index over a dense matrix of vectors.
 *
 * Layout: one {@link VectorStore} (a WebAssembly memory scored by SIMD kernels); row `s` is the slot. Slots are dense `0 .. size-1`: removing a slot moves the last row
 * into it, so a scan never skips holes. Capacity grows by doubling. For cosine, rows are stored
 * normalised to unit length and queries are normalised before scoring.
 *
 * Search scans every row once, O(size·dimension), and keeps the top-k in a bounded heap.
 * This index is also the oracle the HNSW index is tested against. It does no I/O.
 */
export class FlatIndex {
  private readonly store: VectorStore;
  private count = 0;

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
    this.store = new VectorStore(dimension, distance, initialCapacity);
  }

  /** Number of vectors stored. */
  get size(): number {
    return this.count;
  }

  /** Bytes of the vector matrix as allocated (capacity, not size). */
  get allocatedBytes(): number {
    return this.store.allocatedBytes;
  }

  /**
   * Appends a vector (copied; normalised for cosine) and returns its slot. Throws RangeError if
   * `vector.length !== dimension`.
   */
  add(vector: Float32Array): number {
    this.checkLength(vector);
    this.store.ensureCapacity(this.count + 1);
    const slot = this.count++;
    this.store.write(slot, vector);
    return slot;
  }

  /** Replaces the vector in `slot` (copied; normalised for cosine). */
  set(slot: number, vector: Float32Array): void {
    this.checkLength(vector);
    this.checkSlot(slot);
    this.store.write(slot, vector);
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
    this.store.copyRow(last, slot);
    return last;
  }

  /** A copy of the stored vector in `slot` (for cosine, the unit vector). */
  vectorAt(slot: number): Float32Array {
    this.checkSlot(slot);
    return this.store.read(slot);
  }

  /**
   * The `k` stored vectors nearest to `query`, ascending internal distance (ties by slot).
   * `query` must have `dimension` components; for cosine it is normalised on a copy.
   */
  search(query: Float32Array, k: number, options: FlatSearchOptions = {}): SlotHits {
    this.checkLength(query);
    this.store.setQuery(query);
    const top = new TopK(Math.max(1, Math.min(k, this.count || 1)));
    scanRows(this.store, top, { end: this.count }, options);
    return top.drainSorted();
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
