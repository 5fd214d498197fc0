import { isUtf8 } from "node:buffer";
import { fromBinary, ScalarType, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { wellFormed } from "../errors.js";
import { decodeWithFloatVectors, floatVectorPlan } from "./float-vectors.js";

/**
 * A request message that could not be decoded. The server's deserializers return it in place of the
 * message instead of throwing (grpc-js would turn a throw into INTERNAL "Error deserializing request",
 * and the fault is the client's), so that the transport answers INVALID_ARGUMENT saying what failed.
 */
export class MalformedMessage {
  constructor(
    /** Full name of the message type, e.g. `vectordb.v1.UpsertRequest`. */
    readonly typeName: string,
    /** Where decoding failed, as a field path in the request (`points[3].id`, `filter.must[0]`); "" for the message itself. */
    readonly path: string,
    /** What failed there, e.g. `not valid UTF-8`, `premature EOF`. */
    readonly reason: string,
    /** True when the message nests deeper than the decoder's recursion limit (the reason then says so). */
    readonly tooDeep: boolean,
  ) {}
}

/** Longest field path a {@link MalformedMessage} keeps, in characters (the middle of a longer one is cut). */
const pathCharsMax = 120;

/**
 * A deserializer of `schema` for the server side: the decoded message, or a {@link MalformedMessage}
 * for bytes that are not a valid `schema` message (truncated, wrong wire types, invalid UTF-8 in a
 * string, messages nested deeper than `recursionLimit`). Its `repeated float` fields (vectors) are
 * `Float32Array`s where the message type says `number[]` (see float-vectors.ts).
 */
export function tolerantDeserializer<Desc extends DescMessage>(schema: Desc, recursionLimit: number): (bytes: Uint8Array) => MessageShape<Desc> | MalformedMessage {
  const options = { recursionLimit };
  // Vectors (`repeated float`) are decoded straight into Float32Arrays (see float-vectors.ts).
  const vectors = floatVectorPlan(schema);
  return (bytes) => {
    if (vectors !== undefined) {
      const message = decodeWithFloatVectors(schema, vectors, bytes, options);
      if (message !== undefined) return message;
    }
    try {
      return fromBinary(schema, bytes, options);
    } catch (error) {
      return diagnose(schema, bytes, recursionLimit, error);
    }
  };
}

/** Failure found by {@link walk}: the field path and what went wrong there. */
class WalkFailure extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly tooDeep = false,
  ) {
    super(reason);
  }
}

/**
 * Why `bytes` failed to decode as `schema`: walks the message again, field by field, to name the
 * field where it breaks. Runs only after a failure, so it favours clarity over speed.
 */
function diagnose(schema: DescMessage, bytes: Uint8Array, recursionLimit: number, error: unknown): MalformedMessage {
  const original = error instanceof Error ? error.message : String(error);
  try {
    const reader = new BinaryReader(bytes);
    walk(schema, reader, bytes.length, "", 1, recursionLimit);
  } catch (failure) {
    if (failure instanceof WalkFailure) return new MalformedMessage(schema.typeName, shortPath(failure.path), failure.reason, failure.tooDeep);
    return new MalformedMessage(schema.typeName, "", reasonOf(failure), false);
  }
  // The walk accepts what protobuf-es refused (e.g. a known field with another wire type): its reason.
  return new MalformedMessage(schema.typeName, "", original.replace(/^cannot decode message \S+ from binary: /, ""), /maximum recursion depth/.test(original));
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `path` cut in the middle to {@link pathCharsMax} characters (never inside a character: see {@link wellFormed}). */
function shortPath(path: string): string {
  if (path.length <= pathCharsMax) return path;
  const half = Math.floor((pathCharsMax - 1) / 2);
  return wellFormed(`${path.slice(0, half)}…${path.slice(path.length - half)}`);
}

/** `google.protobuf.Struct`, `Value` and `ListValue` are JSON: their own field names stay out of paths. */
const jsonTypes = new Set(["google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"]);

function fieldStep(desc: DescMessage, field: DescField | undefined, fieldNo: number): string {
  if (field === undefined) return `.<field ${fieldNo}>`;
  return jsonTypes.has(desc.typeName) ? "" : `.${field.name}`;
}

function isString(field: DescField): boolean {
  return (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")) && field.scalar === ScalarType.STRING;
}

/** Reads the fields of one `desc` message up to `end`, throwing a {@link WalkFailure} at the first fault. */
function walk(desc: DescMessage, reader: BinaryReader, end: number, path: string, depth: number, recursionLimit: number): void {
  if (depth > recursionLimit) throw new WalkFailure(path, `nests messages deeper than ${recursionLimit} levels`, true);
  const counts = new Map<number, number>();
  while (reader.pos < end) {
    let fieldNo: number;
    let wireType: WireType;
    try {
      [fieldNo, wireType] = reader.tag();
    } catch (error) {
      throw new WalkFailure(path, reasonOf(error));
    }
    const field = desc.fields.find((candidate) => candidate.number === fieldNo);
    let step = fieldStep(desc, field, fieldNo);
    if (field?.fieldKind === "list") {
      const index = counts.get(fieldNo) ?? 0;
      counts.set(fieldNo, index + 1);
      step += `[${index}]`;
    }
    const fieldPath = `${path}${step}`;
    try {
      if (field !== undefined && wireType === WireType.LengthDelimited) {
        readLengthDelimited(field, reader, end, fieldPath, depth, recursionLimit);
      } else {
        reader.skip(wireType, fieldNo);
      }
    } catch (error) {
      if (error instanceof WalkFailure) throw error;
      throw new WalkFailure(fieldPath, reasonOf(error));
    }
    if (reader.pos > end) throw new WalkFailure(fieldPath, "runs past the end of its enclosing message");
  }
}

function readLengthDelimited(field: DescField, reader: BinaryReader, end: number, path: string, depth: number, recursionLimit: number): void {
  if (isString(field)) {
    if (!isUtf8(reader.bytes())) throw new WalkFailure(path, "is not valid UTF-8");
    return;
  }
  const message = field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message : undefined;
  if (message === undefined && field.fieldKind !== "map") {
    reader.skip(WireType.LengthDelimited);
    return;
  }
  const length = reader.uint32();
  const start = reader.pos;
  if (start + length > end) throw new WalkFailure(path, `declares ${length} bytes, only ${end - start} remain`);
  if (field.fieldKind === "map") walkMapEntry(field, reader, start + length, path, depth + 1, recursionLimit);
  else if (message !== undefined) walk(message, reader, start + length, path, depth + 1, recursionLimit);
  reader.pos = start + length;
}

/** A map entry (`key` = 1, `value` = 2): the key names the path step. */
function walkMapEntry(field: DescField & { fieldKind: "map" }, reader: BinaryReader, end: number, path: string, depth: number, recursionLimit: number): void {
  if (depth > recursionLimit) throw new WalkFailure(path, `nests messages deeper than ${recursionLimit} levels`, true);
  let key = "";
  while (reader.pos < end) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited && field.mapKey === ScalarType.STRING) {
      const bytes = reader.bytes();
      if (!isUtf8(bytes)) throw new WalkFailure(`${path}[key]`, "is not valid UTF-8");
      key = Buffer.from(bytes).toString("utf8");
    } else if (fieldNo === 2 && wireType === WireType.LengthDelimited && field.mapKind === "message") {
      const length = reader.uint32();
      const start = reader.pos;
      if (start + length > end) throw new WalkFailure(path, `declares ${length} bytes, only ${end - start} remain`);
      walk(field.message, reader, start + length, `${path}${mapStep(key)}`, depth + 1, recursionLimit);
      reader.pos = start + length;
    } else {
      reader.skip(wireType, fieldNo);
    }
  }
}

function mapStep(key: string): string {
  const shown = key.length > 32 ? wellFormed(`${key.slice(0, 32)}…`) : key;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(shown) ? `.${shown}` : `[${JSON.stringify(shown)}]`;
}
