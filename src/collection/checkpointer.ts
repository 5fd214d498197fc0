import { join } from "node:path";
import type { Logger } from "pino";
import { checkpointRetryMs } from "../config.js";
import { ioError, type StorageIo, type Wal, writeSegment } from "../storage/index.js";
import { deletesFileNameFor, encodeDeletesSection, encodeStateSections, isSegmentFileName, segmentFileNameFor, writeManifest, type Manifest, type ManifestSegment } from "./disk/index.js";
import type { SegmentedCollection } from "./segmented-collection.js";

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
  /** Bytes of segment files this checkpoint wrote (only the segments changed since the last one). */
  segmentBytes: number;
  /** Segment files written (changed segments), deletes files written (segments that only lost points), and segments left as their files were. */
  segmentsWritten: number;
  deletesWritten: number;
  segmentsUnchanged: number;
  /** Segment files no longer listed (merged away, or orphans of a failed checkpoint), removed. */
  filesRemoved: number;
  /** WAL records dropped by the cut. */
  droppedRecords: number;
}

/**
 * Folds a durable collection's WAL into its segment files. A checkpoint cuts the collection at its
 * last applied sequence S (`SegmentedCollection.beginCheckpoint`: one synchronous step over every
 * segment changed since the last checkpoint; the vector rows follow in slices, copy-on-write), writes
 * each changed segment as a new file `segment-<id>-<S>.bin` (temporary name, fsync, rename, folder
 * fsync) while writes and searches go on (a segment that only lost points since its file gets a small
 * deletes file `segment-<id>-<S>.del` instead: its dead slots), then replaces `segments.json` (the same way) with the list
 * of every segment's file as of S, then cuts the WAL up to S, then removes the segment files the
 * manifest no longer lists. Unchanged segments cost nothing. A crash at any point leaves a manifest
 * listing complete files and a WAL that together hold every acknowledged write.
 */
export class Checkpointer {
  private running: Promise<CheckpointReport | undefined> | undefined;
  private retryAt = 0;
  private segmentSeq: number;
  /** The collection's `layoutVersion` the manifest on disk reflects. */
  private layoutWritten: number;
  /** A forced checkpoint (a merge, a graph completed) was asked for while one ran: run another after it. */
  private again = false;
  /** The last checkpoint's report (undefined before the first). */
  lastReport: CheckpointReport | undefined;

  /**
   * @param segmentSequence the sequence the manifest (or legacy segment) on disk holds (0 when none).
   * @param walBytesMax WAL size past which {@link maybeCheckpoint} starts one, bytes.
   * @param io the disk the segments are written to, and the clock of the retry delay.
   * @param hasManifest whether `segments.json` exists (a legacy folder gets one at its next checkpoint).
   */
  constructor(
    private readonly io: StorageIo,
    private readonly dir: string,
    private readonly collection: SegmentedCollection,
    private readonly wal: Wal,
    private readonly walBytesMax: number,
    segmentSequence: number,
    private readonly logger?: Logger,
    hasManifest = true,
    /** Whether a checkpoint may start now (not while the collection closes, is dropped or failed). */
    private readonly mayStart: () => boolean = () => true,
  ) {
    this.segmentSeq = segmentSequence;
    this.layoutWritten = hasManifest ? collection.layoutVersion : -1;
  }

  /** The sequence the current manifest holds everything up to (0 when there is none). */
  get segmentSequence(): number {
    return this.segmentSeq;
  }

  /**
   * Writes the segments changed since the last checkpoint and a manifest at the last applied
   * sequence, and cuts the WAL up to it. Joins a checkpoint already running. Resolves undefined when
   * there was nothing to do.
   *
   * @throws VectorDbError (as a rejection) unavailable on an I/O error (the previous manifest, its
   *   files and the whole WAL stay valid).
   */
  checkpoint(): Promise<CheckpointReport | undefined> {
    if (this.running === undefined) {
      const running = this.run().finally(() => {
        this.running = undefined;
      });
      this.running = running;
      // A forced checkpoint asked for while this one ran (whoever started it) follows once it succeeds.
      running.then(
        () => {
          if (!this.again) return;
          this.again = false;
          this.maybeCheckpoint(this.mayStart(), true);
        },
        () => undefined,
      );
    }
    return this.running;
  }

  /** Resolves once no checkpoint runs (whatever its outcome). */
  async whenIdle(): Promise<void> {
    while (this.running !== undefined) await this.running.catch(() => undefined);
  }

  /**
   * Starts a background checkpoint when the WAL has grown past `walBytesMax` (or `force`: the
   * optimizer replaced segments, whose old files a checkpoint releases, or a segment's graph
   * completed after its file was written), unless `allowed` is false
   * or the last one failed less than 5 s ago. Failures are logged, never thrown.
   */
  maybeCheckpoint(allowed: boolean, force = false): void {
    if (!allowed || (!force && this.wal.sizeBytes <= this.walBytesMax)) return;
    if (this.running) {
      if (force) this.again = true;
      return;
    }
    if (this.io.clock.now() < this.retryAt) return;
    this.checkpoint().catch((error: unknown) => {
      this.retryAt = this.io.clock.now() + checkpointRetryMs;
      this.logger?.error({ err: error, collection: this.collection.name }, "checkpoint failed; the WAL keeps every write and the checkpoint will be retried");
    });
  }

  private async run(): Promise<CheckpointReport | undefined> {
    const started = performance.now();
    const collection = this.collection;
    const layoutChanged = collection.layoutVersion !== this.layoutWritten;
    if (collection.appliedSequence === this.segmentSeq && this.wal.recordCount === 0 && !layoutChanged) return undefined;
    let written = { sequence: this.segmentSeq, pauseMs: 0, vectorCopyMs: 0, encodeMs: 0, writeMs: 0, segmentBytes: 0, segmentsWritten: 0, deletesWritten: 0, segmentsUnchanged: 0, manifest: undefined as Manifest | undefined };
    if (collection.appliedSequence > this.segmentSeq || layoutChanged) written = await this.writeSegments();
    const { sequence, manifest, ...timings } = written;
    const cutStarted = performance.now();
    const droppedRecords = await this.wal.truncateUpTo(sequence);
    const cutMs = performance.now() - cutStarted;
    const filesRemoved = manifest === undefined ? 0 : await this.removeUnlisted(manifest);
    const report: CheckpointReport = { sequence, ...timings, cutMs, totalMs: performance.now() - started, droppedRecords, filesRemoved };
    this.lastReport = report;
    this.logger?.info({ collection: collection.name, ...report }, "checkpoint written");
    return report;
  }

  /** Cuts the collection, writes its changed segments and the manifest; returns the timings. */
  private async writeSegments() {
    const collection = this.collection;
    const cut = await collection.beginCheckpoint();
    const { sequence, pauseMs } = cut;
    const copyStarted = performance.now();
    await cut.vectorsCopied;
    const vectorCopyMs = performance.now() - copyStarted;
    let encodeMs = 0;
    let writeMs = 0;
    let segmentBytes = 0;
    let segmentsWritten = 0;
    const files: ManifestSegment[] = [];
    const persisted: (() => void)[] = [];
    let deletesWritten = 0;
    for (const segment of cut.segments) {
      const { entry, state, tombstones, sealed } = segment;
      if (tombstones !== undefined) {
        // Only deletes since its base file: a small deletes file instead of a rewrite.
        const writeStarted = performance.now();
        const deletes = deletesFileNameFor(entry.id, sequence);
        const { sizeBytes } = await writeSegment(this.io.fs, join(this.dir, deletes), { sequence, sections: [encodeDeletesSection(tombstones.slots, tombstones.sequences)] });
        writeMs += performance.now() - writeStarted;
        segmentBytes += sizeBytes;
        deletesWritten++;
        files.push({ id: entry.id, file: segment.file!, sealed, deletes });
        persisted.push(() => collection.markPersisted(segment, { deletes, bytes: sizeBytes }));
        continue;
      }
      if (state === undefined) {
        files.push({ id: entry.id, file: segment.file!, sealed, deletes: segment.deletes });
        continue;
      }
      const encodeStarted = performance.now();
      const sections = await encodeStateSections(state, collection.spec);
      encodeMs += performance.now() - encodeStarted;
      const writeStarted = performance.now();
      const file = segmentFileNameFor(entry.id, sequence);
      const { sizeBytes } = await writeSegment(this.io.fs, join(this.dir, file), { sequence, sections });
      writeMs += performance.now() - writeStarted;
      segmentBytes += sizeBytes;
      segmentsWritten++;
      files.push({ id: entry.id, file, sealed });
      persisted.push(() => collection.markPersisted(segment, { file, bytes: sizeBytes }));
    }
    const manifest: Manifest = { sequence, nextSegmentId: cut.nextSegmentId, segments: files, ingests: cut.ingests };
    const writeStarted = performance.now();
    await writeManifest(this.io.fs, this.dir, manifest);
    writeMs += performance.now() - writeStarted;
    for (const mark of persisted) mark();
    this.segmentSeq = sequence;
    this.layoutWritten = cut.layoutVersion;
    return { sequence, pauseMs, vectorCopyMs, encodeMs, writeMs, segmentBytes, segmentsWritten, deletesWritten, segmentsUnchanged: cut.segments.length - segmentsWritten - deletesWritten, manifest };
  }

  /**
   * Removes the segment files of the folder that `manifest` does not list: the sources of a merge
   * (now in the merged segment's file), older files of rewritten segments, a legacy `segment.bin`.
   * Not fsynced: a name that comes back after a power cut is an orphan again, removed on open.
   */
  private async removeUnlisted(manifest: Manifest): Promise<number> {
    const listed = new Set(manifest.segments.flatMap((s) => (s.deletes === undefined ? [s.file] : [s.file, s.deletes])));
    let removed = 0;
    let entries;
    try {
      entries = await this.io.fs.readdir(this.dir);
    } catch (error) {
      throw ioError(this.dir, "list", error);
    }
    for (const entry of entries) {
      if (entry.isDirectory || !isSegmentFileName(entry.name) || listed.has(entry.name)) continue;
      const path = join(this.dir, entry.name);
      try {
        await this.io.fs.unlink(path);
      } catch (error) {
        throw ioError(path, "remove", error);
      }
      removed++;
    }
    return removed;
  }
}
