import { join } from "node:path";
import type { Logger } from "pino";
import { checkCollectionName, DurableCollection, GraphBuilderPool, readSpec, type CollectionSpec, type DurabilityOptions, type IndexingOptions } from "../collection/index.js";
import { walQueueBytesMax, walRecordBytesMax, type ServerConfig } from "../config.js";
import { VectorDbError } from "../errors.js";
import { realStorageIo, type StorageIo } from "../storage/index.js";
import { collectionsDir, createCollectionDir, dropCollectionDir, prepareDataDir, scanCollections } from "./data-dir.js";
import { lockDataDir } from "./lock.js";

/** A registry entry. */
type Entry =
  | { state: "ready"; collection: DurableCollection }
  /** Recovery failed: every call naming the collection answers with `error` (e.g. DATA_LOSS). */
  | { state: "failed"; error: VectorDbError }
  /** Being created: the name is taken, the collection is not visible yet. */
  | { state: "creating" };

/** A collection that could not be recovered. */
export interface FailedCollection {
  name: string;
  error: VectorDbError;
}

/** What {@link Database.open} found. */
export interface DatabaseOpenReport {
  /** Collections recovered and serving. */
  opened: number;
  /** Collections that failed recovery (they answer with their error). */
  failed: FailedCollection[];
  /** Leftover temporary folders removed (interrupted creates and drops). */
  removedFolders: string[];
  /** From start to end, ms. */
  durationMs: number;
}

/** Options of {@link Database.close}. */
export interface DatabaseCloseOptions {
  /**
   * Checkpoint every collection first (default true): the next open loads segments and replays
   * nothing. False leaves the WAL as it is (as after a crash, but with every write fsynced).
   */
  checkpoint?: boolean;
}

/**
 * The registry of collections and the data directory (layout in `data-dir.ts`).
 *
 * Lifecycle: construct (no I/O), {@link open} (locks the directory, recovers every collection), serve,
 * {@link close} (checkpoints and closes every collection, unlocks). Until `open` has finished, lookups
 * answer UNAVAILABLE.
 *
 * A collection whose recovery fails (a corrupt WAL or segment: DATA_LOSS naming the file and offset; or
 * an I/O error) is registered as failed: every call naming it answers with that error, while the
 * others serve. It is left out of {@link list}; {@link drop} removes it (the operator's way out).
 *
 * Errors: NOT_FOUND (`not_found`) for an unknown collection, ALREADY_EXISTS (`already_exists`) for a
 * taken name, RESOURCE_EXHAUSTED (`resource_exhausted`) past `collectionsMax`, INVALID_ARGUMENT for a
 * bad name, UNAVAILABLE (`unavailable`) before `open` completes, after `close` or on an I/O error,
 * DATA_LOSS (`data_loss`) for a collection that failed recovery.
 */
export class Database {
  private readonly entries = new Map<string, Entry>();
  /** File operations (create, drop) per name, chained so that they never overlap for one name. */
  private readonly nameLocks = new Map<string, Promise<unknown>>();
  private state: "new" | "opening" | "open" | "closing" | "closed" = "new";
  private unlock: (() => Promise<void>) | undefined;
  private closing: Promise<void> | undefined;
  /** The graph builder threads every collection shares (`indexing.indexThreads`); made by {@link open}. */
  private builders: GraphBuilderPool | undefined;

  /**
   * @param config the data directory, limits, indexing and storage settings.
   * @param logger where recovery and checkpoint failures are logged; silent when absent.
   * @param io the disk and clock every file operation and timer goes through (the seam of
   *   `src/storage/file-system.ts`); the real ones by default, a simulated disk in the power-loss simulation.
   */
  constructor(
    private readonly config: ServerConfig,
    private readonly logger?: Logger,
    private readonly io: StorageIo = realStorageIo,
  ) {}

  /** The data directory. */
  get dataDir(): string {
    return this.config.dataDir;
  }

  /**
   * Creates the data directory if needed, locks it (`LOCK`), removes folders of interrupted creates
   * and drops, and recovers every collection (segment, then WAL replay). A collection that fails
   * recovery is registered as failed (see the class documentation) instead of failing the whole open.
   *
   * @throws VectorDbError failed_precondition (FAILED_PRECONDITION) when another live process holds
   *   the directory; unavailable (UNAVAILABLE) when the directory cannot be created or listed.
   */
  async open(): Promise<DatabaseOpenReport> {
    if (this.state !== "new") throw new VectorDbError("failed_precondition", "the database was opened already");
    this.state = "opening";
    const started = performance.now();
    try {
      await prepareDataDir(this.io.fs, this.dataDir);
      this.unlock = await lockDataDir(this.io.fs, this.dataDir);
      if (this.config.indexing.indexThreads > 0) this.builders = new GraphBuilderPool(this.config.indexing.indexThreads);
      const scan = await scanCollections(this.io.fs, this.dataDir);
      for (const name of scan.ignored) this.logger?.warn({ entry: join(collectionsDir(this.dataDir), name) }, "ignoring an entry that is not a collection folder");
      const failed: FailedCollection[] = [];
      for (const name of scan.names) {
        const dir = join(collectionsDir(this.dataDir), name);
        try {
          const spec = await readSpec(this.io.fs, dir, name);
          const collection = await DurableCollection.open(dir, spec, this.config.limits, this.indexing(), this.durability());
          this.entries.set(name, { state: "ready", collection });
          const { recovery } = collection;
          this.logger?.info(
            {
              collection: name,
              points: collection.size,
              segmentSequence: recovery.segmentSequence,
              replayedRecords: recovery.replayedRecords,
              truncatedBytes: recovery.truncatedBytes,
              droppedRecords: recovery.droppedRecords,
              ms: Math.round(recovery.segmentMs + recovery.replayMs),
            },
            "collection recovered",
          );
          if (recovery.droppedRecords > 0) {
            this.logger?.warn(
              { collection: name, droppedRecords: recovery.droppedRecords, truncatedBytes: recovery.truncatedBytes },
              "the WAL's tail written since its last fsync came back with a hole after a power loss; the records after the hole were never fsynced and were dropped with it",
            );
          }
        } catch (cause) {
          const error =
            cause instanceof VectorDbError
              ? cause
              : new VectorDbError("internal", `${dir}: recovery failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
          this.entries.set(name, { state: "failed", error });
          failed.push({ name, error });
          this.logger?.error({ collection: name, err: error }, "collection recovery failed: its calls answer with this error until the files are repaired or the collection is dropped");
        }
      }
      this.state = "open";
      return { opened: scan.names.length - failed.length, failed, removedFolders: scan.removed, durationMs: performance.now() - started };
    } catch (error) {
      this.state = "closed";
      for (const entry of this.entries.values()) if (entry.state === "ready") await entry.collection.close({ checkpoint: false }).catch(() => undefined);
      this.entries.clear();
      await this.builders?.close();
      await this.unlock?.();
      throw error;
    }
  }

  /**
   * Creates an empty collection, durably (the folder is complete on disk before this resolves); the
   * spec must already be validated apart from its name.
   *
   * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) for a bad name; already_exists
   *   (ALREADY_EXISTS); resource_exhausted (RESOURCE_EXHAUSTED) past `collectionsMax`; unavailable
   *   (UNAVAILABLE) when not open or on an I/O error.
   */
  async create(spec: CollectionSpec): Promise<DurableCollection> {
    checkCollectionName(spec.name, "name");
    this.checkOpen();
    if (this.entries.has(spec.name)) {
      throw new VectorDbError("already_exists", `name: collection "${spec.name}" already exists`);
    }
    if (this.entries.size >= this.config.limits.collectionsMax) {
      throw new VectorDbError("resource_exhausted", `name: the server holds collections_max ${this.config.limits.collectionsMax} collections already`);
    }
    this.entries.set(spec.name, { state: "creating" });
    try {
      const collection = await this.withNameLock(spec.name, async () => {
        const dir = await createCollectionDir(this.io.fs, this.dataDir, spec);
        try {
          return await DurableCollection.open(dir, spec, this.config.limits, this.indexing(), this.durability());
        } catch (error) {
          // Not acknowledged: remove the folder again so that it does not appear on the next start.
          await dropCollectionDir(this.io.fs, this.dataDir, spec.name).catch(() => undefined);
          throw error;
        }
      });
      this.entries.set(spec.name, { state: "ready", collection });
      return collection;
    } catch (error) {
      this.entries.delete(spec.name);
      throw error;
    }
  }

  /**
   * The collection called `name`.
   * @param field the request field that named it, for the error message.
   * @throws VectorDbError not_found (NOT_FOUND); invalid_argument for a malformed name; the recovery
   *   error (e.g. data_loss, DATA_LOSS, naming the file and offset) for a collection that failed
   *   recovery; unavailable (UNAVAILABLE) before `open` completes or after `close`.
   */
  get(name: string, field = "collection"): DurableCollection {
    checkCollectionName(name, field);
    this.checkOpen();
    const entry = this.entries.get(name);
    if (entry === undefined || entry.state === "creating") throw new VectorDbError("not_found", `${field}: collection "${name}" does not exist`);
    if (entry.state === "failed") throw failedError(name, entry.error);
    return entry.collection;
  }

  /** Every collection that serves, sorted by name (collections that failed recovery are left out). */
  list(): DurableCollection[] {
    const ready: DurableCollection[] = [];
    for (const entry of this.entries.values()) if (entry.state === "ready") ready.push(entry.collection);
    return ready.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The collections that failed recovery, sorted by name. */
  failures(): FailedCollection[] {
    const failed: FailedCollection[] = [];
    for (const [name, entry] of this.entries) if (entry.state === "failed") failed.push({ name, error: entry.error });
    return failed.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * Drops a collection and deletes its files (atomically and durably: see `data-dir.ts`); returns the
   * number of points it held. A collection that failed recovery can be dropped too (it held 0 points
   * as far as the server knows).
   *
   * @throws VectorDbError not_found (NOT_FOUND); invalid_argument for a bad name; unavailable
   *   (UNAVAILABLE) when not open or on an I/O error (the collection then answers with that error until
   *   it is dropped again).
   */
  async drop(name: string): Promise<number> {
    checkCollectionName(name, "name");
    this.checkOpen();
    const entry = this.entries.get(name);
    if (entry === undefined || entry.state === "creating") throw new VectorDbError("not_found", `name: collection "${name}" does not exist`);
    this.entries.delete(name);
    const points = entry.state === "ready" ? entry.collection.size : 0;
    return this.withNameLock(name, async () => {
      if (entry.state === "ready") {
        entry.collection.markDropped();
        await entry.collection.close({ checkpoint: false }).catch((error: unknown) => this.logger?.warn({ collection: name, err: error }, "closing a dropped collection failed"));
      }
      try {
        await dropCollectionDir(this.io.fs, this.dataDir, name);
      } catch (error) {
        const failure = error instanceof VectorDbError ? error : new VectorDbError("unavailable", String(error));
        this.entries.set(name, { state: "failed", error: new VectorDbError(failure.code, `dropping it failed: ${failure.rawMessage}`) });
        throw error;
      }
      return points;
    });
  }

  /**
   * Waits for creates and drops in progress, then closes every collection (after a checkpoint unless
   * `checkpoint: false`), and unlocks the data directory. The registry is empty afterwards. Idempotent.
   *
   * @throws VectorDbError unavailable (UNAVAILABLE) when a collection's checkpoint or final fsync
   *   failed (its WAL still holds every acknowledged write); the others are closed all the same.
   */
  close(options: DatabaseCloseOptions = {}): Promise<void> {
    this.closing ??= (async () => {
      const wasOpen = this.state === "open";
      this.state = "closing";
      let firstError: unknown;
      if (wasOpen) {
        await Promise.allSettled([...this.nameLocks.values()]);
        for (const [name, entry] of this.entries) {
          if (entry.state !== "ready") continue;
          try {
            await entry.collection.close({ checkpoint: options.checkpoint ?? true });
          } catch (error) {
            firstError ??= error;
            this.logger?.error({ collection: name, err: error }, "closing the collection failed; its WAL keeps every acknowledged write");
          }
        }
      }
      this.entries.clear();
      await this.builders?.close();
      await this.unlock?.();
      this.state = "closed";
      if (firstError !== undefined) throw firstError;
    })();
    return this.closing;
  }

  /** The indexing settings with the shared builder threads, for a collection being opened. */
  private indexing(): IndexingOptions {
    return { ...this.config.indexing, builders: this.builders };
  }

  private checkOpen(): void {
    if (this.state === "open") return;
    if (this.state === "new" || this.state === "opening") throw new VectorDbError("unavailable", "the database is still opening (recovering collections); retry shortly");
    throw new VectorDbError("unavailable", "the database is closed");
  }

  private durability(): DurabilityOptions {
    const { storage, limits } = this.config;
    const options: DurabilityOptions = {
      wal: { durability: storage.fsync, flushIntervalMs: storage.flushIntervalMs, recordBytesMax: walRecordBytesMax(limits), queueBytesMax: walQueueBytesMax },
      walBytesMax: storage.walBytesMax,
      io: this.io,
    };
    if (this.logger !== undefined) options.logger = this.logger;
    return options;
  }

  private withNameLock<T>(name: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.nameLocks.get(name) ?? Promise.resolve();
    const result = previous.then(operation, operation);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.nameLocks.set(name, tail);
    void tail.then(() => {
      if (this.nameLocks.get(name) === tail) this.nameLocks.delete(name);
    });
    return result;
  }
}

function failedError(name: string, error: VectorDbError): VectorDbError {
  return new VectorDbError(error.code, `collection "${name}" failed recovery: ${error.rawMessage}`, { cause: error });
}
