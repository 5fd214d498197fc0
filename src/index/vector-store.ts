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
  /**
   * Keep int8 scalar-quantization codes beside the graph (align16(dimension) + 16 bytes per node), so
   * that searches can walk the graph on them: see {@link VectorStore.trainQuantization}.
   */
  quantized?: boolean;
}

/**
 * The ranges of int8 scalar quantization, per dimension: component i of a row is coded as
 * round((x − offsets[i]) / scales[i]) in [−127, 127]. Each array has `dimension` entries.
 */
export interface QuantizationRange {
  scales: Float32Array;
  offsets: Float32Array;
}

/** Values sampled from the rows to find the quantization ranges (at least 1,000 per dimension). */
const quantizationSampleValues = 200_000;
const quantizationSampleRowsMin = 1_000;

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
  /** Bytes of int8 codes per row (0 without quantization). */
  readonly codeBytes: number;
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
  private range: QuantizationRange | undefined;
  /** Values coded and clipped since the range was set (for drift: see {@link clippedShare}). */
  private valuesCoded = 0;
  private valuesClipped = 0;

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
    const quantized = graph?.quantized ?? false;
    if (graph !== undefined) {
      if (!Number.isInteger(m) || m < 2 || m > 256) throw new RangeError(`m must be an integer in 2..256, got ${m}`);
      if (!Number.isInteger(efConstruction) || efConstruction < 1) throw new RangeError(`ef_construction must be a positive integer, got ${efConstruction}`);
      if (!Number.isInteger(threadSlots) || threadSlots < 1 || threadSlots > threadSlotsMax) {
        throw new RangeError(`threadSlots must be an integer in 1..${threadSlotsMax}, got ${threadSlots}`);
      }
      this.graph = Object.freeze({ m, efConstruction, threadSlots, quantized });
    }
    const codeBytes = quantized ? Math.ceil(dimension / 16) * 16 + 16 : 0;
    const recordBytes = m === 0 ? 4 : 16 + 8 * m;
    const blockBytes = quantized ? Math.ceil((codeBytes + recordBytes) / 64) * 64 : recordBytes;
    const nodeBytes = dimension * 4 + blockBytes + (m === 0 ? 0 : 1 + 2 * threadSlots);
    const chunkShift = Math.max(0, Math.floor(Math.log2(chunkBytesTarget / nodeBytes)));
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: pagesMax, shared: true });
    this.engine = instantiateEngine(this.memory, (id) => (this.acceptForSearch === undefined || this.acceptForSearch(id) ? 1 : 0));
    const kind = engineKind[distance];
    const failed = this.engine.init(dimension, kind, m, efConstruction, threadSlots, chunkShift, batchRowsMax, quantized ? 1 : 0);
    this.codeBytes = this.engine.codeBytesPerNode();
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

  /** Bytes of float32 rows the allocated chunks hold (capacity × 4 × dimension). */
  get rowBytesAllocated(): number {
    return this.rows * this.dimension * 4;
  }

  /** Bytes of int8 codes the allocated chunks hold (capacity × code bytes per row; 0 without quantization). */
  get codeBytesAllocated(): number {
    return this.rows * this.codeBytes;
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

  /**
   * Copies `vector` (`dimension` components) into `row`, normalised for cosine, and codes it when
   * quantization is trained. `row` must be below capacity.
   */
  write(row: number, vector: Float32Array): void {
    this.f32.set(vector, this.engine.rowPtr(row) >>> 2);
    if (this.distance === "cosine") this.engine.normalizeRow(row);
    if (this.range !== undefined) this.code(row, 1);
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
    if (this.range !== undefined) this.code(start, count);
  }

  /** The quantization range in use, or undefined when the store holds no codes (yet). */
  get quantization(): QuantizationRange | undefined {
    return this.range;
  }

  /** Values written and coded since the ranges were set (not counting the rows coded then). */
  get valuesCodedSinceTraining(): number {
    return this.valuesCoded;
  }

  /**
   * Share of the values written since the range was set that fell outside it and were clipped. With a
   * range from the `q` quantile about 1 − q is expected; much more means the data drifted.
   */
  get clippedShare(): number {
    return this.valuesCoded === 0 ? 0 : this.valuesClipped / this.valuesCoded;
  }

  /**
   * Finds the int8 quantization ranges of rows `0 .. rows-1` and codes them: per dimension, the range
   * spans the central `quantile` of that component's values in up to max(1,000, 200,000 / dimension)
   * rows sampled evenly (values beyond it are clipped), so x ≈ scale·c + offset with c in [−127, 127].
   * Qdrant's scalar quantization takes one range for all components; one per component keeps more
   * precision when components spread differently (measured on GloVe-100k: see the README).
   * @throws RangeError when the store has no room for codes (not laid out `quantized`), or quantile
   *   is outside (0, 1].
   */
  trainQuantization(rows: number, quantile: number): QuantizationRange {
    if (this.codeBytes === 0) throw new RangeError("the vector store is not laid out for quantization");
    if (!(quantile > 0 && quantile <= 1)) throw new RangeError(`quantile must be in (0, 1], got ${quantile}`);
    const { dimension } = this;
    const sampleRows = Math.max(1, Math.min(rows, Math.max(quantizationSampleRowsMin, Math.ceil(quantizationSampleValues / dimension))));
    const starts = Array.from({ length: sampleRows }, (_, i) => this.engine.rowPtr(Math.floor((i * rows) / sampleRows)) >>> 2);
    const column = new Float32Array(sampleRows);
    const scales = new Float32Array(dimension);
    const offsets = new Float32Array(dimension);
    const tail = ((1 - quantile) / 2) * sampleRows;
    for (let d = 0; d < dimension; d++) {
      for (let i = 0; i < sampleRows; i++) column[i] = this.f32[starts[i]! + d]!;
      column.sort();
      const low = column[Math.min(sampleRows - 1, Math.floor(tail))]!;
      const high = column[Math.max(0, Math.ceil(sampleRows - 1 - tail))]!;
      // A constant component still needs a positive scale.
      scales[d] = Math.max((high - low) / 254, 1e-12);
      offsets[d] = (high + low) / 2;
    }
    const range = { scales, offsets };
    this.setQuantization(range, rows);
    return range;
  }

  /** Sets the int8 quantization ranges (as trained before, e.g. read from a segment) and codes rows `0 .. rows-1`. */
  setQuantization(range: QuantizationRange, rows: number): void {
    if (this.codeBytes === 0) throw new RangeError("the vector store is not laid out for quantization");
    if (range.scales.length !== this.dimension || range.offsets.length !== this.dimension) {
      throw new RangeError(`quantization ranges have ${range.scales.length} and ${range.offsets.length} entries, the dimension is ${this.dimension}`);
    }
    const table = this.engine.quantizationTable();
    if (table === 0) throw new RangeError("the vector store's memory is full (4 GiB): no room for the quantization table");
    this.refreshViews();
    this.f32.set(range.scales, table >>> 2);
    this.f32.set(range.offsets, (table >>> 2) + this.dimension);
    this.range = { scales: Float32Array.from(range.scales), offsets: Float32Array.from(range.offsets) };
    this.code(0, rows);
    this.engine.setQuantizationReady(1);
    // Drift is measured on the vectors written from now on.
    this.valuesCoded = 0;
    this.valuesClipped = 0;
  }

  private code(start: number, count: number): void {
    this.valuesClipped += this.engine.encodeRows(start, count);
    this.valuesCoded += count * this.dimension;
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
