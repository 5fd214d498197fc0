/**
 * The bodies of a collection's WAL records: one record per write operation, binary, little-endian.
 * The WAL itself (`src/storage/wal/format.ts`) frames each body with its length, sequence, type byte
 * and CRC-32; this module decides what the type byte and the body mean. The bodies carry no version
 * of their own: `collectionFormatVersion` (`layout.ts`, written in `collection.json`) versions them.
 *
 * **Type 1, upsert batch** (an Upsert request or one Ingest message):
 *
 * | offset      | size        | field                                                                  |
 * |------------:|------------:|------------------------------------------------------------------------|
 * |           0 |           4 | u32 point count N                                                      |
 * |           4 |           4 | u32 dimension D (must equal the collection's)                          |
 * |           8 |   4 · N · D | the N vectors, float32 as sent (not normalised), point after point     |
 * | 8 + 4·N·D   |           … | per point, in order: u32 id length, id UTF-8, u32 payload length       |
 * |             |             | (0xFFFFFFFF = no payload), payload JSON UTF-8                          |
 *
 * **Type 2, delete by ids**: u32 id count, then per id a u32 length and the id in UTF-8.
 *
 * **Type 3, delete by filter**: the filter as UTF-8 JSON (see {@link filterToJson}); replay evaluates it
 * again against the state at that record's sequence, which gives the same points because writes are
 * applied in sequence order.
 *
 * **Type 4, payload change** (SetPayload, OverwritePayload, DeletePayloadKeys, ClearPayload): u8 change
 * (1 set keys, 2 overwrite, 3 delete keys, 4 clear), u8 selector (1 ids, 2 filter), u16 0; then the
 * selector: ids as in type 2 (u32 count, then u32 length + UTF-8 per id), or a filter as u32 length +
 * the JSON of type 3; then the change's argument: for 1 and 2 the payload as u32 length + JSON, for 3
 * u32 key count, then u32 length + UTF-8 per dotted key (`meta.lang`), for 4 nothing. A filter is
 * evaluated again on replay, as in type 3.
 *
 * **Type 5, resumable-load batch** (one IngestStream batch): u32 length + UTF-8 `ingest_id`, u64
 * `batch_seq`, then a type-1 body. Replay applies it only if `batch_seq` is above the batch recorded
 * for that ingest id, and records it: the pair is as durable as the points.
 *
 * The body ends exactly after its last field; anything else is corruption. Decoders throw a plain
 * `Error` describing the problem; the caller adds the file and offset and reports DATA_LOSS.
 */
import { endianness } from "node:os";
import type { Condition, Filter, FilterScalar, JsonObject, PayloadChange, PointInput, PointSelector } from "../types.js";

/** WAL record types of a collection. */
export const walRecordType = { upsert: 1, deleteIds: 2, deleteByFilter: 3, payloadChange: 4, ingestBatch: 5 } as const;

/** Payload length marking "no payload". */
const noPayload = 0xffff_ffff;

if (endianness() !== "LE") throw new Error("vectordb stores float32 little-endian and runs on little-endian platforms only");

/**
 * Encodes an upsert batch as the chunks of a type-1 record body (see the module documentation).
 *
 * @param payloadJson each point's payload JSON, or undefined when it has none (from `prepareUpsert`).
 */
export function encodeUpsertRecord(points: readonly PointInput[], payloadJson: readonly (string | undefined)[], dimension: number): Uint8Array[] {
  const count = points.length;
  const head = new Uint8Array(8 + 4 * count * dimension);
  const view = new DataView(head.buffer);
  view.setUint32(0, count, true);
  view.setUint32(4, dimension, true);
  const floats = new Float32Array(head.buffer, 8, count * dimension);
  let stringBytes = 0;
  const idBytes: number[] = new Array(count);
  const payloadBytes: number[] = new Array(count);
  for (let i = 0; i < count; i++) {
    floats.set(points[i]!.vector, i * dimension);
    idBytes[i] = Buffer.byteLength(points[i]!.id, "utf8");
    const json = payloadJson[i];
    payloadBytes[i] = json === undefined ? 0 : Buffer.byteLength(json, "utf8");
    stringBytes += 8 + idBytes[i]! + payloadBytes[i]!;
  }
  const strings = Buffer.allocUnsafe(stringBytes);
  let at = 0;
  for (let i = 0; i < count; i++) {
    strings.writeUInt32LE(idBytes[i]!, at);
    at += 4;
    at += strings.write(points[i]!.id, at, "utf8");
    const json = payloadJson[i];
    strings.writeUInt32LE(json === undefined ? noPayload : payloadBytes[i]!, at);
    at += 4;
    if (json !== undefined) at += strings.write(json, at, "utf8");
  }
  return [head, strings];
}

/** A decoded type-1 record: the points (vectors are views into one copy) and each payload's JSON size. */
export interface DecodedUpsert {
  points: PointInput[];
  payloadBytes: number[];
}

/** Reads the length-prefixed UTF-8 strings of a body. */
class StringReader {
  at: number;
  constructor(
    private readonly bytes: Buffer,
    start: number,
  ) {
    this.at = start;
  }

  get done(): boolean {
    return this.at === this.bytes.length;
  }

  /** The next u32 length and string. */
  next(what: string): string {
    return this.text(what, this.length(what));
  }

  /** The next u32 count and that many strings. */
  list(what: string): string[] {
    const count = this.length(`${what} count`);
    if (count > (this.bytes.length - this.at) / 4) throw new Error(`${what} count ${count} at byte ${this.at - 4} is more than the body can hold`);
    const values: string[] = new Array(count);
    for (let i = 0; i < count; i++) values[i] = this.next(`${what} ${i}`);
    return values;
  }

  /** The next u32 length and string; undefined for the "none" marker. */
  nextOrNone(what: string): string | undefined {
    const length = this.length(what);
    return length === noPayload ? undefined : this.text(what, length);
  }

  private length(what: string): number {
    if (this.at + 4 > this.bytes.length) throw new Error(`${what}: the body ends at byte ${this.bytes.length}, inside a length at byte ${this.at}`);
    const length = this.bytes.readUInt32LE(this.at);
    this.at += 4;
    return length;
  }

  private text(what: string, length: number): string {
    if (this.at + length > this.bytes.length) throw new Error(`${what}: length ${length} at byte ${this.at - 4} runs past the ${this.bytes.length}-byte body`);
    const text = this.bytes.toString("utf8", this.at, this.at + length);
    this.at += length;
    return text;
  }
}

function bufferOf(body: Uint8Array): Buffer {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/**
 * Decodes a type-1 body written by {@link encodeUpsertRecord}.
 * @throws Error when the body is malformed or its dimension is not `dimension`.
 */
export function decodeUpsertRecord(body: Uint8Array, dimension: number): DecodedUpsert {
  const bytes = bufferOf(body);
  if (bytes.length < 8) throw new Error(`upsert record body is ${bytes.length} bytes, shorter than its 8-byte header`);
  const count = bytes.readUInt32LE(0);
  const recordDimension = bytes.readUInt32LE(4);
  if (recordDimension !== dimension) throw new Error(`upsert record has dimension ${recordDimension}, the collection's is ${dimension}`);
  const vectorBytes = 4 * count * dimension;
  if (8 + vectorBytes > bytes.length) throw new Error(`upsert record of ${count} points needs ${8 + vectorBytes} bytes of vectors, the body has ${bytes.length}`);
  // One aligned copy of every vector; each point's vector is a view into it.
  const floats = new Float32Array(count * dimension);
  new Uint8Array(floats.buffer).set(bytes.subarray(8, 8 + vectorBytes));
  const reader = new StringReader(bytes, 8 + vectorBytes);
  const points: PointInput[] = new Array(count);
  const payloadBytes: number[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const id = reader.next(`point ${i} id`);
    const start = reader.at + 4;
    const json = reader.nextOrNone(`point ${i} payload`);
    let payload: JsonObject | undefined;
    if (json !== undefined) {
      try {
        payload = JSON.parse(json) as JsonObject;
      } catch (error) {
        throw new Error(`point ${i} payload at byte ${start}: not JSON (${error instanceof Error ? error.message : String(error)})`);
      }
    }
    points[i] = { id, vector: floats.subarray(i * dimension, (i + 1) * dimension), payload };
    payloadBytes[i] = json === undefined ? 0 : reader.at - start;
  }
  if (!reader.done) throw new Error(`upsert record: ${bytes.length - reader.at} unexpected bytes after the last point, at byte ${reader.at}`);
  return { points, payloadBytes };
}

/** Encodes a type-2 body: the ids to delete. */
export function encodeDeleteIdsRecord(ids: readonly string[]): Uint8Array {
  return encodeStringList(ids);
}

/**
 * Decodes a type-2 body.
 * @throws Error when the body is malformed.
 */
export function decodeDeleteIdsRecord(body: Uint8Array): string[] {
  const bytes = bufferOf(body);
  if (bytes.length < 4) throw new Error(`delete record body is ${bytes.length} bytes, shorter than its 4-byte count`);
  const count = bytes.readUInt32LE(0);
  if (count > (bytes.length - 4) / 4) throw new Error(`delete record lists ${count} ids, more than its ${bytes.length} bytes can hold`);
  const reader = new StringReader(bytes, 0);
  const ids = reader.list("id");
  if (!reader.done) throw new Error(`delete record: ${bytes.length - reader.at} unexpected bytes after the last id, at byte ${reader.at}`);
  return ids;
}

/** Encodes a type-3 body: the filter as UTF-8 JSON. */
export function encodeDeleteFilterRecord(filter: Filter): Uint8Array {
  return Buffer.from(JSON.stringify(filterToJson(filter)), "utf8");
}

/**
 * Decodes a type-3 body.
 * @throws Error when the body is not a filter in the JSON form of {@link filterToJson}.
 */
export function decodeDeleteFilterRecord(body: Uint8Array): Filter {
  let json: unknown;
  try {
    json = JSON.parse(bufferOf(body).toString("utf8"));
  } catch (error) {
    throw new Error(`delete-by-filter record: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  return filterFromJson(json, "filter");
}

/** A range bound in JSON: a finite number, or the strings "Infinity" / "-Infinity" (JSON has no infinities). */
type JsonBound = number | "Infinity" | "-Infinity";

function boundToJson(value: number): JsonBound {
  if (value === Number.POSITIVE_INFINITY) return "Infinity";
  if (value === Number.NEGATIVE_INFINITY) return "-Infinity";
  return value;
}

function boundFromJson(value: unknown, at: string): number {
  if (value === "Infinity") return Number.POSITIVE_INFINITY;
  if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
  if (typeof value !== "number") throw new Error(`${at}: not a number`);
  return value;
}

/**
 * A filter as plain JSON: `{"must": [...], "should": [...], "mustNot": [...]}` whose conditions are
 * `{"kind": "equals" | "anyOf" | "range" | "exists" | "isNull", "path": [...], ...}`,
 * `{"kind": "hasId", "ids": [...]}` or `{"kind": "filter", "filter": {...}}`, with infinite range
 * bounds as the strings "Infinity" / "-Infinity".
 */
export function filterToJson(filter: Filter): unknown {
  const list = (conditions: readonly Condition[]): unknown[] => conditions.map(conditionToJson);
  return { must: list(filter.must), should: list(filter.should), mustNot: list(filter.mustNot) };
}

function conditionToJson(condition: Condition): unknown {
  switch (condition.kind) {
    case "hasId":
      return { kind: "hasId", ids: [...condition.ids] };
    case "filter":
      return { kind: "filter", filter: filterToJson(condition.filter) };
    case "range": {
      const out: Record<string, unknown> = { kind: "range", path: condition.path };
      for (const name of ["gt", "gte", "lt", "lte"] as const) if (condition[name] !== undefined) out[name] = boundToJson(condition[name]);
      return out;
    }
    default:
      return condition;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringList(value: unknown, at: string): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) throw new Error(`${at}: not a list of strings`);
  return value as string[];
}

function scalar(value: unknown, at: string): FilterScalar {
  if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  throw new Error(`${at}: not a string, number, bool or null`);
}

/**
 * The filter written by {@link filterToJson}.
 * @throws Error naming the first malformed part.
 */
export function filterFromJson(json: unknown, at: string): Filter {
  if (!isObject(json)) throw new Error(`${at}: not an object`);
  const list = (name: string): Condition[] => {
    const value = json[name];
    if (!Array.isArray(value)) throw new Error(`${at}.${name}: not a list`);
    return value.map((condition, i) => conditionFromJson(condition, `${at}.${name}[${i}]`));
  };
  return { must: list("must"), should: list("should"), mustNot: list("mustNot") };
}

function conditionFromJson(json: unknown, at: string): Condition {
  if (!isObject(json)) throw new Error(`${at}: not an object`);
  const path = (): string[] => stringList(json.path, `${at}.path`);
  switch (json.kind) {
    case "hasId":
      return { kind: "hasId", ids: new Set(stringList(json.ids, `${at}.ids`)) };
    case "filter":
      return { kind: "filter", filter: filterFromJson(json.filter, `${at}.filter`) };
    case "equals":
      return { kind: "equals", path: path(), value: scalar(json.value, `${at}.value`) };
    case "anyOf": {
      if (!Array.isArray(json.values)) throw new Error(`${at}.values: not a list`);
      return { kind: "anyOf", path: path(), values: json.values.map((value, i) => scalar(value, `${at}.values[${i}]`)) };
    }
    case "range": {
      const condition: Condition = { kind: "range", path: path() };
      for (const name of ["gt", "gte", "lt", "lte"] as const) if (json[name] !== undefined) condition[name] = boundFromJson(json[name], `${at}.${name}`);
      return condition;
    }
    case "exists":
      if (typeof json.exists !== "boolean") throw new Error(`${at}.exists: not a bool`);
      return { kind: "exists", path: path(), exists: json.exists };
    case "isNull":
      if (typeof json.isNull !== "boolean") throw new Error(`${at}.isNull: not a bool`);
      return { kind: "isNull", path: path(), isNull: json.isNull };
    default:
      throw new Error(`${at}.kind: unknown condition kind ${JSON.stringify(json.kind)}`);
  }
}

/** Length-prefixed UTF-8 strings: u32 count, then u32 length + bytes per string. */
function encodeStringList(values: readonly string[]): Buffer {
  const lengths = values.map((value) => Buffer.byteLength(value, "utf8"));
  let total = 4;
  for (const length of lengths) total += 4 + length;
  const bytes = Buffer.allocUnsafe(total);
  bytes.writeUInt32LE(values.length, 0);
  let at = 4;
  values.forEach((value, i) => {
    bytes.writeUInt32LE(lengths[i]!, at);
    at += 4;
    at += bytes.write(value, at, "utf8");
  });
  return bytes;
}

/** One u32 length + UTF-8 string. */
function encodeString(value: string): Buffer {
  const bytes = Buffer.allocUnsafe(4 + Buffer.byteLength(value, "utf8"));
  bytes.writeUInt32LE(bytes.length - 4, 0);
  bytes.write(value, 4, "utf8");
  return bytes;
}

const changeCodes = { set: 1, overwrite: 2, deleteKeys: 3, clear: 4 } as const;
const selectorCodes = { ids: 1, filter: 2 } as const;

/**
 * Encodes a type-4 body: a payload change and the points it applies to.
 *
 * @param payloadJson the JSON of `change.payload` for `set` and `overwrite` (as validated), else unused.
 */
export function encodePayloadChangeRecord(selector: PointSelector, change: PayloadChange, payloadJson: string | undefined): Uint8Array[] {
  const head = Buffer.alloc(4);
  head.writeUInt8(changeCodes[change.kind], 0);
  head.writeUInt8(selectorCodes[selector.kind], 1);
  const target = selector.kind === "ids" ? encodeStringList(selector.ids) : encodeString(JSON.stringify(filterToJson(selector.filter)));
  const chunks: Uint8Array[] = [head, target];
  if (change.kind === "set" || change.kind === "overwrite") chunks.push(encodeString(payloadJson ?? JSON.stringify(change.payload)));
  if (change.kind === "deleteKeys") chunks.push(encodeStringList(change.keys.map((path) => path.join("."))));
  return chunks;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what}: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** The payload of a change: a JSON object. */
function payloadObject(text: string): JsonObject {
  const value = parseJson(text, "payload");
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("payload: not a JSON object");
  return value as JsonObject;
}

/**
 * Decodes a type-4 body written by {@link encodePayloadChangeRecord}.
 * @throws Error when the body is malformed.
 */
export function decodePayloadChangeRecord(body: Uint8Array): { selector: PointSelector; change: PayloadChange } {
  const bytes = bufferOf(body);
  if (bytes.length < 4) throw new Error(`payload change record body is ${bytes.length} bytes, shorter than its 4-byte head`);
  const changeCode = bytes.readUInt8(0);
  const selectorCode = bytes.readUInt8(1);
  const reader = new StringReader(bytes, 4);
  let selector: PointSelector;
  if (selectorCode === selectorCodes.ids) selector = { kind: "ids", ids: reader.list("id") };
  else if (selectorCode === selectorCodes.filter) selector = { kind: "filter", filter: filterFromJson(parseJson(reader.next("filter"), "filter"), "filter") };
  else throw new Error(`payload change record: unknown selector ${selectorCode}`);
  let change: PayloadChange;
  switch (changeCode) {
    case changeCodes.set:
    case changeCodes.overwrite:
      change = { kind: changeCode === changeCodes.set ? "set" : "overwrite", payload: payloadObject(reader.next("payload")) };
      break;
    case changeCodes.deleteKeys:
      change = { kind: "deleteKeys", keys: reader.list("key").map((key) => key.split(".")) };
      break;
    case changeCodes.clear:
      change = { kind: "clear" };
      break;
    default:
      throw new Error(`payload change record: unknown change ${changeCode}`);
  }
  if (!reader.done) throw new Error(`payload change record: ${bytes.length - reader.at} unexpected bytes at byte ${reader.at}`);
  return { selector, change };
}

/** Encodes a type-5 body: a type-1 body (from {@link encodeUpsertRecord}) after its ingest id and batch. */
export function encodeIngestBatchRecord(ingestId: string, batch: number, upsertBody: readonly Uint8Array[]): Uint8Array[] {
  const id = encodeString(ingestId);
  const head = Buffer.alloc(id.length + 8);
  id.copy(head, 0);
  head.writeBigUInt64LE(BigInt(batch), id.length);
  return [head, ...upsertBody];
}

/** A decoded type-5 record. */
export interface DecodedIngestBatch extends DecodedUpsert {
  ingestId: string;
  batch: number;
}

/**
 * Decodes a type-5 body written by {@link encodeIngestBatchRecord}.
 * @throws Error when the body is malformed or its dimension is not `dimension`.
 */
export function decodeIngestBatchRecord(body: Uint8Array, dimension: number): DecodedIngestBatch {
  const bytes = bufferOf(body);
  const reader = new StringReader(bytes, 0);
  const ingestId = reader.next("ingest id");
  if (reader.at + 8 > bytes.length) throw new Error(`ingest batch record: the body ends at byte ${bytes.length}, inside the batch number at byte ${reader.at}`);
  const batch = bytes.readBigUInt64LE(reader.at);
  if (batch > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`ingest batch record: batch ${batch} is 2^53 or more`);
  return { ingestId, batch: Number(batch), ...decodeUpsertRecord(bytes.subarray(reader.at + 8), dimension) };
}
