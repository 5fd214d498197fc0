import { Worker } from "node:worker_threads";
import { engineModule, headerWords } from "../wasm/engine-module.js";
import type { HnswIndex } from "./hnsw-index.js";

/** Most builder threads a pool may have: a memory has 15 thread slots, one of them the owner's. */
export const builderThreadsMax = 14;

/**
 * Queries for a builder thread to search (unfiltered, on its own thread slot): `count` rows of
 * `dimension` f32 in `queries`; per query its `k`, search `width`, `codes` (1: walk the int8 codes)
 * and `rescored` (how many of the best to rescore on float32; 0: none).
 */
export interface SearchJob {
  queries: Float32Array;
  count: number;
  dimension: number;
  k: Uint32Array;
  width: Uint32Array;
  codes: Uint8Array;
  rescored: Uint32Array;
  /**
   * Instead of walking the graph, scan rows `0 .. exactRows-1` exactly on float32 (the rows not
   * marked deleted); `width` must still hold k. Absent or 0: graph searches.
   */
  exactRows?: number;
}

/**
 * What a search job found: for query `i`, `found[i]` hits (at most its k) at `ids` and `distances`
 * from offset `k[0] + … + k[i−1]`, ascending internal distance.
 */
export interface SearchJobResult {
  found: Uint32Array;
  ids: Uint32Array;
  distances: Float32Array;
}

/** What the pool tells a worker. */
type ToWorker =
  | { type: "attach"; key: number; memory: WebAssembly.Memory }
  | { type: "detach"; key: number }
  | { type: "link"; job: number; key: number; ids: Uint32Array }
  | ({ type: "search"; job: number; key: number } & SearchJob);

/** What a worker answers. */
type FromWorker =
  | { type: "linked"; job: number }
  | ({ type: "searched"; job: number } & SearchJobResult)
  | { type: "failed"; job: number; message: string };

/** How much lower than the process's the builder threads' scheduling priority is (nice steps). */
const builderNiceness = 10;

/**
 * The body of a builder thread, run from its source text (so that it needs no compiled file of its
 * own: vitest runs the sources, the server the compiled output). It instantiates the engine once per
 * attached memory and links the ids of each job in order, on its own thread slot, checking the
 * memory's pause word between two ids (see {@link BuildChannel.paused}). Self-contained: it may only
 * use its arguments.
 *
 * It first lowers its own scheduling priority by `niceness` (Linux: a thread is a task with its own
 * nice value; its id is the last part of /proc/thread-self), so that on a machine with as many
 * builders as cores the main thread still runs at once when a call arrives. Elsewhere it keeps the
 * process's priority.
 */
function builderThreadMain(load: (id: string) => unknown, words: { pause: number; active: number; paused: number }, niceness: number): void {
  const { parentPort, workerData } = load("node:worker_threads") as typeof import("node:worker_threads");
  try {
    const { readlinkSync } = load("node:fs") as typeof import("node:fs");
    const os = load("node:os") as typeof import("node:os");
    const thread = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(thread) && thread > 0) os.setPriority(thread, Math.min(19, os.getPriority(thread) + niceness));
  } catch {
    // Not Linux, or not allowed: the builders keep the process's priority.
  }
  const { module, slot } = workerData as { module: WebAssembly.Module; slot: number };
  type Engine = {
    attach(): void;
    link(slot: number, id: number): void;
    headerPtr(): number;
    slotQueryPtr(slot: number): number;
    slotOutIdsPtr(slot: number): number;
    slotOutDistancesPtr(slot: number): number;
    prepareQuery(slot: number): void;
    search(slot: number, ef: number, filtered: number, quantized: number): number;
    rescore(slot: number, count: number): void;
    exactTopK(slot: number, k: number, count: number): number;
  };
  const attached = new Map<number, { engine: Engine; header: Int32Array; memory: WebAssembly.Memory }>();
  parentPort!.on("message", (message: ToWorker) => {
    if (message.type === "attach") {
      const instance = new WebAssembly.Instance(module, { env: { memory: message.memory, accept: () => 1 } });
      const engine = instance.exports as unknown as Engine;
      engine.attach();
      attached.set(message.key, { engine, header: new Int32Array(message.memory.buffer as SharedArrayBuffer, engine.headerPtr(), 32), memory: message.memory });
      return;
    }
    if (message.type === "detach") {
      attached.delete(message.key);
      return;
    }
    const target = attached.get(message.key);
    if (target === undefined) {
      parentPort!.postMessage({ type: "failed", job: message.job, message: `memory ${message.key} is not attached` });
      return;
    }
    const { engine, header } = target;
    // Between two items of a job the owner may ask for a pause (BuildChannel.paused): wait it out.
    const pausePoint = (): void => {
      if (Atomics.load(header, words.pause) === 0) return;
      Atomics.add(header, words.paused, 1);
      while (Atomics.load(header, words.pause) !== 0) Atomics.wait(header, words.pause, 1, 1_000);
      Atomics.sub(header, words.paused, 1);
    };
    Atomics.add(header, words.active, 1);
    if (message.type === "search") {
      // Searches read the graph without locks, as the owner's do; the pause protects their scratch.
      try {
        const { queries, count, dimension, k, width, codes, rescored, exactRows } = message;
        // The memory may have grown since the last job: views are made per job.
        const buffer = target.memory.buffer as SharedArrayBuffer;
        const floats = new Float32Array(buffer);
        const words32 = new Uint32Array(buffer);
        let total = 0;
        for (let i = 0; i < count; i++) total += k[i]!;
        const found = new Uint32Array(count);
        const ids = new Uint32Array(total);
        const distances = new Float32Array(total);
        const queryAt = engine.slotQueryPtr(slot) >>> 2;
        let at = 0;
        for (let i = 0; i < count; i++) {
          pausePoint();
          floats.set(queries.subarray(i * dimension, (i + 1) * dimension), queryAt);
          engine.prepareQuery(slot);
          let n = exactRows !== undefined && exactRows > 0 ? engine.exactTopK(slot, k[i]!, exactRows) : engine.search(slot, width[i]!, 0, codes[i]!);
          if (rescored[i]! > 0) {
            n = Math.min(n, rescored[i]!);
            engine.rescore(slot, n);
          }
          n = Math.min(n, k[i]!);
          found[i] = n;
          const idsAt = engine.slotOutIdsPtr(slot) >>> 2;
          const distancesAt = engine.slotOutDistancesPtr(slot) >>> 2;
          ids.set(words32.subarray(idsAt, idsAt + n), at);
          distances.set(floats.subarray(distancesAt, distancesAt + n), at);
          at += k[i]!;
        }
        Atomics.sub(header, words.active, 1);
        parentPort!.postMessage({ type: "searched", job: message.job, found, ids, distances }, [found.buffer, ids.buffer, distances.buffer]);
      } catch (error) {
        Atomics.sub(header, words.active, 1);
        parentPort!.postMessage({ type: "failed", job: message.job, message: error instanceof Error ? error.message : String(error) });
      }
      return;
    }
    try {
      for (let i = 0; i < message.ids.length; i++) {
        pausePoint();
        engine.link(slot, message.ids[i]!);
      }
      Atomics.sub(header, words.active, 1);
      parentPort!.postMessage({ type: "linked", job: message.job });
    } catch (error) {
      Atomics.sub(header, words.active, 1);
      parentPort!.postMessage({ type: "failed", job: message.job, message: error instanceof Error ? error.message : String(error) });
    }
  });
}

interface Job {
  key: number;
  /** A link job's ids, or a search job. */
  work: { ids: Uint32Array } | { search: SearchJob };
  resolve: (result: SearchJobResult | undefined) => void;
  reject: (error: Error) => void;
}

interface Builder {
  worker: Worker;
  /** Jobs sent and not answered, in order. */
  running: Map<number, Job>;
}

/**
 * Threads that link nodes into HNSW graphs (`HnswIndex`) while the owning thread serves searches:
 * the parallel construction of hnswlib (per-node locks, a global lock only to raise the top layer),
 * over the graph's shared WebAssembly memory. One pool serves every graph of a process; each graph
 * gets a {@link BuildChannel}. Builder `i` uses thread slot `i + 1` of every memory (slot 0 is the
 * owner's), so a graph's store must be laid out for `1 + threads` slots (see {@link threadSlots}).
 *
 * Scheduling: a job (a batch of node ids of one graph) goes to the builder with the fewest jobs in
 * flight; each builder holds at most two, so it never idles waiting for the owner, and the rest wait
 * in a FIFO shared by all graphs. The owner decides which ids may be linked concurrently (never one
 * id in two jobs at once). Workers are unref'd: an idle pool does not keep the process alive.
 */
export class GraphBuilderPool {
  readonly threads: number;
  private readonly builders: Builder[] = [];
  private readonly waiting: Job[] = [];
  private nextJob = 1;
  private nextKey = 1;
  private closed = false;

  /**
   * @param threads builder threads, 1 to {@link builderThreadsMax}.
   * @throws RangeError for a thread count out of range.
   */
  constructor(threads: number) {
    if (!Number.isInteger(threads) || threads < 1 || threads > builderThreadsMax) throw new RangeError(`builder threads must be an integer in 1..${builderThreadsMax}, got ${threads}`);
    this.threads = threads;
    const source = `(${builderThreadMain.toString()})(require, ${JSON.stringify(headerWords)}, ${builderNiceness});`;
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(source, { eval: true, workerData: { module: engineModule(), slot: i + 1 } });
      worker.unref();
      const builder: Builder = { worker, running: new Map() };
      worker.on("message", (message: FromWorker) => this.answered(builder, message));
      worker.on("error", (error) => this.lost(builder, error));
      worker.on("exit", (code) => this.lost(builder, new Error(`graph builder thread exited with code ${code}`)));
      this.builders.push(builder);
    }
  }

  /** Thread slots a store must have to be built by this pool: the owner's and one per builder. */
  get threadSlots(): number {
    return 1 + this.threads;
  }

  /**
   * Attaches `graph` to every builder (each instantiates the engine over its memory).
   * @throws RangeError when the graph's store has too few thread slots.
   */
  attach(graph: HnswIndex): BuildChannel {
    const slots = graph.store.graph?.threadSlots ?? 1;
    if (slots < this.threadSlots) throw new RangeError(`the graph's store has ${slots} thread slots; this pool needs ${this.threadSlots}`);
    const key = this.nextKey++;
    for (const builder of this.builders) this.post(builder, { type: "attach", key, memory: graph.store.memory });
    return new BuildChannel(this, key, graph);
  }

  /** Stops the builders; jobs in flight or waiting reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const failure = new Error("the graph builder pool is closed");
    for (const job of this.waiting.splice(0)) job.reject(failure);
    await Promise.all(
      this.builders.map(async (builder) => {
        for (const job of builder.running.values()) job.reject(failure);
        builder.running.clear();
        await builder.worker.terminate();
      }),
    );
  }

  /** @internal Links `ids` of the graph `key` on some builder; resolves when they are linked. */
  submit(key: number, ids: Uint32Array): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the graph builder pool is closed"));
    return new Promise((resolve, reject) => {
      this.waiting.push({ key, work: { ids }, resolve: () => resolve(), reject });
      this.dispatch();
    });
  }

  /**
   * @internal Runs a search job on a builder; it goes ahead of the link jobs waiting (a builder may
   * still finish the link jobs it holds first).
   */
  submitSearch(key: number, search: SearchJob): Promise<SearchJobResult> {
    if (this.closed) return Promise.reject(new Error("the graph builder pool is closed"));
    return new Promise((resolve, reject) => {
      const firstLink = this.waiting.findIndex((job) => "ids" in job.work);
      const job: Job = { key, work: { search }, resolve: (result) => resolve(result!), reject };
      this.waiting.splice(firstLink < 0 ? this.waiting.length : firstLink, 0, job);
      this.dispatch();
    });
  }

  /** @internal Forgets graph `key` on every builder (after its jobs are done). */
  detach(key: number): void {
    if (this.closed) return;
    for (const builder of this.builders) this.post(builder, { type: "detach", key });
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      let best: Builder | undefined;
      for (const builder of this.builders) if (builder.running.size < 2 && (best === undefined || builder.running.size < best.running.size)) best = builder;
      if (best === undefined) return;
      const job = this.waiting.shift()!;
      const id = this.nextJob++;
      best.running.set(id, job);
      if ("ids" in job.work) this.post(best, { type: "link", job: id, key: job.key, ids: job.work.ids });
      else this.post(best, { type: "search", job: id, key: job.key, ...job.work.search });
    }
  }

  private answered(builder: Builder, message: FromWorker): void {
    const job = builder.running.get(message.job);
    if (job === undefined) return;
    builder.running.delete(message.job);
    if (message.type === "linked") job.resolve(undefined);
    else if (message.type === "searched") job.resolve({ found: message.found, ids: message.ids, distances: message.distances });
    else job.reject(new Error(`graph builder thread failed: ${message.message}`));
    this.dispatch();
  }

  /** A builder died: its jobs reject, and it takes no more. */
  private lost(builder: Builder, error: Error): void {
    const at = this.builders.indexOf(builder);
    if (at < 0) return;
    this.builders.splice(at, 1);
    for (const job of builder.running.values()) job.reject(error);
    builder.running.clear();
    if (this.builders.length === 0) for (const job of this.waiting.splice(0)) job.reject(error);
    else this.dispatch();
  }

  private post(builder: Builder, message: ToWorker): void {
    builder.worker.postMessage(message);
  }
}

/** Most time {@link BuildChannel.pause} waits for the builders to stop, in ms. */
const pauseTimeoutMs = 10_000;

/**
 * One graph's connection to a {@link GraphBuilderPool}: submits batches of node ids to link, and
 * pauses the builders working on this graph so that the owner sees the graph between two links.
 */
export class BuildChannel {
  private readonly header: Int32Array;
  private detached = false;
  /** The search width every builder slot's scratch holds (ef_construction at first). */
  private builderWidth: number;

  constructor(
    private readonly pool: GraphBuilderPool,
    private readonly key: number,
    private readonly graph: HnswIndex,
  ) {
    this.header = new Int32Array(graph.store.memory.buffer as SharedArrayBuffer, graph.store.engine.headerPtr(), 32);
    this.builderWidth = graph.store.engine.slotWidth(1);
  }

  /** Builder threads that can take search jobs. */
  get threads(): number {
    return this.pool.threads;
  }

  /**
   * Runs unfiltered searches (see {@link SearchJob}) on the builder threads, split in one part per
   * builder, while this thread is free. Each builder's scratch is first grown (under a pause) when a
   * query is wider than it holds. Resolves with the results in query order.
   * @throws RangeError when the memory cannot hold the wider scratch; Error when a builder failed.
   */
  async search(job: SearchJob): Promise<SearchJobResult> {
    if (this.detached) throw new Error("the graph is detached from its builders");
    let width = 0;
    for (let i = 0; i < job.count; i++) width = Math.max(width, job.width[i]!);
    if (width > this.builderWidth) {
      const engine = this.graph.store.engine;
      this.paused(() => {
        for (let slot = 1; slot <= this.pool.threads; slot++) {
          if (engine.ensureScratch(slot, width) === 0) throw new RangeError(`no memory for searches of width ${width} on the builder threads`);
        }
      });
      this.graph.store.refreshViews();
      this.builderWidth = engine.slotWidth(1);
    }
    const parts = Math.min(this.pool.threads, job.count);
    const starts = Array.from({ length: parts + 1 }, (_, i) => Math.round((i * job.count) / parts));
    const results = await Promise.all(
      starts.slice(0, parts).map((start, i) => {
        const end = starts[i + 1]!;
        return this.pool.submitSearch(this.key, {
          queries: job.queries.slice(start * job.dimension, end * job.dimension),
          count: end - start,
          dimension: job.dimension,
          k: job.k.slice(start, end),
          width: job.width.slice(start, end),
          codes: job.codes.slice(start, end),
          rescored: job.rescored.slice(start, end),
          exactRows: job.exactRows,
        });
      }),
    );
    if (results.length === 1) return results[0]!;
    let total = 0;
    for (let i = 0; i < job.count; i++) total += job.k[i]!;
    const merged: SearchJobResult = { found: new Uint32Array(job.count), ids: new Uint32Array(total), distances: new Float32Array(total) };
    let at = 0;
    results.forEach((part, i) => {
      merged.found.set(part.found, starts[i]!);
      merged.ids.set(part.ids, at);
      merged.distances.set(part.distances, at);
      at += part.ids.length;
    });
    return merged;
  }

  /**
   * Links `ids` (each prepared with `HnswIndex.prepare`, none in another job in flight) on a builder
   * thread; resolves when all are linked, rejects when the builder failed or the pool closed.
   */
  link(ids: Uint32Array): Promise<void> {
    if (this.detached) return Promise.reject(new Error("the graph is detached from its builders"));
    return this.pool.submit(this.key, ids);
  }

  /**
   * Runs `work` while no builder links a node of this graph: sets the memory's pause word, spins until
   * every builder inside a job of this graph has stopped between two nodes (at most one node's link,
   * a millisecond or so), runs `work`, and resumes them. Synchronous, so callers keep a consistent
   * view without yielding to the event loop.
   * @throws Error when the builders do not stop within 10 s (and resumes them).
   */
  paused<T>(work: () => T): T {
    const { header } = this;
    Atomics.store(header, headerWords.pause, 1);
    try {
      const deadline = performance.now() + pauseTimeoutMs;
      while (Atomics.load(header, headerWords.active) !== Atomics.load(header, headerWords.paused)) {
        if (performance.now() > deadline) throw new Error(`graph builders did not pause within ${pauseTimeoutMs} ms`);
      }
      return work();
    } finally {
      Atomics.store(header, headerWords.pause, 0);
      Atomics.notify(header, headerWords.pause);
    }
  }

  /** Stops using the pool for this graph (jobs in flight still finish). */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.pool.detach(this.key);
  }
}
