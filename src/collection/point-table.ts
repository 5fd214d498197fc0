import { IdOrder } from "./id-order.js";
import type { JsonObject, PointInput } from "./types.js";

/** Slots the per-slot arrays hold before their first growth. */
const initialSlotCapacity = 1024;

/** `array` grown (doubling) to hold at least `slots` entries, or `array` itself if it does already. */
export function grownToHold<A extends Uint8Array | Float64Array>(array: A, slots: number, make: (capacity: number) => A): A {
  if (slots <= array.length) return array;
  let capacity = array.length * 2;
  while (capacity < slots) capacity *= 2;
  const grown = make(capacity);
  grown.set(array);
  return grown;
}

/**
 * The points of a collection by slot: ids, payloads, liveness, the sequence of the last write to each
 * slot, the id → slot map and the free list. The vector of slot `s` is row `s` of the collection's
 * vector store, and node `s` of its graph: slots are stable, because the graph's links name them.
 *
 * A delete marks the slot dead and puts it on the free list; the next new point takes the slot freed
 * last, so slots never exceed the peak live count. Byte totals feed the memory estimate.
 */
export class PointTable {
  /** Point id per slot; undefined for a dead slot. */
  ids: (string | undefined)[] = [];
  /** Payload per slot; undefined for a dead slot or a point without one. Treated as immutable. */
  payloads: (JsonObject | undefined)[] = [];
  /** Size of each payload's JSON in UTF-8 bytes (0 when none). */
  payloadBytes: number[] = [];
  readonly slotById = new Map<string, number>();
  /** Dead slots; the next insert takes the last one. */
  readonly freeSlots: number[] = [];
  /** 1 for a live slot, 0 for a dead one; grows with {@link ensureCapacity}. */
  live: Uint8Array = new Uint8Array(initialSlotCapacity);
  /** Sequence of the last write applied to each slot (its upsert or delete). */
  pointSequences: Float64Array = new Float64Array(initialSlotCapacity);
  /** Slots in use, live or dead. */
  slotCount = 0;
  liveCount = 0;
  payloadBytesTotal = 0;
  /** 2 bytes per UTF-16 unit of every live id. */
  idBytesTotal = 0;
  /** The live ids in ascending order, for Scroll (built on first use). */
  readonly order = new IdOrder();

  /** Grows `live` and `pointSequences` to hold `slots` slots. */
  ensureCapacity(slots: number): void {
    this.live = grownToHold(this.live, slots, (capacity) => new Uint8Array(capacity));
    this.pointSequences = grownToHold(this.pointSequences, slots, (capacity) => new Float64Array(capacity));
  }

  /** How many of these points have ids not in the table. */
  countNew(points: readonly PointInput[]): number {
    let fresh = 0;
    for (const point of points) if (!this.slotById.has(point.id)) fresh++;
    return fresh;
  }

  /** Slots needed beyond {@link slotCount} to hold `newPoints` more points, after the free ones. */
  slotsToGrow(newPoints: number): number {
    return Math.max(0, newPoints - this.freeSlots.length);
  }

  /** A slot for a new point: the last one freed, else the next unused one. Capacity must be ensured. */
  takeSlot(): number {
    return this.freeSlots.pop() ?? this.slotCount++;
  }

  /** Records a new live point in `slot` (from {@link takeSlot}). */
  insert(slot: number, point: PointInput, payloadBytes: number, sequence: number): void {
    this.ids[slot] = point.id;
    this.payloads[slot] = point.payload;
    this.payloadBytes[slot] = payloadBytes;
    this.live[slot] = 1;
    this.pointSequences[slot] = sequence;
    this.liveCount++;
    this.slotById.set(point.id, slot);
    this.order.noteInserted(point.id);
    this.idBytesTotal += point.id.length * 2;
    this.payloadBytesTotal += payloadBytes;
  }

  /** Replaces the payload of the live point in `slot` (its vector is the store's business). */
  update(slot: number, payload: JsonObject | undefined, payloadBytes: number, sequence: number): void {
    this.payloadBytesTotal += payloadBytes - (this.payloadBytes[slot] ?? 0);
    this.payloads[slot] = payload;
    this.payloadBytes[slot] = payloadBytes;
    this.pointSequences[slot] = sequence;
  }

  /** Marks the live point in `slot` dead by the write `sequence` and frees the slot. */
  remove(slot: number, sequence: number): void {
    const id = this.ids[slot];
    if (id !== undefined) {
      this.slotById.delete(id);
      this.order.noteRemoved();
      this.idBytesTotal -= id.length * 2;
    }
    this.payloadBytesTotal -= this.payloadBytes[slot] ?? 0;
    this.ids[slot] = undefined;
    this.payloads[slot] = undefined;
    this.payloadBytes[slot] = 0;
    this.live[slot] = 0;
    this.pointSequences[slot] = sequence;
    this.liveCount--;
    this.freeSlots.push(slot);
  }
}
