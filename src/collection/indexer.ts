import type { IndexingConfig } from "../config.js";
import type { BuildChannel, GraphBuilderPool, HnswIndex, SearchJob, SearchJobResult } from "../index/index.js";
import { FifoQueue } from "./fifo-queue.js";
import { grownToHold } from "./point-table.js";

/** Node ids in one job sent to a builder thread. */
const jobIdsMax = 64;

/** Per-slot states of an {@link Indexer}. */
const idle = 0;
const queued = 1;
const linking = 2;
/** Being linked, and written again meanwhile: queued again once the job is done. */
const linkingThenQueued = 3;
/** Its link failed: never linked, scored exactly by every search. */
const failed = 4;

/** A collection's indexing settings and, on a server, the graph builder threads it shares. */
export type IndexingOptions = Readonly<IndexingConfig> & { readonly builders?: GraphBuilderPool | undefined };

/** How an indexer links: on this thread in slices, or on builder threads. */
export interface IndexerOptions {
  /** Longest slice of linking on this thread between two turns of the event loop, in ms. */
  sliceMs: number;
  /** Builder threads; absent: link on this thread. */
  builders?: GraphBuilderPool | undefined;
}

/**
 * The background indexer of a collection: links written slots into the HNSW graph.
 *
 * A write lands in the vector store at once and its slot is queued (once, however often it is
 * rewritten before it is linked), after `HnswIndex.prepare` marked it pending, so the graph never
 * returns it; searches score the {@link pendingSlots} exactly, so every acknowledged write is visible
 * to the next search. The queue is linked in FIFO order:
 * - with builder threads (`options.builders`), in jobs of up to 64 slots, as many in flight as there
 *   are builders times two, while this thread goes on serving; a slot written again while its job
 *   runs is queued again when the job is done;
 * - without, on this thread in slices of at most `sliceMs` ms between turns of the event loop
 *   ({@link schedule}), or synchronously through {@link step} (tests, benchmarks).
 * When a slot's link is done it is settled (no longer pending). A pending slot whose point was deleted
 * is dropped when its turn comes. This object is the single owner of the queue and the slot states;
 * the builders only ever see the ids of a job.
 */
export class Indexer {
  private readonly queue = new FifoQueue<number>();
  /** State per slot (idle, queued, linking, …). */
  private states: Uint8Array = new Uint8Array(1024);
  /** Jobs sent to the builders and not answered, in the order they were sent. */
  private readonly jobs = new Set<Uint32Array>();
  /** Slots whose link failed. */
  private readonly failedSlots = new Set<number>();
  private readonly channel: BuildChannel | undefined;
  private readonly jobsInFlightMax: number;
  private scheduled = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** The first error a link raised, if any (its slots stay pending and are scored exactly). */
  lastError: Error | undefined;

  /**
   * @param isLive whether a slot holds a live point when its turn comes.
   */
  constructor(
    private readonly graph: HnswIndex,
    private readonly isLive: (slot: number) => boolean,
    private readonly options: IndexerOptions,
  ) {
    this.channel = options.builders?.attach(graph);
    this.jobsInFlightMax = 2 * (options.builders?.threads ?? 0);
  }

  /** Grows the per-slot array to cover `slots` slots. */
  ensureCapacity(slots: number): void {
    this.states = grownToHold(this.states, slots, (capacity) => new Uint8Array(capacity));
  }

  /** True while some slot waits to be linked (or failed to be). */
  get hasPending(): boolean {
    return !this.queue.isEmpty() || this.jobs.size > 0 || this.failedSlots.size > 0;
  }

  /**
   * Queues `slot` to be linked, marking it pending (and not deleted) in the graph first; nothing more
   * if it is queued already. Call {@link schedule} after a batch.
   * @throws RangeError when the graph's memory is full (see HnswIndex.prepare).
   */
  enqueue(slot: number): void {
    // Always: a queued slot may have been deleted (and its point's slot reused) since it was queued.
    this.graph.prepare(slot);
    const state = this.states[slot];
    if (state === queued || state === linkingThenQueued) return;
    if (state === linking) {
      this.states[slot] = linkingThenQueued;
      return;
    }
    if (state === failed) this.failedSlots.delete(slot);
    this.states[slot] = queued;
    this.queue.push(slot);
  }

  /**
   * The pending slots that pass `keep`, in the order they are linked: those being linked (in the order
   * sent), the queue, then those whose link failed. Restoring a snapshot queues them in this order, so
   * the graph is rebuilt as it would have been.
   */
  pendingSlots(keep: (slot: number) => boolean): number[] {
    const slots: number[] = [];
    this.forEachPending((slot) => {
      if (keep(slot)) slots.push(slot);
    });
    return slots;
  }

  /** How many pending slots pass `keep`. */
  countPending(keep: (slot: number) => boolean): number {
    let count = 0;
    this.forEachPending((slot) => {
      if (keep(slot)) count++;
    });
    return count;
  }

  private forEachPending(visit: (slot: number) => void): void {
    for (const job of this.jobs) for (const slot of job) visit(slot);
    this.queue.forEach(visit);
    for (const slot of this.failedSlots) visit(slot);
  }

  /**
   * Links queued slots on this thread for at most `budgetMs` ms (at least one slot); returns whether
   * some are left. With builder threads it only dispatches jobs and returns false.
   */
  step(budgetMs: number): boolean {
    if (this.channel !== undefined) {
      this.dispatch();
      return false;
    }
    const started = performance.now();
    for (let slot = this.queue.shift(); slot !== undefined; slot = this.queue.shift()) {
      if (this.isLive(slot)) {
        try {
          this.graph.link(slot);
        } catch (error) {
          this.fail([slot], error);
          continue;
        }
      }
      this.settle(slot);
      if (performance.now() - started >= budgetMs) break;
    }
    return !this.queue.isEmpty();
  }

  /** Starts background linking if slots are queued and none is scheduled; wakes waiters when done. */
  schedule(): void {
    if (this.closed || this.queue.isEmpty()) return;
    if (this.channel !== undefined) {
      this.dispatch();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    const run = (): void => {
      if (this.closed) {
        this.scheduled = false;
        return;
      }
      if (this.step(this.options.sliceMs)) {
        setImmediate(run);
      } else {
        this.scheduled = false;
        this.wakeIdleWaiters();
      }
    };
    setImmediate(run);
  }

  /** Resolves when nothing is queued or being linked (at once if so, or once closed). */
  whenIndexed(): Promise<void> {
    if (this.isIdle() || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Runs `work` while no builder thread is linking a node of this graph (at once without builders):
   * a consistent view for `HnswIndex.toBytes` or `checkIntegrity`.
   */
  quiesced<T>(work: () => T): T {
    return this.channel === undefined ? work() : this.channel.paused(work);
  }

  /** Builder threads that can run searches for this graph (0 without builders, or once closed). */
  get searchThreads(): number {
    return this.channel === undefined || this.closed ? 0 : this.channel.threads;
  }

  /** Runs unfiltered graph searches on the builder threads (see BuildChannel.search). */
  searchOnBuilders(job: SearchJob): Promise<SearchJobResult> {
    if (this.channel === undefined) return Promise.reject(new Error("no builder threads"));
    return this.channel.search(job);
  }

  /** Stops linking for good (jobs in flight finish on their threads) and releases the waiters. */
  close(): void {
    this.closed = true;
    this.channel?.detach();
    this.wakeIdleWaiters();
  }

  /** Sends jobs of queued live slots to the builders, up to the in-flight limit. */
  private dispatch(): void {
    const channel = this.channel!;
    while (!this.closed && this.jobs.size < this.jobsInFlightMax && !this.queue.isEmpty()) {
      const ids: number[] = [];
      for (let slot = this.queue.shift(); slot !== undefined; slot = ids.length < jobIdsMax ? this.queue.shift() : undefined) {
        if (this.isLive(slot)) {
          this.states[slot] = linking;
          ids.push(slot);
        } else {
          this.settle(slot);
        }
      }
      if (ids.length === 0) break;
      const job = Uint32Array.from(ids);
      this.jobs.add(job);
      channel.link(job).then(
        () => this.jobDone(job),
        (error: unknown) => this.jobFailed(job, error),
      );
    }
    if (this.isIdle()) this.wakeIdleWaiters();
  }

  private jobDone(job: Uint32Array): void {
    this.jobs.delete(job);
    for (const slot of job) {
      if (this.states[slot] === linkingThenQueued) {
        this.states[slot] = queued;
        this.queue.push(slot);
      } else {
        this.settle(slot);
      }
    }
    this.dispatch();
  }

  private jobFailed(job: Uint32Array, error: unknown): void {
    this.jobs.delete(job);
    this.fail(Array.from(job), error);
    this.dispatch();
  }

  /** Slots whose link failed stay pending for good (scored exactly); the error is kept. */
  private fail(slots: readonly number[], error: unknown): void {
    this.lastError ??= error instanceof Error ? error : new Error(String(error));
    for (const slot of slots) {
      this.states[slot] = failed;
      this.failedSlots.add(slot);
    }
  }

  /** A slot's turn is over: not pending any more. */
  private settle(slot: number): void {
    this.graph.settle(slot);
    this.states[slot] = idle;
  }

  private isIdle(): boolean {
    return this.queue.isEmpty() && this.jobs.size === 0;
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
