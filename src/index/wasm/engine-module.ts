import { engineWasmBase64 } from "./engine-binary.js";

/**
 * The exports of the engine module (src/index/wasm/assembly/engine.ts, compiled by
 * `npm run build:wasm`). Addresses are byte offsets in the engine's shared memory; ids are rows.
 * See the memory map at the top of the AssemblyScript source.
 */
export interface EngineExports {
  init(dimension: number, kind: number, m: number, efConstruction: number, threadSlots: number, chunkShift: number, batchRows: number, quantized: number): number;
  attach(): void;
  ensureScratch(slot: number, width: number): number;
  slotWidth(slot: number): number;
  addChunk(): number;
  capacity(): number;
  capacityMax(): number;
  rowPtr(id: number): number;
  nodeRecordPtr(id: number): number;
  slotQueryPtr(slot: number): number;
  slotOutIdsPtr(slot: number): number;
  slotOutDistancesPtr(slot: number): number;
  slotBatchIdsPtr(slot: number): number;
  slotBatchDistancesPtr(slot: number): number;
  headerPtr(): number;
  blockStrideBytes(): number;
  touchedBytes(): number;
  chunkNodes(): number;
  allocatedTop(): number;
  l2Squared(a: number, b: number, n: number): number;
  dot(a: number, b: number, n: number): number;
  distanceToQuery(slot: number, id: number): number;
  distanceBetween(a: number, b: number): number;
  normalizeRow(id: number): void;
  prepareQuery(slot: number): void;
  scoreBatch(slot: number, count: number): void;
  scoreRange(slot: number, start: number, count: number): void;
  entryPoint(): number;
  topLevel(): number;
  nodeCount(): number;
  assignNode(id: number, level: number): number;
  updateFlags(id: number, set: number, clear: number): void;
  flags(id: number): number;
  search(slot: number, ef: number, filtered: number, quantized: number): number;
  rescore(slot: number, count: number): void;
  exactTopK(slot: number, k: number, count: number): number;
  codeBytesPerNode(): number;
  quantizationTable(): number;
  setQuantizationReady(ready: number): void;
  quantizationReady(): number;
  encodeRows(start: number, count: number): number;
  link(slot: number, id: number): void;
  restoreHeader(entry: number, top: number, count: number): void;
  recountInDegrees(): void;
}

/** Node flag bits, as in the engine source. */
export const nodeFlags = Object.freeze({ present: 1, deleted: 2, pending: 4, assigned: 8 });

/** u32 word offsets of the header fields the host reads or waits on with Atomics (from headerPtr()). */
export const headerWords = Object.freeze({ pause: 80 / 4, active: 84 / 4, paused: 88 / 4 });

/** u32 word offsets within a node record (from nodeRecordPtr()). */
export const nodeWords = Object.freeze({ flags: 0, inDegree: 1, upper: 2, count: 3, links: 4 });

/** Bits 8..15 of a node's flags word hold its level. */
export const levelShift = 8;

/** Distance codes of the engine: 0 squared L2, 1 dot (stored as given), 2 cosine (rows unit length). */
export const engineKind = Object.freeze({ euclidean: 0, dot: 1, cosine: 2 });

let compiled: WebAssembly.Module | undefined;

/** The engine module, compiled once per thread (synchronously: it is about 13 KB). */
export function engineModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Buffer.from(engineWasmBase64, "base64"));
  return compiled;
}

/**
 * Instantiates the engine over `memory` (shared). `accept` answers the filter callback of a filtered
 * search (nonzero: the node may be a result).
 */
export function instantiateEngine(memory: WebAssembly.Memory, accept: (id: number) => number): EngineExports {
  return new WebAssembly.Instance(engineModule(), { env: { memory, accept } }).exports as unknown as EngineExports;
}
