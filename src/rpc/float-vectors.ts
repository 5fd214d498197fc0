import { endianness } from "node:os";
import { fromBinary, ScalarType, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/**
 * Decoding of `repeated float` fields (vectors) straight into `Float32Array`s.
 *
 * protobuf-es decodes a packed `repeated float` one number at a time into a growing `number[]` (a
 * double per component), which the service then copies into a `Float32Array`: for an Upsert of 1,000
 * × 128 floats that was most of the server's CPU per call and much of its garbage. Here the request
 * is scanned once: the bytes of each vector field are copied as they are (little-endian IEEE 754, as
 * on the wire) into a `Float32Array`, the rest of the message is copied without them, protobuf-es
 * decodes that rest (ids, payloads, filters: every check it makes still applies), and the vectors are
 * put back in place. The message then holds `Float32Array`s where its type says `number[]`; server
 * code reads them by index and length only (see `service/convert.ts`).
 *
 * Covered: `repeated float` fields of the message and of its repeated message fields, two levels deep
 * (UpsertRequest.points[].vector, IngestRequest, IngestStreamRequest, SearchRequest.vector,
 * BatchSearchRequest.queries[].vector). Packed and unpacked encodings are both accepted, as proto3
 * requires. Anything unexpected (a wrong wire type, a length past the end) makes {@link decodeWithFloatVectors}
 * return undefined, and the caller decodes the ordinary way, which names the fault.
 */

/** Where the vectors of a message type are: its `repeated float` fields and the repeated message fields that hold some. */
export interface FloatVectorPlan {
  /** Field number → local name of each `repeated float` field. */
  readonly floats: ReadonlyMap<number, string>;
  /** Field number → local name and plan of each repeated message field whose type has vectors. */
  readonly messages: ReadonlyMap<number, { readonly localName: string; readonly plan: FloatVectorPlan }>;
}

/** The vectors taken out of one message: per float field, and per repeated message field one entry per element. */
interface Extracted {
  floats: Map<number, Float32Array> | undefined;
  messages: Map<number, Extracted[]> | undefined;
}

/** Where the message without its vectors is written: never longer than the message itself. */
interface Output {
  readonly bytes: Uint8Array;
  pos: number;
}

const nestingMax = 2;

/** The plan of `schema`, or undefined when it holds no vector (or the machine is big-endian). */
export function floatVectorPlan(schema: DescMessage, depth = 0): FloatVectorPlan | undefined {
  if (endianness() !== "LE") return undefined;
  const floats = new Map<number, string>();
  const messages = new Map<number, { localName: string; plan: FloatVectorPlan }>();
  for (const field of schema.fields) {
    if (field.fieldKind !== "list") continue;
    if (field.listKind === "scalar" && field.scalar === ScalarType.FLOAT) floats.set(field.number, field.localName);
    else if (field.listKind === "message" && depth + 1 < nestingMax) {
      const plan = floatVectorPlan(field.message, depth + 1);
      if (plan !== undefined) messages.set(field.number, { localName: field.localName, plan });
    }
  }
  return floats.size === 0 && messages.size === 0 ? undefined : { floats, messages };
}

/**
 * `bytes` decoded as `schema` with the vectors of `plan` as `Float32Array`s, or undefined when the
 * bytes do not scan (the caller then decodes them the ordinary way, which reports the fault).
 */
export function decodeWithFloatVectors<Desc extends DescMessage>(
  schema: Desc,
  plan: FloatVectorPlan,
  bytes: Uint8Array,
  options: { recursionLimit: number },
): MessageShape<Desc> | undefined {
  let rest: Uint8Array;
  let extracted: Extracted;
  try {
    const output: Output = { bytes: new Uint8Array(bytes.length), pos: 0 };
    const reader = new BinaryReader(bytes);
    extracted = extract(reader, bytes, bytes.length, plan, output);
    rest = output.bytes.subarray(0, output.pos);
  } catch {
    return undefined;
  }
  let message: MessageShape<Desc>;
  try {
    message = fromBinary(schema, rest, options);
  } catch {
    return undefined;
  }
  restore(message as unknown as Record<string, unknown>, plan, extracted);
  return message;
}

/**
 * Copies the message in `bytes[reader.pos, end)` to `output` without its vector fields, and returns
 * those. A nested message that loses its vectors keeps the width of its length prefix (a varint padded
 * with continuation bytes, which every protobuf decoder reads), so nothing has to be moved.
 */
function extract(reader: BinaryReader, bytes: Uint8Array, end: number, plan: FloatVectorPlan, output: Output): Extracted {
  let chunks: Map<number, Uint8Array[]> | undefined;
  let messages: Map<number, Extracted[]> | undefined;
  while (reader.pos < end) {
    const fieldStart = reader.pos;
    const [fieldNo, wireType] = reader.tag();
    if (reader.pos > end) throw new Error("tag past the end");
    if (plan.floats.has(fieldNo)) {
      let chunk: Uint8Array;
      if (wireType === WireType.LengthDelimited) {
        const length = reader.uint32();
        if (length % 4 !== 0 || reader.pos + length > end) throw new Error("bad packed float field");
        chunk = bytes.subarray(reader.pos, reader.pos + length);
        reader.pos += length;
      } else if (wireType === WireType.Bit32) {
        if (reader.pos + 4 > end) throw new Error("bad float field");
        chunk = bytes.subarray(reader.pos, reader.pos + 4);
        reader.pos += 4;
      } else {
        throw new Error("wrong wire type for a float field");
      }
      chunks ??= new Map();
      const list = chunks.get(fieldNo);
      if (list === undefined) chunks.set(fieldNo, [chunk]);
      else list.push(chunk);
      continue;
    }
    const nested = plan.messages.get(fieldNo);
    if (nested !== undefined && wireType === WireType.LengthDelimited) {
      const lengthStart = reader.pos;
      const length = reader.uint32();
      const childStart = reader.pos;
      const childEnd = childStart + length;
      if (childEnd > end) throw new Error("length past the end");
      const prefixWidth = childStart - lengthStart;
      output.bytes.set(bytes.subarray(fieldStart, lengthStart), output.pos);
      const prefixAt = output.pos + (lengthStart - fieldStart);
      output.pos = prefixAt + prefixWidth;
      const childVectors = extract(reader, bytes, childEnd, nested.plan, output);
      if (reader.pos !== childEnd) throw new Error("field past the end");
      writePaddedVarint(output.bytes, prefixAt, prefixWidth, output.pos - (prefixAt + prefixWidth));
      messages ??= new Map();
      const list = messages.get(fieldNo);
      if (list === undefined) messages.set(fieldNo, [childVectors]);
      else list.push(childVectors);
      continue;
    }
    reader.skip(wireType, fieldNo);
    if (reader.pos > end) throw new Error("field past the end");
    output.bytes.set(bytes.subarray(fieldStart, reader.pos), output.pos);
    output.pos += reader.pos - fieldStart;
  }
  let floats: Map<number, Float32Array> | undefined;
  if (chunks !== undefined) {
    floats = new Map();
    for (const [fieldNo, list] of chunks) floats.set(fieldNo, joinFloats(list));
  }
  return { floats, messages };
}

/** `value` as a varint of exactly `width` bytes at `at` (continuation bits on all but the last byte). */
function writePaddedVarint(target: Uint8Array, at: number, width: number, value: number): void {
  for (let i = 0; i < width - 1; i++) {
    target[at + i] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  if (value > 0x7f) throw new Error("length does not fit its prefix");
  target[at + width - 1] = value;
}

/** The little-endian float32 bytes of `chunks`, in order, as one array. */
function joinFloats(chunks: readonly Uint8Array[]): Float32Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const floats = new Float32Array(length / 4);
  const target = new Uint8Array(floats.buffer);
  let at = 0;
  for (const chunk of chunks) {
    target.set(chunk, at);
    at += chunk.length;
  }
  return floats;
}

/** Puts the extracted vectors into the decoded message (each repeated message field's elements in wire order). */
function restore(message: Record<string, unknown>, plan: FloatVectorPlan, extracted: Extracted): void {
  if (extracted.floats !== undefined) for (const [fieldNo, floats] of extracted.floats) message[plan.floats.get(fieldNo)!] = floats;
  if (extracted.messages === undefined) return;
  for (const [fieldNo, children] of extracted.messages) {
    const { localName, plan: childPlan } = plan.messages.get(fieldNo)!;
    const elements = message[localName] as Record<string, unknown>[];
    for (let i = 0; i < children.length; i++) restore(elements[i]!, childPlan, children[i]!);
  }
}
