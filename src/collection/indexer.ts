import type { HnswIndex } from "../index/index.js";
import { FifoQueue } from "./fifo-queue.js";
import { grownToHold } from "./point-table.js";

/**
 * The background indexer of a collection: links written slots into the HNSW graph.
 *
 * A write lands in the vector store at once and its slot joins a FIFO of pending slots (once, however
 * often it is rewritten before it is linked). {@link step} links pending slots for a time budget;
 * {@link schedule} runs steps of at most `sliceMs` ms from the event loop (setImmediate), yielding
 * between them, so a bulk load never freezes the server. A search walks the graph for the linked slots
 * and scores {@link pendingSlots} exactly, so every acknowledged write is visible to the next search.
 *
 * A pending slot whose point was deleted meanwhile is dropped when its turn comes; a live one is
 * inserted, or re-linked with `HnswIndex.replace` when the graph holds it already (an overwritten
 * vector, or a reused slot).
 */
export class Indexer {
  private readonly queue = new FifoQueue<number>();
  /** 1 for a slot in the queue; indexed by slot. */
  private flags: Uint8Array = new Uint8Array(1024);
  private scheduled = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  /**
   * @param isLive whether a slot holds a live point when its turn comes.
   * @param sliceMs longest step {@link schedule} runs between two turns of the event loop.
   */
  constructor(
    private readonly graph: HnswIndex,
    private readonly isLive: (slot: number) => boolean,
    private readonly sliceMs: number,
  ) {}

  /** Grows the pending flags to cover `slots` slots. */
  ensureCapacity(slots: number): void {
    this.flags = grownToHold(this.flags, slots, (capacity) => new Uint8Array(capacity));
  }

  /** 1 for a pending slot, 0 otherwise, indexed by slot (the current array: read it, do not keep it). */
  get pendingFlags(): Uint8Array {
    return this.flags;
  }

  /** True while some slot waits to be linked. */
  get hasPending(): boolean {
    return !this.queue.isEmpty();
  }

  /** Queues `slot` to be linked (nothing if it is queued already). Call {@link schedule} after a batch. */
  enqueue(slot: number): void {
    if (this.flags[slot] === 1) return;
    this.flags[slot] = 1;
    this.queue.push(slot);
  }

  /** The pending slots that pass `keep`, in queue order. */
  pendingSlots(keep: (slot: number) => boolean): number[] {
    return this.queue.filter(keep);
  }

  /** How many pending slots pass `keep`. */
  countPending(keep: (slot: number) => boolean): number {
    let count = 0;
    this.queue.forEach((slot) => {
      if (keep(slot)) count++;
    });
    return count;
  }

  /**
   * Links pending slots into the graph for at most `budgetMs` ms (at least one slot); returns whether
   * some are left.
   */
  step(budgetMs: number): boolean {
    const started = performance.now();
    for (let slot = this.queue.shift(); slot !== undefined; slot = this.queue.shift()) {
      this.flags[slot] = 0;
      if (this.isLive(slot)) {
        if (this.graph.has(slot)) this.graph.replace(slot);
        else this.graph.insert(slot);
      }
      if (performance.now() - started >= budgetMs) break;
    }
    return !this.queue.isEmpty();
  }

  /** Starts background steps if slots are pending and none are scheduled; wakes waiters when done. */
  schedule(): void {
    if (this.scheduled || this.closed || this.queue.isEmpty()) return;
    this.scheduled = true;
    const run = (): void => {
      if (this.closed) {
        this.scheduled = false;
        return;
      }
      if (this.step(this.sliceMs)) {
        setImmediate(run);
      } else {
        this.scheduled = false;
        this.wakeIdleWaiters();
      }
    };
    setImmediate(run);
  }

  /** Resolves when no slot is pending (at once if none is, or once closed). */
  whenIndexed(): Promise<void> {
    if (this.queue.isEmpty() || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops background steps for good and releases the waiters. */
  close(): void {
    this.closed = true;
    this.wakeIdleWaiters();
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
