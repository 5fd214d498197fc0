import type { Logger } from "pino";
import { VectorDbError } from "../errors.js";
import type { Wal } from "../storage/index.js";
import { FifoQueue } from "./fifo-queue.js";

/** One write on its way through the WAL, applied in sequence order once its record is durable. */
interface Submission {
  state: "waiting" | "written" | "failed";
  sequence: number;
  error: unknown;
  apply(sequence: number): unknown;
  /** Called once the write is applied or has failed (releases reservations). */
  settle(): void;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * The write path of a durable collection: append one WAL record per write, wait until it is durable
 * under the fsync policy, then apply it in memory and resolve. Records are applied strictly in
 * sequence order (a write whose record is durable waits for the writes before it), so memory always
 * equals the log's prefix up to the last applied sequence.
 *
 * A write whose apply throws leaves memory out of step with the log: from then on every write is
 * refused with {@link failure} (INTERNAL) until a restart replays the log.
 */
export class WriteSequencer {
  private readonly queue = new FifoQueue<Submission>();
  private drainWaiters: (() => void)[] = [];
  /** Set once memory and log went out of step; every later write rejects with it. */
  failure: VectorDbError | undefined;

  /**
   * @param name the collection, for messages.
   * @param afterDrain runs after each round of applying writes (e.g. to start a checkpoint).
   */
  constructor(
    private readonly wal: Wal,
    private readonly name: string,
    private readonly afterDrain: () => void,
    private readonly logger?: Logger,
  ) {}

  /**
   * Appends a record of `type` with `body`; once it is durable and every earlier write is applied,
   * applies it with its sequence and resolves with what `apply` returned. `settle` runs once the write
   * is applied or has failed.
   */
  submit<T>(type: number, body: Uint8Array | Uint8Array[], apply: (sequence: number) => T, settle: () => void = () => undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const submission: Submission = { state: "waiting", sequence: 0, error: undefined, apply, settle, resolve: resolve as (value: unknown) => void, reject };
      this.queue.push(submission);
      this.wal.append(type, body).then(
        (sequence) => {
          submission.state = "written";
          submission.sequence = sequence;
          this.drain();
        },
        (error: unknown) => {
          submission.state = "failed";
          submission.error = error;
          this.drain();
        },
      );
    });
  }

  /** Resolves once no write is in progress. */
  whenDrained(): Promise<void> {
    if (this.queue.isEmpty()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Applies settled submissions from the head of the queue, in order. */
  private drain(): void {
    for (let next = this.queue.peek(); next !== undefined && next.state !== "waiting"; next = this.queue.peek()) {
      this.queue.shift();
      this.settle(next);
    }
    if (this.queue.isEmpty()) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const wake of waiters) wake();
    }
    this.afterDrain();
  }

  private settle(submission: Submission): void {
    submission.settle();
    if (submission.state === "failed") {
      submission.reject(submission.error);
      return;
    }
    if (this.failure) {
      submission.reject(this.failure);
      return;
    }
    try {
      submission.resolve(submission.apply(submission.sequence));
    } catch (error) {
      // A validated write cannot fail to apply; if it did, memory no longer matches the log.
      this.failure = new VectorDbError(
        "internal",
        `collection "${this.name}": applying WAL record ${submission.sequence} failed (${error instanceof Error ? error.message : String(error)}); restart the server to recover from the log`,
        { cause: error },
      );
      this.logger?.error({ err: error, collection: this.name, sequence: submission.sequence }, "applying a durable write failed");
      submission.reject(this.failure);
    }
  }
}
