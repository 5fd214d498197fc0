import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { VectorDbError } from "../errors.js";
import { HnswIndex, VectorStore, type QuantizationRange } from "../index/index.js";
import { PointTable } from "./point-table.js";
import type { CollectionSpec, JsonObject } from "./types.js";

/**
 * The whole state of a collection at one sequence, as `MemoryCollection.snapshot` takes it and
 * `MemoryCollection.restore` rebuilds from it. Slots `0 .. slotCount-1`; arrays are indexed by slot.
 * Every array is a copy (or an immutable value) owned by the holder: later writes to the collection do
 * not change it.
 */
export interface CollectionState {
  /** The last write sequence whose effect the state holds (0 = none). */
  sequence: number;
  /** Slots in use, live or dead. */
  slotCount: number;
  /** Live slots. */
  liveCount: number;
  /** Dead slots, in the order the next inserts take them (the last one first). */
  freeSlots: Uint32Array;
  /** Live slots written but not yet linked into the graph, in the order the indexer takes them. */
  pending: Uint32Array;
  /** Point id per slot; undefined for a dead slot. */
  ids: (string | undefined)[];
  /** Payload per slot; undefined for a dead slot or a point without payload. Treated as immutable. */
  payloads: (JsonObject | undefined)[];
  /** Size of each payload's JSON in UTF-8 bytes (0 when none). */
  payloadBytes: number[];
  /** Rows `0 .. slotCount-1` of the vector store, little-endian float32 (cosine rows normalised). */
  vectors: Uint8Array;
  /** 1 for a live slot, 0 for a dead one; `slotCount` bytes. */
  live: Uint8Array;
  /** Sequence of the last write applied to each slot (its upsert or delete); `slotCount` entries. */
  pointSequences: Float64Array;
  /**
   * `HnswIndex.toBytes()` of the graph; undefined for a dot-product collection (no graph), or when
   * {@link graphRebuild} is set.
   */
  graph: Uint8Array | undefined;
  /**
   * Set by a merge of segments (and a snapshot of several segments): there is no graph yet, every live
   * slot is linked anew when the state is restored.
   */
  graphRebuild?: boolean;
  /** The int8 quantization ranges; undefined without quantization or before it is trained. */
  quantization?: QuantizationRange | undefined;
  /** The resumable loads: `[ingest_id, highest batch_seq applied]`, written to least recently first. */
  ingests: [string, number][];
}

/** Bytes of vector rows a {@link RowCopy} copies per turn of the event loop. */
export const rowCopySliceBytes = 4 * 1024 * 1024;

/**
 * Everything of a state but the vector rows (`vectors` is left empty): the graph's bytes, ids,
 * payload references, masks and sequences, copied now.
 *
 * @param pending the live pending slots, in queue order.
 */
export function captureState(
  table: PointTable,
  sequence: number,
  pending: readonly number[],
  graph: HnswIndex | undefined,
  store: VectorStore,
  ingests: [string, number][],
): CollectionState {
  const { slotCount } = table;
  return {
    sequence,
    slotCount,
    liveCount: table.liveCount,
    freeSlots: Uint32Array.from(table.freeSlots),
    pending: Uint32Array.from(pending),
    ids: table.ids.slice(0, slotCount),
    payloads: table.payloads.slice(0, slotCount),
    payloadBytes: table.payloadBytes.slice(0, slotCount),
    vectors: new Uint8Array(0),
    live: table.live.slice(0, slotCount),
    pointSequences: table.pointSequences.slice(0, slotCount),
    graph: graph?.toBytes(),
    quantization: store.quantization,
    ingests,
  };
}

/**
 * A copy of the first `rows` rows of a vector store, made in slices of {@link rowCopySliceBytes}
 * between which the event loop runs, while writes go on: a row about to be overwritten before its
 * slice is copied is saved first ({@link preserve}, copy-on-write), so `target` ends up holding the
 * rows as they were when the copy began.
 */
export class RowCopy {
  /** Where the rows go. */
  readonly target: Uint8Array;
  /** Rows below this are copied. */
  private copied = 0;
  /** Rows at or above `copied` saved before a write overwrote them, by slot. */
  private readonly saved = new Map<number, Uint8Array>();
  private readonly rowBytes: number;

  constructor(
    private readonly store: VectorStore,
    private readonly rows: number,
    dimension: number,
  ) {
    this.rowBytes = dimension * 4;
    this.target = new Uint8Array(rows * this.rowBytes);
  }

  /** Keeps row `slot` as it is now if its slice is not copied yet; call it before overwriting the row. */
  preserve(slot: number): void {
    if (slot < this.copied || slot >= this.rows || this.saved.has(slot)) return;
    const row = new Uint8Array(this.rowBytes);
    this.store.copyRowsOut(slot, slot + 1, row);
    this.saved.set(slot, row);
  }

  /**
   * Copies every row, yielding to the event loop between slices; `done` runs as soon as the last
   * slice is copied (synchronously when there is only one), or on failure.
   */
  async run(done: () => void): Promise<void> {
    const { rowBytes } = this;
    const rowsPerSlice = Math.max(1, Math.floor(rowCopySliceBytes / rowBytes));
    try {
      while (this.copied < this.rows) {
        const start = this.copied;
        const end = Math.min(this.rows, start + rowsPerSlice);
        this.store.copyRowsOut(start, end, this.target, start * rowBytes);
        for (const [slot, row] of this.saved) if (slot >= start && slot < end) this.target.set(row, slot * rowBytes);
        this.copied = end;
        if (this.copied < this.rows) await yieldToEventLoop();
      }
    } finally {
      done();
    }
  }
}

/** What a collection is built from: its vector store, graph, points, and the slots to (re)link. */
export interface CollectionParts {
  store: VectorStore;
  /** Undefined for a dot-product collection. */
  graph: HnswIndex | undefined;
  table: PointTable;
  /** Slots to queue for linking, in order. */
  pending: number[];
}

/** Seed of every graph's level generator, so that builds are reproducible. */
const graphSeed = 0x5eed;

/**
 * The vector store of a collection: laid out for its graph (m, ef_construction, and `threadSlots`
 * threads: this one and the builders), or for vectors only (dot product: no graph).
 */
function storeFor(spec: Readonly<CollectionSpec>, threadSlots: number): VectorStore {
  const quantized = spec.quantization !== undefined;
  const graph = spec.distance === "dot" ? undefined : { m: spec.hnsw.m, efConstruction: spec.hnsw.efConstruction, threadSlots, quantized };
  return new VectorStore(spec.dimension, spec.distance, { graph });
}

/** The parts of an empty collection; `threadSlots` as in {@link storeFor}. */
export function emptyParts(spec: Readonly<CollectionSpec>, threadSlots: number): CollectionParts {
  const store = storeFor(spec, threadSlots);
  const graph = spec.distance === "dot" ? undefined : emptyGraph(spec, store);
  return { store, graph, table: new PointTable(), pending: [] };
}

function dataLoss(message: string): VectorDbError {
  return new VectorDbError("data_loss", message);
}

/**
 * The parts of a collection rebuilt from `state`: the vectors in one bulk copy, the graph from its
 * bytes (no rebuild); the state's `ids`, `payloads` and `payloadBytes` arrays are taken over (the
 * caller must not use them afterwards). The pending slots are the state's, then every live slot the
 * graph does not hold (it would never be linked otherwise).
 *
 * @throws VectorDbError data_loss (DATA_LOSS) when the state is inconsistent (sizes, counts, a
 *   duplicate or missing id, a free slot that is live, graph bytes that do not fit the store).
 */
export function restoreParts(spec: Readonly<CollectionSpec>, state: CollectionState, threadSlots: number): CollectionParts {
  const store = storeFor(spec, threadSlots);
  const rowBytes = spec.dimension * 4;
  if (state.vectors.byteLength !== state.slotCount * rowBytes) {
    throw dataLoss(`vectors: ${state.vectors.byteLength} bytes, expected ${state.slotCount} slots × ${rowBytes} bytes`);
  }
  if (state.slotCount > store.rowsMax) throw dataLoss(`${state.slotCount} slots exceed the 4 GiB vector store (${store.rowsMax} rows)`);
  // One copy per row, no per-point parsing.
  store.copyRowsIn(0, state.vectors);
  if (state.quantization !== undefined) {
    if (spec.quantization === undefined || store.codeBytes === 0) throw dataLoss("quantization: ranges stored for a collection without quantization");
    store.setQuantization(state.quantization, state.slotCount);
  }
  const graph = state.graphRebuild === true && spec.distance !== "dot" ? emptyGraph(spec, store) : restoreGraph(spec, store, state.graph);
  const table = restoreTable(state);
  const pending: number[] = [];
  for (const slot of state.pending) {
    if (slot >= state.slotCount) throw dataLoss(`pending slots: slot ${slot} is beyond ${state.slotCount} slots`);
    pending.push(slot);
  }
  if (graph !== undefined) for (let slot = 0; slot < state.slotCount; slot++) if (state.live[slot] === 1 && !graph.has(slot)) pending.push(slot);
  return { store, graph, table, pending };
}

function emptyGraph(spec: Readonly<CollectionSpec>, store: VectorStore): HnswIndex {
  return new HnswIndex({ store, m: spec.hnsw.m, efConstruction: spec.hnsw.efConstruction, seed: graphSeed });
}

function restoreGraph(spec: Readonly<CollectionSpec>, store: VectorStore, bytes: Uint8Array | undefined): HnswIndex | undefined {
  if (spec.distance === "dot") return undefined;
  if (bytes === undefined) throw dataLoss(`graph: missing for a ${spec.distance} collection`);
  try {
    return HnswIndex.fromBytes(store, bytes);
  } catch (error) {
    throw new VectorDbError("data_loss", `graph: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** The point table of `state`, checked: ids unique and present on live slots, counts and the free list consistent. */
function restoreTable(state: CollectionState): PointTable {
  const { slotCount } = state;
  const table = new PointTable();
  table.ensureCapacity(slotCount);
  table.slotCount = slotCount;
  table.live.set(state.live.subarray(0, slotCount));
  table.pointSequences.set(state.pointSequences.subarray(0, slotCount));
  if (state.ids.length !== slotCount || state.payloads.length !== slotCount || state.payloadBytes.length !== slotCount) {
    throw dataLoss(`ids, payloads: ${state.ids.length}, ${state.payloads.length} and ${state.payloadBytes.length} entries for ${slotCount} slots`);
  }
  table.ids = state.ids;
  table.payloads = state.payloads;
  table.payloadBytes = state.payloadBytes;
  for (let slot = 0; slot < slotCount; slot++) {
    if (state.live[slot] !== 1) {
      table.ids[slot] = undefined;
      table.payloads[slot] = undefined;
      table.payloadBytes[slot] = 0;
      continue;
    }
    const id = table.ids[slot];
    if (id === undefined || id === "") throw dataLoss(`ids: live slot ${slot} has no id`);
    const size = table.slotById.size;
    table.slotById.set(id, slot);
    if (table.slotById.size === size) throw dataLoss(`ids: id ${JSON.stringify(id)} is held by two slots (${slot} and another)`);
    table.idBytesTotal += id.length * 2;
    table.payloadBytesTotal += table.payloadBytes[slot]!;
    table.liveCount++;
  }
  if (table.liveCount !== state.liveCount) throw dataLoss(`live count ${state.liveCount} disagrees with the ${table.liveCount} live slots`);
  if (state.freeSlots.length !== slotCount - state.liveCount) {
    throw dataLoss(`free slots: ${state.freeSlots.length} listed, ${slotCount - state.liveCount} slots are dead`);
  }
  const listed = new Uint8Array(slotCount);
  for (const slot of state.freeSlots) {
    if (slot >= slotCount || state.live[slot] === 1 || listed[slot] === 1) throw dataLoss(`free slots: slot ${slot} is not a dead slot listed once`);
    listed[slot] = 1;
    table.freeSlots.push(slot);
  }
  return table;
}
