/** Consumed items a {@link FifoQueue} keeps before it considers dropping them. */
const consumedKeptMax = 1024;

/**
 * A first-in first-out queue on an array with a moving head: `push` and `shift` are O(1) amortised.
 * The consumed prefix is dropped when the queue empties, or once it is longer than 1,024 items and
 * more than half of the array, so memory follows what is still queued.
 */
export class FifoQueue<T> {
  private items: T[] = [];
  private head = 0;

  /** Items queued. */
  get length(): number {
    return this.items.length - this.head;
  }

  isEmpty(): boolean {
    return this.head === this.items.length;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, left in the queue; undefined when empty. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Removes and returns the oldest item; undefined when empty. */
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > consumedKeptMax && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Calls `visit` on every queued item, oldest first. */
  forEach(visit: (item: T) => void): void {
    for (let i = this.head; i < this.items.length; i++) visit(this.items[i] as T);
  }

  /** The queued items that pass `keep`, oldest first (a new array). */
  filter(keep: (item: T) => boolean): T[] {
    const kept: T[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i] as T;
      if (keep(item)) kept.push(item);
    }
    return kept;
  }
}
