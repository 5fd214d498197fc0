import { Distance, RpcError, type VectorDbClient } from "../../client/index.js";
import { callTimeoutMs, collectionName, type Model } from "./model.js";
import type { JsonObject, JsonValue, PointState, StoredPoint, Violation, ViolationKind } from "./types.js";
import { clip, describeError } from "./report.js";

/** Ids per Get of the check. */
const checkChunkIds = 500;

function sameBits(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Deep equality of JSON values: numbers by value, objects regardless of key order. */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((value, i) => jsonEqual(value, b[i]));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
}

function bitsOf(value: number): string {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0]!;
  return `0x${bits.toString(16).padStart(8, "0")} (${Object.is(value, -0) ? "-0" : value})`;
}

/** A short human description of a state, for reports. */
export function describeState(state: PointState): string {
  if (state === null) return "absent";
  const head = Array.from(state.vector.subarray(0, 3), (v) => (Object.is(v, -0) ? "-0" : v.toPrecision(6))).join(", ");
  return clip(`present vector=[${head}${state.vector.length > 3 ? ", …" : ""}] payload=${JSON.stringify(state.payload)}`);
}

function statesEqual(a: PointState, b: PointState): boolean {
  if (a === null || b === null) return a === b;
  return sameBits(a.vector, b.vector) === -1 && jsonEqual(a.payload, b.payload);
}

/**
 * Judges what the server holds for one id. `expected` is the last acknowledged state; `alternatives`,
 * when given, are the values of an operation cut by the kill (or failed), any of which is accepted as
 * well. Returns the violation (without round and id), or undefined when the found state is allowed.
 */
export function judgePoint(expected: PointState, found: PointState, alternatives: readonly PointState[] = []): Omit<Violation, "round" | "id"> | undefined {
  if (statesEqual(expected, found) || alternatives.some((alternative) => statesEqual(alternative, found))) return undefined;
  if (alternatives.length > 0) {
    const allowed = [expected, ...alternatives].map(describeState).join(" | ");
    return { kind: "uncertain", expected: clip(`one of: ${allowed}`, 400), found: describeState(found) };
  }
  if (expected === null) return { kind: "resurrected", expected: "absent (deleted or never written)", found: describeState(found) };
  if (found === null) return { kind: "lost", expected: describeState(expected), found: "absent" };
  const at = sameBits(expected.vector, found.vector);
  if (at !== -1) {
    const detail =
      expected.vector.length !== found.vector.length
        ? `${found.vector.length} components instead of ${expected.vector.length}`
        : `component ${at}: ${bitsOf(found.vector[at]!)} instead of ${bitsOf(expected.vector[at]!)}`;
    return { kind: "vector", expected: describeState(expected), found: `${describeState(found)}; ${detail}` };
  }
  return { kind: "payload", expected: `payload=${clip(JSON.stringify(expected.payload), 300)}`, found: `payload=${clip(JSON.stringify(found.payload), 300)}` };
}

/** Collects the violations of one round, keeping a bounded sample. */
export class ViolationLog {
  count = 0;
  readonly byKind: Partial<Record<ViolationKind, number>> = {};
  readonly samples: Violation[] = [];
  constructor(
    private readonly round: number,
    private readonly samplesMax: number,
  ) {}
  add(id: string, violation: Omit<Violation, "round" | "id">): void {
    this.count++;
    this.byKind[violation.kind] = (this.byKind[violation.kind] ?? 0) + 1;
    if (this.samples.length < this.samplesMax) this.samples.push({ round: this.round, id, ...violation });
  }
}

/** Reads every id back, judges it, and sets the model to what was found. */
export async function checkAndResync(
  client: VectorDbClient,
  model: Model,
  dimension: number,
  violations: ViolationLog,
): Promise<{ checked: number; expectedPresent: number; expectedAbsent: number; uncertainIds: number; foundPresent: number; recreate: boolean }> {
  const found = new Map<string, StoredPoint>();
  let collectionMissing = false;
  let readable = true;
  try {
    const { collection } = await client.collections.getCollection({ name: collectionName }, { timeoutMs: callTimeoutMs });
    if (collection === undefined || collection.dimension !== dimension || collection.distance !== Distance.EUCLIDEAN) {
      violations.add("(collection)", {
        kind: "collection-config",
        expected: `dimension ${dimension}, DISTANCE_EUCLIDEAN`,
        found: collection === undefined ? "no collection in the response" : `dimension ${collection.dimension}, ${Distance[collection.distance]}`,
      });
    }
    for (let start = 0; start < model.slots.length; start += checkChunkIds) {
      const ids = model.slots.slice(start, start + checkChunkIds).map((slot) => slot.id);
      const { points } = await client.points.get({ collection: collectionName, ids, withPayload: true, withVector: true }, { timeoutMs: callTimeoutMs });
      for (const point of points) found.set(point.id, { vector: Float32Array.from(point.vector), payload: (point.payload ?? {}) as JsonObject });
    }
    const after = await client.collections.getCollection({ name: collectionName }, { timeoutMs: callTimeoutMs });
    const pointCount = Number(after.collection?.pointCount ?? -1);
    if (pointCount !== found.size) {
      violations.add("(collection)", { kind: "point-count", expected: `pointCount ${found.size} (the points Get found)`, found: `pointCount ${pointCount}` });
    }
  } catch (error) {
    if (error instanceof RpcError && error.statusName === "NOT_FOUND" && error.details.includes(collectionName)) {
      collectionMissing = true;
      violations.add("(collection)", { kind: "collection-lost", expected: `collection "${collectionName}" (created and acknowledged in round 1)`, found: describeError(error) });
    } else {
      readable = false;
      violations.add("(collection)", { kind: "read-failed", expected: "GetCollection and Get answer OK once the server is SERVING", found: describeError(error) });
    }
  }
  let expectedPresent = 0;
  let expectedAbsent = 0;
  let uncertainIds = 0;
  for (const slot of model.slots) {
    if (slot.uncertain) uncertainIds++;
    else if (slot.state === null) expectedAbsent++;
    else expectedPresent++;
    const foundState = found.get(slot.id) ?? null;
    // When the reads failed, nothing was observed: report no per-point verdicts (the read failure is the violation).
    if (readable) {
      const verdict = judgePoint(slot.state, foundState, slot.uncertain ? slot.pending : []);
      if (verdict !== undefined) violations.add(slot.id, verdict);
      slot.state = foundState;
    }
    slot.pending = [];
    slot.uncertain = false;
    slot.locked = false;
  }
  return { checked: readable ? model.slots.length : 0, expectedPresent, expectedAbsent, uncertainIds, foundPresent: found.size, recreate: collectionMissing };
}
