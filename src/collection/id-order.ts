/** Ids added since the last build past which the order is rebuilt, at least (see {@link IdOrder}). */
const addedBeforeRebuildMin = 4_096;

/** Index of the first element of `sorted` above `after` (0 when `after` is undefined). */
function upperBound(sorted: readonly string[], after: string | undefined): number {
  if (after === undefined) return 0;
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= after) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The ids of a collection in ascending order (JavaScript string order: UTF-16 code units), for Scroll.
 *
 * Built lazily, on the first scroll, as one sorted array of the ids live then (the "base"). Ids inserted
 * later are appended to a small "added" list, sorted when a scroll next needs it; deleted ids stay in
 * the base, and a walk skips ids that are no longer live (the caller's `slotOf` says so). When the
 * added ids pass an eighth of the base (at least 4,096), or the deletions half of it, the next scroll
 * rebuilds the base from the live ids. A walk is O(log n + ids visited), the rebuild O(n log n)
 * amortised over the writes that caused it. An id deleted and inserted again may sit in both lists;
 * the walk merges them and never yields an id twice.
 */
export class IdOrder {
  private base: string[] | undefined;
  private added: string[] = [];
  /** `added`, sorted without repeats, when it is current (undefined after an insert). */
  private addedSorted: string[] | undefined = [];
  private removedSinceBuild = 0;

  /** Records an id that became live (only needed once the order is built). */
  noteInserted(id: string): void {
    if (this.base === undefined) return;
    this.added.push(id);
    this.addedSorted = undefined;
  }

  /** Records that a live id was deleted. */
  noteRemoved(): void {
    if (this.base !== undefined) this.removedSinceBuild++;
  }

  /**
   * Visits the live ids above `after` in ascending order, each once, until `visit` returns false.
   *
   * @param liveIds every live id now, used to (re)build the order when needed.
   * @param slotOf the slot of a live id, undefined for one that is not live.
   * @param visit called with each live id above `after` and its slot; returns false to stop.
   */
  walk(liveIds: () => Iterable<string>, after: string | undefined, slotOf: (id: string) => number | undefined, visit: (id: string, slot: number) => boolean): void {
    const base = this.current(liveIds);
    const added = this.sortedAdded();
    let i = upperBound(base, after);
    let j = upperBound(added, after);
    let last: string | undefined;
    while (i < base.length || j < added.length) {
      let id: string;
      if (j >= added.length || (i < base.length && base[i]! <= added[j]!)) id = base[i++]!;
      else id = added[j++]!;
      if (id === last) continue;
      last = id;
      const slot = slotOf(id);
      if (slot !== undefined && !visit(id, slot)) return;
    }
  }

  /** The base, built or rebuilt first when it is missing or too far behind the writes. */
  private current(liveIds: () => Iterable<string>): string[] {
    const base = this.base;
    if (base !== undefined) {
      const addedMax = Math.max(addedBeforeRebuildMin, base.length >>> 3);
      if (this.added.length <= addedMax && this.removedSinceBuild <= Math.max(addedBeforeRebuildMin, base.length >>> 1)) return base;
    }
    const rebuilt = Array.from(liveIds()).sort();
    this.base = rebuilt;
    this.added = [];
    this.addedSorted = [];
    this.removedSinceBuild = 0;
    return rebuilt;
  }

  private sortedAdded(): string[] {
    if (this.addedSorted !== undefined) return this.addedSorted;
    const sorted = this.added.slice().sort();
    const unique: string[] = [];
    for (const id of sorted) if (unique.length === 0 || unique[unique.length - 1] !== id) unique.push(id);
    this.addedSorted = unique;
    return unique;
  }
}
