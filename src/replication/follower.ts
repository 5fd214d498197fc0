import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";

/** Pause before a follower re-opens its consumer after an error, ms. */
const retryPauseMs = 250;

/**
 * Reads one JetStream stream from a sequence on, in stream order, and hands each message to `handle`
 * one at a time (the next is read only once `handle` resolves): the loop every replica runs on the
 * meta log and on each collection's log. An ordered consumer (ephemeral, flow-controlled, recreated
 * by the client on a gap) does the reading; when it fails (a NATS node down, the stream being
 * re-elected) the follower re-opens it at the next sequence it needs after {@link retryPauseMs}.
 * It runs until {@link stop}.
 */
export class StreamFollower {
  private stopped = false;
  private messages: ConsumerMessages | undefined;
  private running: Promise<void> | undefined;
  private lastProgressAt = performance.now();
  /** The next stream sequence this follower needs. */
  next: number;
  /** Messages after the last one handled, as the server last said (the lag). */
  pending = 0;

  constructor(
    private readonly js: JetStreamClient,
    readonly stream: string,
    startSequence: number,
    private readonly handle: (message: JsMsg) => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.next = startSequence;
  }

  /**
   * Re-opens the consumer when the stream has records this follower has not handled (`behind`) and
   * none was handled for `stallMs` (a consumer whose NATS node went away can sit idle until its pull
   * expires); called by the status loop.
   */
  restartIfStalled(behind: boolean, stallMs: number): void {
    // Without a known lag, a consumer idle for 10 × stallMs is re-opened all the same (cheap, and it
    // covers a stream end that could not be looked up).
    const idleMs = performance.now() - this.lastProgressAt;
    if (this.stopped || idleMs < stallMs || (!behind && idleMs < 10 * stallMs)) return;
    this.lastProgressAt = performance.now();
    this.logger.debug({ stream: this.stream, next: this.next }, "replication: the consumer stalled; re-opening it");
    void this.messages?.close().catch(() => undefined);
  }

  /** Starts reading (once). */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stops reading and waits for the message being handled, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close().catch(() => undefined);
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const consumer = await this.js.consumers.get(this.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.next });
        // Short pull expiry and heartbeats: a pull lost with a NATS node is re-issued within ~2 s.
        const messages = await consumer.consume({ expires: 2_000, idle_heartbeat: 1_000 });
        this.lastProgressAt = performance.now();
        this.messages = messages;
        if (this.stopped) await messages.close();
        for await (const message of messages) {
          if (this.stopped) break;
          if (message.seq < this.next) continue;
          await this.handle(message);
          this.lastProgressAt = performance.now();
          this.next = message.seq + 1;
          this.pending = message.info.pending;
        }
      } catch (error) {
        if (!this.stopped) this.logger.debug({ err: error, stream: this.stream }, "replication: reading the log failed; retrying");
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, retryPauseMs));
    }
  }
}
