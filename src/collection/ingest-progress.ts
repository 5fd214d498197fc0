import { ingestProgressEntriesMax } from "../config.js";

/**
 * The resumable loads of a collection: for each `ingest_id`, the highest `batch_seq` applied (every
 * batch up to it is). Part of the collection's state: written with each batch's WAL record, kept in
 * segments and snapshots, so it is exactly as durable as the batches themselves.
 *
 * Bounded: it keeps the {@link ingestProgressEntriesMax} ids written to most recently and forgets the
 * oldest (a Map keeps insertion order; an update moves its id to the end), which is deterministic, so
 * replaying the same log always forgets the same ids.
 */
export class IngestProgress {
  private readonly batches = new Map<string, number>();

  /** Takes over `entries` (as a state holds them, oldest first). */
  constructor(entries: Iterable<readonly [string, number]> = []) {
    for (const [id, batch] of entries) this.record(id, batch);
  }

  /** The highest batch applied of `ingestId`, 0 when none is known. */
  durableBatch(ingestId: string): number {
    return this.batches.get(ingestId) ?? 0;
  }

  /** Records that `batch` of `ingestId` is applied; forgets the oldest id past the bound. */
  record(ingestId: string, batch: number): void {
    this.batches.delete(ingestId);
    this.batches.set(ingestId, batch);
    if (this.batches.size > ingestProgressEntriesMax) {
      const oldest = this.batches.keys().next();
      if (oldest.done !== true) this.batches.delete(oldest.value);
    }
  }

  /** A copy of every entry, oldest first. */
  entries(): [string, number][] {
    return [...this.batches];
  }
}
