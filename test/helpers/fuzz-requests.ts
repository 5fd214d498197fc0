import { create, ScalarType, toBinary, type DescField, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { Health } from "../../gen/health/v1/health_pb.js";
import { CollectionService } from "../../gen/vectordb/v1/collection_service_pb.js";
import { PointService } from "../../gen/vectordb/v1/point_service_pb.js";
import { rawBidi, rawClientStream, rawServerStream, rawUnary, type rawClient, type RawResult } from "./wire.js";

/**
 * Requests for a fuzz test, generated from the descriptors of every service (so new RPCs are fuzzed
 * without a change here) and then mangled. Strings favour the collection `fuzz`; nothing names any
 * other existing collection, so a canary collection stays untouched unless the server misbehaves.
 */

/** The dimension the generated vectors mostly have (the `fuzz` collection's). */
export const fuzzDimension = 8;

type Random = () => number;
export const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
export const int = (random: Random, max: number): number => Math.floor(random() * (max + 1));

/** Strings a field may get: mostly ones the server knows (the fuzz collection), some hostile. */
function randomString(random: Random): string {
  const r = random();
  if (r < 0.45) return "fuzz";
  if (r < 0.55) return pick(random, ["", "fz1", "fz2", "nope", "a/b", "../x", "id-1", "id-2", "lang", "meta.lang", "x.", ".."]);
  if (r < 0.65) return "é😀\u0000\u202e".repeat(1 + int(random, 20));
  if (r < 0.75) return "w".repeat(int(random, 20_000));
  return Math.floor(random() * 1e9).toString(36);
}

function randomNumber(random: Random): number {
  const r = random();
  if (r < 0.1) return pick(random, [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 3.4e38, -3.4e38, 1e-45]);
  return (random() - 0.5) * 10 ** int(random, 6);
}

/** A JSON value (payloads, filter values), now and then nested far past every limit. */
function randomJson(random: Random, depth: number): unknown {
  const r = random();
  if (depth <= 0 || r < 0.4) return pick<unknown>(random, [null, true, randomNumber(random), randomString(random)]);
  if (r < 0.45) {
    let deep: unknown = 1;
    for (let i = 0, n = 20 + int(random, 80); i < n; i++) deep = random() < 0.5 ? { a: deep } : [deep];
    return deep;
  }
  if (r < 0.7) return Array.from({ length: int(random, 4) }, () => randomJson(random, depth - 1));
  return Object.fromEntries(Array.from({ length: int(random, 4) }, () => [randomString(random).slice(0, 100), randomJson(random, depth - 1)]));
}

function randomScalar(random: Random, field: DescField & { scalar: ScalarType }): unknown {
  switch (field.scalar) {
    case ScalarType.STRING:
      return randomString(random);
    case ScalarType.BOOL:
      return random() < 0.5;
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return randomNumber(random);
    case ScalarType.BYTES:
      return Uint8Array.from({ length: int(random, 16) }, () => int(random, 255));
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return BigInt(pick(random, [0, 1, 10, 2 ** 40]));
    default:
      return pick(random, [0, 1, 3, 8, 10, 64, 100, 5_000, 100_000, 2 ** 31 - 1]);
  }
}

/** A random message of `desc`, in protobuf-es init form; `depth` bounds the recursion. */
function randomMessage(random: Random, desc: DescMessage, depth: number): Record<string, unknown> {
  if (desc.typeName === "google.protobuf.Struct") return randomJson(random, 3) as Record<string, unknown>;
  const message: Record<string, unknown> = {};
  for (const oneof of desc.oneofs) {
    if (random() < 0.3 || depth <= 0) continue;
    const field = pick(random, oneof.fields);
    message[oneof.localName] = { case: field.localName, value: randomFieldValue(random, field, depth) };
  }
  for (const field of desc.fields) {
    if (field.oneof !== undefined || random() < 0.25) continue;
    if (field.fieldKind === "list") {
      const vector = field.listKind === "scalar" && field.scalar === ScalarType.FLOAT;
      const length = vector && random() < 0.8 ? fuzzDimension : int(random, depth > 0 ? 4 : 0);
      message[field.localName] = Array.from({ length }, () => randomFieldValue(random, field, depth));
    } else if (field.fieldKind !== "map") {
      if (field.fieldKind === "message" && depth <= 0) continue;
      message[field.localName] = randomFieldValue(random, field, depth);
    }
  }
  return message;
}

function randomFieldValue(random: Random, field: DescField, depth: number): unknown {
  if (field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) {
    return randomMessage(random, field.message, depth - 1);
  }
  if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) return pick(random, [0, 1, 2, 3, 99]);
  if (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")) return randomScalar(random, field);
  return undefined;
}

/** Mangles encoded bytes: flips, truncates, splices, inserts, or replaces them with random bytes. */
export function mangle(random: Random, bytes: Uint8Array, other: Uint8Array): Uint8Array {
  const out = Array.from(bytes);
  switch (int(random, 6)) {
    case 0:
      return Uint8Array.from({ length: int(random, 64) }, () => int(random, 255));
    case 1:
      for (let i = 0, n = 1 + int(random, 8); i < n && out.length > 0; i++) out[int(random, out.length - 1)] = int(random, 255);
      return Uint8Array.from(out);
    case 2:
      return bytes.subarray(0, int(random, bytes.length));
    case 3:
      return Uint8Array.from([...out.slice(0, int(random, out.length)), ...other.subarray(int(random, other.length))]);
    case 4:
      out.splice(int(random, out.length), 0, ...Array.from({ length: 1 + int(random, 8) }, () => int(random, 255)));
      return Uint8Array.from(out);
    default:
      return bytes;
  }
}

export interface Target {
  service: DescService;
  path: string;
  kind: string;
  input: DescMessage | undefined;
}

/** Every method of every service the server has (reflection as raw bytes only). */
export const fuzzTargets: Target[] = [CollectionService, PointService, Health].flatMap((service) =>
  service.methods.map((method) => ({ service, path: `/${service.typeName}/${method.name}`, kind: method.methodKind, input: method.input })),
);
// Reflection has no descriptor in gen/: raw bytes only.
for (const version of ["v1", "v1alpha"]) {
  fuzzTargets.push({ service: Health, path: `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`, kind: "bidi_streaming", input: undefined });
}

export function randomRequest(random: Random, target: Target): Uint8Array {
  if (target.input === undefined || random() < 0.1) return Uint8Array.from({ length: int(random, 48) }, () => int(random, 255));
  return toBinary(target.input, create(target.input, randomMessage(random, target.input, 4) as never));
}

/** Sends one fuzz case the way its method takes messages (unary, client stream, server stream, bidi). */
export function callTarget(client: ReturnType<typeof rawClient>, target: Target, messages: Uint8Array[]): Promise<RawResult> {
  switch (target.kind) {
    case "client_streaming":
      return rawClientStream(client, target.path, messages);
    case "server_streaming":
      return rawServerStream(client, target.path, messages[0]!);
    case "bidi_streaming":
      return rawBidi(client, target.path, messages[0]!);
    default:
      return rawUnary(client, target.path, messages[0]!);
  }
}


/** One fuzz case: a method and its (mangled) request messages (one, or 1 to 3 for a client stream). */
export function fuzzCase(random: Random): { target: Target; messages: Uint8Array[] } {
  const target = pick(random, fuzzTargets);
  const count = target.kind === "client_streaming" ? 1 + int(random, 3) : 1;
  const messages = Array.from({ length: count }, () => mangle(random, randomRequest(random, target), randomRequest(random, target)));
  return { target, messages };
}
