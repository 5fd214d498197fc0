/**
 * The write-ahead log: an append-only file of opaque, typed, sequenced records (format in
 * `format.ts`), with group commit, recovery of a torn tail, and a cut that drops records already
 * captured by a segment.
 *
 * ### Durability policies
 *
 * - **`fsync`** (the default): `append` resolves only after the record is written *and* `fdatasync`
 *   has returned, so an acknowledged record survives a process kill, an OS crash and a power loss.
 *   Appends are grouped: those that arrive while a write and fsync are running wait, then are written
 *   together with one `writev` and made durable by one shared `fdatasync` (group commit). Throughput
 *   under concurrency therefore approaches one fsync per batch, not one per record.
 * - **`interval`**: `append` resolves once the record is written to the file (the OS page cache);
 *   a timer runs `fdatasync` every `flushIntervalMs` if anything was written since the last one. An
 *   acknowledged record survives a process kill (the kernel still holds the data), but an OS crash or
 *   power loss can lose the records acknowledged during the last `flushIntervalMs` (plus the duration
 *   of the fsync that was running).
 * - **`os`**: `append` resolves once the record is written to the file; the WAL never fsyncs on its
 *   own (only in `close`, `sync` and `truncateUpTo`); the kernel writes dirty pages back when it
 *   chooses (typically within ~30 s on Linux). Survives a process kill, not an OS crash or power loss.
 *
 * Under every policy what recovery returns is a prefix of the appended records. A process crash leaves
 * the file as written; a power loss may tear the part written since the last fsync, or leave holes in
 * it (pages written back out of order): recovery ends the log at the first damage there, which the
 * durability marks (`format.ts`) tell from damage to fsynced records (DATA_LOSS). On open the records
 * found are written anew into a fresh, fsynced file, so that they are durable before anything is
 * acknowledged on top of them (see {@link Wal.open}).
 *
 * File operations go through the {@link FileSystem} of `options.io` and the interval timer through
 * its clock: the real disk and time in production, a simulated disk and clock in the power-loss
 * simulation (`src/testing/sim/`).
 *
 * ### Errors
 *
 * A failed write (ENOSPC, EIO, …) rejects every append of that batch with `unavailable` (gRPC
 * UNAVAILABLE: the client may retry later); the file is truncated back to its previous end and the log
 * stays usable. A failed `fdatasync`, or a failed truncation after a failed write, leaves the state of
 * the file unknown (the kernel may have dropped the dirty pages from its write-back queue while still
 * serving them, so a second fsync would succeed without writing them: PostgreSQL's "fsyncgate"), so
 * the WAL refuses all further appends with `unavailable` and never fsyncs again until it is reopened;
 * reopening rewrites the records it reads, so none of them depends on those pages any more. A
 * rejected append was never acknowledged, but its record may still be found on reopen (like any
 * UNAVAILABLE, the outcome is unknown); the collection layer's idempotent replay makes that harmless.
 * Nothing is ever acknowledged that was not written.
 *
 * One process, one `Wal` per file: there is no inter-process lock.
 */
import { dirname } from "node:path";
import type { FsyncPolicy } from "../../config.js";
import { VectorDbError } from "../../errors.js";
import type { Clock, RepeatingTimer } from "../clock.js";
import type { FileSystem, StorageFile } from "../file-system.js";
import { fsyncDirectory, ioError, writeChunksAt } from "../files.js";
import {
  encodeDurabilityMark,
  encodeRecordFraming,
  recordOverheadBytes,
  walFormatVersion,
  walHeaderBytes,
  walMarkType,
  type WalRecord,
} from "./format.js";
import { openAndScan, writeReplacement } from "./wal-file.js";
import { resolveWalOptions, type WalOptions } from "./wal-options.js";

/** What {@link Wal.open} returns. */
export interface WalOpened {
  /** The log, ready for appends. */
  wal: Wal;
  /** Every record recovered, in ascending sequence; handed over once. Bodies are views into one buffer. */
  records: WalRecord[];
  /** Bytes of torn tail removed from the end of the file (0 if the log ended cleanly). */
  truncatedBytes: number;
  /**
   * Valid records that followed a hole in the unsynced tail and were removed with it (see
   * `format.ts`: write-back out of order before a power loss); 0 almost always.
   */
  droppedRecords: number;
}

/** Counters since open. */
export interface WalStats {
  /** Records written. */
  appends: number;
  /** `writev` batches written (one per group). */
  writes: number;
  /** `fdatasync` calls that succeeded. */
  fsyncs: number;
  /** Bytes written by appends, framing included (not counting rewrites by `truncateUpTo`). */
  bytesWritten: number;
}

interface PendingAppend {
  sequence: number;
  header: Buffer;
  chunks: readonly Uint8Array[];
  trailer: Buffer;
  bytes: number;
  resolve: (sequence: number) => void;
  reject: (error: unknown) => void;
}

/**
 * A write-ahead log over one file. Create it with {@link Wal.open}. All methods may be called
 * concurrently; file operations run one at a time, in call order, on an internal queue.
 */
export class Wal {
  private handle: StorageFile;
  private size: number;
  private floor: number;
  private next: number;
  private lastWritten: number;
  /** Every record up to this sequence is known fsynced (in this file or an earlier one). */
  private durableThrough: number;
  /** The highest sequence a durability mark in the file says was fsynced. */
  private markedThrough: number;
  /** Sequence and file offset of every record in the file, for `truncateUpTo`. */
  private sequences: number[];
  private offsets: number[];

  private pending: PendingAppend[] = [];
  private pendingBytes = 0;
  private flushQueued = false;
  private syncQueued = false;
  private dirty = false;
  private chain: Promise<void> = Promise.resolve();
  private timer: RepeatingTimer | undefined;
  private failure: VectorDbError | undefined;
  private closing: Promise<void> | undefined;
  private readonly counters: WalStats = { appends: 0, writes: 0, fsyncs: 0, bytesWritten: 0 };

  private constructor(
    /** The log file's path. */
    readonly path: string,
    /** The durability policy. */
    readonly durability: FsyncPolicy,
    /** Largest record body accepted, in bytes. */
    readonly recordBytesMax: number,
    private readonly queueBytesMax: number,
    private readonly fs: FileSystem,
    handle: StorageFile,
    scan: { floor: number; end: number; records: readonly WalRecord[]; markedThrough: number },
    minNextSequence: number,
    /** Times each fdatasync for {@link WalOptions.onSync}. */
    private readonly timing: { clock: Clock; onSync: (seconds: number) => void },
  ) {
    const { floor, end, records, markedThrough } = scan;
    this.handle = handle;
    this.size = end;
    this.floor = floor;
    this.sequences = records.map((record) => record.sequence);
    this.offsets = records.map((record) => record.offset);
    this.lastWritten = records.length > 0 ? records[records.length - 1]!.sequence : floor - 1;
    // open() makes the file durable (rewrite or fdatasync) before it hands the log out.
    this.durableThrough = this.lastWritten;
    this.markedThrough = markedThrough;
    this.next = Math.max(this.lastWritten + 1, minNextSequence);
  }

  /**
   * Opens the log at `path`, creating it (with an atomic write) if it does not exist, and recovers it:
   * deletes its stale temporaries (`path.tmp-*`), reads the whole file, validates every record, cuts
   * off a torn tail, and makes what it found durable whatever happened before: when the file holds
   * records (or is a version-1 file) it writes them anew into a replacement (temporary, fdatasync,
   * rename, directory fsync; a process killed before the interval policy's fsync, or a failed fsync,
   * leaves records in pages the disk may never see), otherwise it fdatasyncs the file. The directory
   * must exist, and the caller fsyncs it first (a crash between a cut's rename and its directory
   * fsync leaves the new file under the name, not yet durably).
   *
   * @returns the open log, the recovered records in order (to replay once), the bytes cut off and the
   *   valid records dropped with them (after a hole in the unsynced tail; see `format.ts`).
   * @throws VectorDbError `data_loss` (DATA_LOSS) naming the file and byte offset if a bad record is
   *   followed by proof that it was fsynced (a durability mark; in a version-1 file, any valid
   *   record), sequences do not strictly increase, or the header is damaged; `failed_precondition`
   *   (FAILED_PRECONDITION) for an unknown format version; `invalid_argument` (INVALID_ARGUMENT) for a
   *   bad option; `resource_exhausted` (RESOURCE_EXHAUSTED) if the file is larger than one buffer can
   *   hold (4 GiB); `unavailable` / `not_found` on I/O errors.
   */
  static async open(path: string, options: WalOptions = {}): Promise<WalOpened> {
    const { durability, flushIntervalMs, recordBytesMax, queueBytesMax, minNextSequence, io, onSync } = resolveWalOptions(options);
    const { fs, clock } = io;

    const { handle, scan, truncatedBytes } = await openAndScan(fs, path, minNextSequence);
    let wal: Wal | undefined;
    try {
      wal = new Wal(path, durability, recordBytesMax, queueBytesMax, fs, handle, scan, minNextSequence, { clock, onSync });
      // What was just read must be durable before anything is acknowledged on top of it. An fsync is
      // not enough for records: they may sit in pages the kernel no longer means to write (after a
      // failed fsync it drops them from the write-back queue yet still serves them: PostgreSQL's
      // "fsyncgate"). Writing them anew, into a file of their own, is; it also upgrades a version-1 file.
      if (scan.records.length > 0 || scan.version < walFormatVersion) await wal.replaceFile(0, walHeaderBytes, scan.floor, "rewriting the WAL on recovery");
      else await handle.datasync();
      const opened = wal;
      if (durability === "interval") opened.timer = clock.every(flushIntervalMs, () => opened.onTimer());
      return { wal: opened, records: scan.records, truncatedBytes, droppedRecords: scan.torn?.droppedRecords ?? 0 };
    } catch (error) {
      // The replacement, if the rewrite got that far, is the log's handle by now; close both.
      await handle.close().catch(() => undefined);
      await wal?.handle.close().catch(() => undefined);
      throw ioError(path, "recovering the WAL", error);
    }
  }

  /** The sequence the next append will take. */
  get nextSequence(): number {
    return this.next;
  }

  /**
   * Makes the next append take `sequence` (the sequences between are never used: the log may have
   * gaps; sequences only have to increase). Replication appends each record of a collection's
   * replicated log under its stream sequence this way. A no-op when `sequence` is the next one.
   * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) when `sequence` is below
   *   {@link nextSequence} or not a safe integer.
   */
  skipTo(sequence: number): void {
    if (!Number.isSafeInteger(sequence) || sequence < this.next) {
      throw new VectorDbError("invalid_argument", `${this.path}: cannot skip the WAL to sequence ${sequence}: the next sequence is ${this.next}`);
    }
    this.next = sequence;
  }

  /** The sequence of the last record written to the file, or (floor − 1) if it holds none. */
  get lastSequence(): number {
    return this.lastWritten;
  }

  /**
   * The header's sequence floor: every record in the file has a sequence at least this. After
   * `truncateUpTo(s)` it is `s + 1`, so a floor above 1 says that records below it were cut (their effect
   * must be in a segment).
   */
  get floorSequence(): number {
    return this.floor;
  }

  /** Size of the file in bytes: header and written records (not appends still queued). */
  get sizeBytes(): number {
    return this.size;
  }

  /** Records in the file (recovered and appended, minus those cut). */
  get recordCount(): number {
    return this.sequences.length;
  }

  /** Counters since open (see {@link WalStats}); a snapshot. */
  get stats(): Readonly<WalStats> {
    return { ...this.counters };
  }

  /**
   * Appends one record and resolves with its sequence once it is durable under the policy (see the
   * module documentation). Sequences are assigned in call order, so records reach the file in call
   * order. The body is written from the caller's buffers: do not modify them until the promise
   * settles.
   *
   * @param type record type, an integer 0–255, stored as is.
   * @param body the body, one buffer or chunks to concatenate; at most `recordBytesMax` bytes.
   * @returns the record's sequence.
   * @throws VectorDbError (as a rejection) `invalid_argument` (INVALID_ARGUMENT) for a bad type or a
   *   body above `recordBytesMax` (naming the limit); `resource_exhausted` (RESOURCE_EXHAUSTED) when
   *   `queueBytesMax` bytes are already waiting; `unavailable` (UNAVAILABLE) if the write or fsync
   *   failed, the log was made unusable by an earlier failure, or it is closed.
   */
  append(type: number, body: Uint8Array | readonly Uint8Array[]): Promise<number> {
    const chunks: readonly Uint8Array[] = body instanceof Uint8Array ? [body] : body;
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.byteLength;
    const refusal = this.refusal() ?? this.checkAppend(type, bytes);
    if (refusal) return Promise.reject(refusal);
    const sequence = this.next++;
    const { header, trailer } = encodeRecordFraming(sequence, type, chunks, bytes);
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ sequence, header, chunks, trailer, bytes: bytes + recordOverheadBytes, resolve, reject });
      this.pendingBytes += bytes;
      if (!this.flushQueued) {
        this.flushQueued = true;
        void this.enqueue(() => this.flushPending());
      }
    });
  }

  /**
   * Waits until every append made before the call is written, then fsyncs the file (under every
   * policy). Use it to make `interval` / `os` appends durable at a chosen point.
   *
   * @throws VectorDbError `unavailable` (UNAVAILABLE) if the fsync fails (the log then refuses further
   *   appends), the log was made unusable earlier, or it is closed.
   */
  sync(): Promise<void> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    return this.enqueue(async () => {
      if (this.failure) throw this.failure;
      await this.fsyncNow(true);
    });
  }

  /**
   * Drops every record with a sequence ≤ `sequence`, once the caller has durably stored their effect
   * elsewhere (a segment holding everything up to `sequence`). Rewrites the kept records after a new
   * header (floor `sequence` + 1) into a temporary, fsyncs it, renames it over the log and fsyncs the
   * directory: a crash at any point leaves either the old or the new file. Runs on the append queue:
   * appends made before the call are written first, appends made after it wait and go to the new file.
   * `truncateUpTo(wal.lastSequence)` empties the log.
   *
   * @param sequence an integer ≥ 0, at most {@link lastSequence} at the time the cut runs.
   * @returns the number of records dropped.
   * @throws VectorDbError `invalid_argument` (INVALID_ARGUMENT) for a bad number;
   *   `failed_precondition` (FAILED_PRECONDITION) if `sequence` is above the last written record;
   *   `unavailable` (UNAVAILABLE) on an I/O error (before the rename the old file stays in use and
   *   intact; a failed directory fsync after it makes the log refuse further appends) or if the log is
   *   closed or unusable.
   */
  truncateUpTo(sequence: number): Promise<number> {
    if (!Number.isSafeInteger(sequence) || sequence < 0) {
      return Promise.reject(new VectorDbError("invalid_argument", `WAL cut sequence must be a non-negative integer, got ${sequence}`));
    }
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    return this.enqueue(() => this.cut(sequence));
  }

  /**
   * Writes the appends still queued, fsyncs (under every policy), stops the interval timer and closes
   * the file. Appends made after the call are rejected with `unavailable`. Idempotent: later calls
   * return the same promise.
   *
   * @throws VectorDbError `unavailable` (UNAVAILABLE) if the final fsync fails or the log had been made
   *   unusable by an earlier failure (the file is closed anyway).
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.timer?.cancel();
    this.timer = undefined;
    this.closing = this.enqueue(async () => {
      try {
        if (this.failure) throw this.failure;
        await this.fsyncNow(false);
      } finally {
        await this.handle.close().catch(() => undefined);
      }
    });
    return this.closing;
  }

  /** Why a new operation must be refused right now, if it must. */
  private refusal(): VectorDbError | undefined {
    if (this.closing) return new VectorDbError("unavailable", `${this.path}: the WAL is closed`);
    return this.failure;
  }

  private checkAppend(type: number, bytes: number): VectorDbError | undefined {
    if (!Number.isInteger(type) || type <= walMarkType || type > 255) {
      return new VectorDbError("invalid_argument", `WAL record type must be an integer from 1 to 255 (0 is the WAL's durability mark), got ${type}`);
    }
    if (bytes > this.recordBytesMax) {
      return new VectorDbError("invalid_argument", `WAL record body is ${bytes} bytes, more than the limit recordBytesMax = ${this.recordBytesMax}`);
    }
    if (this.pendingBytes + bytes > this.queueBytesMax && this.pending.length > 0) {
      return new VectorDbError("resource_exhausted", `WAL write queue holds ${this.pendingBytes} bytes; another ${bytes} would exceed the limit queueBytesMax = ${this.queueBytesMax}`);
    }
    return undefined;
  }

  /** Runs `operation` after every operation queued before it; one failure does not stop the queue. */
  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.chain.then(operation);
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private poison(action: string, error: unknown): VectorDbError {
    const cause = ioError(this.path, action, error);
    this.failure ??= new VectorDbError(
      "unavailable",
      `${this.path}: the WAL refuses appends after a failed ${action} (${cause.rawMessage}); reopen it to recover what reached the disk`,
      { cause },
    );
    return this.failure;
  }

  /** Writes every queued append in one `writev`, fsyncs under `fsync`, and settles them. Never throws. */
  private async flushPending(): Promise<void> {
    this.flushQueued = false;
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (batch.length === 0) return;
    try {
      await this.writeBatch(batch);
    } catch (error) {
      const failure = ioError(this.path, "WAL write", error);
      for (const append of batch) append.reject(failure);
      return;
    }
    for (const append of batch) append.resolve(append.sequence);
  }

  /**
   * Writes a batch at the end of the file and, under `fsync`, fdatasyncs. The batch starts with a
   * durability mark when an fsync made more records durable since the last mark.
   * A failed write truncates the file back (or poisons the log if that fails too); a failed fsync
   * poisons the log.
   */
  private async writeBatch(batch: readonly PendingAppend[]): Promise<void> {
    if (this.failure) throw this.failure;
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    // open() rewrote a version-1 file as version 2: every file written to has durability marks.
    const mark = this.durableThrough > this.markedThrough ? this.durableThrough : undefined;
    if (mark !== undefined) {
      chunks.push(encodeDurabilityMark(mark));
      bytes += recordOverheadBytes;
    }
    for (const append of batch) {
      chunks.push(append.header, ...append.chunks, append.trailer);
      bytes += append.bytes;
    }
    const start = this.size;
    try {
      await writeChunksAt(this.handle, chunks, start);
    } catch (error) {
      try {
        await this.handle.truncate(start);
      } catch (truncateError) {
        throw this.poison("truncation after a failed write", truncateError);
      }
      throw error;
    }
    if (mark !== undefined) this.markedThrough = mark;
    let offset = start + (mark === undefined ? 0 : recordOverheadBytes);
    for (const append of batch) {
      this.sequences.push(append.sequence);
      this.offsets.push(offset);
      offset += append.bytes;
    }
    this.size = start + bytes;
    this.lastWritten = batch[batch.length - 1]!.sequence;
    this.counters.appends += batch.length;
    this.counters.writes++;
    this.counters.bytesWritten += bytes;
    this.dirty = true;
    if (this.durability === "fsync") await this.fsyncNow(false);
  }

  /** fdatasync if anything was written since the last one (or always if `force`); a failure poisons. */
  private async fsyncNow(force: boolean): Promise<void> {
    if (!this.dirty && !force) return;
    this.dirty = false;
    // Runs on the queue: nothing is written while it runs, so it covers every record written so far.
    const covered = this.lastWritten;
    const started = this.timing.clock.now();
    try {
      await this.handle.datasync();
    } catch (error) {
      throw this.poison("fsync", error);
    }
    this.durableThrough = Math.max(this.durableThrough, covered);
    this.counters.fsyncs++;
    this.timing.onSync((this.timing.clock.now() - started) / 1000);
  }

  private onTimer(): void {
    if (!this.dirty || this.syncQueued || this.closing || this.failure) return;
    this.syncQueued = true;
    void this.enqueue(async () => {
      this.syncQueued = false;
      if (this.failure || this.closing) return;
      await this.fsyncNow(false);
    }).catch(() => undefined);
  }

  private async cut(sequence: number): Promise<number> {
    if (this.failure) throw this.failure;
    if (sequence > this.lastWritten) {
      throw new VectorDbError("failed_precondition", `${this.path}: cannot cut the WAL up to sequence ${sequence}: the last record written is ${this.lastWritten}`);
    }
    let keepFrom = 0;
    let high = this.sequences.length;
    while (keepFrom < high) {
      const middle = (keepFrom + high) >>> 1;
      if (this.sequences[middle]! <= sequence) keepFrom = middle + 1;
      else high = middle;
    }
    if (keepFrom === 0) return 0;
    const copyFrom = keepFrom < this.offsets.length ? this.offsets[keepFrom]! : this.size;
    await this.replaceFile(keepFrom, copyFrom, Math.max(this.floor, sequence + 1), "WAL cut");
    return keepFrom;
  }

  /**
   * Replaces the file with a new one holding a header with `newFloor` and the bytes from `copyFrom`
   * on (records `keepFrom` … and the durability marks among them: they name sequences, not offsets):
   * temporary, fdatasync, rename, directory fsync. Before the rename the old file stays in use; a
   * failed directory fsync after it poisons the log.
   */
  private async replaceFile(keepFrom: number, copyFrom: number, newFloor: number, action: string): Promise<void> {
    const { file: replacement, sizeBytes: newSize } = await writeReplacement(this.fs, this.path, this.handle, { copyFrom, endBytes: this.size, newFloor, action });
    // The new file is in place; from here on every append goes to it.
    const old = this.handle;
    this.handle = replacement;
    await old.close().catch(() => undefined);
    const shift = copyFrom - walHeaderBytes;
    this.sequences = this.sequences.slice(keepFrom);
    this.offsets = this.offsets.slice(keepFrom).map((offset) => offset - shift);
    this.size = newSize;
    this.floor = newFloor;
    this.dirty = false;
    this.durableThrough = Math.max(this.durableThrough, this.lastWritten);
    this.markedThrough = newFloor - 1;
    try {
      await fsyncDirectory(this.fs, dirname(this.path));
    } catch (error) {
      // Until the rename is durable a crash could bring back the old file without later appends.
      throw this.poison(`directory fsync after ${action === "WAL cut" ? "a WAL cut" : action}`, error);
    }
  }
}
