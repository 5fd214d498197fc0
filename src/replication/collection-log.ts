import { headers as natsHeaders } from "@nats-io/transport-node";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { DurableCollection, WriteOutcome } from "../collection/index.js";
import { VectorDbError } from "../errors.js";
import { StreamFollower } from "./follower.js";
import { barrierType, collectionStreamName, collectionSubject, termHeader, typeHeader } from "./log-names.js";

/** Outcomes kept for writes this node published and has not collected yet (bounded; oldest dropped). */
const outcomesMax = 100_000;
/**
 * Records handed to the collection and not applied yet, at most: they share the local WAL's fsyncs
 * (group commit), which is what makes catching up fast.
 */
const applyWindow = 256;
/** How long a publisher waits for its own record to be applied here, ms. */
const applyWaitMaxMs = 30_000;

/** What a collection log asks of the node that runs it. */
export interface LogHost {
  /** The term this node leads with, or undefined when it is not the leader (or its lease lapsed). */
  leaderTerm(): number | undefined;
  /** Called when the log has a gap this replica cannot fill from the stream (it was trimmed). */
  onGap(log: CollectionLog): void;
  /** Called when a publish failed, so that the leader re-learns the log's end. */
  onPublishFailed(log: CollectionLog): void;
  readonly publishTimeoutMs: number;
  readonly logger: Logger;
}

/**
 * One collection's replicated log on this node: the follower that applies its records in stream order
 * (every node, the leader too), and, on the leader, the writer that appends records.
 *
 * Apply: a record whose term (the lease revision of the leader that wrote it) is below the highest term
 * seen is ignored: a deposed leader's late record. A `barrier` record only raises the term. Every other
 * record is written to the local WAL under its stream sequence and applied
 * (`DurableCollection.applyLogged`), so the stream sequence is the WAL sequence and a restart resumes
 * at the collection's applied sequence + 1.
 *
 * Append (leader): each record is published with JetStream's expected-last-sequence set to the record
 * before it (optimistic concurrency), so nobody else's record can land between two of the leader's,
 * and after a new leader's barrier no record of the old leader can land at all. Records are pipelined:
 * the expected sequence of the next is the previous + 1. A failed publish makes the writer re-learn the
 * log's end ({@link resync}) before the next write.
 */
export class CollectionLog {
  readonly stream: string;
  readonly subject: string;
  private follower: StreamFollower | undefined;
  /** The last stream sequence handled (applied, or ignored): everything up to it is applied here. */
  processed: number;
  /** The last stream sequence handed to the collection (or ignored); at most {@link applyWindow} above {@link processed}. */
  private received: number;
  /** Resolves once every record received is applied (in order). */
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;
  /** The highest term seen in this log since this node started following it. */
  term = 0;
  /** Records ignored for a stale term. */
  fenced = 0;
  /** The last sequence of the stream as last seen (stream info or a delivery's pending count). */
  lastKnown: number;
  /** Leader only: the sequence the next record expects to follow; undefined until (re)synchronised. */
  private expectedLast: number | undefined;
  private readonly outcomes = new Map<number, WriteOutcome>();
  /** Checkpoint sequence last stored by this node (leader), for the checkpoint cadence. */
  lastCheckpointSequence = 0;

  constructor(
    readonly name: string,
    readonly incarnation: number,
    readonly collection: DurableCollection,
    private readonly js: JetStreamClient,
    private readonly host: LogHost,
  ) {
    this.stream = collectionStreamName(incarnation);
    this.subject = collectionSubject(incarnation);
    this.processed = collection.appliedSequence;
    this.received = this.processed;
    this.lastKnown = this.processed;
  }

  /** Records of the log not applied here, as last seen. */
  get lag(): number {
    return Math.max(0, this.lastKnown - this.processed);
  }

  /** Starts applying from the collection's applied sequence + 1. */
  startFollowing(): void {
    this.follower ??= new StreamFollower(this.js, this.stream, this.processed + 1, (message) => this.apply(message), this.host.logger);
    this.follower.start();
  }

  /** Re-opens the consumer when it is behind and made no progress for `stallMs`. */
  restartIfStalled(stallMs: number): void {
    this.follower?.restartIfStalled(this.lag > 0, stallMs);
  }

  /** Stops applying (waits for the record in progress). */
  async stop(): Promise<void> {
    await this.follower?.stop();
    await this.tail;
    this.follower = undefined;
    this.expectedLast = undefined;
  }

  /** Leader: the log's end is `last` (after a barrier, or a resync); appends continue after it. */
  setWriterEnd(last: number | undefined): void {
    this.expectedLast = last;
  }

  /** Whether the writer knows the log's end. */
  get writerReady(): boolean {
    return this.expectedLast !== undefined;
  }

  /**
   * Publishes a barrier record carrying `term` after `expectLast` (the new leader's first record);
   * resolves with its sequence.
   * @throws Error from JetStream when another record landed after `expectLast`.
   */
  async publishBarrier(term: number, expectLast: number): Promise<number> {
    const ack = await this.js.publish(this.subject, new Uint8Array(0), { headers: this.headersOf(term, barrierType), expect: { lastSequence: expectLast }, timeout: this.host.publishTimeoutMs });
    return ack.seq;
  }

  /**
   * Leader: appends one encoded write and resolves once this node has applied it, with its outcome.
   * @throws VectorDbError failed_precondition when this node is not (or stopped being) the leader, or
   *   its record was fenced; unavailable when the log could not be reached or the writer is
   *   re-synchronising (the write may or may not be in the log: retry; writes are idempotent by id);
   *   resource_exhausted when the record is over NATS's max_payload.
   */
  async append(type: number, body: Uint8Array, maxPayloadBytes: number): Promise<WriteOutcome> {
    const term = this.host.leaderTerm();
    if (term === undefined) throw new VectorDbError("failed_precondition", `collection "${this.name}": this node is no longer the leader; retry on the leader`);
    if (body.byteLength > maxPayloadBytes) {
      throw new VectorDbError("resource_exhausted", `points: the write's record is ${body.byteLength} bytes, above the NATS max_payload ${maxPayloadBytes} of the replicated log; send smaller batches`);
    }
    if (this.expectedLast === undefined) {
      throw new VectorDbError("unavailable", `collection "${this.name}": the leader is re-synchronising with the replicated log; retry`);
    }
    const expectLast = this.expectedLast++;
    let sequence: number;
    try {
      const ack = await this.js.publish(this.subject, body, { headers: this.headersOf(term, String(type)), expect: { lastSequence: expectLast }, timeout: this.host.publishTimeoutMs });
      sequence = ack.seq;
      // The stream holds it now: if this node's consumer does not deliver it soon, it is stalled.
      this.lastKnown = Math.max(this.lastKnown, sequence);
    } catch (error) {
      this.expectedLast = undefined;
      this.host.onPublishFailed(this);
      throw new VectorDbError("unavailable", `collection "${this.name}": the replicated log did not acknowledge the write (${error instanceof Error ? error.message : String(error)}); it may or may not be applied: retry`, { cause: error });
    }
    await this.waitProcessed(sequence);
    const outcome = this.outcomes.get(sequence);
    this.outcomes.delete(sequence);
    if (outcome === undefined) {
      throw new VectorDbError("failed_precondition", `collection "${this.name}": the write at sequence ${sequence} was fenced off (a newer leader took over); retry on the leader`);
    }
    // Acknowledge only while the lease is held: a deposed leader never acknowledges after its successor started.
    if (this.host.leaderTerm() !== term) {
      throw new VectorDbError("unavailable", `collection "${this.name}": this node lost the leader lease before acknowledging the write at sequence ${sequence} (it is in the log and will be applied); retry on the new leader`);
    }
    return outcome;
  }

  /** Resolves once the record at `sequence` was handled here (bounded by {@link applyWaitMaxMs}). */
  async waitProcessed(sequence: number): Promise<void> {
    const deadline = performance.now() + applyWaitMaxMs;
    while (this.processed < sequence) {
      if (performance.now() > deadline) throw new VectorDbError("unavailable", `collection "${this.name}": record ${sequence} was not applied here within ${applyWaitMaxMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  private headersOf(term: number, type: string) {
    const h = natsHeaders();
    h.set(termHeader, String(term));
    h.set(typeHeader, type);
    return h;
  }

  /**
   * Applies (or ignores) one record of the stream, in order. The record is handed to the collection at
   * once (its WAL append is queued in sequence order) and {@link processed} moves when it is applied;
   * up to {@link applyWindow} records are in flight, so consecutive records share fsyncs.
   */
  private async apply(message: JsMsg): Promise<void> {
    if (message.seq <= this.received) return;
    if (message.seq !== this.received + 1) {
      this.host.onGap(this);
      throw new Error(`collection "${this.name}": the log continues at ${message.seq} but this replica needs ${this.received + 1} (trimmed below it)`);
    }
    const sequence = message.seq;
    const last = message.seq + message.info.pending;
    const term = Number(message.headers?.get(termHeader) ?? "0");
    const type = message.headers?.get(typeHeader) ?? "";
    let applied: Promise<WriteOutcome | undefined> = Promise.resolve(undefined);
    if (term < this.term) {
      this.fenced++;
      this.host.logger.warn({ collection: this.name, sequence, term, currentTerm: this.term }, "replication: ignored a record of a deposed leader");
    } else {
      this.term = term;
      if (type !== barrierType) applied = this.collection.applyLogged(sequence, Number(type), message.data);
    }
    this.received = sequence;
    this.inFlight++;
    this.tail = this.tail
      .then(() => applied)
      .then(
        (outcome) => {
          if (outcome !== undefined && this.host.leaderTerm() !== undefined) {
            this.outcomes.set(sequence, outcome);
            if (this.outcomes.size > outcomesMax) this.outcomes.delete(this.outcomes.keys().next().value!);
          }
          this.processed = sequence;
          this.lastKnown = Math.max(this.lastKnown, last);
        },
        (error: unknown) => {
          // The collection refuses every later record too (closing, dropped, or its WAL failed).
          this.host.logger.error({ err: error, collection: this.name, sequence }, "replication: applying a record failed");
        },
      )
      .finally(() => {
        this.inFlight--;
      });
    if (this.inFlight >= applyWindow) await this.tail;
  }
}
