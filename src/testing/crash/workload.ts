import { deriveSeed, seededRandom } from "../../random.js";
import type { FilterInit, IngestRequestInit, PointInit, VectorDbClient } from "../../client/index.js";
import { sleep } from "../net.js";
import type { ViolationLog } from "./judge.js";
import { callTimeoutMs, collectionName, groupCount, type Model, newPoint, randomInt, type Slot, toPointInit } from "./model.js";
import { clip, describeError } from "./report.js";
import type { AckedCounts, PointState } from "./types.js";

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

export function emptyAcked(): AckedCounts {
  return { upserts: 0, ingests: 0, deletesById: 0, deletesByFilter: 0, pointsWritten: 0, pointsDeleted: 0 };
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
export interface RoundState {
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
export async function runWorkload(model: Model, client: VectorDbClient, state: RoundState, roundSeed: number, round: number, dimension: number): Promise<void> {
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

