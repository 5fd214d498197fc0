// The vector engine in WebAssembly: distance kernels (f32x4 SIMD), the layout of vectors and HNSW
// nodes in one shared linear memory, the layer-0 beam search, and graph construction (insert,
// replace, neighbour-selection heuristic, orphan relinking) with per-node spin locks so that several
// threads can link nodes while another searches. Compiled by `npm run build:wasm`
// (scripts/build-wasm.mjs, AssemblyScript) into engine-binary.ts; the TypeScript side is
// src/index/engine-memory.ts, src/index/vector-store.ts and src/index/hnsw/hnsw-index.ts.
//
// The algorithm is HNSW after Malkov & Yashunin, "Efficient and robust approximate nearest neighbor
// search using Hierarchical Navigable Small World graphs" (arXiv:1603.09320): Algorithm 1 (insert),
// Algorithm 2 (layer search), Algorithm 4 (the neighbour-selection heuristic, without extending the
// candidates or keeping pruned ones, as in hnswlib). The concurrency follows hnswlib's: one lock per
// node's link lists, a global lock only for an insert that raises the top layer, and searches that
// read links without locks.
//
// Memory map (byte offsets; the memory is imported, shared, and grows only at its end, so nothing
// ever moves and every thread sees the same addresses):
//
//   [0, 1024)        reserved (AssemblyScript's static area; this module has no static data)
//   [1024, 3072)     header: the fields H_* below, then one scratch record per thread slot (S_*)
//   then             the chunk table (u32 base address per chunk), then bump-allocated blocks:
//                    chunks, per-thread scratch buffers and upper-layer link blocks.
//
// A chunk holds 2^chunkShift consecutive nodes (row ids):
//
//   [0, C)                         per node, 1 when DELETED or PENDING is set (a dense copy of those
//                                  flags, so a search checks a result without touching its record)
//   [tagsOffset, + T·C·2)          per thread slot, C u16 visited tags
//   [blocksOffset, + C·blockStride) one block per node, as in hnswlib's level-0 layout: the record,
//                                  u32 flags (bits below, level in bits 8..15), u32 layer-0
//                                  in-degree, u32 address of the upper-layer lists (0 = none), u32
//                                  layer-0 link count and m0 u32 links (metaStride bytes), then the
//                                  row: `dimension` little-endian f32 (cosine rows unit length). A
//                                  node's links sit beside its vector, so expanding a node that was
//                                  just scored finds its list in the cache.
//
// With int8 scalar quantization, the block holds the node's codes instead of its row (the codes are
// what a search reads), and the rows follow the blocks in a region of their own (rescoring reads a
// few of them):
//
//   [blocksOffset, + C·blockStride) the codes: align16(dimension) i8 (0 past the dimension), an f32
//                                  correction term, 12 bytes of padding; then the record; the block
//                                  rounded up to a multiple of 64 bytes, so the codes start a cache
//                                  line (measured on GloVe-100k: 20-40% more QPS than codes after an
//                                  unaligned record; aligning the float32 blocks gained nothing)
//   [rowsOffset, + C·rowBytes)     the rows
//
// Component i of a row is coded as c = round((x - o_i) / s_i) clipped to [-127, 127], with a scale
// s_i and offset o_i per dimension (the range of each dimension is a quantile of its values), so
// x ≈ s_i·c + o_i. A query q is not coded; its weights w_i are folded into int16 W_i = round(λ·w_i),
// and a distance is one integer dot product of W with the codes (i32x4.dot_i16x8_s):
//   euclidean: ‖q - x‖² ≈ Σ(q_i - o_i)² - 2·Σ w_i·c_i + Σ s_i²·c_i²,  w_i = (q_i - o_i)·s_i,
//              the last sum stored per node as its correction term;
//   dot:       q·x ≈ Σ w_i·c_i + Σ q_i·o_i,  w_i = q_i·s_i.
// λ is as large as int16 and an i32 sum over the dimension allow, so the query keeps about 15 bits.
//
// Upper-layer lists of a node with level L: L blocks of (1 + m) u32, `[count, id × m]`, for layers
// 1..L. Internal distances are "lower is closer": squared L2 for euclidean, -dot for cosine and dot.
//
// Ownership: the thread that called `init` (the JS main thread) owns allocation (chunks, scratch,
// upper blocks), the ASSIGNED / DELETED / PENDING flags and node levels; builder threads own links,
// PRESENT and in-degrees, under the locks. All flag changes are atomic read-modify-writes.

// ---- header fields (offsets from HEADER) ----
const HEADER: usize = 1024;
const H_MAGIC: usize = 0;
const H_DIMENSION: usize = 4;
const H_KIND: usize = 8;
const H_M: usize = 12;
const H_EF_CONSTRUCTION: usize = 16;
const H_CHUNK_SHIFT: usize = 20;
const H_META_STRIDE: usize = 24;
const H_TAGS_OFFSET: usize = 28;
const H_BLOCKS_OFFSET: usize = 32;
const H_CHUNK_BYTES: usize = 36;
const H_THREAD_SLOTS: usize = 40;
const H_CHUNK_TABLE: usize = 44;
const H_CHUNK_TABLE_CAPACITY: usize = 48;
const H_CHUNK_COUNT: usize = 52;
const H_HEAP_TOP: usize = 56;
const H_ENTRY: usize = 64; // u64: (top level + 1) << 32 | entry node; 0 = empty graph
const H_GLOBAL_LOCK: usize = 72;
const H_NODE_COUNT: usize = 76;
const H_PAUSE: usize = 80;
const H_ACTIVE: usize = 84;
const H_PAUSED: usize = 88;
const H_UPPER_BLOCK: usize = 92;
const H_UPPER_BLOCK_END: usize = 96;
const H_BATCH_ROWS: usize = 100;
const H_EXCLUDED_OFFSET: usize = 104;
const H_CODE_BYTES: usize = 108; // bytes of codes per node (0 = no quantization)
const H_ROWS_OFFSET: usize = 112; // with quantization: the rows' region in a chunk
const H_QUANT_TABLE: usize = 116; // address of f32 × dimension scales, then f32 × dimension offsets
const H_QUANT_BLOCK_STRIDE: usize = 120; // with quantization: bytes per block (codes + record, a multiple of 64)
const H_QUANT_READY: usize = 124; // 1 when every node's codes are encoded with the current range
const H_SLOTS: usize = 256; // thread slot records start here
const SLOT_RECORD_BYTES: usize = 128;
const THREAD_SLOTS_MAX: u32 = 15;
const HEADER_BYTES: usize = 4096;
const MAGIC: u32 = 0x45424456; // "VDBE"

// ---- thread slot record fields (offsets within a record) ----
const S_QUERY: usize = 0; // rowBytes: the query row
const S_RESULTS: usize = 4; // u64 × resultsCapacity: max-heap of results (inverted keys)
const S_RESULTS_CAPACITY: usize = 8;
const S_CANDIDATES: usize = 12; // u64 × candidatesCapacity · 3/2: min-heap of candidates + spill area
const S_CANDIDATES_CAPACITY: usize = 16;
const S_OUT_IDS: usize = 20; // u32 × resultsCapacity: results, ascending
const S_OUT_DISTANCES: usize = 24; // f32 × resultsCapacity
const S_BATCH_IDS: usize = 28; // u32 × batchRows
const S_BATCH_DISTANCES: usize = 32; // f32 × batchRows
const S_WORK: usize = 36; // u64 × workCapacity: candidate keys of a layer or a neighbourhood
const S_WORK_CAPACITY: usize = 40;
const S_HOOD: usize = 44; // u32 × workCapacity: a replaced node's neighbourhood
const S_CHOSEN: usize = 48; // u32 × (m0 + 1): the heuristic's output
const S_CONNECT: usize = 52; // u64 × (m0 + 1): a full list and the new link, being shrunk
const S_LAYER_LINKS: usize = 56; // u32 × 32 · (m + 1): a new node's chosen links per layer, `[count, id × m]`
const S_LIST_COPY: usize = 60; // u32 × m0: a list read under its node's lock
const S_ORPHANS: usize = 64; // u32 × orphansCapacity
const S_ORPHANS_CAPACITY: usize = 68;
const S_ORPHAN_COUNT: usize = 72;
const S_EPOCH: usize = 76;
const S_FRESH_IDS: usize = 80; // u32 × m0: a list's unvisited neighbours, about to be scored
const S_FRESH_DISTANCES: usize = 84; // f32 × m0: their distances
const S_QUERY_CODES: usize = 88; // i16 × align16(dimension): the query's weights W; then f32 1/λ, f32 the constant term

// ---- node flags ----
const F_PRESENT: u32 = 1; // linked into the graph (builder-owned)
const F_DELETED: u32 = 2; // tombstone: walked, never returned (main-owned)
const F_PENDING: u32 = 4; // vector written, (re)linking not finished: never returned by the graph (main-owned)
const F_ASSIGNED: u32 = 8; // level and upper blocks assigned (main-owned)
const F_LOCK: u32 = 16; // the node's link lists are being read or written by a builder
const LEVEL_SHIFT: u32 = 8;

// ---- node record fields (offsets within a record) ----
const N_FLAGS: usize = 0;
const N_IN_DEGREE: usize = 4;
const N_UPPER: usize = 8;
const N_COUNT: usize = 12;
const N_LINKS: usize = 16;

const NONE: u32 = 0xffffffff;
const PAGE: usize = 65536;
const PAGES_MAX: i32 = 65536;

/** Most candidates one step of searchLayer expands together (see there). */
const EXPANSIONS_MAX: u32 = 4;
const EXPAND_QUERY: u32 = 1;
const EXPAND_BUILD: u32 = 1;

// ---- search modes ----
const MODE_BUILD: i32 = 0; // every node is a result (construction)
const MODE_QUERY: i32 = 1; // only present nodes that are neither deleted nor pending
const MODE_FILTER: i32 = 2; // as MODE_QUERY, and the host's accept(id) must return nonzero

/** The host's filter, called for a node that would enter the results of a MODE_FILTER search. */
@external("env", "accept")
declare function hostAccept(id: u32): i32;

// ---- per-instance copies of the header (each thread instantiates the module once per memory) ----
let dimension: u32 = 0;
let rowBytes: usize = 0;
let kind: u32 = 0;
let m: u32 = 0;
let m0: u32 = 0;
let efConstruction: u32 = 0;
let chunkShift: u32 = 0;
let chunkMask: u32 = 0;
let metaStride: usize = 0;
let tagsOffset: usize = 0;
let excludedOffset: usize = 0;
let blocksOffset: usize = 0;
let blockStride: usize = 0;
/** Where a node's row is: the chunk's base + rowOffset + (id & mask)·rowStride. */
let rowOffset: usize = 0;
let rowStride: usize = 0;
/** Bytes of a node's codes (0 = no quantization) and of their i8 part (dimension rounded up to 16). */
let codeBytes: usize = 0;
let recordOffset: usize = 0;
let codeLength: usize = 0;
/** Sum of the bytes loaded to pull neighbours' blocks into the cache (kept so the loads stay). */
let touched: u32 = 0;
let chunkTable: usize = 0;
let threadSlots: u32 = 0;

@inline function h32(field: usize): u32 {
  return load<u32>(HEADER + field);
}

@inline function slotRecord(slot: u32): usize {
  return HEADER + H_SLOTS + <usize>slot * SLOT_RECORD_BYTES;
}

@inline function s32(slot: u32, field: usize): u32 {
  return load<u32>(slotRecord(slot) + field);
}

// ---- allocation (main thread only) ----

/** Bump-allocates `bytes` (rounded up to 64, at a 64-byte boundary: a cache line) at the end of the used memory, growing it; 0 on failure. */
function allocate(bytes: usize): usize {
  const top = (h32(H_HEAP_TOP) + 63) & ~(<u32>63);
  const size = (bytes + 63) & ~(<usize>63);
  const end = <u64>top + <u64>size;
  if (end > (<u64>PAGES_MAX) * <u64>PAGE) return 0;
  const have = <u64>memory.size() * <u64>PAGE;
  if (end > have) {
    const pages = <i32>((end - have + <u64>PAGE - 1) / <u64>PAGE);
    if (memory.grow(pages) < 0) return 0;
  }
  store<u32>(HEADER + H_HEAP_TOP, <u32>end);
  return top;
}

/**
 * Lays out a new engine in an empty memory: writes the header, allocates the chunk table and the
 * scratch of every thread slot (builder slots sized for ef_construction, slot 0 for `searchWidth`).
 * `m` = 0 makes a store without a graph. Returns 0, or a nonzero code when the memory cannot hold it.
 */
export function init(dim: u32, distanceKind: u32, links: u32, efc: u32, slots: u32, shift: u32, batchRows: u32, quantized: bool): i32 {
  if (slots < 1 || slots > THREAD_SLOTS_MAX) return 1;
  store<u32>(HEADER + H_MAGIC, MAGIC);
  store<u32>(HEADER + H_DIMENSION, dim);
  store<u32>(HEADER + H_KIND, distanceKind);
  store<u32>(HEADER + H_M, links);
  store<u32>(HEADER + H_EF_CONSTRUCTION, efc);
  store<u32>(HEADER + H_CHUNK_SHIFT, shift);
  const nodes: usize = <usize>1 << shift;
  const stride: usize = links == 0 ? 4 : N_LINKS + 8 * <usize>links;
  const excluded: usize = 0;
  const tags: usize = (excluded + (links == 0 ? 0 : nodes) + 15) & ~(<usize>15);
  const tagBytes: usize = links == 0 ? 0 : <usize>slots * nodes * 2;
  const blocks: usize = (tags + tagBytes + 63) & ~(<usize>63);
  const codes: usize = quantized ? ((<usize>dim + 15) & ~(<usize>15)) + 16 : 0;
  const quantizedBlock: usize = (codes + stride + 63) & ~(<usize>63);
  const rows: usize = quantized ? (blocks + nodes * quantizedBlock + 63) & ~(<usize>63) : 0;
  const chunkBytes: usize = quantized ? rows + nodes * <usize>dim * 4 : blocks + nodes * (stride + <usize>dim * 4);
  store<u32>(HEADER + H_QUANT_BLOCK_STRIDE, <u32>quantizedBlock);
  store<u32>(HEADER + H_CODE_BYTES, <u32>codes);
  store<u32>(HEADER + H_ROWS_OFFSET, <u32>rows);
  store<u32>(HEADER + H_META_STRIDE, <u32>stride);
  store<u32>(HEADER + H_TAGS_OFFSET, <u32>tags);
  store<u32>(HEADER + H_EXCLUDED_OFFSET, <u32>excluded);
  store<u32>(HEADER + H_BLOCKS_OFFSET, <u32>blocks);
  store<u32>(HEADER + H_CHUNK_BYTES, <u32>chunkBytes);
  store<u32>(HEADER + H_THREAD_SLOTS, slots);
  store<u32>(HEADER + H_BATCH_ROWS, batchRows);
  store<u32>(HEADER + H_HEAP_TOP, <u32>(HEADER + HEADER_BYTES));
  const tableCapacity = <u32>((<u64>PAGES_MAX * <u64>PAGE) / <u64>chunkBytes + 1);
  const table = allocate(<usize>tableCapacity * 4);
  if (table == 0) return 2;
  store<u32>(HEADER + H_CHUNK_TABLE, <u32>table);
  store<u32>(HEADER + H_CHUNK_TABLE_CAPACITY, tableCapacity);
  attach();
  for (let slot: u32 = 0; slot < slots; slot++) {
    if (!allocateScratch(slot, max<u32>(efc, 16))) return 3;
  }
  return 0;
}

/** Reads the header into this instance's globals; every thread calls it once after instantiating. */
export function attach(): void {
  dimension = h32(H_DIMENSION);
  rowBytes = <usize>dimension * 4;
  kind = h32(H_KIND);
  m = h32(H_M);
  m0 = 2 * m;
  efConstruction = h32(H_EF_CONSTRUCTION);
  chunkShift = h32(H_CHUNK_SHIFT);
  chunkMask = (<u32>1 << chunkShift) - 1;
  metaStride = h32(H_META_STRIDE);
  tagsOffset = h32(H_TAGS_OFFSET);
  excludedOffset = h32(H_EXCLUDED_OFFSET);
  blocksOffset = h32(H_BLOCKS_OFFSET);
  codeBytes = h32(H_CODE_BYTES);
  codeLength = codeBytes == 0 ? 0 : codeBytes - 16;
  if (codeBytes == 0) {
    blockStride = metaStride + rowBytes;
    rowOffset = blocksOffset + metaStride;
    rowStride = blockStride;
  } else {
    blockStride = h32(H_QUANT_BLOCK_STRIDE);
    recordOffset = codeBytes;
    rowOffset = h32(H_ROWS_OFFSET);
    rowStride = rowBytes;
  }
  chunkTable = h32(H_CHUNK_TABLE);
  threadSlots = h32(H_THREAD_SLOTS);
}

/**
 * (Re)allocates thread slot `slot`'s scratch for searches of width up to `width` (results kept).
 * The old buffers are abandoned (the bump allocator never frees); callers grow by doubling.
 */
function allocateScratch(slot: u32, width: u32): bool {
  const record = slotRecord(slot);
  const candidates: u32 = max<u32>(1024, 8 * width);
  const batchRows = h32(H_BATCH_ROWS);
  const work: u32 = max<u32>(1 + m0 + m0 * m0, max<u32>(efConstruction, m0 + 1));
  const orphans: u32 = 4 * (m0 + 1) * (m + 2) + 64;
  let query = s32(slot, S_QUERY);
  if (query == 0) {
    const links = <usize>m0 + 1;
    query = <u32>allocate(rowBytes);
    const batchIds = allocate(<usize>batchRows * 4);
    const batchDistances = allocate(<usize>batchRows * 4);
    const workArea = allocate(<usize>work * 8);
    const hood = allocate(<usize>work * 4);
    const chosen = allocate(links * 4);
    const connectArea = allocate(links * 8);
    const layerLinks = allocate(32 * (<usize>m + 1) * 4);
    const listCopy = allocate(links * 4 * EXPANSIONS_MAX);
    const orphanArea = allocate(<usize>orphans * 4);
    const freshIds = allocate(links * 4 * EXPANSIONS_MAX);
    const freshDistances = allocate(links * 4 * EXPANSIONS_MAX);
    const queryCodes = allocate(codeLength * 2 + 16);
    if (freshIds == 0 || freshDistances == 0 || queryCodes == 0) return false;
    store<u32>(record + S_QUERY_CODES, <u32>queryCodes);
    store<u32>(record + S_FRESH_IDS, <u32>freshIds);
    store<u32>(record + S_FRESH_DISTANCES, <u32>freshDistances);
    if (query == 0 || batchIds == 0 || batchDistances == 0 || workArea == 0 || hood == 0 || chosen == 0) return false;
    if (connectArea == 0 || layerLinks == 0 || listCopy == 0 || orphanArea == 0) return false;
    store<u32>(record + S_QUERY, query);
    store<u32>(record + S_BATCH_IDS, <u32>batchIds);
    store<u32>(record + S_BATCH_DISTANCES, <u32>batchDistances);
    store<u32>(record + S_WORK, <u32>workArea);
    store<u32>(record + S_WORK_CAPACITY, work);
    store<u32>(record + S_HOOD, <u32>hood);
    store<u32>(record + S_CHOSEN, <u32>chosen);
    store<u32>(record + S_CONNECT, <u32>connectArea);
    store<u32>(record + S_LAYER_LINKS, <u32>layerLinks);
    store<u32>(record + S_LIST_COPY, <u32>listCopy);
    store<u32>(record + S_ORPHANS, <u32>orphanArea);
    store<u32>(record + S_ORPHANS_CAPACITY, orphans);
  }
  // One more than the width: a result is pushed before the farthest is popped.
  const results = allocate((<usize>width + 1) * 8);
  const candidateArea = allocate(<usize>candidates * 12);
  const outIds = allocate(<usize>width * 4);
  const outDistances = allocate(<usize>width * 4);
  if (results == 0 || candidateArea == 0 || outIds == 0 || outDistances == 0) return false;
  store<u32>(record + S_RESULTS, <u32>results);
  store<u32>(record + S_RESULTS_CAPACITY, width);
  store<u32>(record + S_CANDIDATES, <u32>candidateArea);
  store<u32>(record + S_CANDIDATES_CAPACITY, candidates);
  store<u32>(record + S_OUT_IDS, <u32>outIds);
  store<u32>(record + S_OUT_DISTANCES, <u32>outDistances);
  return true;
}

/** The search width slot `slot`'s scratch holds now. */
export function slotWidth(slot: u32): u32 {
  return s32(slot, S_RESULTS_CAPACITY);
}

/** Makes slot `slot` able to search with width `width`; false when the memory is full. */
export function ensureScratch(slot: u32, width: u32): bool {
  const have = s32(slot, S_RESULTS_CAPACITY);
  if (width <= have) return true;
  let wanted = max<u32>(have, 16);
  while (wanted < width) wanted *= 2;
  return allocateScratch(slot, wanted);
}

/** Appends one chunk of 2^chunkShift nodes; returns the node capacity after, or 0 when memory is full. */
export function addChunk(): u32 {
  const count = h32(H_CHUNK_COUNT);
  if (count >= h32(H_CHUNK_TABLE_CAPACITY)) return 0;
  const base = allocate(h32(H_CHUNK_BYTES));
  if (base == 0) return 0;
  store<u32>(chunkTable + <usize>count * 4, <u32>base);
  atomic.store<u32>(HEADER + H_CHUNK_COUNT, count + 1);
  return (count + 1) << chunkShift;
}

/** Nodes (rows) the allocated chunks hold. */
export function capacity(): u32 {
  return atomic.load<u32>(HEADER + H_CHUNK_COUNT) << chunkShift;
}

/** Nodes the memory could ever hold: chunks that fit in 4 GiB beside what is allocated now. */
export function capacityMax(): u32 {
  const free = <u64>PAGES_MAX * <u64>PAGE - <u64>h32(H_HEAP_TOP);
  const chunks = <u64>h32(H_CHUNK_COUNT) + free / <u64>h32(H_CHUNK_BYTES);
  const limited = min<u64>(chunks, <u64>h32(H_CHUNK_TABLE_CAPACITY));
  return <u32>min<u64>(limited << <u64>chunkShift, 0xfffffffe);
}

@inline function chunkBase(id: u32): usize {
  return load<u32>(chunkTable + (<usize>(id >> chunkShift) << 2));
}

/** Address of row `id`'s vector. */
export function rowPtr(id: u32): usize {
  return chunkBase(id) + rowOffset + <usize>(id & chunkMask) * rowStride;
}

/** Address of node `id`'s codes (with quantization). */
@inline function codePtr(id: u32): usize {
  return chunkBase(id) + blocksOffset + <usize>(id & chunkMask) * blockStride;
}

@inline function nodePtr(id: u32): usize {
  return chunkBase(id) + blocksOffset + <usize>(id & chunkMask) * blockStride + recordOffset;
}

@inline function tagPtr(id: u32, slot: u32): usize {
  return chunkBase(id) + tagsOffset + ((<usize>slot << chunkShift) + <usize>(id & chunkMask)) * 2;
}

@inline function excludedPtr(id: u32): usize {
  return chunkBase(id) + excludedOffset + <usize>(id & chunkMask);
}

/** Address of node `id`'s record (flags, in-degree, upper lists, layer-0 list). */
export function nodeRecordPtr(id: u32): usize {
  return nodePtr(id);
}

export function slotQueryPtr(slot: u32): usize {
  return s32(slot, S_QUERY);
}
export function slotOutIdsPtr(slot: u32): usize {
  return s32(slot, S_OUT_IDS);
}
export function slotOutDistancesPtr(slot: u32): usize {
  return s32(slot, S_OUT_DISTANCES);
}
export function slotBatchIdsPtr(slot: u32): usize {
  return s32(slot, S_BATCH_IDS);
}
export function slotBatchDistancesPtr(slot: u32): usize {
  return s32(slot, S_BATCH_DISTANCES);
}
/** Address of a header field, for the host's Atomics (pause protocol, counters). */
export function headerPtr(): usize {
  return HEADER;
}
/** See {@link touched}; exported so that the loads feeding it are kept by the optimiser. */
export function touchedBytes(): u32 {
  return touched;
}

/** Bytes from one node's block to the next within a chunk (record + row). */
export function blockStrideBytes(): u32 {
  return <u32>blockStride;
}
export function chunkNodes(): u32 {
  return <u32>1 << chunkShift;
}
export function allocatedTop(): u32 {
  return h32(H_HEAP_TOP);
}

// ---- distance kernels ----

/** Squared Euclidean distance of `n` f32 at `a` and `b`: 16 lanes per step in four accumulators. */
export function l2Squared(a: usize, b: usize, n: u32): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let acc2 = f32x4.splat(0);
  let acc3 = f32x4.splat(0);
  const end = a + (<usize>n << 2);
  const end16 = a + (<usize>(n & ~15) << 2);
  const end4 = a + (<usize>(n & ~3) << 2);
  while (a < end16) {
    const d0 = f32x4.sub(v128.load(a), v128.load(b));
    const d1 = f32x4.sub(v128.load(a, 16), v128.load(b, 16));
    const d2 = f32x4.sub(v128.load(a, 32), v128.load(b, 32));
    const d3 = f32x4.sub(v128.load(a, 48), v128.load(b, 48));
    acc0 = f32x4.add(acc0, f32x4.mul(d0, d0));
    acc1 = f32x4.add(acc1, f32x4.mul(d1, d1));
    acc2 = f32x4.add(acc2, f32x4.mul(d2, d2));
    acc3 = f32x4.add(acc3, f32x4.mul(d3, d3));
    a += 64;
    b += 64;
  }
  while (a < end4) {
    const d = f32x4.sub(v128.load(a), v128.load(b));
    acc0 = f32x4.add(acc0, f32x4.mul(d, d));
    a += 16;
    b += 16;
  }
  acc0 = f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3));
  let sum = f32x4.extract_lane(acc0, 0) + f32x4.extract_lane(acc0, 1) + (f32x4.extract_lane(acc0, 2) + f32x4.extract_lane(acc0, 3));
  while (a < end) {
    const x = load<f32>(a) - load<f32>(b);
    sum += x * x;
    a += 4;
    b += 4;
  }
  return sum;
}

/** Dot product of `n` f32 at `a` and `b` (same scheme as {@link l2Squared}). */
export function dot(a: usize, b: usize, n: u32): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let acc2 = f32x4.splat(0);
  let acc3 = f32x4.splat(0);
  const end = a + (<usize>n << 2);
  const end16 = a + (<usize>(n & ~15) << 2);
  const end4 = a + (<usize>(n & ~3) << 2);
  while (a < end16) {
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a), v128.load(b)));
    acc1 = f32x4.add(acc1, f32x4.mul(v128.load(a, 16), v128.load(b, 16)));
    acc2 = f32x4.add(acc2, f32x4.mul(v128.load(a, 32), v128.load(b, 32)));
    acc3 = f32x4.add(acc3, f32x4.mul(v128.load(a, 48), v128.load(b, 48)));
    a += 64;
    b += 64;
  }
  while (a < end4) {
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a), v128.load(b)));
    a += 16;
    b += 16;
  }
  acc0 = f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3));
  let sum = f32x4.extract_lane(acc0, 0) + f32x4.extract_lane(acc0, 1) + (f32x4.extract_lane(acc0, 2) + f32x4.extract_lane(acc0, 3));
  while (a < end) {
    sum += load<f32>(a) * load<f32>(b);
    a += 4;
    b += 4;
  }
  return sum;
}

/** Internal distance between the rows at `a` and `b`: squared L2, or -dot. */
@inline function distance(a: usize, b: usize): f32 {
  return kind == 0 ? l2Squared(a, b, dimension) : -dot(a, b, dimension);
}

/** Internal distance from slot `slot`'s query to row `id`. */
export function distanceToQuery(slot: u32, id: u32): f32 {
  return distance(s32(slot, S_QUERY), rowPtr(id));
}

/** Internal distance between rows `a` and `b`. */
export function distanceBetween(a: u32, b: u32): f32 {
  return distance(rowPtr(a), rowPtr(b));
}

/** Scales the row at `p` to unit length (a zero row stays zero). */
function normalizeAt(p: usize): void {
  const squared = dot(p, p, dimension);
  if (squared <= 0) return;
  const inverse = f32x4.splat(<f32>(1.0 / Math.sqrt(<f64>squared)));
  const scalar = <f32>(1.0 / Math.sqrt(<f64>squared));
  const end = p + rowBytes;
  const end4 = p + (<usize>(dimension & ~3) << 2);
  while (p < end4) {
    v128.store(p, f32x4.mul(v128.load(p), inverse));
    p += 16;
  }
  while (p < end) {
    store<f32>(p, load<f32>(p) * scalar);
    p += 4;
  }
}

/** Normalises row `id` (cosine rows are stored unit length). */
export function normalizeRow(id: u32): void {
  normalizeAt(rowPtr(id));
}

/** Normalises slot `slot`'s query when the distance is cosine (kind 2). */
export function prepareQuery(slot: u32): void {
  if (kind == 2) normalizeAt(s32(slot, S_QUERY));
}

/** Copies row `id` into slot `slot`'s query. */
function setQueryFromRow(slot: u32, id: u32): void {
  memory.copy(s32(slot, S_QUERY), rowPtr(id), rowBytes);
}

/**
 * Scores rows `ids[0 .. count)` (u32 at the slot's batch ids) against the slot's query into the
 * slot's batch distances (f32, internal distances).
 */
export function scoreBatch(slot: u32, count: u32): void {
  const query = <usize>s32(slot, S_QUERY);
  const ids = <usize>s32(slot, S_BATCH_IDS);
  const out = <usize>s32(slot, S_BATCH_DISTANCES);
  for (let i: u32 = 0; i < count; i++) {
    store<f32>(out + (<usize>i << 2), distance(query, rowPtr(load<u32>(ids + (<usize>i << 2)))));
  }
}

/** Scores rows `start .. start + count - 1` against the slot's query into the slot's batch distances. */
export function scoreRange(slot: u32, start: u32, count: u32): void {
  const query = <usize>s32(slot, S_QUERY);
  const out = <usize>s32(slot, S_BATCH_DISTANCES);
  let i: u32 = 0;
  while (i < count) {
    const id = start + i;
    // Rows are evenly spaced within a chunk.
    const run = min<u32>(count - i, ((id | chunkMask) + 1) - id);
    let row = rowPtr(id);
    for (let j: u32 = 0; j < run; j++) {
      store<f32>(out + (<usize>(i + j) << 2), distance(query, row));
      row += rowStride;
    }
    i += run;
  }
}

// ---- int8 scalar quantization ----

/** Bytes of a node's codes (0 without quantization). */
export function codeBytesPerNode(): u32 {
  return <u32>codeBytes;
}

/**
 * Main thread: the address of the quantization table, f32 × dimension scales then f32 × dimension
 * offsets (allocated on first use; 0 when the memory is full), and marks the codes not ready: fill it,
 * encode every node ({@link encodeRows}), then {@link setQuantizationReady}.
 */
export function quantizationTable(): usize {
  atomic.store<u32>(HEADER + H_QUANT_READY, 0);
  let table = <usize>h32(H_QUANT_TABLE);
  if (table == 0) {
    table = allocate(rowBytes * 2);
    store<u32>(HEADER + H_QUANT_TABLE, <u32>table);
  }
  return table;
}

export function setQuantizationReady(ready: bool): void {
  atomic.store<u32>(HEADER + H_QUANT_READY, ready ? 1 : 0);
}

export function quantizationReady(): bool {
  return codeBytes != 0 && atomic.load<u32>(HEADER + H_QUANT_READY) != 0;
}

/**
 * Writes the codes of the f32 values at `source` to `target` (align16(dimension) i8, zero padded,
 * then the f32 correction term: Σ s_i²·c_i² for euclidean); returns how many values were clipped.
 */
function encodeAt(source: usize, target: usize): u32 {
  const table = <usize>h32(H_QUANT_TABLE);
  let correction: f32 = 0;
  let clipped: u32 = 0;
  for (let i: usize = 0; i < <usize>dimension; i++) {
    const scale = load<f32>(table + (i << 2));
    let code = <i32>nearest<f32>((load<f32>(source + (i << 2)) - load<f32>(table + rowBytes + (i << 2))) / scale);
    if (code > 127) {
      code = 127;
      clipped++;
    } else if (code < -127) {
      code = -127;
      clipped++;
    }
    store<i8>(target + i, <i8>code);
    const term = scale * <f32>code;
    correction += term * term;
  }
  for (let i = <usize>dimension; i < codeLength; i++) store<i8>(target + i, 0);
  store<f32>(target + codeLength, kind == 0 ? correction : 0);
  return clipped;
}

/** Main thread: encodes rows `start .. start+count-1` into their nodes' codes; returns the values clipped. */
export function encodeRows(start: u32, count: u32): u32 {
  let clipped: u32 = 0;
  for (let id = start; id < start + count; id++) clipped += encodeAt(rowPtr(id), codePtr(id));
  return clipped;
}

/**
 * Folds slot `slot`'s query (prepared) into int16 weights W = round(λ·w), then 1/λ and the constant
 * term (see the memory map), in the slot's query codes.
 */
function quantizeQuery(slot: u32): void {
  const query = <usize>s32(slot, S_QUERY);
  const target = <usize>s32(slot, S_QUERY_CODES);
  const table = <usize>h32(H_QUANT_TABLE);
  let constant: f32 = 0;
  let largest: f32 = 0;
  for (let i: usize = 0; i < <usize>dimension; i++) {
    const q = load<f32>(query + (i << 2));
    const offset = load<f32>(table + rowBytes + (i << 2));
    const scale = load<f32>(table + (i << 2));
    let weight: f32;
    if (kind == 0) {
      const centred = q - offset;
      constant += centred * centred;
      weight = centred * scale;
    } else {
      constant += q * offset;
      weight = q * scale;
    }
    largest = max<f32>(largest, abs<f32>(weight));
  }
  // |W| ≤ limit keeps Σ W·c within an i32 for any dimension: limit · 127 · codeLength < 2^31.
  const limit = min<f32>(32767, <f32>Math.floor(2147483647.0 / (127.0 * <f64>codeLength)));
  const lambda: f32 = largest > 0 ? limit / largest : 1;
  for (let i: usize = 0; i < codeLength; i++) {
    let weight: f32 = 0;
    if (i < <usize>dimension) {
      const q = load<f32>(query + (i << 2));
      const offset = load<f32>(table + rowBytes + (i << 2));
      weight = (kind == 0 ? q - offset : q) * load<f32>(table + (i << 2));
    }
    store<i16>(target + (i << 1), <i16>nearest<f32>(weight * lambda));
  }
  store<f32>(target + (codeLength << 1), <f32>1.0 / lambda);
  store<f32>(target + (codeLength << 1) + 4, constant);
}

/**
 * Approximate internal distance from a query's weights `p` (see quantizeQuery) to a node's codes `c`:
 * squared L2, or −dot, from one integer dot product (i32x4.dot_i16x8_s over the widened codes).
 */
@inline function codeDistance(p: usize, c: usize): f32 {
  let acc0 = i32x4.splat(0);
  let acc1 = i32x4.splat(0);
  for (let i: usize = 0; i < codeLength; i += 16) {
    const codes = v128.load(c + i);
    acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(v128.load(p + (i << 1)), i16x8.extend_low_i8x16_s(codes)));
    acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(v128.load(p + (i << 1) + 16), i16x8.extend_high_i8x16_s(codes)));
  }
  acc0 = i32x4.add(acc0, acc1);
  const products = <f32>(i32x4.extract_lane(acc0, 0) + i32x4.extract_lane(acc0, 1) + i32x4.extract_lane(acc0, 2) + i32x4.extract_lane(acc0, 3));
  const dot = products * load<f32>(p + (codeLength << 1));
  const constant = load<f32>(p + (codeLength << 1) + 4);
  if (kind == 0) return constant - 2 * dot + load<f32>(c + codeLength);
  return -(dot + constant);
}

/**
 * Replaces the distances of slot `slot`'s first `count` results by exact float32 ones, measured from
 * its query, and sorts them ascending (rescoring after a quantized search).
 */
export function rescore(slot: u32, count: u32): void {
  const record = slotRecord(slot);
  const query = <usize>load<u32>(record + S_QUERY);
  const ids = <usize>load<u32>(record + S_OUT_IDS);
  const distances = <usize>load<u32>(record + S_OUT_DISTANCES);
  // The result heap holds as many keys as the output: sort there.
  const keys = <usize>load<u32>(record + S_RESULTS);
  for (let i: u32 = 0; i < count; i++) {
    const id = load<u32>(ids + (<usize>i << 2));
    store<u64>(keys + (<usize>i << 3), keyOf(distance(query, rowPtr(id)), id));
  }
  heapSortKeys(keys, count);
  for (let i: u32 = 0; i < count; i++) {
    const key = load<u64>(keys + (<usize>i << 3));
    store<u32>(ids + (<usize>i << 2), idOfKey(key));
    store<f32>(distances + (<usize>i << 2), distanceOfKey(key));
  }
}

// ---- keys: a distance and a node id packed into one u64 that orders by (distance, id) ----

@inline function keyOf(d: f32, id: u32): u64 {
  let bits = reinterpret<u32>(d);
  bits = (bits & 0x80000000) != 0 ? ~bits : bits | 0x80000000;
  return (<u64>bits << 32) | <u64>id;
}

@inline function distanceOfKey(key: u64): f32 {
  let bits = <u32>(key >> 32);
  bits = (bits & 0x80000000) != 0 ? bits & 0x7fffffff : ~bits;
  return reinterpret<f32>(bits);
}

@inline function idOfKey(key: u64): u32 {
  return <u32>key;
}

// ---- binary min-heap of u64 keys at `heap` with `size` entries ----

@inline function heapPush(heap: usize, size: u32, key: u64): void {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const above = load<u64>(heap + (<usize>parent << 3));
    if (above <= key) break;
    store<u64>(heap + (<usize>i << 3), above);
    i = parent;
  }
  store<u64>(heap + (<usize>i << 3), key);
}

/** Removes the root of a heap of `size` entries (size ≥ 1). */
@inline function heapPop(heap: usize, size: u32): void {
  const last = size - 1;
  const key = load<u64>(heap + (<usize>last << 3));
  let i: u32 = 0;
  while (true) {
    let child: u32 = 2 * i + 1;
    if (child >= last) break;
    let childKey = load<u64>(heap + (<usize>child << 3));
    if (child + 1 < last) {
      const right = load<u64>(heap + (<usize>(child + 1) << 3));
      if (right < childKey) {
        child++;
        childKey = right;
      }
    }
    if (key <= childKey) break;
    store<u64>(heap + (<usize>i << 3), childKey);
    i = child;
  }
  if (last > 0) store<u64>(heap + (<usize>i << 3), key);
}

/** Sorts `n` u64 keys at `p` ascending (insertion sort: n is at most a few dozen here). */
function sortKeys(p: usize, n: u32): void {
  for (let i: u32 = 1; i < n; i++) {
    const key = load<u64>(p + (<usize>i << 3));
    let j = i;
    while (j > 0) {
      const before = load<u64>(p + (<usize>(j - 1) << 3));
      if (before <= key) break;
      store<u64>(p + (<usize>j << 3), before);
      j--;
    }
    store<u64>(p + (<usize>j << 3), key);
  }
}

/** Sorts `n` keys at `p` ascending in place with a heap (for the large neighbourhoods of replace). */
function heapSortKeys(p: usize, n: u32): void {
  if (n < 32) {
    sortKeys(p, n);
    return;
  }
  // Build a max-heap by pushing inverted keys into a min-heap in place, then pop into the tail.
  for (let i: u32 = 0; i < n; i++) store<u64>(p + (<usize>i << 3), ~load<u64>(p + (<usize>i << 3)));
  for (let i: u32 = 1; i < n; i++) {
    const key = load<u64>(p + (<usize>i << 3));
    heapPush(p, i, key);
  }
  for (let size = n; size > 0; size--) {
    const top = load<u64>(p);
    heapPop(p, size);
    store<u64>(p + (<usize>(size - 1) << 3), ~top);
  }
}

// ---- nodes ----

@inline function flagsOf(id: u32): u32 {
  return atomic.load<u32>(nodePtr(id) + N_FLAGS);
}

@inline function levelOf(id: u32): u32 {
  return (load<u32>(nodePtr(id) + N_FLAGS) >> LEVEL_SHIFT) & 0xff;
}

/** Address of node `id`'s list on `layer`: `[count, id × (m0 or m)]`. */
@inline function listPtr(id: u32, layer: u32): usize {
  const node = nodePtr(id);
  if (layer == 0) return node + N_COUNT;
  return <usize>load<u32>(node + N_UPPER) + <usize>(layer - 1) * (<usize>(m + 1) << 2);
}

function lockNode(id: u32): void {
  const p = nodePtr(id) + N_FLAGS;
  while (true) {
    const old = atomic.load<u32>(p);
    if ((old & F_LOCK) == 0 && atomic.cmpxchg<u32>(p, old, old | F_LOCK) == old) return;
  }
}

@inline function unlockNode(id: u32): void {
  atomic.and<u32>(nodePtr(id) + N_FLAGS, ~F_LOCK);
}

function lockGlobal(): void {
  while (atomic.cmpxchg<u32>(HEADER + H_GLOBAL_LOCK, 0, 1) != 0) {}
}

function unlockGlobal(): void {
  atomic.store<u32>(HEADER + H_GLOBAL_LOCK, 0);
}

/** (top level + 1) << 32 | entry node, or 0 for an empty graph. */
@inline function loadEntry(): u64 {
  return atomic.load<u64>(HEADER + H_ENTRY);
}

export function entryPoint(): i32 {
  const entry = loadEntry();
  return entry == 0 ? -1 : <i32>(<u32>entry);
}

export function topLevel(): i32 {
  return <i32>(<u32>(loadEntry() >> 32)) - 1;
}

export function nodeCount(): u32 {
  return atomic.load<u32>(HEADER + H_NODE_COUNT);
}

/**
 * Main thread: gives node `id` its level and zeroed upper-layer blocks, once per row for the life of
 * the memory (a reused row keeps its level, as hnswlib's updatePoint does). Returns false when the
 * memory is full.
 */
export function assignNode(id: u32, level: u32): bool {
  const node = nodePtr(id);
  const flags = atomic.load<u32>(node + N_FLAGS);
  if ((flags & F_ASSIGNED) != 0) return true;
  if (level > 0) {
    const bytes = <usize>level * (<usize>(m + 1) << 2);
    let block = h32(H_UPPER_BLOCK);
    let end = h32(H_UPPER_BLOCK_END);
    if (<usize>block + bytes > <usize>end) {
      const size = max<usize>(65536, bytes);
      const fresh = allocate(size);
      if (fresh == 0) return false;
      block = <u32>fresh;
      end = <u32>(fresh + size);
      store<u32>(HEADER + H_UPPER_BLOCK_END, end);
    }
    store<u32>(node + N_UPPER, block);
    store<u32>(HEADER + H_UPPER_BLOCK, block + <u32>bytes);
  }
  atomic.or<u32>(node + N_FLAGS, F_ASSIGNED | (level << LEVEL_SHIFT));
  return true;
}

/** Main thread: sets flag bits `set` and clears `clear` on node `id` (DELETED, PENDING). */
export function updateFlags(id: u32, set: u32, clear: u32): void {
  const p = nodePtr(id) + N_FLAGS;
  if (clear != 0) atomic.and<u32>(p, ~clear);
  const flags = set != 0 ? atomic.or<u32>(p, set) | set : atomic.load<u32>(p);
  if (m != 0) store<u8>(excludedPtr(id), (flags & (F_DELETED | F_PENDING)) != 0 ? 1 : 0);
}

export function flags(id: u32): u32 {
  return flagsOf(id) & ~F_LOCK;
}

// ---- search ----

/** Next visited-tag epoch of a slot; on wrap-around every tag of the slot is cleared. */
function nextEpoch(slot: u32): u32 {
  const record = slotRecord(slot);
  let epoch = (load<u32>(record + S_EPOCH) + 1) & 0xffff;
  if (epoch == 0) {
    const chunks = atomic.load<u32>(HEADER + H_CHUNK_COUNT);
    const bytes = <usize>2 << chunkShift;
    for (let c: u32 = 0; c < chunks; c++) {
      memory.fill(<usize>load<u32>(chunkTable + (<usize>c << 2)) + tagsOffset + (<usize>slot << chunkShift) * 2, 0, bytes);
    }
    epoch = 1;
  }
  store<u32>(record + S_EPOCH, epoch);
  return epoch;
}

@inline function isResult(id: u32, mode: i32): bool {
  if (mode == MODE_BUILD) return true;
  // A node reached through links is present; only the dense excluded byte needs reading.
  if (load<u8>(excludedPtr(id)) != 0) return false;
  return mode == MODE_QUERY || hostAccept(id) != 0;
}

/**
 * Greedy search with ef = 1 on one layer from `entry` (Algorithm 2 with ef = 1): moves to the closest
 * neighbour while that lowers the distance. Returns the key of the closest node found. Each step
 * strictly lowers the distance, so it ends; `steps` bounds it anyway.
 */
function greedyClosest(slot: u32, entryKey: u64, layer: u32, locked: bool, quantized: bool): u64 {
  const query = s32(slot, S_QUERY);
  const queryCodes = <usize>s32(slot, S_QUERY_CODES);
  let best = entryKey;
  const steps = nodeCount() + 1;
  for (let step: u32 = 0; step < steps; step++) {
    const current = idOfKey(best);
    let moved = false;
    if (locked) lockNode(current);
    const list = listPtr(current, layer);
    const n = min<u32>(load<u32>(list), m);
    for (let i: u32 = 0; i < n; i++) {
      const other = load<u32>(list + 4 + (<usize>i << 2));
      const key = keyOf(quantized ? codeDistance(queryCodes, codePtr(other)) : distance(query, rowPtr(other)), other);
      if (key < best) {
        best = key;
        moved = true;
      }
    }
    if (locked) unlockNode(current);
    if (!moved) break;
  }
  return best;
}

/**
 * Algorithm 2: beam search of width `ef` on `layer` from `entryKey`, measured from the slot's query.
 * Leaves the results in the slot's result heap (inverted keys: the root is the farthest kept) and
 * returns how many. Rejected nodes (see {@link isResult}) are walked but not kept; the walk goes on
 * until `ef` results are held and no candidate is closer than the farthest, or nothing is left.
 * With `locked`, each list is read under its node's lock (construction); searches read without.
 * The candidate heap is bounded: when full, its better half is kept.
 */
@inline function searchLayer(slot: u32, entryKey: u64, ef: u32, layer: u32, mode: i32, locked: bool, quantized: bool, expansions: u32): u32 {
  const record = slotRecord(slot);
  const query = load<u32>(record + S_QUERY);
  const queryCodes = <usize>load<u32>(record + S_QUERY_CODES);
  const results = <usize>load<u32>(record + S_RESULTS);
  const candidates = <usize>load<u32>(record + S_CANDIDATES);
  const candidatesCapacity = load<u32>(record + S_CANDIDATES_CAPACITY);
  const freshIds = <usize>load<u32>(record + S_FRESH_IDS);
  const freshDistances = <usize>load<u32>(record + S_FRESH_DISTANCES);
  const epoch = nextEpoch(slot);
  const limit = layer == 0 ? m0 : m;
  const entry = idOfKey(entryKey);
  store<u16>(tagPtr(entry, slot), <u16>epoch);
  let candidateCount: u32 = 1;
  store<u64>(candidates, entryKey);
  let resultCount: u32 = 0;
  let bound = <f32>Infinity;
  if (isResult(entry, mode)) {
    store<u64>(results, ~entryKey);
    resultCount = 1;
    bound = distanceOfKey(entryKey);
  }
  const listCopy = <usize>load<u32>(record + S_LIST_COPY);
  while (candidateCount > 0) {
    const nearest = load<u64>(candidates);
    if (distanceOfKey(nearest) > bound && resultCount >= ef) break;
    // Expand up to `expansions` candidates together: their unvisited neighbours are fetched in one
    // wave, so the cache misses of several lists overlap (the search is bound by memory latency).
    let fresh: u32 = 0;
    for (let expanded: u32 = 0; expanded < expansions && candidateCount > 0; expanded++) {
      const next = load<u64>(candidates);
      if (expanded > 0 && distanceOfKey(next) > bound && resultCount >= ef) break;
      heapPop(candidates, candidateCount);
      candidateCount--;
      const current = idOfKey(next);
      let list = listPtr(current, layer) + 4;
      let n = min<u32>(load<u32>(list - 4), limit);
      if (locked) {
        // Construction reads a consistent copy, taken under the node's lock (as hnswlib does).
        lockNode(current);
        n = min<u32>(load<u32>(list - 4), limit);
        memory.copy(listCopy, list, <usize>n << 2);
        unlockNode(current);
        list = listCopy;
      }
      // Mark the unvisited neighbours; they are scored below (independent kernel calls, so the CPU
      // overlaps their cache misses), then offered to the heaps.
      for (let i: u32 = 0; i < n; i++) {
        const other = load<u32>(list + (<usize>i << 2));
        const tag = tagPtr(other, slot);
        if (<u32>load<u16>(tag) == epoch) continue;
        store<u16>(tag, <u16>epoch);
        store<u32>(freshIds + (<usize>fresh << 2), other);
        fresh++;
        // Load one byte per cache line of the neighbour's vector (or codes), so that the lines of
        // every fresh neighbour are fetched at once before they are scored (WebAssembly has no
        // prefetch instruction; hnswlib prefetches the next vector). Measured on GloVe-100k: 5-10%
        // more QPS than scoring without it; touching the whole block (with the links) gains no more.
        if (quantized) {
          const codes = codePtr(other);
          for (let b: usize = 0; b < codeBytes; b += 64) touched += load<u8>(codes + b);
        } else {
          const row = rowPtr(other);
          for (let b: usize = 0; b < rowBytes; b += 64) touched += load<u8>(row + b);
        }
      }
    }
    if (quantized) {
      for (let j: u32 = 0; j < fresh; j++) {
        store<f32>(freshDistances + (<usize>j << 2), codeDistance(queryCodes, codePtr(load<u32>(freshIds + (<usize>j << 2)))));
      }
    } else {
      for (let j: u32 = 0; j < fresh; j++) {
        store<f32>(freshDistances + (<usize>j << 2), distance(query, rowPtr(load<u32>(freshIds + (<usize>j << 2)))));
      }
    }
    for (let j: u32 = 0; j < fresh; j++) {
      const d = load<f32>(freshDistances + (<usize>j << 2));
      if (resultCount < ef || d < bound) {
        const other = load<u32>(freshIds + (<usize>j << 2));
        const key = keyOf(d, other);
        if (candidateCount == candidatesCapacity) candidateCount = spillCandidates(candidates, candidateCount);
        heapPush(candidates, candidateCount, key);
        candidateCount++;
        if (isResult(other, mode)) {
          heapPush(results, resultCount, ~key);
          resultCount++;
          if (resultCount > ef) {
            heapPop(results, resultCount);
            resultCount--;
          }
          bound = distanceOfKey(~load<u64>(results));
        }
      }
    }
  }
  return resultCount;
}

/** searchLayer for construction: every node a result, lists read under their locks, float32 distances. */
function searchLayerBuild(slot: u32, entryKey: u64, ef: u32, layer: u32): u32 {
  return searchLayer(slot, entryKey, ef, layer, MODE_BUILD, true, false, EXPAND_BUILD);
}

/** searchLayer for a query on layer 0: deleted and pending nodes are not results. */
function searchLayerQuery(slot: u32, entryKey: u64, ef: u32): u32 {
  return searchLayer(slot, entryKey, ef, 0, MODE_QUERY, false, false, EXPAND_QUERY);
}

/** searchLayerQuery with the host's filter. */
function searchLayerFiltered(slot: u32, entryKey: u64, ef: u32): u32 {
  return searchLayer(slot, entryKey, ef, 0, MODE_FILTER, false, false, EXPAND_QUERY);
}

/** searchLayerQuery on the int8 codes. */
function searchLayerQueryCodes(slot: u32, entryKey: u64, ef: u32): u32 {
  return searchLayer(slot, entryKey, ef, 0, MODE_QUERY, false, true, EXPAND_QUERY);
}

/** searchLayerFiltered on the int8 codes. */
function searchLayerFilteredCodes(slot: u32, entryKey: u64, ef: u32): u32 {
  return searchLayer(slot, entryKey, ef, 0, MODE_FILTER, false, true, EXPAND_QUERY);
}

/** Keeps the better half of a full candidate heap (popped in order into the spill area, copied back). */
function spillCandidates(heap: usize, size: u32): u32 {
  const keep = size >> 1;
  const spill = heap + (<usize>size << 3);
  let n = size;
  for (let i: u32 = 0; i < keep; i++) {
    store<u64>(spill + (<usize>i << 3), load<u64>(heap));
    heapPop(heap, n);
    n--;
  }
  memory.copy(heap, spill, <usize>keep << 3);
  return keep;
}

/** Pops a slot's result heap into its output arrays, ascending; returns how many. */
function drainResults(slot: u32, count: u32): u32 {
  const record = slotRecord(slot);
  const results = <usize>load<u32>(record + S_RESULTS);
  const ids = <usize>load<u32>(record + S_OUT_IDS);
  const distances = <usize>load<u32>(record + S_OUT_DISTANCES);
  for (let size = count; size > 0; size--) {
    const key = ~load<u64>(results);
    heapPop(results, size);
    store<u32>(ids + (<usize>(size - 1) << 2), idOfKey(key));
    store<f32>(distances + (<usize>(size - 1) << 2), distanceOfKey(key));
  }
  return count;
}

/**
 * The up to `ef` nearest nodes to slot `slot`'s query (set it and call prepareQuery first), ascending,
 * into the slot's output ids and distances; returns how many. A greedy descent through the upper
 * layers, then a beam search of width `ef` on layer 0 (the slot's scratch must hold `ef`: see
 * ensureScratch). `filtered`: the host's accept(id) decides which nodes may be results. `quantized`:
 * walk with the int8 codes when they are ready (distances then approximate: see {@link rescore}).
 */
export function search(slot: u32, ef: u32, filtered: bool, quantized: bool): u32 {
  const entry = loadEntry();
  if (entry == 0 || ef == 0) return 0;
  const codes = quantized && quantizationReady();
  if (codes) quantizeQuery(slot);
  const entryId = <u32>entry;
  let key = keyOf(codes ? codeDistance(<usize>s32(slot, S_QUERY_CODES), codePtr(entryId)) : distance(s32(slot, S_QUERY), rowPtr(entryId)), entryId);
  for (let layer = <i32>(entry >> 32) - 1; layer > 0; layer--) key = greedyClosest(slot, key, <u32>layer, false, codes);
  let count: u32;
  if (codes) count = filtered ? searchLayerFilteredCodes(slot, key, ef) : searchLayerQueryCodes(slot, key, ef);
  else count = filtered ? searchLayerFiltered(slot, key, ef) : searchLayerQuery(slot, key, ef);
  return drainResults(slot, count);
}

/**
 * The `k` nearest of rows `0 .. count-1` to slot `slot`'s query (prepared), by exact float32
 * distance, leaving out rows marked DELETED (a graph's dead slots); ascending into the slot's output,
 * whose width must hold `k`. Returns how many. A brute-force scan: the reference a recall monitor
 * compares the graph's answers with.
 */
export function exactTopK(slot: u32, k: u32, count: u32): u32 {
  const record = slotRecord(slot);
  const query = <usize>load<u32>(record + S_QUERY);
  const results = <usize>load<u32>(record + S_RESULTS);
  let size: u32 = 0;
  for (let id: u32 = 0; id < count; id++) {
    if (m != 0 && (flagsOf(id) & F_DELETED) != 0) continue;
    const key = keyOf(distance(query, rowPtr(id)), id);
    if (size < k) {
      heapPush(results, size, ~key);
      size++;
    } else if (key < ~load<u64>(results)) {
      heapPop(results, size);
      heapPush(results, size - 1, ~key);
    }
  }
  return drainResults(slot, size);
}

// ---- construction ----

/**
 * Algorithm 4 on `n` candidates at `keys` (sorted ascending by distance to the base): walking them
 * nearest first, keep one only if it is closer to the base than to every one kept, until `limit` are
 * kept. Writes the kept ids to the slot's chosen list and returns how many.
 */
function selectNeighbours(slot: u32, keys: usize, n: u32, limit: u32): u32 {
  const chosen = <usize>s32(slot, S_CHOSEN);
  let kept: u32 = 0;
  for (let i: u32 = 0; i < n && kept < limit; i++) {
    const key = load<u64>(keys + (<usize>i << 3));
    const candidate = idOfKey(key);
    const toBase = distanceOfKey(key);
    const row = rowPtr(candidate);
    let keep = true;
    for (let j: u32 = 0; j < kept; j++) {
      if (distance(row, rowPtr(load<u32>(chosen + (<usize>j << 2)))) < toBase) {
        keep = false;
        break;
      }
    }
    if (keep) {
      store<u32>(chosen + (<usize>kept << 2), candidate);
      kept++;
    }
  }
  return kept;
}

/** Queues `id` for relinking when it lost its last layer-0 in-link (see relinkOrphans). */
function noteOrphan(slot: u32, id: u32): void {
  const record = slotRecord(slot);
  const count = load<u32>(record + S_ORPHAN_COUNT);
  // The list is sized for the orphans one insert can make; past that, relinkOrphans scans all nodes.
  if (count < load<u32>(record + S_ORPHANS_CAPACITY)) store<u32>(<usize>load<u32>(record + S_ORPHANS) + (<usize>count << 2), id);
  store<u32>(record + S_ORPHAN_COUNT, count + 1);
}

/**
 * Replaces node `id`'s list on `layer` (its lock held) by the `n` ids at `ids`. On layer 0 the
 * in-degrees follow: new links counted first, then old ones released, so a kept link never reads 0.
 */
function setLinks(slot: u32, id: u32, layer: u32, ids: usize, n: u32): void {
  const list = listPtr(id, layer);
  if (layer == 0) {
    for (let i: u32 = 0; i < n; i++) atomic.add<u32>(nodePtr(load<u32>(ids + (<usize>i << 2))) + N_IN_DEGREE, 1);
    const old = min<u32>(load<u32>(list), m0);
    for (let i: u32 = 0; i < old; i++) {
      const other = load<u32>(list + 4 + (<usize>i << 2));
      if (atomic.sub<u32>(nodePtr(other) + N_IN_DEGREE, 1) == 1) noteOrphan(slot, other);
    }
  }
  for (let i: u32 = 0; i < n; i++) store<u32>(list + 4 + (<usize>i << 2), load<u32>(ids + (<usize>i << 2)));
  atomic.store<u32>(list, n);
}

/**
 * Adds the link `from → to` on `layer` unless it is there; a full list is shrunk by the heuristic
 * over its links and `to`, measured from `from`.
 */
function connect(slot: u32, from: u32, to: u32, layer: u32): void {
  const limit = layer == 0 ? m0 : m;
  lockNode(from);
  const list = listPtr(from, layer);
  const n = min<u32>(load<u32>(list), limit);
  for (let i: u32 = 0; i < n; i++) {
    if (load<u32>(list + 4 + (<usize>i << 2)) == to) {
      unlockNode(from);
      return;
    }
  }
  if (n < limit) {
    store<u32>(list + 4 + (<usize>n << 2), to);
    atomic.store<u32>(list, n + 1);
    if (layer == 0) atomic.add<u32>(nodePtr(to) + N_IN_DEGREE, 1);
    unlockNode(from);
    return;
  }
  const keys = <usize>s32(slot, S_CONNECT);
  const base = rowPtr(from);
  store<u64>(keys, keyOf(distance(base, rowPtr(to)), to));
  for (let i: u32 = 0; i < n; i++) {
    const other = load<u32>(list + 4 + (<usize>i << 2));
    store<u64>(keys + (<usize>(i + 1) << 3), keyOf(distance(base, rowPtr(other)), other));
  }
  sortKeys(keys, n + 1);
  const kept = selectNeighbours(slot, keys, n + 1, limit);
  setLinks(slot, from, layer, s32(slot, S_CHOSEN), kept);
  unlockNode(from);
}

/**
 * Finds and sets node `id`'s links on layers min(level, top) .. 0 from `entry` (Algorithm 1, lines
 * 5-17), with the slot's query holding the node's vector. The node itself is never its own
 * candidate (it is one when it is being re-linked, or when a concurrent builder linked to it already).
 *
 * In two passes: first the searches, top layer down, each choosing the layer's neighbours by the
 * heuristic; then the links, layer 0 up. The result is the same as linking each layer right after its
 * search (a layer's links do not change the searches below it), but a concurrent builder that reaches
 * the node through an upper layer always finds its lower layers linked; linking top-down, it would
 * descend into a node with an empty layer-0 list and give its own new node a single neighbour (the
 * islands of a few unreachable nodes that the thread tests found).
 */
function linkNode(slot: u32, id: u32, level: u32, entry: u64): void {
  const query = s32(slot, S_QUERY);
  const top = <u32>(entry >> 32) - 1;
  const entryId = <u32>entry;
  let key = keyOf(distance(query, rowPtr(entryId)), entryId);
  for (let layer = top; layer > level; layer--) key = greedyClosest(slot, key, layer, true, false);
  const work = <usize>s32(slot, S_WORK);
  const ids = <usize>s32(slot, S_OUT_IDS);
  const distances = <usize>s32(slot, S_OUT_DISTANCES);
  const chosen = <usize>s32(slot, S_CHOSEN);
  const layerLinks = <usize>s32(slot, S_LAYER_LINKS);
  const stride = (<usize>m + 1) << 2;
  const highest = min<u32>(level, top);
  for (let layer = <i32>highest; layer >= 0; layer--) {
    const found = drainResults(slot, searchLayerBuild(slot, key, efConstruction, <u32>layer));
    let n: u32 = 0;
    for (let i: u32 = 0; i < found; i++) {
      const other = load<u32>(ids + (<usize>i << 2));
      if (other == id) continue;
      store<u64>(work + (<usize>n << 3), keyOf(load<f32>(distances + (<usize>i << 2)), other));
      n++;
    }
    const kept = selectNeighbours(slot, work, n, m);
    const links = layerLinks + <usize>layer * stride;
    store<u32>(links, kept);
    memory.copy(links + 4, chosen, <usize>kept << 2);
    if (n > 0) key = load<u64>(work);
  }
  for (let layer: u32 = 0; layer <= highest; layer++) {
    const links = layerLinks + <usize>layer * stride;
    const kept = load<u32>(links);
    lockNode(id);
    setLinks(slot, id, layer, links + 4, kept);
    unlockNode(id);
    for (let i: u32 = 0; i < kept; i++) connect(slot, load<u32>(links + 4 + (<usize>i << 2)), id, layer);
  }
}

/**
 * First half of hnswlib's updatePoint on one layer: each neighbour of `id` gets its list rebuilt by
 * the heuristic from the one- and two-hop neighbourhood of `id` (the ef_construction closest).
 */
function repairNeighbours(slot: u32, id: u32, layer: u32): void {
  const limit = layer == 0 ? m0 : m;
  const work = <usize>s32(slot, S_WORK);
  const capacity = s32(slot, S_WORK_CAPACITY);
  const hood = <usize>s32(slot, S_HOOD);
  const epoch = nextEpoch(slot);
  let size: u32 = 0;
  store<u16>(tagPtr(id, slot), <u16>epoch);
  store<u32>(hood, id);
  size = 1;
  lockNode(id);
  const list = listPtr(id, layer);
  const oneHop = min<u32>(load<u32>(list), limit);
  for (let i: u32 = 0; i < oneHop; i++) {
    const other = load<u32>(list + 4 + (<usize>i << 2));
    const tag = tagPtr(other, slot);
    if (<u32>load<u16>(tag) == epoch) continue;
    store<u16>(tag, <u16>epoch);
    store<u32>(hood + (<usize>size << 2), other);
    size++;
  }
  unlockNode(id);
  const neighbours = size;
  for (let j: u32 = 1; j < neighbours; j++) {
    const neighbour = load<u32>(hood + (<usize>j << 2));
    lockNode(neighbour);
    const twoHop = listPtr(neighbour, layer);
    const count = min<u32>(load<u32>(twoHop), limit);
    for (let i: u32 = 0; i < count && size < capacity; i++) {
      const other = load<u32>(twoHop + 4 + (<usize>i << 2));
      const tag = tagPtr(other, slot);
      if (<u32>load<u16>(tag) == epoch) continue;
      store<u16>(tag, <u16>epoch);
      store<u32>(hood + (<usize>size << 2), other);
      size++;
    }
    unlockNode(neighbour);
  }
  for (let j: u32 = 1; j < neighbours; j++) {
    const neighbour = load<u32>(hood + (<usize>j << 2));
    const base = rowPtr(neighbour);
    let n: u32 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const candidate = load<u32>(hood + (<usize>i << 2));
      if (candidate == neighbour) continue;
      store<u64>(work + (<usize>n << 3), keyOf(distance(base, rowPtr(candidate)), candidate));
      n++;
    }
    heapSortKeys(work, n);
    const kept = selectNeighbours(slot, work, min<u32>(n, efConstruction), limit);
    lockNode(neighbour);
    setLinks(slot, neighbour, layer, s32(slot, S_CHOSEN), kept);
    unlockNode(neighbour);
  }
}

/**
 * Links `parent → orphan` on layer 0 if `parent` has room, or else in place of its farthest link
 * whose target keeps another in-link (so no new orphan is made).
 */
function adoptOrphan(parent: u32, orphan: u32): void {
  lockNode(parent);
  const list = listPtr(parent, 0);
  const n = min<u32>(load<u32>(list), m0);
  for (let i: u32 = 0; i < n; i++) {
    if (load<u32>(list + 4 + (<usize>i << 2)) == orphan) {
      unlockNode(parent);
      return;
    }
  }
  if (n < m0) {
    store<u32>(list + 4 + (<usize>n << 2), orphan);
    atomic.store<u32>(list, n + 1);
    atomic.add<u32>(nodePtr(orphan) + N_IN_DEGREE, 1);
    unlockNode(parent);
    return;
  }
  const base = rowPtr(parent);
  let victim: i32 = -1;
  let victimDistance = <f32>-Infinity;
  for (let i: u32 = 0; i < n; i++) {
    const other = load<u32>(list + 4 + (<usize>i << 2));
    if (atomic.load<u32>(nodePtr(other) + N_IN_DEGREE) < 2) continue;
    const d = distance(base, rowPtr(other));
    if (d > victimDistance) {
      victimDistance = d;
      victim = <i32>i;
    }
  }
  if (victim >= 0) {
    const at = list + 4 + (<usize>victim << 2);
    const old = load<u32>(at);
    // Count the orphan's link before releasing the victim's, as setLinks does.
    atomic.add<u32>(nodePtr(orphan) + N_IN_DEGREE, 1);
    atomic.store<u32>(at, orphan);
    atomic.sub<u32>(nodePtr(old) + N_IN_DEGREE, 1);
  }
  unlockNode(parent);
}

/** Gives orphan `orphan` an in-link from the nearest nodes a search from the entry point finds. */
function relinkOrphan(slot: u32, orphan: u32): void {
  const entry = loadEntry();
  if (entry == 0 || <u32>entry == orphan || nodeCount() < 2) return;
  const node = nodePtr(orphan);
  if ((atomic.load<u32>(node + N_FLAGS) & F_PRESENT) == 0 || atomic.load<u32>(node + N_IN_DEGREE) > 0) return;
  setQueryFromRow(slot, orphan);
  const query = s32(slot, S_QUERY);
  const entryId = <u32>entry;
  let key = keyOf(distance(query, rowPtr(entryId)), entryId);
  for (let layer = <i32>(entry >> 32) - 1; layer > 0; layer--) key = greedyClosest(slot, key, <u32>layer, true, false);
  const found = drainResults(slot, searchLayerBuild(slot, key, efConstruction, 0));
  const ids = <usize>s32(slot, S_OUT_IDS);
  for (let i: u32 = 0; i < found && atomic.load<u32>(node + N_IN_DEGREE) == 0; i++) {
    const parent = load<u32>(ids + (<usize>i << 2));
    if (parent != orphan) adoptOrphan(parent, orphan);
  }
}

/**
 * Gives every node that lost its last layer-0 in-link an in-link again, so it stays reachable:
 * shrinking a full list and rebuilding the lists around a replaced node can drop a node from every
 * list that named it (hnswlib leaves such nodes unreachable). adoptOrphan makes no new orphan, so
 * this ends after one pass. When the list overflowed, every node is checked instead.
 */
function relinkOrphans(slot: u32): void {
  const record = slotRecord(slot);
  const list = <usize>load<u32>(record + S_ORPHANS);
  const count = load<u32>(record + S_ORPHAN_COUNT);
  const capacity = load<u32>(record + S_ORPHANS_CAPACITY);
  store<u32>(record + S_ORPHAN_COUNT, 0);
  if (count <= capacity) {
    for (let i: u32 = 0; i < count; i++) relinkOrphan(slot, load<u32>(list + (<usize>i << 2)));
    return;
  }
  const nodes = capacity_();
  for (let id: u32 = 0; id < nodes; id++) {
    const node = nodePtr(id);
    if ((atomic.load<u32>(node + N_FLAGS) & F_PRESENT) != 0 && atomic.load<u32>(node + N_IN_DEGREE) == 0) relinkOrphan(slot, id);
  }
}

@inline function capacity_(): u32 {
  return atomic.load<u32>(HEADER + H_CHUNK_COUNT) << chunkShift;
}

/** Inserts node `id` (assigned, not present) into the graph: Algorithm 1. */
function insert(slot: u32, id: u32): void {
  const node = nodePtr(id);
  const level = levelOf(id);
  store<u32>(node + N_COUNT, 0);
  const upper = <usize>load<u32>(node + N_UPPER);
  if (level > 0) memory.fill(upper, 0, <usize>level * (<usize>(m + 1) << 2));
  atomic.or<u32>(node + N_FLAGS, F_PRESENT);
  atomic.add<u32>(HEADER + H_NODE_COUNT, 1);
  let entry = loadEntry();
  let raising = false;
  if (entry == 0 || <u32>(entry >> 32) - 1 < level) {
    lockGlobal();
    entry = loadEntry();
    if (entry == 0) {
      atomic.store<u64>(HEADER + H_ENTRY, ((<u64>level + 1) << 32) | <u64>id);
      unlockGlobal();
      return;
    }
    if (<u32>(entry >> 32) - 1 < level) raising = true;
    else unlockGlobal();
  }
  setQueryFromRow(slot, id);
  linkNode(slot, id, level, entry);
  if (raising) {
    atomic.store<u64>(HEADER + H_ENTRY, ((<u64>level + 1) << 32) | <u64>id);
    unlockGlobal();
  }
}

/**
 * Re-links present node `id` after its row was overwritten (hnswlib's updatePoint): on each of its
 * layers the lists of its neighbours are rebuilt from its neighbourhood, then its own links are found
 * again by a search from the entry point.
 */
function replace(slot: u32, id: u32): void {
  if (nodeCount() < 2) return;
  const level = levelOf(id);
  for (let layer: u32 = 0; layer <= level; layer++) repairNeighbours(slot, id, layer);
  setQueryFromRow(slot, id);
  const entry = loadEntry();
  linkNode(slot, id, min<u32>(level, <u32>(entry >> 32) - 1), entry);
}

/**
 * Links row `id` into the graph: inserts it when it is not a node yet, else re-links it (an
 * overwritten or reused row); then relinks orphans. The row must be assigned (assignNode). One
 * thread at a time per node: the host dispatches each id to one builder.
 */
export function link(slot: u32, id: u32): void {
  if ((flagsOf(id) & F_PRESENT) == 0) insert(slot, id);
  else replace(slot, id);
  // Every neighbour may have dropped the node when shrinking its full list by the heuristic: then no
  // in-degree ever went from 1 to 0, yet the node has no in-link. Relink it like an orphan.
  if (atomic.load<u32>(nodePtr(id) + N_IN_DEGREE) == 0) noteOrphan(slot, id);
  relinkOrphans(slot);
}

// ---- restore (main thread, no builder attached) ----

/** Sets the graph's entry point, top level and node count (from a serialised graph). */
export function restoreHeader(entry: i32, top: i32, count: u32): void {
  atomic.store<u64>(HEADER + H_ENTRY, entry < 0 ? 0 : ((<u64>(top + 1)) << 32) | <u64>(<u32>entry));
  atomic.store<u32>(HEADER + H_NODE_COUNT, count);
}

/** Recomputes every node's layer-0 in-degree from the lists (after a restore). */
export function recountInDegrees(): void {
  const nodes = capacity_();
  for (let id: u32 = 0; id < nodes; id++) store<u32>(nodePtr(id) + N_IN_DEGREE, 0);
  for (let id: u32 = 0; id < nodes; id++) {
    if ((load<u32>(nodePtr(id) + N_FLAGS) & F_PRESENT) == 0) continue;
    const list = listPtr(id, 0);
    const n = min<u32>(load<u32>(list), m0);
    for (let i: u32 = 0; i < n; i++) {
      const other = load<u32>(list + 4 + (<usize>i << 2));
      if (other < nodes) store<u32>(nodePtr(other) + N_IN_DEGREE, load<u32>(nodePtr(other) + N_IN_DEGREE) + 1);
    }
  }
}
