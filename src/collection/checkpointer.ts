import { join } from "node:path";
import type { Logger } from "pino";
import { checkpointRetryMs } from "../config.js";
import { type StorageIo, type Wal, writeSegment } from "../storage/index.js";
import { encodeStateSections, segmentFileName } from "./disk/index.js";
import type { MemoryCollection } from "./memory-collection.js";

/** What one checkpoint did. */
export interface CheckpointReport {
  /** The sequence the new segment holds everything up to. */
  sequence: number;
  /**
   * The synchronous part of the snapshot (graph bytes, ids, payload references, masks): how long
   * writes and searches were paused, ms.
   */
  pauseMs: number;
  /** Copying the vector rows, in slices between which writes and searches run (copy-on-write), ms. */
  vectorCopyMs: number;
  /** Encoding the sections (asynchronously, in slices), ms. */
  encodeMs: number;
  /** Writing, fsyncing and renaming the segment, ms (0 when the segment was current already). */
  writeMs: number;
  /** Cutting the WAL, ms. */
  cutMs: number;
  /** From start to end, ms. */
  totalMs: number;
  /** Size of the segment file, bytes. */
  segmentBytes: number;
  /** WAL records dropped by the cut. */
  droppedRecords: number;
}

/**
 * Folds a durable collection's WAL into a new segment file. A checkpoint takes the collection's state
 * at sequence S with `MemoryCollection.beginSnapshot` (a synchronous copy of everything but the vector
 * rows, the only pause; the rows follow in slices, copy-on-write), encodes it and writes it as the new
 * `segment.bin` (temporary name, fsync, rename, directory fsync) while writes and searches go on; then
 * the WAL drops the records up to S. A crash at any point leaves a segment and a WAL that together
 * hold every acknowledged write.
 */
export class Checkpointer {
  private running: Promise<CheckpointReport | undefined> | undefined;
  private retryAt = 0;
  private segmentSeq: number;
  /** The last checkpoint's report (undefined before the first). */
  lastReport: CheckpointReport | undefined;

  /**
   * @param segmentSequence the sequence the segment on disk holds (0 when there is none).
   * @param walBytesMax WAL size past which {@link maybeCheckpoint} starts one, bytes.
   * @param io the disk the segment is written to, and the clock of the retry delay.
   */
  constructor(
    private readonly io: StorageIo,
    private readonly dir: string,
    private readonly collection: MemoryCollection,
    private readonly wal: Wal,
    private readonly walBytesMax: number,
    segmentSequence: number,
    private readonly logger?: Logger,
  ) {
    this.segmentSeq = segmentSequence;
  }

  /** The sequence the current segment file holds everything up to (0 when there is none). */
  get segmentSequence(): number {
    return this.segmentSeq;
  }

  /**
   * Writes a segment holding the state at the last applied sequence and cuts the WAL up to it. Joins
   * a checkpoint already running. Resolves undefined when there was nothing to do (no write since the
   * last segment and an empty WAL).
   *
   * @throws VectorDbError (as a rejection) unavailable on an I/O error (the previous segment and the
   *   whole WAL stay valid).
   */
  checkpoint(): Promise<CheckpointReport | undefined> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves once no checkpoint runs (whatever its outcome). */
  async whenIdle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /**
   * Starts a background checkpoint when the WAL has grown past `walBytesMax`, unless one runs, `allowed`
   * is false, or the last one failed less than 5 s ago. Failures are logged, never thrown.
   */
  maybeCheckpoint(allowed: boolean): void {
    if (this.wal.sizeBytes <= this.walBytesMax || this.running || !allowed) return;
    if (this.io.clock.now() < this.retryAt) return;
    this.checkpoint().catch((error: unknown) => {
      this.retryAt = this.io.clock.now() + checkpointRetryMs;
      this.logger?.error({ err: error, collection: this.collection.name }, "checkpoint failed; the WAL keeps every write and the checkpoint will be retried");
    });
  }

  private async run(): Promise<CheckpointReport | undefined> {
    const started = performance.now();
    if (this.collection.appliedSequence === this.segmentSeq && this.wal.recordCount === 0) return undefined;
    let written = { sequence: this.segmentSeq, pauseMs: 0, vectorCopyMs: 0, encodeMs: 0, writeMs: 0, segmentBytes: 0 };
    if (this.collection.appliedSequence > this.segmentSeq) written = await this.writeSegment();
    const { sequence } = written;
    const cutStarted = performance.now();
    const droppedRecords = await this.wal.truncateUpTo(sequence);
    const cutMs = performance.now() - cutStarted;
    const { pauseMs, vectorCopyMs, encodeMs, writeMs, segmentBytes } = written;
    const report: CheckpointReport = { sequence, pauseMs, vectorCopyMs, encodeMs, writeMs, cutMs, totalMs: performance.now() - started, segmentBytes, droppedRecords };
    this.lastReport = report;
    this.logger?.info({ collection: this.collection.name, ...report }, "checkpoint written");
    return report;
  }

  /** Snapshots the collection and writes it as the new segment; returns its sequence and timings. */
  private async writeSegment(): Promise<Pick<CheckpointReport, "sequence" | "pauseMs" | "vectorCopyMs" | "encodeMs" | "writeMs" | "segmentBytes">> {
    // A snapshot (SnapshotService) may be copying its vectors: this one starts once that copy is done.
    const snapshot = await this.collection.beginSnapshotWhenFree();
    const { state, pauseMs } = snapshot;
    const copyStarted = performance.now();
    await snapshot.vectorsCopied;
    const vectorCopyMs = performance.now() - copyStarted;
    const encodeStarted = performance.now();
    const sections = await encodeStateSections(state, this.collection.spec);
    const encodeMs = performance.now() - encodeStarted;
    const writeStarted = performance.now();
    const segmentBytes = (await writeSegment(this.io.fs, join(this.dir, segmentFileName), { sequence: state.sequence, sections })).sizeBytes;
    const writeMs = performance.now() - writeStarted;
    this.segmentSeq = state.sequence;
    return { sequence: state.sequence, pauseMs, vectorCopyMs, encodeMs, writeMs, segmentBytes };
  }
}
