import type { CollectionSpec, DurableCollection, WriteOp, WriteOutcome } from "../collection/index.js";
import { VectorDbError } from "../errors.js";
import type { AliasAction } from "./aliases.js";
import type { Database } from "./database.js";

/** How long a read with `min_sequence` waits without a deadline, ms. */
export const minSequenceWaitMaxMs = 30_000;
/** How often a read with `min_sequence` checks the applied sequence while it waits, ms. */
const minSequencePollMs = 2;

/** Where a collection's replication stands on this server (GetCollection's applied_sequence, replication_lag). */
export interface ReplicationStatus {
  /** The sequence of the last write applied here. */
  appliedSequence: number;
  /** Records of the collection's log not applied here yet, as last seen (0 in embedded mode). */
  lag: number;
}

/**
 * Every change to the database goes through a write path: the embedded one ({@link embeddedWritePath})
 * writes to the local WALs and folders; replication's (`src/replication/`) appends to the replicated
 * log and applies on every replica. The service layer talks to this interface only for changes, and
 * to the {@link Database} for reads.
 */
export interface WritePath {
  /**
   * Writes to the collection `name` (or the collection an alias names); resolves once the write is
   * durable (in the WAL, or acknowledged by the replicated log) and applied on this server.
   * @param field the request field that named the collection, for messages.
   * @throws VectorDbError as DurableCollection.write; replication adds FAILED_PRECONDITION on a
   *   follower (naming the leader's address) and UNAVAILABLE when the log cannot be reached.
   */
  write(name: string, op: WriteOp, field?: string): Promise<WriteOutcome>;
  /** As Database.create (the spec validated apart from its name). */
  createCollection(spec: CollectionSpec): Promise<DurableCollection>;
  /** As Database.drop; resolves with the points the collection held. */
  dropCollection(name: string): Promise<number>;
  /** As Database.updateAliases. */
  updateAliases(actions: readonly AliasAction[]): Promise<void>;
  /** As DurableCollection.updateSearchEf, for the collection `name` (or alias). */
  updateSearchEf(name: string, ef: number): Promise<void>;
  /** Where the collection's writes stand on this server. */
  status(collection: DurableCollection): ReplicationStatus;
  /**
   * Resolves once this server has applied every write of collection `name` up to `sequence` (a write
   * response's `sequence`): read-your-writes on any replica. Polls every 2 ms.
   * @throws VectorDbError deadline_exceeded (DEADLINE_EXCEEDED) when `signal` aborts first;
   *   unavailable (UNAVAILABLE) after {@link minSequenceWaitMaxMs} without a deadline; embedded:
   *   out_of_range (OUT_OF_RANGE) at once for a sequence the collection's WAL has not assigned yet.
   */
  waitApplied(name: string, sequence: number, signal: AbortSignal, field?: string): Promise<void>;
}

/**
 * Waits until `applied()` reaches `sequence`, bounded by `signal` and {@link minSequenceWaitMaxMs}.
 * @throws VectorDbError deadline_exceeded / unavailable as {@link WritePath.waitApplied}.
 */
export async function waitForSequence(applied: () => number, sequence: number, signal: AbortSignal, what: string): Promise<void> {
  const deadline = performance.now() + minSequenceWaitMaxMs;
  while (applied() < sequence) {
    if (signal.aborted) throw new VectorDbError("deadline_exceeded", `min_sequence: ${what} has applied up to sequence ${applied()}, not ${sequence}, by the call's deadline`);
    if (performance.now() > deadline) {
      throw new VectorDbError("unavailable", `min_sequence: ${what} has applied up to sequence ${applied()}, not ${sequence}, after ${minSequenceWaitMaxMs} ms; retry, or set a deadline`);
    }
    await new Promise((resolve) => setTimeout(resolve, minSequencePollMs));
  }
}

/** The write path of a server without replication: every change goes straight to `db`. */
export function embeddedWritePath(db: Database): WritePath {
  return {
    write: (name, op, field) => db.get(name, field).write(op),
    createCollection: (spec) => db.create(spec),
    dropCollection: (name) => db.drop(name),
    updateAliases: (actions) => db.updateAliases(actions),
    async updateSearchEf(name, ef) {
      await db.get(name, "name").updateSearchEf(ef);
    },
    status: (collection) => ({ appliedSequence: collection.appliedSequence, lag: 0 }),
    waitApplied(name, sequence, signal, field) {
      const collection = db.get(name, field);
      // Without replication this server is the only writer: a sequence it has not even assigned yet
      // belongs to no acknowledged write, and waiting for it would only wait out the deadline.
      if (sequence >= collection.nextSequence) {
        return Promise.reject(
          new VectorDbError(
            "out_of_range",
            `min_sequence: ${sequence} is above the last write collection "${collection.name}" has taken (sequence ${collection.nextSequence - 1}); without replication every acknowledged write is applied, so no write of this server has that sequence`,
          ),
        );
      }
      return waitForSequence(() => collection.appliedSequence, sequence, signal, `collection "${collection.name}"`);
    },
  };
}
