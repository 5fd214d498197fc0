/**
 * Crash test harness (issue 4): a real server in a child process is killed with SIGKILL while it
 * serves a mixed write workload, restarted on the same data directory, and checked against what the
 * parent saw acknowledged.
 *
 * One round:
 *  1. Workers send, concurrently, client-streaming `Ingest` calls (2 to 5 batches each, an id may come
 *     back in a later batch of the same stream), unary `Upsert`s (new ids and re-upserts of existing ids
 *     with new vectors and payloads) and `Delete`s by ids and, now and then, by a payload filter.
 *  2. After a random delay the server is killed with SIGKILL; the workers stop sending and wait for the
 *     calls in flight to fail.
 *  3. The server is started again on the same data directory (sometimes killed again while it recovers,
 *     then started once more) and the parent waits for grpc.health.v1 `SERVING`.
 *  4. Every id of the id space is read back with `Get` and judged against the model: a point whose last
 *     acknowledged operation wrote it must be there with a bit-identical float32 vector and an equal
 *     payload; an id whose last acknowledged operation deleted it (or that was never written) must be
 *     absent. The collection itself must exist with its dimension and distance, and its point count
 *     must equal the number of points found.
 *  5. The model is set to what was found (so a loss is reported once, in the round that caused it) and
 *     the next round continues on the same data directory: state accumulates across rounds.
 *
 * The model is exact because no two operations in flight ever touch the same id: an operation locks its
 * ids (a delete by filter locks every id of its payload group) until its RPC returns. An operation that
 * returned OK is acknowledged, so its effect is known. An operation cut by the kill (sent, no answer) may
 * or may not have been applied: its ids are "uncertain" until the next check, which accepts the previous
 * acknowledged state or any value the operation sent for that id. An operation that fails before the
 * kill is reported as an unexpected error (and its ids are uncertain too).
 *
 * The random choices (kill delays, operation mix, ids, vectors, payloads) come from a seeded generator;
 * a run is reproduced with the same seed, except for what thread timing decides (which calls are in
 * flight at the kill).
 *
 * Used by `test/crash.test.ts` (20 rounds) and `bench/crash-test.ts` (`npm run crash-test`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Distance, RpcError, VectorDbClient, type FilterInit, type IngestRequestInit, type PointInit } from "../src/client/index.js";

/** A JSON value as payloads hold it (google.protobuf.Struct). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object: a point's payload. */
export type JsonObject = { [key: string]: JsonValue };

/** A point as the server must hold it. */
export interface StoredPoint {
  /** The vector, float32 as sent (compared bit for bit). */
  vector: Float32Array;
  /** The payload, compared as JSON (numbers by value, key order ignored). */
  payload: JsonObject;
}

/** What the server must hold for one id: a point, or `null` when the id must be absent. */
export type PointState = StoredPoint | null;

/** What a violation is about. */
export type ViolationKind =
  /** An acknowledged point is absent after the restart. */
  | "lost"
  /** An id whose last acknowledged operation deleted it (or that was never written) is present. */
  | "resurrected"
  /** The point is there but its vector is not bit-identical. */
  | "vector"
  /** The point is there but its payload differs. */
  | "payload"
  /** An id touched by an operation cut by the kill holds neither its previous state nor a value sent. */
  | "uncertain"
  /** The collection does not exist after the restart. */
  | "collection-lost"
  /** The collection's dimension or distance changed. */
  | "collection-config"
  /** GetCollection's point count differs from the number of points found. */
  | "point-count"
  /** A read of the check failed (e.g. DATA_LOSS or UNAVAILABLE after SERVING). */
  | "read-failed"
  /** An acknowledged response's counts (inserted, updated, deleted) disagree with the model. */
  | "response";

/** One broken guarantee. */
export interface Violation {
  /** Round number, from 1; `rounds + 1` is the check after the final clean restart. */
  round: number;
  kind: ViolationKind;
  /** The point id, or `(collection)` for collection-wide checks. */
  id: string;
  /** What the model required. */
  expected: string;
  /** What the server had. */
  found: string;
}

/** Acknowledged operations of one round, by kind. */
export interface AckedCounts {
  /** Upsert calls that returned OK. */
  upserts: number;
  /** Ingest streams that returned OK. */
  ingests: number;
  /** Delete-by-ids calls that returned OK. */
  deletesById: number;
  /** Delete-by-filter calls that returned OK. */
  deletesByFilter: number;
  /** Point values written by acknowledged Upserts and Ingests. */
  pointsWritten: number;
  /** Points removed by acknowledged deletes (as the model predicts and the server reported). */
  pointsDeleted: number;
}

/** The outcome of one round. */
export interface RoundReport {
  /** From 1; `rounds + 1` for the final check after a clean (SIGTERM) restart. */
  round: number;
  /** The seed this round's random choices derive from. */
  roundSeed: number;
  /** Delay between the start of the workload and SIGKILL, ms (0 for the final clean restart). */
  killAfterMs: number;
  /** False in a control run (`kill: false`): the workload stopped and the live server was checked. */
  restarted: boolean;
  acked: AckedCounts;
  /** Operations that were sent but not acknowledged when the server died. */
  inFlightAtKill: number;
  /** From the start of the workload to the first acknowledgement, ms; undefined when none came before the kill. */
  firstAckMs: number | undefined;
  /** Ids whose outcome was uncertain (touched by an operation cut by the kill, or that failed). */
  uncertainIds: number;
  /** Ids read back and judged (the whole id space). */
  checked: number;
  /** Ids that had to be present (acknowledged, not uncertain). */
  expectedPresent: number;
  /** Ids that had to be absent (deleted, or never written; not uncertain). */
  expectedAbsent: number;
  /** Points found by the check. */
  foundPresent: number;
  /** Times the restarting server was killed again before it was up (while booting or recovering). */
  recoveryKills: number;
  /** From spawning the final restart to SERVING, ms. */
  restartMs: number;
  /** Number of violations (all of them; `violations` keeps a sample). */
  violationCount: number;
  /** Violations by kind. */
  violationsByKind: Partial<Record<ViolationKind, number>>;
  /** The first violations (at most `violationSamplesMax`). */
  violations: Violation[];
  /** Calls that failed before the kill (the server should not fail them). */
  unexpectedErrors: string[];
  /** Wall time of the round, ms. */
  durationMs: number;
}

/** The outcome of a whole run. */
export interface CrashTestSummary {
  seed: number;
  /** Rounds asked for. */
  rounds: number;
  /** One report per round run, then the final clean-restart check (when it ran). */
  reports: RoundReport[];
  /** Sum of violations over all rounds. */
  violationCount: number;
  /** Sum of unexpected errors over all rounds. */
  unexpectedErrorCount: number;
  /** Acknowledged operations over all rounds. */
  ackedOps: number;
  /** The data directory used (removed at the end unless kept). */
  dataDir: string;
  /** True when the run stopped early (aborted, or the server could not be started). */
  incomplete: boolean;
  /** Why the run stopped early. */
  error?: string;
  /** Wall time of the run, ms. */
  durationMs: number;
}

/** Options of {@link runCrashTest}. */
export interface CrashTestOptions {
  /** Seed of every random choice (32-bit). */
  seed: number;
  /** Rounds of workload ▸ SIGKILL ▸ restart ▸ check. */
  rounds: number;
  /** The kill comes a uniform random time in [min, max] ms after the workload starts; default [50, 800]. */
  killDelayMs?: readonly [number, number];
  /** Size of the id space (ids are reused: re-upserts, deletes, re-inserts); default 3,000. */
  ids?: number;
  /** Vector dimension of the (euclidean) test collection; default 16. */
  dimension?: number;
  /**
   * Chance, per restart, of killing the restarting server again before it is up (30 % to 110 % of the
   * last measured start time), to crash recovery itself; default 0.15.
   */
  recoveryKillRate?: number;
  /** After the last round: stop with SIGTERM (clean shutdown), restart and check once more; default true. */
  finalCleanRestart?: boolean;
  /** Data directory; must be empty or absent. Default: a new temporary directory. */
  dataDir?: string;
  /** Keep the data directory at the end (a temporary one is removed by default). */
  keepDataDir?: boolean;
  /** The `vectordb` entry point; default `dist/src/cli/main.js` of this project. */
  cliPath?: string;
  /** More `serve` flags, after the harness's own (so they override them), e.g. a small WAL size. */
  serverArgs?: readonly string[];
  /** How long a (re)start may take to reach SERVING, ms; default 30,000. */
  readyTimeoutMs?: number;
  /** Violations kept per round in the report; default 20. */
  violationSamplesMax?: number;
  /** Called after each round with its report. */
  onRound?: (report: RoundReport) => void;
  /** Stops the run after the current round. */
  signal?: AbortSignal;
  /**
   * false: a control run. At the "kill" moment the workload stops, the calls in flight finish, and the
   * live server is checked without a restart, so any violation is the harness's own error (or a live
   * bug), not a durability one. Default true.
   */
  kill?: boolean;
}

const collectionName = "crash";
/** Number of payload groups; a delete by filter removes matching points of one group. */
const groupCount = 50;
/** Deadline of each workload call and read, ms: a safety net, never expected to fire. */
const callTimeoutMs = 30_000;
/** Ids per Get of the check. */
const checkChunkIds = 500;
const tags: readonly string[] = ["alpha", "beta", "gamma", "δέλτα", "ε-🙂", ""];

// ---------------------------------------------------------------------------------------------------
// Seeded randomness

/** Deterministic pseudo-random numbers in [0, 1) from a 32-bit seed (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed derived from a seed and a stream number (a round, a worker), well mixed (murmur3 finaliser). */
export function deriveSeed(seed: number, stream: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

// ---------------------------------------------------------------------------------------------------
// Judging one id

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

function clip(text: string, max = 160): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
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

// ---------------------------------------------------------------------------------------------------
// The model

/** One id of the id space. */
interface Slot {
  readonly id: string;
  /** Payload group (fixed per id), for deletes by filter. */
  readonly group: number;
  /** The last acknowledged state. */
  state: PointState;
  /** Values sent for this id by the operation in flight (in order), not yet acknowledged. */
  pending: PointState[];
  /** An operation in flight holds this id, or its outcome is uncertain until the next check. */
  locked: boolean;
  /** An operation on this id was cut by the kill or failed: `pending` are allowed outcomes too. */
  uncertain: boolean;
  /** How many values were generated for this id (goes into the payload). */
  revision: number;
}

/** Ids with multi-byte UTF-8 and punctuation now and then, to exercise the id encoding. */
function idOf(index: number): string {
  if (index % 13 === 0) return `点-${index}`;
  if (index % 7 === 0) return `doc/${index}#v`;
  return `p${index}`;
}

class Model {
  readonly slots: Slot[];
  readonly groups: Slot[][];
  /**
   * Groups a delete by filter waits for: no new operation locks their ids, so the ones in flight drain
   * and the group can be locked whole (with many ids in flight, a free group would almost never occur).
   */
  readonly reserved = new Set<number>();

  constructor(ids: number) {
    this.slots = Array.from({ length: ids }, (_, index) => ({ id: idOf(index), group: index % groupCount, state: null, pending: [], locked: false, uncertain: false, revision: 0 }));
    this.groups = Array.from({ length: groupCount }, () => []);
    for (const slot of this.slots) this.groups[slot.group]!.push(slot);
  }

  /** Locks up to `count` distinct free ids outside reserved groups, chosen at random (bounded attempts). */
  lockRandom(random: () => number, count: number): Slot[] {
    const chosen: Slot[] = [];
    for (let attempt = 0; attempt < count * 4 && chosen.length < count; attempt++) {
      const slot = this.slots[Math.floor(random() * this.slots.length)]!;
      if (slot.locked || this.reserved.has(slot.group)) continue;
      slot.locked = true;
      chosen.push(slot);
    }
    return chosen;
  }

  /** Locks every id of `group` if none is locked, or returns undefined. */
  lockGroup(group: number): Slot[] | undefined {
    const slots = this.groups[group]!;
    if (slots.some((slot) => slot.locked)) return undefined;
    for (const slot of slots) slot.locked = true;
    return slots;
  }
}

function newPoint(random: () => number, slot: Slot, dimension: number, source: string, round: number): StoredPoint {
  slot.revision++;
  const vector = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) {
    const r = random();
    // Now and then a negative zero or a subnormal: a bit-exact store keeps them.
    vector[i] = r < 0.005 ? -0 : r < 0.01 ? 1.4e-45 * randomInt(random, 1, 1000) : Math.fround((random() * 2 - 1) * 10 ** randomInt(random, -3, 3));
  }
  const payload: JsonObject = {
    group: slot.group,
    score: randomInt(random, 0, 99),
    revision: slot.revision,
    tag: tags[Math.floor(random() * tags.length)]!,
    meta: { source, round, ratio: random(), nested: { flag: random() < 0.5, none: null } },
  };
  if (random() < 0.3) payload.list = Array.from({ length: randomInt(random, 0, 4) }, () => randomInt(random, -1000, 1000));
  if (random() < 0.1) payload.text = "x".repeat(randomInt(random, 0, 300));
  return { vector, payload };
}

function toPointInit(slot: Slot, point: StoredPoint): PointInit {
  return { id: slot.id, vector: Array.from(point.vector), payload: point.payload };
}

/** A planned operation: which ids it holds, what it sends, and what it leaves behind once acknowledged. */
interface Operation {
  kind: "upsert" | "ingest" | "delete-ids" | "delete-filter";
  /** Every id it locked. */
  slots: Slot[];
  /** The state each id has once the operation is acknowledged (ids it does not change are absent). */
  finals: Map<Slot, PointState>;
  /** Point values it writes. */
  written: number;
  /** Sends it; resolves to the counts the server reported. */
  send(client: VectorDbClient): Promise<{ inserted?: number; updated?: number; deleted?: number }>;
  /** The counts the model predicts. */
  expected: { inserted?: number; updated?: number; deleted?: number };
}

function planUpsert(model: Model, random: () => number, dimension: number, round: number): Operation | undefined {
  const slots = model.lockRandom(random, randomInt(random, 1, 40));
  if (slots.length === 0) return undefined;
  const finals = new Map<Slot, PointState>();
  const points: PointInit[] = [];
  let inserted = 0;
  for (const slot of slots) {
    const point = newPoint(random, slot, dimension, "upsert", round);
    slot.pending.push(point);
    finals.set(slot, point);
    points.push(toPointInit(slot, point));
    if (slot.state === null) inserted++;
  }
  return {
    kind: "upsert",
    slots,
    finals,
    written: points.length,
    expected: { inserted, updated: slots.length - inserted },
    async send(client) {
      const response = await client.points.upsert({ collection: collectionName, points }, { timeoutMs: callTimeoutMs });
      return { inserted: response.inserted, updated: response.updated };
    },
  };
}

function planIngest(model: Model, random: () => number, dimension: number, round: number): Operation | undefined {
  const slots = model.lockRandom(random, randomInt(random, 20, 300));
  if (slots.length === 0) return undefined;
  const finals = new Map<Slot, PointState>();
  const present = new Set(slots.filter((slot) => slot.state !== null));
  const batches: IngestRequestInit[] = [];
  let inserted = 0;
  let written = 0;
  const batchCount = randomInt(random, 2, 5);
  for (let b = 0; b < batchCount; b++) {
    // A partial shuffle picks distinct ids for this batch; an id may recur in a later batch.
    const pool = slots.slice();
    const size = randomInt(random, 1, Math.min(100, pool.length));
    const points: PointInit[] = [];
    for (let i = 0; i < size; i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      const slot = pool[i]!;
      const point = newPoint(random, slot, dimension, `ingest-batch-${b}`, round);
      slot.pending.push(point);
      finals.set(slot, point);
      points.push(toPointInit(slot, point));
      if (!present.has(slot)) {
        present.add(slot);
        inserted++;
      }
    }
    written += points.length;
    // Only the first message names the collection, as the API allows.
    batches.push(b === 0 ? { collection: collectionName, points } : { points });
  }
  return {
    kind: "ingest",
    slots,
    finals,
    written,
    expected: { inserted, updated: written - inserted },
    async send(client) {
      const response = await client.points.ingest(batches, { timeoutMs: callTimeoutMs });
      return { inserted: Number(response.inserted), updated: Number(response.updated) };
    },
  };
}

function planDeleteIds(model: Model, random: () => number): Operation | undefined {
  const slots = model.lockRandom(random, randomInt(random, 1, 30));
  if (slots.length === 0) return undefined;
  const finals = new Map<Slot, PointState>();
  for (const slot of slots) {
    slot.pending.push(null);
    finals.set(slot, null);
  }
  const ids = slots.map((slot) => slot.id);
  return {
    kind: "delete-ids",
    slots,
    finals,
    written: 0,
    expected: { deleted: slots.filter((slot) => slot.state !== null).length },
    async send(client) {
      return { deleted: (await client.points.delete({ collection: collectionName, ids }, { timeoutMs: callTimeoutMs })).deleted };
    },
  };
}

/**
 * Deletes the points of `group` whose `score` is below a random bound; the whole group is locked, so the
 * model knows which points match. Undefined while an id of the group is still locked.
 */
function planDeleteFilter(model: Model, random: () => number, group: number): Operation | undefined {
  const slots = model.lockGroup(group);
  if (slots === undefined) return undefined;
  const below = randomInt(random, 1, 100);
  const finals = new Map<Slot, PointState>();
  for (const slot of slots) {
    if (slot.state !== null && (slot.state.payload.score as number) < below) {
      slot.pending.push(null);
      finals.set(slot, null);
    }
  }
  const filter: FilterInit = {
    must: [
      { condition: { case: "field", value: { key: "group", match: { case: "equals", value: { kind: { case: "numberValue", value: slots[0]!.group } } } } } },
      { condition: { case: "field", value: { key: "score", match: { case: "range", value: { lt: below } } } } },
    ],
  };
  return {
    kind: "delete-filter",
    slots,
    finals,
    written: 0,
    expected: { deleted: finals.size },
    async send(client) {
      return { deleted: (await client.points.delete({ collection: collectionName, filter }, { timeoutMs: callTimeoutMs })).deleted };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The server child process

/** The project root: the folder above this file (source) or above dist/ (compiled) holding package.json. */
function projectRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, ".."), resolve(here, "../..")]) {
    try {
      const manifest = JSON.parse(readFileSync(join(candidate, "package.json"), "utf8")) as { name?: unknown };
      if (manifest.name === "vectordb") return candidate;
    } catch {
      // Not there: try the next candidate.
    }
  }
  throw new Error(`cannot find the vectordb project above ${here}`);
}

/** The compiled CLI entry, `dist/src/cli/main.js` of this project. */
export function defaultCliPath(): string {
  return join(projectRoot(), "dist/src/cli/main.js");
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** Resolves true once `port` on 127.0.0.1 accepts a TCP connection, false if `stop()` says to give up first. */
export async function waitForPort(port: number, stop: () => boolean): Promise<boolean> {
  while (!stop()) {
    const open = await new Promise<boolean>((resolveOpen) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolveOpen(true);
      });
      socket.once("error", () => {
        socket.destroy();
        resolveOpen(false);
      });
    });
    if (open) return true;
    await sleep(20);
  }
  return false;
}

const stderrTailBytes = 16 * 1024;

/** A `vectordb serve` child process. */
class ServerProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private stderrTail = "";
  private readonly killOnExit = (): void => {
    this.child.kill("SIGKILL");
  };
  client: VectorDbClient | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly startedAt: number,
  ) {
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-stderrTailBytes);
    });
    // If the parent exits without cleaning up, the server must not outlive it.
    process.once("exit", this.killOnExit);
    this.exited = new Promise((resolveExit) => {
      child.once("exit", (code, signal) => {
        process.removeListener("exit", this.killOnExit);
        this.exitInfo = { code, signal };
        resolveExit(this.exitInfo);
      });
    });
  }

  /** Spawns `node CLI serve` on a free port; does not wait for it. */
  static async spawn(cliPath: string, dataDir: string, extraArgs: readonly string[]): Promise<ServerProcess> {
    const port = await freePort();
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VECTORDB_")));
    const args = [cliPath, "serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir, "--log-level", "warn", "--shutdown-grace-ms", "2000", ...extraArgs];
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    return new ServerProcess(child, port, Date.now());
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The last lines of the server's stderr, for error messages. */
  get stderr(): string {
    return this.stderrTail.trim();
  }

  /** True when the process has exited. */
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /**
   * Waits until grpc.health.v1 Check says SERVING, and connects {@link client}. Throws when the process
   * exits first or `timeoutMs` passes. The error says whether the port was already taken (retryable).
   */
  async waitServing(timeoutMs: number): Promise<VectorDbClient> {
    const deadline = Date.now() + timeoutMs;
    const giveUp = (): boolean => this.hasExited || Date.now() > deadline;
    // Waiting for the port first avoids grpc-js's reconnect backoff while the process boots.
    if (!(await waitForPort(this.port, giveUp))) throw this.startError(timeoutMs);
    const client = new VectorDbClient(this.address);
    let last = "";
    while (!giveUp()) {
      try {
        last = await client.health("", { timeoutMs: 2_000 });
        if (last === "SERVING") {
          this.client = client;
          return client;
        }
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await sleep(20);
    }
    client.close();
    throw this.startError(timeoutMs, last);
  }

  private startError(timeoutMs: number, lastHealth = ""): Error {
    const how = this.exitInfo !== undefined ? `exited (code ${this.exitInfo.code}, signal ${this.exitInfo.signal})` : `was not SERVING after ${timeoutMs} ms${lastHealth === "" ? "" : ` (health: ${lastHealth})`}`;
    const error = new Error(`the server on port ${this.port} ${how}; stderr:\n${this.stderr}`);
    (error as Error & { portTaken?: boolean }).portTaken = /EADDRINUSE|address already in use/i.test(this.stderr);
    return error;
  }

  /** Sends `signal` and waits for the process to exit; closes the client. */
  async stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.hasExited) this.child.kill(signal);
    const info = await this.exited;
    this.client?.close();
    return info;
  }
}

/**
 * Starts a server on `dataDir` and waits for SERVING. With probability `recoveryKillRate` (per start,
 * up to 3 times in a row) it first kills a starting server with SIGKILL after 30 % to 110 % of
 * `typicalStartMs` (the last measured time to SERVING), so the kill lands while Node loads, while the
 * database recovers, or just after SERVING; then it starts another. Retries on a port taken between
 * choosing and binding it.
 */
async function startServing(
  cliPath: string,
  dataDir: string,
  extraArgs: readonly string[],
  readyTimeoutMs: number,
  random: () => number,
  recoveryKillRate: number,
  typicalStartMs = 800,
): Promise<{ server: ServerProcess; client: VectorDbClient; recoveryKills: number; restartMs: number }> {
  let recoveryKills = 0;
  while (recoveryKills < 3 && random() < recoveryKillRate) {
    const doomed = await ServerProcess.spawn(cliPath, dataDir, extraArgs);
    await sleep(Math.round(typicalStartMs * (0.3 + 0.8 * random())));
    await doomed.stop("SIGKILL");
    recoveryKills++;
  }
  for (let attempt = 1; ; attempt++) {
    const server = await ServerProcess.spawn(cliPath, dataDir, extraArgs);
    try {
      const client = await server.waitServing(readyTimeoutMs);
      return { server, client, recoveryKills, restartMs: Date.now() - server.startedAt };
    } catch (error) {
      await server.stop("SIGKILL");
      if (attempt < 3 && (error as { portTaken?: boolean }).portTaken === true) continue;
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Rounds

function emptyAcked(): AckedCounts {
  return { upserts: 0, ingests: 0, deletesById: 0, deletesByFilter: 0, pointsWritten: 0, pointsDeleted: 0 };
}

/** Collects the violations of one round, keeping a bounded sample. */
class ViolationLog {
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

function describeError(error: unknown): string {
  return error instanceof RpcError ? `${error.statusName}: ${error.details}` : error instanceof Error ? error.message : String(error);
}

/** Runs one operation; updates the model on OK, marks its ids uncertain otherwise. */
async function execute(
  operation: Operation,
  client: VectorDbClient,
  state: RoundState,
): Promise<void> {
  state.inFlight++;
  try {
    const reported = await operation.send(client);
    state.firstAckMs ??= Date.now() - state.startedAt;
    for (const [slot, value] of operation.finals) slot.state = value;
    for (const slot of operation.slots) {
      slot.pending = [];
      slot.locked = false;
    }
    const { acked } = state;
    if (operation.kind === "upsert") acked.upserts++;
    else if (operation.kind === "ingest") acked.ingests++;
    else if (operation.kind === "delete-ids") acked.deletesById++;
    else acked.deletesByFilter++;
    acked.pointsWritten += operation.written;
    acked.pointsDeleted += operation.expected.deleted ?? 0;
    const mismatched = (Object.keys(operation.expected) as (keyof typeof operation.expected)[]).filter((key) => reported[key] !== operation.expected[key]);
    if (mismatched.length > 0) {
      state.violations.add(`(${operation.kind})`, {
        kind: "response",
        expected: JSON.stringify(operation.expected),
        found: `${JSON.stringify(reported)} for ids ${clip(operation.slots.map((slot) => slot.id).join(","), 120)}`,
      });
    }
  } catch (error) {
    for (const slot of operation.slots) {
      // Ids the operation would not change keep their state; the others stay locked until the check.
      if (slot.pending.length > 0) slot.uncertain = true;
      else slot.locked = false;
    }
    if (!state.killed) state.unexpectedErrors.push(`${operation.kind} failed before the kill: ${describeError(error)}`);
  } finally {
    state.inFlight--;
  }
}

/** What the workers of one round share. */
interface RoundState {
  /** Set just before SIGKILL: no new operation starts, and failures from then on are expected. */
  killed: boolean;
  inFlight: number;
  acked: AckedCounts;
  unexpectedErrors: string[];
  violations: ViolationLog;
  /** Date.now() when the workload started. */
  startedAt: number;
  firstAckMs: number | undefined;
}

type WorkerKind = "ingest" | "upsert" | "delete";
/** The concurrent workers: each runs one operation at a time until the kill. */
const workerKinds: readonly WorkerKind[] = ["ingest", "upsert", "upsert", "delete", "ingest", "upsert"];

/** Runs the workers of one round until `state.killed`; resolves once none has a call in flight. */
async function runWorkload(model: Model, client: VectorDbClient, state: RoundState, roundSeed: number, round: number, dimension: number): Promise<void> {
  const workers = workerKinds.map(async (kind, w) => {
    const random = seededRandom(deriveSeed(roundSeed, w + 1));
    let filterGroup: number | undefined;
    while (!state.killed) {
      let operation: Operation | undefined;
      if (kind === "ingest") operation = planIngest(model, random, dimension, round);
      else if (kind === "upsert") operation = planUpsert(model, random, dimension, round);
      else {
        // Now and then reserve a group for a delete by filter; delete by ids while it drains.
        if (filterGroup === undefined && random() < 0.2) {
          filterGroup = Math.floor(random() * groupCount);
          if (model.reserved.has(filterGroup)) filterGroup = undefined;
          else model.reserved.add(filterGroup);
        }
        if (filterGroup !== undefined) {
          operation = planDeleteFilter(model, random, filterGroup);
          if (operation !== undefined) {
            model.reserved.delete(filterGroup);
            filterGroup = undefined;
          }
        }
        operation ??= planDeleteIds(model, random);
      }
      if (operation === undefined) await sleep(2);
      else await execute(operation, client, state);
    }
  });
  await Promise.all(workers);
  model.reserved.clear();
}

/** Reads every id back, judges it, and sets the model to what was found. */
async function checkAndResync(
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

/**
 * Runs the crash test: creates a euclidean collection on a server child process, then `rounds` times
 * runs the mixed workload, kills the server with SIGKILL after a random delay, restarts it on the same
 * data directory and checks every id against the acknowledged operations (see the module comment).
 * Never throws for violations: they are in the summary. Throws only when the first server cannot start
 * or the collection cannot be created; a later start failure ends the run with `incomplete` and `error`.
 */
export async function runCrashTest(options: CrashTestOptions): Promise<CrashTestSummary> {
  const started = Date.now();
  const seed = options.seed >>> 0;
  const [killMinMs, killMaxMs] = options.killDelayMs ?? [50, 800];
  const dimension = options.dimension ?? 16;
  const recoveryKillRate = options.recoveryKillRate ?? 0.15;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const samplesMax = options.violationSamplesMax ?? 20;
  const cliPath = options.cliPath ?? defaultCliPath();
  const serverArgs = options.serverArgs ?? [];
  if (!existsSync(cliPath)) throw new Error(`${cliPath} does not exist: run npm run build first`);
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "vectordb-crash-"));
  if (!temporary) {
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) throw new Error(`data directory ${dataDir} is not empty`);
    mkdirSync(dataDir, { recursive: true });
  }
  const model = new Model(options.ids ?? 3_000);
  const summary: CrashTestSummary = { seed, rounds: options.rounds, reports: [], violationCount: 0, unexpectedErrorCount: 0, ackedOps: 0, dataDir, incomplete: false, durationMs: 0 };
  const record = (report: RoundReport): void => {
    summary.reports.push(report);
    summary.violationCount += report.violationCount;
    summary.unexpectedErrorCount += report.unexpectedErrors.length;
    const { acked } = report;
    summary.ackedOps += acked.upserts + acked.ingests + acked.deletesById + acked.deletesByFilter;
    options.onRound?.(report);
  };

  let current = await startServing(cliPath, dataDir, serverArgs, readyTimeoutMs, seededRandom(deriveSeed(seed, 0)), 0);
  const createCollection = (client: VectorDbClient) => client.collections.createCollection({ name: collectionName, dimension, distance: Distance.EUCLIDEAN }, { timeoutMs: callTimeoutMs });
  try {
    await createCollection(current.client);
    for (let round = 1; round <= options.rounds; round++) {
      if (options.signal?.aborted === true) {
        summary.incomplete = true;
        summary.error = "aborted";
        break;
      }
      const roundStarted = Date.now();
      const roundSeed = deriveSeed(seed, round);
      const random = seededRandom(roundSeed);
      const killAfterMs = randomInt(random, killMinMs, killMaxMs);
      const violations = new ViolationLog(round, samplesMax);
      const state: RoundState = { killed: false, inFlight: 0, acked: emptyAcked(), unexpectedErrors: [], violations, startedAt: Date.now(), firstAckMs: undefined };
      const server = current.server;
      const workload = runWorkload(model, current.client, state, roundSeed, round, dimension);
      await Promise.race([sleep(killAfterMs), server.exited]);
      if (server.hasExited) state.unexpectedErrors.push(`the server exited by itself during the workload; stderr:\n${server.stderr}`);
      state.killed = true;
      const inFlightAtKill = state.inFlight;
      if (options.kill === false) {
        // Control mode: let the calls in flight finish and check the live server, without a restart.
        await workload;
        const check = await checkAndResync(current.client, model, dimension, violations);
        record(makeReport(false, round, roundSeed, killAfterMs, state, inFlightAtKill, check, 0, 0, violations, roundStarted));
        continue;
      }
      await server.stop("SIGKILL");
      await workload;

      let restart;
      try {
        restart = await startServing(cliPath, dataDir, serverArgs, readyTimeoutMs, random, recoveryKillRate, current.restartMs);
      } catch (error) {
        summary.incomplete = true;
        summary.error = `round ${round}: restart failed: ${describeError(error)}`;
        violations.add("(server)", { kind: "read-failed", expected: "the server restarts and reports SERVING", found: describeError(error) });
        record(makeReport(true, round, roundSeed, killAfterMs, state, inFlightAtKill, undefined, 0, 0, violations, roundStarted));
        return summary;
      }
      current = restart;
      const check = await checkAndResync(current.client, model, dimension, violations);
      if (check.recreate) await createCollection(current.client);
      record(makeReport(true, round, roundSeed, killAfterMs, state, inFlightAtKill, check, restart.recoveryKills, restart.restartMs, violations, roundStarted));
    }

    if ((options.finalCleanRestart ?? true) && !summary.incomplete) {
      // A clean shutdown (SIGTERM: drain, close the database) must keep everything too.
      const roundStarted = Date.now();
      const round = options.rounds + 1;
      const violations = new ViolationLog(round, samplesMax);
      const state: RoundState = { killed: true, inFlight: 0, acked: emptyAcked(), unexpectedErrors: [], violations, startedAt: roundStarted, firstAckMs: undefined };
      const exit = await current.server.stop("SIGTERM");
      if (exit.code !== 0) state.unexpectedErrors.push(`SIGTERM: the server exited with code ${exit.code} (signal ${exit.signal}); stderr:\n${current.server.stderr}`);
      current = await startServing(cliPath, dataDir, serverArgs, readyTimeoutMs, seededRandom(deriveSeed(seed, round)), 0);
      const check = await checkAndResync(current.client, model, dimension, violations);
      record(makeReport(true, round, deriveSeed(seed, round), 0, state, 0, check, 0, current.restartMs, violations, roundStarted));
    }
  } finally {
    await current.server.stop("SIGKILL");
    if (temporary && options.keepDataDir !== true) rmSync(dataDir, { recursive: true, force: true });
    summary.durationMs = Date.now() - started;
  }
  return summary;
}

function makeReport(
  restarted: boolean,
  round: number,
  roundSeed: number,
  killAfterMs: number,
  state: RoundState,
  inFlightAtKill: number,
  check: { checked: number; expectedPresent: number; expectedAbsent: number; uncertainIds: number; foundPresent: number } | undefined,
  recoveryKills: number,
  restartMs: number,
  violations: ViolationLog,
  roundStarted: number,
): RoundReport {
  return {
    round,
    roundSeed,
    killAfterMs,
    restarted,
    acked: state.acked,
    inFlightAtKill,
    firstAckMs: state.firstAckMs,
    uncertainIds: check?.uncertainIds ?? 0,
    checked: check?.checked ?? 0,
    expectedPresent: check?.expectedPresent ?? 0,
    expectedAbsent: check?.expectedAbsent ?? 0,
    foundPresent: check?.foundPresent ?? 0,
    recoveryKills,
    restartMs,
    violationCount: violations.count,
    violationsByKind: violations.byKind,
    violations: violations.samples,
    unexpectedErrors: state.unexpectedErrors,
    durationMs: Date.now() - roundStarted,
  };
}

// ---------------------------------------------------------------------------------------------------
// Formatting

/** One line per round: acknowledged operations, what was checked, and the violations by kind. */
export function formatRound(report: RoundReport, rounds: number): string {
  const { acked } = report;
  const ops = acked.upserts + acked.ingests + acked.deletesById + acked.deletesByFilter;
  const label = report.round > rounds ? "final (SIGTERM, restart)" : `round ${report.round}/${rounds}`;
  const kill = report.round > rounds ? "" : ` ${report.restarted ? "kill" : "stop"}@${report.killAfterMs}ms`;
  const restart = report.restarted ? `; restart ${report.restartMs} ms${report.recoveryKills > 0 ? ` after ${report.recoveryKills} kill(s) during recovery` : ""}` : "; no restart (control run)";
  const kinds = Object.entries(report.violationsByKind)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ");
  const verdict = report.violationCount === 0 ? "ok" : `${report.violationCount} VIOLATIONS (${kinds})`;
  const errors = report.unexpectedErrors.length === 0 ? "" : `, ${report.unexpectedErrors.length} UNEXPECTED ERRORS`;
  return (
    `${label} seed=0x${report.roundSeed.toString(16).padStart(8, "0")}${kill}: ` +
    `acked ${ops} ops (${acked.upserts} upsert, ${acked.ingests} ingest, ${acked.deletesById} delete-ids, ${acked.deletesByFilter} delete-filter; ` +
    `${acked.pointsWritten} points written, ${acked.pointsDeleted} deleted${report.firstAckMs === undefined ? "" : `, first after ${report.firstAckMs} ms`}), ${report.inFlightAtKill} in flight; ` +
    `checked ${report.checked} ids (${report.expectedPresent} present, ${report.expectedAbsent} absent, ${report.uncertainIds} uncertain; found ${report.foundPresent})` +
    `${restart}: ${verdict}${errors}`
  );
}

/** The sample violations and unexpected errors of a round, one per line, indented. */
export function formatDetails(report: RoundReport, max = 10): string[] {
  const lines = report.violations.slice(0, max).map((v) => `    ${v.kind} ${JSON.stringify(v.id)}: expected ${v.expected}; found ${v.found}`);
  if (report.violationCount > lines.length) lines.push(`    … ${report.violationCount - lines.length} more`);
  for (const error of report.unexpectedErrors.slice(0, max)) lines.push(`    error: ${clip(error, 600)}`);
  return lines;
}

/** The closing summary: seed, rounds, acknowledged operations, violations, and how to reproduce. */
export function formatSummary(summary: CrashTestSummary): string {
  const failed = summary.reports.filter((report) => report.violationCount > 0 || report.unexpectedErrors.length > 0);
  const lines = [
    `crash test: seed ${summary.seed} (0x${summary.seed.toString(16)}), ${summary.reports.filter((r) => r.round <= summary.rounds).length}/${summary.rounds} rounds` +
      `${summary.reports.some((r) => r.round > summary.rounds) ? " + final clean restart" : ""} in ${(summary.durationMs / 1000).toFixed(1)} s; ` +
      `${summary.ackedOps} acknowledged operations; ${summary.violationCount} violations, ${summary.unexpectedErrorCount} unexpected errors` +
      `${failed.length > 0 ? ` in rounds ${failed.map((r) => (r.round > summary.rounds ? "final" : String(r.round))).join(", ")}` : ""}`,
  ];
  if (summary.incomplete) lines.push(`incomplete: ${summary.error ?? "stopped early"}`);
  if (failed.length > 0) {
    const control = summary.reports.some((r) => !r.restarted) ? " --control" : "";
    lines.push(`reproduce with: npm run crash-test -- --seed ${summary.seed} --rounds ${Math.max(...failed.map((r) => Math.min(r.round, summary.rounds)))}${control}`);
  }
  return lines.join("\n");
}
