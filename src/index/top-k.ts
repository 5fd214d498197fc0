/**
 * A bounded max-heap that keeps the `capacity` smallest (distance, slot) pairs seen, on typed arrays:
 * the worst kept pair is at the root, so a candidate is compared with it in O(1) and replaces it in
 * O(log k). Used instead of sorting all distances: O(n log k) time, O(k) memory.
 */
/** Up to this many pairs, {@link TopK.drainSorted} sorts by insertion (k is usually 10 to 100). */
const insertionSortMax = 64;

export class TopK {
  private readonly distances: Float64Array;
  private readonly slots: Uint32Array;
  private count = 0;

  /** @param capacity k, at least 1. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`TopK capacity must be a positive integer, got ${capacity}`);
    this.distances = new Float64Array(capacity);
    this.slots = new Uint32Array(capacity);
  }

  /** Number of pairs kept. */
  get size(): number {
    return this.count;
  }

  /** True when `capacity` pairs are kept. */
  get full(): boolean {
    return this.count === this.capacity;
  }

  /** The largest distance kept, or +Infinity while not full (so any candidate is accepted). */
  get worst(): number {
    return this.count === this.capacity ? this.distances[0]! : Number.POSITIVE_INFINITY;
  }

  /** Offers a pair; keeps it if the heap is not full or `distance` beats the worst kept. */
  push(distance: number, slot: number): void {
    if (this.count < this.capacity) {
      let i = this.count++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (this.distances[parent]! >= distance) break;
        this.distances[i] = this.distances[parent]!;
        this.slots[i] = this.slots[parent]!;
        i = parent;
      }
      this.distances[i] = distance;
      this.slots[i] = slot;
      return;
    }
    if (distance >= this.distances[0]!) return;
    this.siftDownFromRoot(distance, slot, this.count);
  }

  /**
   * Empties the heap and returns its pairs sorted by ascending distance (ties by ascending slot,
   * so results are deterministic).
   */
  drainSorted(): { distances: Float64Array; slots: Uint32Array } {
    const n = this.count;
    const distances = new Float64Array(n);
    const slots = new Uint32Array(n);
    if (n <= insertionSortMax) {
      // Insertion sort straight into the results: no index array or comparator closure per search.
      for (let i = 0; i < n; i++) {
        const distance = this.distances[i]!;
        const slot = this.slots[i]!;
        let j = i;
        while (j > 0 && (distances[j - 1]! > distance || (distances[j - 1]! === distance && slots[j - 1]! > slot))) {
          distances[j] = distances[j - 1]!;
          slots[j] = slots[j - 1]!;
          j--;
        }
        distances[j] = distance;
        slots[j] = slot;
      }
      this.count = 0;
      return { distances, slots };
    }
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => this.distances[a]! - this.distances[b]! || this.slots[a]! - this.slots[b]!);
    for (let i = 0; i < n; i++) {
      distances[i] = this.distances[order[i]!]!;
      slots[i] = this.slots[order[i]!]!;
    }
    this.count = 0;
    return { distances, slots };
  }

  private siftDownFromRoot(distance: number, slot: number, n: number): void {
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.distances[right]! > this.distances[left]! ? right : left;
      if (this.distances[child]! <= distance) break;
      this.distances[i] = this.distances[child]!;
      this.slots[i] = this.slots[child]!;
      i = child;
    }
    this.distances[i] = distance;
    this.slots[i] = slot;
  }
}
