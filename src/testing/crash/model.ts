import type { PointInit } from "../../client/index.js";
import type { JsonObject, PointState, StoredPoint } from "./types.js";

/** The test collection's name. */
export const collectionName = "crash";
/** Number of payload groups; a delete by filter removes matching points of one group. */
export const groupCount = 50;
/** Deadline of each workload call and read, ms: a safety net, never expected to fire. */
export const callTimeoutMs = 30_000;
const tags: readonly string[] = ["alpha", "beta", "gamma", "δέλτα", "ε-🙂", ""];

/** A whole number in [min, max], uniformly. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** One id of the id space. */
export interface Slot {
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

/**
 * What the server must hold, per id of the id space, as far as the acknowledged operations say, and
 * which ids operations in flight hold.
 */
export class Model {
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

/** A new value for `slot`: a vector with now and then a negative zero or a subnormal, and a payload. */
export function newPoint(random: () => number, slot: Slot, dimension: number, source: string, round: number): StoredPoint {
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

export function toPointInit(slot: Slot, point: StoredPoint): PointInit {
  return { id: slot.id, vector: Array.from(point.vector), payload: point.payload };
}

