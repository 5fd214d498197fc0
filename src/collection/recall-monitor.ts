import { seededRandom } from "../random.js";

/** Samples a monitor keeps: its estimate is the mean recall@k of the last this many. */
export const recallWindowSamples = 1_000;
/** Samples waiting for their exact scan at most; more are dropped (counted in {@link RecallMonitor.dropped}). */
const queuedSamplesMax = 16;
/** Seed of the sampler, so that which searches are sampled is reproducible. */
const samplerSeed = 0x5ca1ab1e;

/** Runs an exact top-k of `query` over the collection as it is now; resolves with the slots found. */
export type ExactTopK = (query: Float32Array, k: number) => Promise<ArrayLike<number>>;

interface Sample {
  query: Float32Array;
  k: number;
  served: Set<number>;
}

/**
 * The live recall monitor of one collection: a sampled share of its graph searches is re-run as an
 * exact scan in the background (on a builder thread when there is one, else on this thread in slices
 * between calls), and recall@k of the answer that was served — the share of the exact top-k it held —
 * is kept over the last {@link recallWindowSamples} samples. Peers cannot tell what recall they serve.
 *
 * Bounded: at most 16 samples wait (each a copy of its query and served slots), more are dropped;
 * one exact scan runs at a time; the window is a fixed ring of numbers. Writes between a search and
 * its scan make the comparison slightly noisy (a point written meanwhile may be in the exact answer).
 */
export class RecallMonitor {
  private readonly random = seededRandom(samplerSeed);
  private readonly queue: Sample[] = [];
  private readonly window = new Float64Array(recallWindowSamples);
  private count = 0;
  private next = 0;
  private running = false;
  private closed = false;
  /** Samples dropped because the queue was full. */
  dropped = 0;

  /**
   * @param rate share of offered searches to sample, 0..1.
   */
  constructor(
    private readonly rate: number,
    private readonly exactTopK: ExactTopK,
  ) {}

  /** Mean recall@k over the window, or undefined before the first sample. */
  get estimate(): number | undefined {
    if (this.count === 0) return undefined;
    let sum = 0;
    for (let i = 0; i < this.count; i++) sum += this.window[i]!;
    return sum / this.count;
  }

  /** Samples in the window (at most {@link recallWindowSamples}). */
  get samples(): number {
    return this.count;
  }

  /**
   * Offers a served graph search: with probability `rate` it is queued for an exact re-run (`query`
   * and `served` are copied). Never waits.
   */
  offer(query: Float32Array, k: number, served: ArrayLike<number>): void {
    if (this.closed || this.rate <= 0 || k < 1 || this.random() >= this.rate) return;
    if (this.queue.length >= queuedSamplesMax) {
      this.dropped++;
      return;
    }
    this.queue.push({ query: Float32Array.from(query), k, served: new Set(Array.from(served)) });
    this.drain();
  }

  /** Resolves when every queued sample has been scored (for tests). */
  async settled(): Promise<void> {
    while (this.running || this.queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Stops sampling; a scan in progress finishes. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private drain(): void {
    if (this.running || this.closed) return;
    const sample = this.queue.shift();
    if (sample === undefined) return;
    this.running = true;
    this.exactTopK(sample.query, sample.k).then(
      (exact) => {
        this.record(sample, exact);
        this.running = false;
        this.drain();
      },
      () => {
        // A scan that failed (the collection closing, a builder lost) just yields no sample.
        this.running = false;
        this.drain();
      },
    );
  }

  private record(sample: Sample, exact: ArrayLike<number>): void {
    if (exact.length === 0) return;
    let held = 0;
    for (let i = 0; i < exact.length; i++) if (sample.served.has(exact[i]!)) held++;
    this.window[this.next] = held / exact.length;
    this.next = (this.next + 1) % recallWindowSamples;
    this.count = Math.min(recallWindowSamples, this.count + 1);
  }
}
