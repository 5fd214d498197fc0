/**
 * The model of the power-loss simulation: what the collection acknowledged, and which states a
 * recovered collection may be in.
 *
 * Every write the workload issues is an {@link ModelOp} with the sequence of its WAL record (read
 * from `DurableCollection.nextSequence` around the call: a write refused before it was logged has
 * none) and its outcome. Writes are applied in sequence order, and the log on disk is a prefix of
 * the writes (no hole), so a recovered collection whose last applied sequence is A must hold exactly
 * the state reached from the last verified state by applying every write with a sequence up to A —
 * where a write that failed (UNAVAILABLE: its outcome is unknown) may or may not be among them. Which
 * A are allowed depends on the fsync policy (see {@link requiredSequence}).
 */
import type { FsyncPolicy } from "../../config.js";
import { matchesFilter, type Filter, type JsonObject, type JsonValue, type PayloadChange, type PointInput, type PointRecord, type PointSelector } from "../../collection/index.js";

/** One point as the model holds it: the vector's bits and the payload's JSON. */
export interface ModelPoint {
  vector: string;
  payload: string;
}

/** A collection's contents: id → point. */
export type ModelState = Map<string, ModelPoint>;

/** A write of the workload. */
export type ModelWrite =
  | { kind: "upsert"; points: readonly PointInput[] }
  | { kind: "deleteIds"; ids: readonly string[] }
  | { kind: "deleteByFilter"; filter: Filter; describe: string }
  /** SetPayload, OverwritePayload, DeletePayloadKeys or ClearPayload, by ids or by filter. */
  | { kind: "payload"; selector: PointSelector; change: PayloadChange; describe: string };

/** A write and what became of it. */
export interface ModelOp {
  write: ModelWrite;
  /** The sequence of its WAL record; undefined when it was refused before being logged. */
  sequence: number | undefined;
  outcome: "pending" | "acknowledged" | "failed";
  /** Simulated time of the acknowledgement, ms. */
  acknowledgedAtMs: number;
  /** Index of the acknowledgement in the run's order of events. */
  acknowledgedAtEvent: number;
  /** The error of a failed write. */
  error: string | undefined;
}

/** The bits of a vector as text (exact comparison, -0 and NaN payloads included). */
export function vectorKey(vector: Float32Array): string {
  return Array.from(new Uint32Array(vector.buffer, vector.byteOffset, vector.length), (word) => word.toString(16)).join(",");
}

function payloadKey(payload: JsonObject | undefined): string {
  return payload === undefined ? "" : JSON.stringify(payload);
}

/** Applies one write to `state` (in place), as the collection does. */
export function applyWrite(state: ModelState, write: ModelWrite): void {
  switch (write.kind) {
    case "upsert":
      for (const point of write.points) state.set(point.id, { vector: vectorKey(point.vector), payload: payloadKey(point.payload) });
      return;
    case "deleteIds":
      for (const id of write.ids) state.delete(id);
      return;
    case "deleteByFilter":
      for (const [id, point] of [...state]) if (matchesFilter(write.filter, id, parsePayload(point.payload))) state.delete(id);
      return;
    case "payload": {
      const { selector, change } = write;
      const chosen = selector.kind === "ids" ? selector.ids.filter((id) => state.has(id)) : [...state].filter(([id, point]) => matchesFilter(selector.filter, id, parsePayload(point.payload))).map(([id]) => id);
      for (const id of new Set(chosen)) {
        const point = state.get(id)!;
        state.set(id, { vector: point.vector, payload: payloadKey(changePayload(parsePayload(point.payload), change)) });
      }
      return;
    }
  }
}

function parsePayload(key: string): JsonObject | undefined {
  return key === "" ? undefined : (JSON.parse(key) as JsonObject);
}

/**
 * A payload after `change`, worked out here on its own (not with the collection's code, which the
 * simulation checks): `set` merges top-level keys (new ones last, replaced ones in place), `overwrite`
 * replaces, `clear` removes, `deleteKeys` removes each path (a missing path, or one through a
 * non-object, changes nothing). A payload left without keys stays an empty object.
 */
export function changePayload(payload: JsonObject | undefined, change: PayloadChange): JsonObject | undefined {
  switch (change.kind) {
    case "set":
      return Object.assign({}, payload, change.payload);
    case "overwrite":
      return change.payload;
    case "clear":
      return undefined;
    case "deleteKeys": {
      if (payload === undefined) return undefined;
      const copy = structuredClone(payload);
      for (const path of change.keys) {
        let holder: JsonValue = copy;
        for (const key of path.slice(0, -1)) holder = holder !== null && typeof holder === "object" && !Array.isArray(holder) ? (holder[key] ?? null) : null;
        if (holder !== null && typeof holder === "object" && !Array.isArray(holder)) delete holder[path[path.length - 1]!];
      }
      return copy;
    }
  }
}

/** The state a collection shows through `get`, for the ids of `universe`. */
export function stateOf(records: readonly PointRecord[]): ModelState {
  const state: ModelState = new Map();
  for (const record of records) state.set(record.id, { vector: vectorKey(record.vector!), payload: payloadKey(record.payload) });
  return state;
}

/** Where two states differ, in words (empty when equal). */
export function stateDifference(expected: ModelState, actual: ModelState, limit = 5): string[] {
  const lines: string[] = [];
  for (const [id, point] of expected) {
    const found = actual.get(id);
    if (found === undefined) lines.push(`${id}: missing (expected payload ${point.payload || "none"})`);
    else if (found.vector !== point.vector) lines.push(`${id}: vector differs`);
    else if (found.payload !== point.payload) lines.push(`${id}: payload ${found.payload || "none"}, expected ${point.payload || "none"}`);
  }
  for (const id of actual.keys()) if (!expected.has(id)) lines.push(`${id}: present, expected absent`);
  return lines.slice(0, limit);
}

function equalStates(a: ModelState, b: ModelState): boolean {
  if (a.size !== b.size) return false;
  for (const [id, point] of a) {
    const other = b.get(id);
    if (other === undefined || other.vector !== point.vector || other.payload !== point.payload) return false;
  }
  return true;
}

/** What a recovery must hold at least, by policy. */
export interface Requirement {
  /** The lowest sequence the recovered collection may have applied. */
  sequence: number;
  /** Why (for the report). */
  reason: string;
}

/**
 * The lowest applied sequence a recovery after a power cut may show. Under `fsync`: every write
 * acknowledged. Under every policy: every write acknowledged before a durability point — the call of
 * a WAL fsync that then completed, a checkpoint that completed, a clean close (`durableEvent`, an
 * index in the run's order of events) — and whatever `durableSequence` says was made durable. Under
 * `interval` the timer makes those points come often enough ({@link lateFsyncs} checks that); under
 * `os` only checkpoints, closes and recoveries make them.
 */
export function requiredSequence(ops: readonly ModelOp[], policy: FsyncPolicy, durableEvent: number, durableSequence: number): Requirement {
  let required: Requirement = { sequence: durableSequence, reason: "made durable by a checkpoint, a clean close or an earlier recovery" };
  for (const op of ops) {
    if (op.outcome !== "acknowledged" || op.sequence === undefined || op.sequence <= required.sequence) continue;
    if (policy === "fsync") required = { sequence: op.sequence, reason: "acknowledged under fsync" };
    else if (op.acknowledgedAtEvent < durableEvent) required = { sequence: op.sequence, reason: `acknowledged (event ${op.acknowledgedAtEvent}) before a WAL fsync, checkpoint or close that completed (event ${durableEvent})` };
  }
  return required;
}

/** Every acknowledged write must be there (a process restart: the page cache survived). */
export function requiredAfterRestart(ops: readonly ModelOp[], durableSequence: number): Requirement {
  let sequence = durableSequence;
  for (const op of ops) if (op.outcome === "acknowledged" && op.sequence !== undefined) sequence = Math.max(sequence, op.sequence);
  return { sequence, reason: "acknowledged before a restart without power loss" };
}

/** A call of fsync on the WAL file (or on its replacement during a cut). */
export interface WalSyncCall {
  /** Index in the run's order of events. */
  event: number;
  /** Simulated time of the call, ms. */
  atMs: number;
}

/**
 * Under `interval`: the acknowledged writes for which no WAL fsync was called within
 * `flushIntervalMs` after the acknowledgement, although that much time passed before `untilMs`. The
 * documented loss window ("the writes of the last interval, plus the fsync then running") holds only
 * if there are none.
 */
export function lateFsyncs(ops: readonly ModelOp[], syncs: readonly WalSyncCall[], flushIntervalMs: number, untilMs: number): ModelOp[] {
  return ops.filter(
    (op) =>
      op.outcome === "acknowledged" &&
      op.acknowledgedAtMs + flushIntervalMs < untilMs &&
      !syncs.some((sync) => sync.event > op.acknowledgedAtEvent && sync.atMs <= op.acknowledgedAtMs + flushIntervalMs),
  );
}

/** The aliases of the database as the model holds them: alias → collection. */
export type AliasState = ReadonlyMap<string, string>;

/** An UpdateAliases action of the workload (the domain's `AliasAction`). */
export type AliasChange = { kind: "create"; alias: string; collection: string } | { kind: "delete"; alias: string } | { kind: "rename"; from: string; to: string };

/** The aliases after `actions`, applied in order to a copy of `state` (the workload issues valid actions only). */
export function aliasesAfter(state: AliasState, actions: readonly AliasChange[]): Map<string, string> {
  const next = new Map(state);
  for (const action of actions) {
    if (action.kind === "create") next.set(action.alias, action.collection);
    else if (action.kind === "delete") next.delete(action.alias);
    else if (action.from !== action.to) {
      next.set(action.to, next.get(action.from)!);
      next.delete(action.from);
    }
  }
  return next;
}

/** Aliases in words, sorted: `a0→sim, a2→sim`, or `none`. */
export function describeAliases(state: Iterable<readonly [string, string]>): string {
  const pairs = [...state].map(([alias, collection]) => `${alias}→${collection}`).sort();
  return pairs.length === 0 ? "none" : pairs.join(", ");
}

/** Most failed writes whose presence the check tries both ways (2^n candidate states). */
const uncertainWritesMax = 10;

/**
 * Whether `actual` (recovered, having applied up to sequence `applied`) is a state the model allows:
 * `base` (the state verified at `baseSequence`) with every write of `ops` up to `applied` applied in
 * sequence order, failed ones optionally. Returns undefined when it is, or why not.
 */
export function explainMismatch(base: ModelState, baseSequence: number, ops: readonly ModelOp[], applied: number, actual: ModelState): string | undefined {
  const logged = ops.filter((op) => op.sequence !== undefined && op.sequence > baseSequence && op.sequence <= applied).sort((a, b) => a.sequence! - b.sequence!);
  const uncertain = logged.filter((op) => op.outcome === "failed").length;
  if (uncertain > uncertainWritesMax) return `harness limit: ${uncertain} failed writes below sequence ${applied}, more than ${uncertainWritesMax} to try both ways`;
  let candidates: ModelState[] = [new Map(base)];
  for (const op of logged) {
    if (op.outcome === "failed") {
      const withIt = candidates.map((state) => {
        const copy = new Map(state);
        applyWrite(copy, op.write);
        return copy;
      });
      candidates = candidates.concat(withIt);
    } else {
      for (const state of candidates) applyWrite(state, op.write);
    }
  }
  if (candidates.some((state) => equalStates(state, actual))) return undefined;
  const differences = stateDifference(candidates[0]!, actual);
  return `the recovered points (applied sequence ${applied}) match no state the log allows: ${differences.join("; ")}`;
}
