import { matchesFilter } from "./filter.js";
import type { PointTable } from "./point-table.js";
import type { Filter, PointSelector, ScrollParams } from "./types.js";

/**
 * Reads over a collection's {@link PointTable} that visit many points: a scroll page in id order, an
 * exact count, and the slots a {@link PointSelector} chooses. Synchronous, so each sees one state.
 */

/** Whether the live point in `slot` matches `filter` (always, without one). */
function matches(table: PointTable, slot: number, filter: Filter | undefined): boolean {
  return filter === undefined || matchesFilter(filter, table.ids[slot]!, table.payloads[slot]);
}

/**
 * The slots of the next scroll page: at most `params.limit` live points above `params.after` that match
 * the filter, in ascending id order, and whether another matching point follows them.
 */
export function scrollSlots(table: PointTable, params: Pick<ScrollParams, "after" | "limit" | "filter">): { slots: number[]; more: boolean } {
  const slots: number[] = [];
  let more = false;
  table.order.walk(
    () => table.slotById.keys(),
    params.after,
    (id) => table.slotById.get(id),
    (_id, slot) => {
      if (!matches(table, slot, params.filter)) return true;
      if (slots.length === params.limit) {
        more = true;
        return false;
      }
      slots.push(slot);
      return true;
    },
  );
  return { slots, more };
}

/** The number of live points matching `filter` (all of them without one); exact. */
export function countMatching(table: PointTable, filter: Filter | undefined): number {
  if (filter === undefined) return table.liveCount;
  const { live, slotCount } = table;
  let count = 0;
  for (let slot = 0; slot < slotCount; slot++) if (live[slot] === 1 && matches(table, slot, filter)) count++;
  return count;
}

/** The live slots a selector chooses, each once, in id order for `ids` and slot order for `filter`. */
export function selectedSlots(table: PointTable, selector: PointSelector): number[] {
  const slots: number[] = [];
  if (selector.kind === "ids") {
    const seen = new Set<number>();
    for (const id of selector.ids) {
      const slot = table.slotById.get(id);
      if (slot === undefined || seen.has(slot)) continue;
      seen.add(slot);
      slots.push(slot);
    }
    return slots;
  }
  const { live, slotCount } = table;
  for (let slot = 0; slot < slotCount; slot++) if (live[slot] === 1 && matches(table, slot, selector.filter)) slots.push(slot);
  return slots;
}
