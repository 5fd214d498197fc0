import type { DistanceKind } from "./distance.js";
import { normalizeInPlace } from "./distance.js";
import { kernelsWasmBase64 } from "./wasm/kernels-binary.js";

/** Bytes of one WebAssembly memory page. */
const pageBytes = 65_536;
/** Most pages a 32-bit WebAssembly memory may have: 4 GiB. */
const pagesMax = 65_536;

/** Most rows one {@link VectorStore.scoreBatch} call scores. */
export const batchRowsMax = 1024;

interface KernelExports {
  l2Squared(a: number, b: number, n: number): number;
  dot(a: number, b: number, n: number): number;
  scoreRows(kind: number, q: number, rows: number, n: number, ids: number, count: number, out: number): void;
}

let compiledKernels: WebAssembly.Module | undefined;

/** The kernels module, compiled once per process (synchronously: it is under a kilobyte). */
function kernelsModule(): WebAssembly.Module {
  compiledKernels ??= new WebAssembly.Module(Buffer.from(kernelsWasmBase64, "base64"));
  return compiledKernels;
}

/**
 * A growable matrix of float32 vectors in a WebAssembly memory, scored by SIMD kernels
 * (src/index/wasm/kernels.wat: f32x4, four accumulators).
 *
 * Why WebAssembly: on this project's 2-core x86 machine a 128-d squared L2 costs about 400 ns in a
 * tuned JS loop (four accumulators) and about 36 ns in the f32x4 kernel, because V8 does not vectorise
 * JS loops. Measured with a 10,000×128 scan, 50 repetitions; the figures are in the HNSW closing note.
 *
 * Memory layout (byte offsets in the WebAssembly memory): `[0, queryBytes)` holds the current query
 * (one row, the scratch for {@link setQuery}); then {@link batchRowsMax} u32 row ids and as many f32
 * distances for {@link scoreBatch}; then row `r` at `[rowsOffset + r·4·dimension, … + 4·dimension)`,
 * little-endian float32, contiguous. For cosine, rows and queries are stored normalised to unit length.
 *
 * Internal distances are "lower is closer" (see distance.ts): euclidean → squared L2, cosine and dot →
 * `-dot`. Sums are accumulated in float32, so they can differ from a float64 sum in the last bits.
 *
 * Capacity grows by doubling, up to 4 GiB of rows (32-bit WebAssembly memory): `rowsMax` rows. Growing
 * detaches earlier views, so callers never keep a view across a write. No I/O.
 */
export class VectorStore {
  /** Components per vector. */
  readonly dimension: number;
  readonly distance: DistanceKind;
  /** Most rows this store can ever hold (4 GiB of memory, less the query scratch). */
  readonly rowsMax: number;
  /** Byte offset of the query scratch in the memory (always 0). */
  readonly queryOffset = 0;

  private readonly memory: WebAssembly.Memory;
  private readonly kernel: (a: number, b: number, n: number) => number;
  private readonly negate: boolean;
  private readonly scoreRows: KernelExports["scoreRows"];
  private readonly kindCode: number;
  private readonly rowBytes: number;
  private readonly idsOffset: number;
  private readonly outOffset: number;
  private readonly rowsOffset: number;
  private floats: Float32Array;
  private ids: Uint32Array;
  private out: Float32Array;
  private rows: number;

  /**
   * @param dimension components per vector, 1 or more.
   * @param distance how rows are compared and whether they are normalised (cosine).
   * @param initialCapacity rows allocated up front; by default as many as fit in 1 MiB (at least
   *   one), so an empty collection of a large dimension does not reserve hundreds of megabytes.
   * @throws RangeError for a dimension below 1.
   */
  constructor(dimension: number, distance: DistanceKind, initialCapacity?: number) {
    if (!Number.isInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be a positive integer, got ${dimension}`);
    this.dimension = dimension;
    this.distance = distance;
    this.rowBytes = dimension * 4;
    // The query scratch is rounded up to 16 bytes so that rows start on a SIMD-friendly boundary.
    this.idsOffset = Math.ceil(this.rowBytes / 16) * 16;
    this.outOffset = this.idsOffset + 4 * batchRowsMax;
    this.rowsOffset = this.outOffset + 4 * batchRowsMax;
    this.rowsMax = Math.floor((pagesMax * pageBytes - this.rowsOffset) / this.rowBytes);
    const rows = Math.max(1, Math.min(initialCapacity ?? Math.floor(1_048_576 / this.rowBytes), this.rowsMax));
    this.memory = new WebAssembly.Memory({ initial: this.pagesFor(rows), maximum: pagesMax });
    const exports = new WebAssembly.Instance(kernelsModule(), { env: { memory: this.memory } }).exports as unknown as KernelExports;
    this.kernel = distance === "euclidean" ? exports.l2Squared : exports.dot;
    this.scoreRows = exports.scoreRows;
    this.kindCode = distance === "euclidean" ? 0 : 1;
    this.negate = distance !== "euclidean";
    this.floats = new Float32Array(this.memory.buffer);
    this.ids = new Uint32Array(this.memory.buffer, this.idsOffset, batchRowsMax);
    this.out = new Float32Array(this.memory.buffer, this.outOffset, batchRowsMax);
    this.rows = this.rowsFor(this.memory.buffer.byteLength);
  }

  /** Rows that fit in the memory allocated now. */
  get capacity(): number {
    return this.rows;
  }

  /** Bytes of WebAssembly memory allocated (capacity, not use). */
  get allocatedBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Makes room for rows `0 .. rows-1`, growing the memory to at least double its size.
   * @throws RangeError when `rows` exceeds {@link rowsMax} (4 GiB of vectors).
   */
  ensureCapacity(rows: number): void {
    if (rows <= this.rows) return;
    if (rows > this.rowsMax) {
      throw new RangeError(`${rows} vectors of dimension ${this.dimension} exceed the 4 GiB vector store (at most ${this.rowsMax})`);
    }
    const currentPages = this.memory.buffer.byteLength / pageBytes;
    const wantedPages = Math.min(pagesMax, Math.max(this.pagesFor(rows), currentPages * 2));
    this.memory.grow(wantedPages - currentPages);
    this.floats = new Float32Array(this.memory.buffer);
    this.ids = new Uint32Array(this.memory.buffer, this.idsOffset, batchRowsMax);
    this.out = new Float32Array(this.memory.buffer, this.outOffset, batchRowsMax);
    this.rows = this.rowsFor(this.memory.buffer.byteLength);
  }

  /** Copies `vector` (`dimension` components) into `row`, normalised for cosine. `row` must be below capacity. */
  write(row: number, vector: Float32Array): void {
    const start = (this.rowsOffset >> 2) + row * this.dimension;
    const target = this.floats.subarray(start, start + this.dimension);
    target.set(vector);
    if (this.distance === "cosine") normalizeInPlace(target);
  }

  /** A copy of the stored vector in `row`. */
  read(row: number): Float32Array {
    const start = (this.rowsOffset >> 2) + row * this.dimension;
    return this.floats.slice(start, start + this.dimension);
  }

  /** Copies row `from` over row `to`. */
  copyRow(from: number, to: number): void {
    const base = this.rowsOffset >> 2;
    this.floats.copyWithin(base + to * this.dimension, base + from * this.dimension, base + (from + 1) * this.dimension);
  }

  /**
   * Rows `0 .. rows-1` as one contiguous little-endian float32 byte range (a view, valid until the
   * next write), e.g. for writing a segment file.
   */
  rowBytesView(rows: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.rowsOffset, rows * this.rowBytes);
  }

  /** Copies `query` (`dimension` components) into the query scratch, normalised for cosine. */
  setQuery(query: Float32Array): void {
    const target = this.floats.subarray(0, this.dimension);
    target.set(query);
    if (this.distance === "cosine") normalizeInPlace(target);
  }

  /** Copies a stored row into the query scratch (used while inserting that row into a graph). */
  setQueryFromRow(row: number): void {
    const start = (this.rowsOffset >> 2) + row * this.dimension;
    this.floats.copyWithin(0, start, start + this.dimension);
  }

  /** Internal distance from the query scratch to `row`. */
  distanceToQuery(row: number): number {
    const d = this.kernel(0, this.rowsOffset + row * this.rowBytes, this.dimension);
    return this.negate ? -d : d;
  }

  /**
   * The row ids {@link scoreBatch} reads: a view of {@link batchRowsMax} u32 in the memory. Valid
   * until the store grows, so fetch it again after {@link ensureCapacity}.
   */
  get batchIds(): Uint32Array {
    return this.ids;
  }

  /** The internal distances {@link scoreBatch} writes: {@link batchRowsMax} f32, valid until the store grows. */
  get batchDistances(): Float32Array {
    return this.out;
  }

  /**
   * Scores rows `batchIds[0 .. count)` against the query scratch in one WebAssembly call, writing
   * their internal distances to `batchDistances[0 .. count)`. One call per list instead of one per
   * row saves the JS-to-WebAssembly call overhead.
   * `count` must be at most {@link batchRowsMax}.
   */
  scoreBatch(count: number): void {
    this.scoreRows(this.kindCode, 0, this.rowsOffset, this.dimension, this.idsOffset, count, this.outOffset);
    if (this.negate) {
      const out = this.out;
      for (let i = 0; i < count; i++) out[i] = -out[i]!;
    }
  }

  /**
   * Like {@link scoreBatch}, but measures from stored row `row` instead of the query scratch (which
   * is left untouched): `batchDistances[i]` = distance(row, batchIds[i]).
   */
  scoreBatchFromRow(row: number, count: number): void {
    this.scoreRows(this.kindCode, this.rowsOffset + row * this.rowBytes, this.rowsOffset, this.dimension, this.idsOffset, count, this.outOffset);
    if (this.negate) {
      const out = this.out;
      for (let i = 0; i < count; i++) out[i] = -out[i]!;
    }
  }

  /** Internal distance between two stored rows. */
  distanceBetween(a: number, b: number): number {
    const d = this.kernel(this.rowsOffset + a * this.rowBytes, this.rowsOffset + b * this.rowBytes, this.dimension);
    return this.negate ? -d : d;
  }

  private pagesFor(rows: number): number {
    return Math.ceil((this.rowsOffset + rows * this.rowBytes) / pageBytes);
  }

  private rowsFor(bytes: number): number {
    return Math.min(this.rowsMax, Math.floor((bytes - this.rowsOffset) / this.rowBytes));
  }
}
