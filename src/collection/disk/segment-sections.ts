/**
 * What a collection's segment file holds: the sections of a {@link CollectionState}. The file format
 * itself (header, section table, per-section CRC-32, alignment) is in `src/storage/segment/segment.ts`;
 * this module decides the section kinds and their contents. All integers little-endian.
 *
 * | kind | section    | contents                                                                         |
 * |-----:|------------|----------------------------------------------------------------------------------|
 * |    1 | meta       | u32 × 8: format 1, dimension D, distance (0 euclidean, 1 cosine, 2 dot), slot    |
 * |      |            | count S, live count L, free count F (= S − L), pending count P, 0; then u32 × F  |
 * |      |            | free slots (the next insert takes the last), then u32 × P slots waiting to be    |
 * |      |            | linked into the graph, in order                                                  |
 * |    2 | ids        | per slot: u32 length, the id in UTF-8 (length 0 for a dead slot)                 |
 * |    3 | vectors    | S × D float32: the vector store's rows, dead slots included (the graph still     |
 * |      |            | walks through them); cosine rows are stored normalised                           |
 * |    4 | payloads   | per slot: u32 length (0xFFFFFFFF = none, and for a dead slot), payload JSON UTF-8 |
 * |    5 | tombstones | f64 × S: sequence of the last write applied to each slot; then u8 × S: 1 live,   |
 * |      |            | 0 dead (a tombstone)                                                             |
 * |    6 | graph      | `HnswIndex.toBytes()` (layout in `src/index/hnsw/hnsw-index.ts`); absent for dot |
 * |    7 | quantization | f32 × D scales, then f32 × D offsets: the int8 quantization ranges per        |
 * |      |            | dimension; absent when the collection has no quantization or it is not trained  |
 * |      |            | yet (the codes are not stored: they are re-coded from the vectors on load)      |
 * |   16 | ingests    | the resumable loads: u32 count C, then C × (u32 length, ingest id UTF-8, u64     |
 * |      |            | highest batch applied), written to least recently first; absent = none           |
 * |   17 | spec       | in a snapshot file only: the collection's `collection.json` (see snapshot-file.ts)|
 *
 * The segment header's sequence is the state's sequence: every WAL record up to it is in the file.
 * Dead slots keep their vector but not their id or payload. Reading it back costs one bulk copy for the
 * vectors and the graph's links; ids and payloads are parsed per slot.
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { VectorDbError } from "../../errors.js";
import type { DistanceKind, QuantizationRange } from "../../index/index.js";
import type { Segment, SegmentSectionInput } from "../../storage/index.js";
import type { CollectionState } from "../snapshot.js";
import type { CollectionSpec, JsonObject } from "../types.js";
import { segmentSectionsFormatVersion } from "./layout.js";

/** Section kinds of a collection segment. */
export const sectionKind = { meta: 1, ids: 2, vectors: 3, payloads: 4, tombstones: 5, graph: 6, quantization: 7, ingests: 16, spec: 17, deletes: 18 } as const;

/** The name of a section kind (`vectors`), for messages; undefined for a kind this build does not know. */
export function sectionKindName(kind: number): string | undefined {
  return (Object.keys(sectionKind) as SectionName[]).find((name) => sectionKind[name] === kind);
}

const metaHeaderWords = 8;
const none = 0xffff_ffff;
/** Slots encoded between two yields to the event loop while a segment is being encoded. */
const slotsPerSlice = 8_192;

const distanceCodes: Record<DistanceKind, number> = { euclidean: 0, cosine: 1, dot: 2 };

/**
 * Length-prefixed UTF-8 strings, one per slot (`none` marker for undefined when `noneMarker`), encoded
 * in slices with a yield between them so that a large collection does not block the event loop.
 */
async function encodeStrings(values: readonly (string | undefined)[], noneMarker: number): Promise<Buffer> {
  const lengths = new Uint32Array(values.length);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    lengths[i] = value === undefined ? 0 : Buffer.byteLength(value, "utf8");
    total += 4 + lengths[i]!;
    if (i % slotsPerSlice === slotsPerSlice - 1) await yieldToEventLoop();
  }
  const bytes = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    bytes.writeUInt32LE(value === undefined ? noneMarker : lengths[i]!, at);
    at += 4;
    if (value !== undefined) at += bytes.write(value, at, "utf8");
    if (i % slotsPerSlice === slotsPerSlice - 1) await yieldToEventLoop();
  }
  return bytes;
}

/**
 * The sections of a segment holding `state` (see the module documentation). Runs asynchronously in
 * slices (payloads are serialised to JSON here, not in the synchronous snapshot).
 */
export async function encodeStateSections(state: CollectionState, spec: Readonly<CollectionSpec>): Promise<SegmentSectionInput[]> {
  const { slotCount } = state;
  const meta = new Uint32Array(metaHeaderWords + state.freeSlots.length + state.pending.length);
  meta.set([segmentSectionsFormatVersion, spec.dimension, distanceCodes[spec.distance], slotCount, state.liveCount, state.freeSlots.length, state.pending.length, 0]);
  meta.set(state.freeSlots, metaHeaderWords);
  meta.set(state.pending, metaHeaderWords + state.freeSlots.length);

  const ids = state.ids.map((id, slot) => (state.live[slot] === 1 ? id : undefined));
  const idBytes = await encodeStrings(ids, 0);
  const json: (string | undefined)[] = new Array(slotCount);
  for (let slot = 0; slot < slotCount; slot++) {
    const payload = state.payloads[slot];
    json[slot] = state.live[slot] === 1 && payload !== undefined ? JSON.stringify(payload) : undefined;
    if (slot % slotsPerSlice === slotsPerSlice - 1) await yieldToEventLoop();
  }
  const payloadBytes = await encodeStrings(json, none);

  const tombstones = new Uint8Array(9 * slotCount);
  new Float64Array(tombstones.buffer, 0, slotCount).set(state.pointSequences.subarray(0, slotCount));
  tombstones.set(state.live.subarray(0, slotCount), 8 * slotCount);

  const sections: SegmentSectionInput[] = [
    { kind: sectionKind.meta, bytes: new Uint8Array(meta.buffer) },
    { kind: sectionKind.ids, bytes: idBytes },
    { kind: sectionKind.vectors, bytes: state.vectors },
    { kind: sectionKind.payloads, bytes: payloadBytes },
    { kind: sectionKind.tombstones, bytes: tombstones },
  ];
  if (state.graph !== undefined) sections.push({ kind: sectionKind.graph, bytes: state.graph });
  if (state.quantization !== undefined) {
    const ranges = new Float32Array(2 * spec.dimension);
    ranges.set(state.quantization.scales);
    ranges.set(state.quantization.offsets, spec.dimension);
    sections.push({ kind: sectionKind.quantization, bytes: new Uint8Array(ranges.buffer) });
  }
  if (state.ingests.length > 0) sections.push({ kind: sectionKind.ingests, bytes: encodeIngests(state.ingests) });
  return sections;
}

function encodeIngests(ingests: readonly (readonly [string, number])[]): Buffer {
  let total = 4;
  for (const [id] of ingests) total += 4 + Buffer.byteLength(id, "utf8") + 8;
  const bytes = Buffer.alloc(total);
  bytes.writeUInt32LE(ingests.length, 0);
  let at = 4;
  for (const [id, batch] of ingests) {
    bytes.writeUInt32LE(Buffer.byteLength(id, "utf8"), at);
    at += 4;
    at += bytes.write(id, at, "utf8");
    bytes.writeBigUInt64LE(BigInt(batch), at);
    at += 8;
  }
  return bytes;
}

type SectionName = keyof typeof sectionKind;

/** The sections of one segment as Buffers, and DATA_LOSS errors naming the file, section and offset. */
class SectionReader {
  constructor(
    private readonly segment: Segment,
    private readonly path: string,
  ) {}

  /** Throws data_loss for `section`, at byte `offset` of `bytes` (as an offset in the file). */
  fail(section: SectionName, bytes: Uint8Array | undefined, offset: number, message: string): never {
    const at = bytes === undefined ? "" : ` at offset ${bytes.byteOffset + offset}`;
    throw new VectorDbError("data_loss", `${this.path}: segment ${section} section${at}: ${message}`);
  }

  /** A section that must be there. */
  required(name: SectionName): Buffer {
    return this.optional(name) ?? this.fail(name, undefined, 0, "missing");
  }

  optional(name: SectionName): Buffer | undefined {
    const bytes = this.segment.sections.get(sectionKind[name]);
    return bytes === undefined ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

/**
 * Rebuilds a {@link CollectionState} from a segment read by `readSegment` (CRCs already verified).
 * Vectors and the graph stay views into the segment's buffer (aligned, no copy); ids and payloads
 * are parsed per slot.
 *
 * @param path the segment file, named in errors.
 * @throws VectorDbError data_loss (DATA_LOSS) naming the file, the section and the byte offset in the
 *   file when a section is missing or inconsistent with the collection or with the other sections.
 */
export function decodeStateSections(segment: Segment, spec: Readonly<CollectionSpec>, path: string): CollectionState {
  const reader = new SectionReader(segment, path);
  const { slotCount, liveCount, freeSlots, pending } = decodeMeta(reader, spec);
  const vectors = reader.required("vectors");
  const rowBytes = 4 * spec.dimension;
  if (vectors.length !== slotCount * rowBytes) reader.fail("vectors", vectors, 0, `${vectors.length} bytes, expected ${slotCount} slots × ${rowBytes} bytes`);
  const { pointSequences, live } = decodeTombstones(reader, slotCount, liveCount);
  const ids = decodeIds(reader, live);
  const { payloads, payloadBytes } = decodePayloads(reader, live);
  const graph = spec.distance === "dot" ? reader.optional("graph") : reader.required("graph");
  const quantization = decodeQuantization(reader, spec);
  const ingests = decodeIngests(reader);
  return { sequence: segment.sequence, slotCount, liveCount, freeSlots, pending, ids, payloads, payloadBytes, vectors, live, pointSequences, graph, quantization, ingests };
}

function decodeQuantization(reader: SectionReader, spec: Readonly<CollectionSpec>): QuantizationRange | undefined {
  const section = reader.optional("quantization");
  if (section === undefined) return undefined;
  if (spec.quantization === undefined) reader.fail("quantization", section, 0, "present, but collection.json configures no quantization");
  if (section.length !== 8 * spec.dimension) reader.fail("quantization", section, 0, `${section.length} bytes, expected 2 × ${spec.dimension} × 4`);
  const ranges = new Float32Array(section.buffer.slice(section.byteOffset, section.byteOffset + section.length));
  const scales = ranges.subarray(0, spec.dimension);
  for (let i = 0; i < spec.dimension; i++) {
    if (!(scales[i]! > 0) || !Number.isFinite(scales[i]!) || !Number.isFinite(ranges[spec.dimension + i]!)) {
      reader.fail("quantization", section, 4 * i, `dimension ${i}: scale ${scales[i]} and offset ${ranges[spec.dimension + i]} are not a range`);
    }
  }
  return { scales, offsets: ranges.subarray(spec.dimension) };
}

function decodeIngests(reader: SectionReader): [string, number][] {
  const section = reader.optional("ingests");
  if (section === undefined) return [];
  if (section.length < 4) reader.fail("ingests", section, 0, `${section.length} bytes, shorter than its count`);
  const count = section.readUInt32LE(0);
  const ingests: [string, number][] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > section.length) reader.fail("ingests", section, at, `ends inside entry ${i}`);
    const length = section.readUInt32LE(at);
    if (at + 4 + length + 8 > section.length) reader.fail("ingests", section, at, `entry ${i}: length ${length} runs past the end`);
    const id = section.toString("utf8", at + 4, at + 4 + length);
    const batch = section.readBigUInt64LE(at + 4 + length);
    if (batch > BigInt(Number.MAX_SAFE_INTEGER)) reader.fail("ingests", section, at + 4 + length, `entry ${i}: batch ${batch} is 2^53 or more`);
    ingests.push([id, Number(batch)]);
    at += 4 + length + 8;
  }
  if (at !== section.length) reader.fail("ingests", section, at, `${section.length - at} unexpected bytes after the last entry`);
  return ingests;
}

function decodeMeta(reader: SectionReader, spec: Readonly<CollectionSpec>): { slotCount: number; liveCount: number; freeSlots: Uint32Array; pending: Uint32Array } {
  const meta = reader.required("meta");
  if (meta.length < 4 * metaHeaderWords || meta.length % 4 !== 0) reader.fail("meta", meta, 0, `${meta.length} bytes, expected at least ${4 * metaHeaderWords} and a multiple of 4`);
  const word = (i: number): number => meta.readUInt32LE(4 * i);
  if (word(0) !== segmentSectionsFormatVersion) reader.fail("meta", meta, 0, `format ${word(0)}, expected ${segmentSectionsFormatVersion}`);
  if (word(1) !== spec.dimension) reader.fail("meta", meta, 4, `dimension ${word(1)}, collection.json says ${spec.dimension}`);
  if (word(2) !== distanceCodes[spec.distance]) reader.fail("meta", meta, 8, `distance code ${word(2)}, collection.json says ${spec.distance}`);
  const slotCount = word(3);
  const liveCount = word(4);
  const freeCount = word(5);
  const pendingCount = word(6);
  if (liveCount > slotCount || freeCount !== slotCount - liveCount) reader.fail("meta", meta, 12, `${slotCount} slots, ${liveCount} live and ${freeCount} free do not add up`);
  if (meta.length !== 4 * (metaHeaderWords + freeCount + pendingCount)) reader.fail("meta", meta, 0, `${meta.length} bytes, the counts imply ${4 * (metaHeaderWords + freeCount + pendingCount)}`);
  const words = new Uint32Array(meta.buffer, meta.byteOffset, meta.length / 4);
  return { slotCount, liveCount, freeSlots: words.slice(metaHeaderWords, metaHeaderWords + freeCount), pending: words.slice(metaHeaderWords + freeCount) };
}

function decodeTombstones(reader: SectionReader, slotCount: number, liveCount: number): { pointSequences: Float64Array; live: Uint8Array } {
  const tombstones = reader.required("tombstones");
  if (tombstones.length !== 9 * slotCount) reader.fail("tombstones", tombstones, 0, `${tombstones.length} bytes, expected 9 × ${slotCount} slots`);
  const pointSequences = new Float64Array(tombstones.buffer, tombstones.byteOffset, slotCount);
  const live = tombstones.subarray(8 * slotCount);
  let counted = 0;
  for (let slot = 0; slot < slotCount; slot++) {
    const flag = live[slot]!;
    if (flag > 1) reader.fail("tombstones", tombstones, 8 * slotCount + slot, `slot ${slot} has flag ${flag}, expected 0 or 1`);
    counted += flag;
  }
  if (counted !== liveCount) reader.fail("tombstones", tombstones, 8 * slotCount, `${counted} live slots, the meta section says ${liveCount}`);
  return { pointSequences, live };
}

function decodeIds(reader: SectionReader, live: Uint8Array): (string | undefined)[] {
  const section = reader.required("ids");
  const ids: (string | undefined)[] = new Array(live.length);
  let at = 0;
  for (let slot = 0; slot < live.length; slot++) {
    if (at + 4 > section.length) reader.fail("ids", section, at, `ends inside slot ${slot}`);
    const length = section.readUInt32LE(at);
    at += 4;
    if (at + length > section.length) reader.fail("ids", section, at - 4, `slot ${slot}: length ${length} runs past the end`);
    if ((length > 0) !== (live[slot] === 1)) reader.fail("ids", section, at - 4, `slot ${slot}: id length ${length} for a ${live[slot] === 1 ? "live" : "dead"} slot`);
    ids[slot] = length === 0 ? undefined : section.toString("utf8", at, at + length);
    at += length;
  }
  if (at !== section.length) reader.fail("ids", section, at, `${section.length - at} unexpected bytes after the last slot`);
  return ids;
}

function decodePayloads(reader: SectionReader, live: Uint8Array): { payloads: (JsonObject | undefined)[]; payloadBytes: number[] } {
  const section = reader.required("payloads");
  const payloads: (JsonObject | undefined)[] = new Array(live.length);
  const payloadBytes: number[] = new Array(live.length);
  let at = 0;
  for (let slot = 0; slot < live.length; slot++) {
    if (at + 4 > section.length) reader.fail("payloads", section, at, `ends inside slot ${slot}`);
    const length = section.readUInt32LE(at);
    at += 4;
    payloadBytes[slot] = 0;
    if (length === none) continue;
    if (at + length > section.length) reader.fail("payloads", section, at - 4, `slot ${slot}: length ${length} runs past the end`);
    if (live[slot] !== 1) reader.fail("payloads", section, at - 4, `slot ${slot} is dead but has a payload`);
    try {
      payloads[slot] = JSON.parse(section.toString("utf8", at, at + length)) as JsonObject;
    } catch (error) {
      reader.fail("payloads", section, at, `slot ${slot}: not JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    payloadBytes[slot] = length;
    at += length;
  }
  if (at !== section.length) reader.fail("payloads", section, at, `${section.length - at} unexpected bytes after the last slot`);
  return { payloads, payloadBytes };
}

/**
 * The one section of a deletes file (`segment-<id>-<seq>.del`, see `manifest-file.ts`): the dead slots
 * of a sealed segment on top of its base file. u32 count N, u32 0, then N f64 sequences (the write that
 * deleted each slot), then N u32 slots. Written by a checkpoint when a segment lost points but changed
 * in no other way since its base file, so that scattered deletes cost a few bytes per segment, not a
 * rewrite.
 */
export function encodeDeletesSection(slots: Uint32Array, sequences: Float64Array): SegmentSectionInput {
  const count = slots.length;
  const bytes = new Uint8Array(8 + count * 12);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, count, true);
  for (let i = 0; i < count; i++) view.setFloat64(8 + i * 8, sequences[i]!, true);
  for (let i = 0; i < count; i++) view.setUint32(8 + count * 8 + i * 4, slots[i]!, true);
  return { kind: sectionKind.deletes, bytes };
}

/** Decodes a deletes file's section. @throws VectorDbError data_loss naming `path` when it is malformed. */
export function decodeDeletesSection(segment: Segment, path: string): { slots: Uint32Array; sequences: Float64Array } {
  const bytes = segment.sections.get(sectionKind.deletes);
  if (bytes === undefined) throw new VectorDbError("data_loss", `${path}: no deletes section (kind ${sectionKind.deletes})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.byteLength >= 8 ? view.getUint32(0, true) : -1;
  if (count < 0 || bytes.byteLength !== 8 + count * 12) throw new VectorDbError("data_loss", `${path}: deletes section of ${bytes.byteLength} bytes does not hold ${count} entries`);
  const sequences = new Float64Array(count);
  const slots = new Uint32Array(count);
  for (let i = 0; i < count; i++) sequences[i] = view.getFloat64(8 + i * 8, true);
  for (let i = 0; i < count; i++) slots[i] = view.getUint32(8 + count * 8 + i * 4, true);
  return { slots, sequences };
}
