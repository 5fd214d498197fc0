/**
 * A binary min-heap of (distance, id) pairs on typed arrays, growing by doubling. Used by the HNSW
 * search as the candidate queue (nearest first) and, with negated distances, as the bounded result
 * set (farthest first). No object is allocated per element.
 */
export class DistanceHeap {
  private keys: Float64Array;
  private ids: Uint32Array;
  private count = 0;

  constructor(initialCapacity = 64) {
    this.keys = new Float64Array(Math.max(2, initialCapacity));
    this.ids = new Uint32Array(Math.max(2, initialCapacity));
  }

  get size(): number {
    return this.count;
  }

  /** Removes every element, keeping the memory. */
  clear(): void {
    this.count = 0;
  }

  /** The smallest key; undefined behaviour when empty (callers check `size`). */
  peekKey(): number {
    return this.keys[0]!;
  }

  /** The id of the smallest key. */
  peekId(): number {
    return this.ids[0]!;
  }

  push(key: number, id: number): void {
    if (this.count === this.keys.length) this.grow();
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent]! <= key) break;
      this.keys[i] = this.keys[parent]!;
      this.ids[i] = this.ids[parent]!;
      i = parent;
    }
    this.keys[i] = key;
    this.ids[i] = id;
  }

  /** Removes the smallest element; returns its id (read its key with peekKey first). */
  pop(): number {
    const top = this.ids[0]!;
    const n = --this.count;
    if (n > 0) {
      const key = this.keys[n]!;
      const id = this.ids[n]!;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && this.keys[right]! < this.keys[left]! ? right : left;
        if (this.keys[child]! >= key) break;
        this.keys[i] = this.keys[child]!;
        this.ids[i] = this.ids[child]!;
        i = child;
      }
      this.keys[i] = key;
      this.ids[i] = id;
    }
    return top;
  }

  private grow(): void {
    const keys = new Float64Array(this.keys.length * 2);
    keys.set(this.keys);
    const ids = new Uint32Array(this.ids.length * 2);
    ids.set(this.ids);
    this.keys = keys;
    this.ids = ids;
  }
}
