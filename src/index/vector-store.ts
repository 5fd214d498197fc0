import type { DistanceKind } from "./distance.js";
import { engineKind, instantiateEngine, type EngineExports } from "./wasm/engine-module.js";

/** Most rows one {@link VectorStore.scoreBatch} call scores. */
export const batchRowsMax = 1024;

/** Pages (64 KiB) a 32-bit WebAssembly memory may have: 4 GiB. */
const pagesMax = 65_536;

/** Most bytes one chunk of rows takes; the node count per chunk is the largest power of two that fits. */
const chunkBytesTarget = 2 * 1024 * 1024;

/** Most thread slots (the main thread plus builder threads) one memory can serve. */
export const threadSlotsMax = 15;

/** The graph a store's memory is laid out for. */
export interface GraphLayout {
  /** HNSW `m`: links per node on the upper layers (layer 0 keeps 2m); 2 or more. */
  m: number;
  /** HNSW `ef_construction`: the builders' candidate-list width; 1 or more. */
  efConstruction: number;
  /**
   * Threads that may use the memory at once: the main thread plus the graph builders (1 to
   * {@link threadSlotsMax}; default 1). Each gets its own scratch and visited tags (2 bytes per node).
   */
  threadSlots?: number;
}

/** Options of a {@link VectorStore}. */
export interface VectorStoreOptions {
  /** Rows allocated up front (default: one chunk, at most 2 MiB). */
  initialCapacity?: number;
  /** Lay the memory out for an HNSW graph (node records beside the rows); absent: vectors only. */
  graph?: GraphLayout;
}

/**
 * Float32 vectors (rows) in one shared WebAssembly memory, scored by the engine's SIMD kernels
 * (src/index/wasm/assembly/engine.ts), with room for an HNSW graph's node records beside them.
 *
 * Why WebAssembly: V8 does not vectorise JS loops; a 128-d squared L2 costs about 400 ns in a tuned
 * JS loop and about 36 ns in the f32x4 kernel on this project's machine (see the HNSW closing note).
 *
 * Layout: rows live in chunks of 2^k consecutive rows (k chosen so a chunk is at most 2 MiB), each
 * chunk allocated at the end of the memory when the store grows, so a row never moves and threads
 * that share the memory (graph builders) always see the same addresses. Row `r` is `dimension`
 * little-endian float32 in node `r`'s block, after the node's graph record (its links, as in
 * hnswlib's layout); cosine rows are stored unit length. Internal distances are "lower is
 * closer" (euclidean: squared L2; cosine and dot: -dot), summed in float32.
 *
 * Capacity grows one chunk at a time (no doubling slack), up to 4 GiB of memory: {@link rowsMax}
 * rows. This object is the memory's owner: only the thread that made it allocates (grows) it. No I/O.
 */
export class VectorStore {
  readonly dimension: number;
  readonly distance: DistanceKind;
  /** The shared memory (pass it to builder threads). */
  readonly memory: WebAssembly.Memory;
  /** The engine instance of this thread (thread slot 0). */
  readonly engine: EngineExports;
  /** The graph layout, when the memory has node records. */
  readonly graph: Readonly<Required<GraphLayout>> | undefined;
  /** The filter of the search in progress (called from WebAssembly; see HnswIndex.search). */
  acceptForSearch: ((id: number) => boolean) | undefined;

  private readonly rowFloats: number;
  private f32!: Float32Array;
  private u32!: Uint32Array;
  private u8!: Uint8Array;
  private ids!: Uint32Array;
  private out!: Float32Array;
  private viewBytes = 0;
  private rows = 0;

  /**
   * @param dimension components per vector, 1 or more.
   * @param distance how rows are compared and whether they are normalised (cosine).
   * @param options initial capacity (or just that number) and the graph layout.
   * @throws RangeError for a dimension below 1, bad graph parameters, or no memory.
   */
  constructor(dimension: number, distance: DistanceKind, options: VectorStoreOptions | number = {}) {
    if (!Number.isInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be a positive integer, got ${dimension}`);
    const { initialCapacity, graph } = typeof options === "number" ? { initialCapacity: options, graph: undefined } : options;
    this.dimension = dimension;
    this.distance = distance;
    this.rowFloats = dimension;
    const m = graph?.m ?? 0;
    const efConstruction = graph?.efConstruction ?? 1;
    const threadSlots = graph?.threadSlots ?? 1;
    if (graph !== undefined) {
      if (!Number.isInteger(m) || m < 2 || m > 256) throw new RangeError(`m must be an integer in 2..256, got ${m}`);
      if (!Number.isInteger(efConstruction) || efConstruction < 1) throw new RangeError(`ef_construction must be a positive integer, got ${efConstruction}`);
      if (!Number.isInteger(threadSlots) || threadSlots < 1 || threadSlots > threadSlotsMax) {
        throw new RangeError(`threadSlots must be an integer in 1..${threadSlotsMax}, got ${threadSlots}`);
      }
      this.graph = Object.freeze({ m, efConstruction, threadSlots });
    }
    const nodeBytes = dimension * 4 + (m === 0 ? 4 : 16 + 8 * m + 1 + 2 * threadSlots);
    const chunkShift = Math.max(0, Math.floor(Math.log2(chunkBytesTarget / nodeBytes)));
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: pagesMax, shared: true });
    this.engine = instantiateEngine(this.memory, (id) => (this.acceptForSearch === undefined || this.acceptForSearch(id) ? 1 : 0));
    const kind = engineKind[distance];
    const failed = this.engine.init(dimension, kind, m, efConstruction, threadSlots, chunkShift, batchRowsMax);
    if (failed !== 0) throw new RangeError(`the vector store's memory could not be laid out (code ${failed})`);
    this.refreshViews();
    this.ensureCapacity(Math.max(1, initialCapacity ?? 1));
  }

  /** Rows that fit in the chunks allocated now. */
  get capacity(): number {
    return this.rows;
  }

  /** Most rows this store can ever hold (4 GiB of memory less what is allocated for other uses). */
  get rowsMax(): number {
    return this.engine.capacityMax();
  }

  /** Bytes of WebAssembly memory allocated (committed pages, not use). */
  get allocatedBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Makes room for rows `0 .. rows-1`, one chunk at a time.
   * @throws RangeError when `rows` exceeds {@link rowsMax} (4 GiB of memory) or memory cannot grow.
   */
  ensureCapacity(rows: number): void {
    if (rows <= this.rows) return;
    if (rows > this.rowsMax) {
      throw new RangeError(`${rows} vectors of dimension ${this.dimension} exceed the 4 GiB vector store (at most ${this.rowsMax})`);
    }
    while (this.rows < rows) {
      const capacity = this.engine.addChunk();
      if (capacity === 0) throw new RangeError(`${rows} vectors of dimension ${this.dimension} exceed the 4 GiB vector store (at most ${this.rowsMax})`);
      this.rows = capacity;
    }
    this.refreshViews();
  }

  /** Copies `vector` (`dimension` components) into `row`, normalised for cosine. `row` must be below capacity. */
  write(row: number, vector: Float32Array): void {
    this.f32.set(vector, this.engine.rowPtr(row) >>> 2);
    if (this.distance === "cosine") this.engine.normalizeRow(row);
  }

  /** A copy of the stored vector in `row`. */
  read(row: number): Float32Array {
    const start = this.engine.rowPtr(row) >>> 2;
    return this.f32.slice(start, start + this.rowFloats);
  }

  /** Copies row `from` over row `to`. */
  copyRow(from: number, to: number): void {
    const source = this.engine.rowPtr(from) >>> 2;
    this.f32.copyWithin(this.engine.rowPtr(to) >>> 2, source, source + this.rowFloats);
  }

  /**
   * Copies rows `start .. end-1` as contiguous little-endian float32 into `target` at byte
   * `targetOffset` (e.g. for a segment file).
   */
  copyRowsOut(start: number, end: number, target: Uint8Array, targetOffset = 0): void {
    const rowBytes = this.rowFloats * 4;
    const u8 = this.u8;
    for (let row = start; row < end; row++) {
      const from = this.engine.rowPtr(row);
      target.set(u8.subarray(from, from + rowBytes), targetOffset + (row - start) * rowBytes);
    }
  }

  /** Copies contiguous rows from `source` (whole rows of little-endian float32) into rows `start ..`, as stored (no normalising). */
  copyRowsIn(start: number, source: Uint8Array): void {
    const rowBytes = this.rowFloats * 4;
    const count = source.byteLength / rowBytes;
    this.ensureCapacity(start + count);
    const u8 = this.u8;
    for (let i = 0; i < count; i++) u8.set(source.subarray(i * rowBytes, (i + 1) * rowBytes), this.engine.rowPtr(start + i));
  }

  /** Copies `query` (`dimension` components) into the main thread's query scratch, normalised for cosine. */
  setQuery(query: Float32Array): void {
    this.f32.set(query, this.engine.slotQueryPtr(0) >>> 2);
    this.engine.prepareQuery(0);
  }

  /** Copies a stored row into the query scratch. */
  setQueryFromRow(row: number): void {
    const start = this.engine.rowPtr(row) >>> 2;
    this.f32.copyWithin(this.engine.slotQueryPtr(0) >>> 2, start, start + this.rowFloats);
  }

  /** Internal distance from the query scratch to `row`. */
  distanceToQuery(row: number): number {
    return this.engine.distanceToQuery(0, row);
  }

  /** Internal distance between two stored rows. */
  distanceBetween(a: number, b: number): number {
    return this.engine.distanceBetween(a, b);
  }

  /** The row ids {@link scoreBatch} reads: {@link batchRowsMax} u32 in the memory (a view that stays valid). */
  get batchIds(): Uint32Array {
    return this.ids;
  }

  /** The internal distances {@link scoreBatch} writes: {@link batchRowsMax} f32. */
  get batchDistances(): Float32Array {
    return this.out;
  }

  /** Scores rows `batchIds[0 .. count)` against the query scratch in one WebAssembly call (count ≤ {@link batchRowsMax}). */
  scoreBatch(count: number): void {
    this.engine.scoreBatch(0, count);
  }

  /** Scores rows `start .. start+count-1` against the query scratch into `batchDistances[0 .. count)`. */
  scoreRange(start: number, count: number): void {
    this.engine.scoreRange(0, start, count);
  }

  /** The memory as u32 words (a view valid until the store grows again; for the graph's own code). */
  get words(): Uint32Array {
    return this.u32;
  }

  /** The memory as float32 (see {@link words}). */
  get floats(): Float32Array {
    return this.f32;
  }

  /**
   * Re-creates the views after the memory grew (a shared memory's buffer is replaced by a longer one;
   * old views stay valid but do not cover the new pages). Called after every allocation.
   */
  refreshViews(): void {
    const buffer = this.memory.buffer;
    if (buffer.byteLength === this.viewBytes) return;
    this.viewBytes = buffer.byteLength;
    this.f32 = new Float32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.ids = new Uint32Array(buffer, this.engine.slotBatchIdsPtr(0), batchRowsMax);
    this.out = new Float32Array(buffer, this.engine.slotBatchDistancesPtr(0), batchRowsMax);
  }
}
