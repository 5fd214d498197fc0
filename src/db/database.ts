import { join } from "node:path";
import type { Logger } from "pino";
import {
  checkCollectionName,
  collectionFormatVersion,
  DurableCollection,
  GraphBuilderPool,
  readSpecFile,
  writeSpec,
  type CollectionSpec,
  type DurabilityOptions,
  type IndexingOptions,
  type LoadedSegment,
} from "../collection/index.js";
import { walQueueBytesMax, walRecordBytesMax, type ServerConfig } from "../config.js";
import { VectorDbError } from "../errors.js";
import { realStorageIo, type StorageIo } from "../storage/index.js";
import { AliasTable, type AliasAction } from "./aliases.js";
import { collectionsDir, createCollectionDir, dropCollectionDir, prepareDataDir, publishCollectionDir, scanCollections } from "./data-dir.js";
import { lockDataDir } from "./lock.js";
import { stageRestore } from "./restore.js";
import { SnapshotStore, type SnapshotRecord } from "./snapshots.js";

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
  /** Leftover temporary folders removed (interrupted creates, drops and restores). */
  removedFolders: string[];
  /** Leftover snapshot files removed (interrupted snapshots and snapshot deletes). */
  removedSnapshotFiles: string[];
  /** Aliases dropped because their collection no longer exists (a crash during a drop). */
  removedAliases: string[];
  /** From start to end, ms. */
  durationMs: number;
}

/** Observers a {@link Database} reports to (metrics). */
export interface DatabaseHooks {
  /** Each fdatasync of a collection's write-ahead log, with its duration in seconds. */
  onWalSync?: (seconds: number) => void;
}

/** Options of the {@link Database} constructor. */
export interface DatabaseOptions {
  /** Observers of storage events (metrics); none by default. */
  hooks?: DatabaseHooks;
  /**
   * The disk and clock every file operation and timer goes through (the seam of
   * `src/storage/file-system.ts`): the real ones by default, a simulated disk and clock in the
   * power-loss simulation (`src/testing/sim/`).
   */
  io?: StorageIo;
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
  /** The aliases (`aliases.ts`), loaded by {@link open}. */
  private readonly aliases: AliasTable;
  /** The snapshot files of the data directory. */
  readonly snapshots: SnapshotStore;
  private readonly hooks: DatabaseHooks;
  private readonly io: StorageIo;

  /**
   * @param config the data directory, limits, indexing and storage settings.
   * @param logger where recovery and checkpoint failures are logged; silent when absent.
   * @param options the metrics hooks and the storage seam (see {@link DatabaseOptions}).
   */
  constructor(
    private readonly config: ServerConfig,
    private readonly logger?: Logger,
    options: DatabaseOptions = {},
  ) {
    this.hooks = options.hooks ?? {};
    this.io = options.io ?? realStorageIo;
    this.snapshots = new SnapshotStore(this.io.fs, config.dataDir);
    this.aliases = new AliasTable(this.io.fs, config.dataDir, (name) => this.entries.has(name), config.limits.aliasesMax, logger);
  }

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
      const removedSnapshotFiles = await this.snapshots.removeLeftovers();
      const failed: FailedCollection[] = [];
      for (const name of scan.names) {
        const error = await this.recover(name);
        if (error !== undefined) failed.push({ name, error });
      }
      const removedAliases = await this.aliases.load();
      this.state = "open";
      const durationMs = performance.now() - started;
      return { opened: scan.names.length - failed.length, failed, removedFolders: scan.removed, removedSnapshotFiles, removedAliases, durationMs };
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
   * Recovers the collection in folder `name` and registers it, as ready or (returning the error) as
   * failed. A version-1 `collection.json` is rewritten at the current version first (see
   * `collection/disk/layout.ts`).
   */
  private async recover(name: string): Promise<VectorDbError | undefined> {
    const dir = join(collectionsDir(this.dataDir), name);
    try {
      const { spec, formatVersion } = await readSpecFile(this.io.fs, dir, name);
      if (formatVersion < collectionFormatVersion) await writeSpec(this.io.fs, dir, spec);
      const collection = await DurableCollection.open(dir, spec, this.config.limits, this.indexing(), this.durability());
      this.entries.set(name, { state: "ready", collection });
      const { recovery } = collection;
      const ms = Math.round(recovery.segmentMs + recovery.replayMs);
      const { segmentSequence, replayedRecords, truncatedBytes, droppedRecords } = recovery;
      this.logger?.info({ collection: name, points: collection.size, segmentSequence, replayedRecords, truncatedBytes, droppedRecords, ms }, "collection recovered");
      if (droppedRecords > 0) {
        this.logger?.warn(
          { collection: name, droppedRecords, truncatedBytes },
          "the WAL's tail written since its last fsync came back with a hole after a power loss; the records after the hole were never fsynced and were dropped with it",
        );
      }
      return undefined;
    } catch (cause) {
      const error =
        cause instanceof VectorDbError ? cause : new VectorDbError("internal", `${dir}: recovery failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      this.entries.set(name, { state: "failed", error });
      this.logger?.error({ collection: name, err: error }, "collection recovery failed: its calls answer with this error until the files are repaired or the collection is dropped");
      return error;
    }
  }

  /**
   * Creates an empty collection, durably (the folder is complete on disk before this resolves); the
   * spec must already be validated apart from its name.
   *
   * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) for a bad name; already_exists
   *   (ALREADY_EXISTS) when the name is taken by a collection or an alias; resource_exhausted
   *   (RESOURCE_EXHAUSTED) past `collectionsMax`; unavailable (UNAVAILABLE) when not open or on an I/O error.
   */
  create(spec: CollectionSpec): Promise<DurableCollection> {
    return this.createWith(spec.name, "name", async () => ({ dir: await createCollectionDir(this.io.fs, this.dataDir, spec), spec }));
  }

  /**
   * Restores a snapshot file, streamed in `chunks`, as the new collection `name`: the file is received
   * into a staging folder and verified whole (see `restore.ts`: every CRC, the sha256, the limits,
   * the sections' consistency) before the folder is published under `name` and the collection opened.
   * A failure at any step leaves no trace.
   *
   * @throws VectorDbError as {@link create} for the name; as `stageRestore` for the file
   *   (data_loss naming the section or `sha256`, failed_precondition, …).
   */
  restoreSnapshot(name: string, sha256: string, chunks: AsyncIterable<Uint8Array>): Promise<DurableCollection> {
    return this.createWith(name, "collection", async () => {
      const staged = await stageRestore(this.io.fs, this.dataDir, name, sha256, chunks, this.config.limits);
      return { dir: await publishCollectionDir(this.io.fs, this.dataDir, staged.dir, name), spec: staged.spec, loaded: staged.loaded };
    });
  }

  /**
   * Takes `name` for a new collection (in the registry, as "creating"), runs `makeDir` (which leaves a
   * complete collection folder under the final name) under the name's lock, opens the collection and
   * registers it. On failure the name is free again and the folder removed.
   */
  private async createWith(name: string, field: string, makeDir: () => Promise<{ dir: string; spec: CollectionSpec; loaded?: LoadedSegment }>): Promise<DurableCollection> {
    checkCollectionName(name, field);
    this.checkOpen();
    if (this.entries.has(name)) throw new VectorDbError("already_exists", `${field}: collection "${name}" already exists`);
    const aliased = this.aliases.target(name);
    if (this.aliases.taken(name)) {
      throw new VectorDbError("already_exists", `${field}: "${name}" is an alias${aliased === undefined ? "" : ` (of collection "${aliased}")`}; collections and aliases share one namespace`);
    }
    if (this.entries.size >= this.config.limits.collectionsMax) {
      throw new VectorDbError("resource_exhausted", `${field}: the server holds collections_max ${this.config.limits.collectionsMax} collections already`);
    }
    this.entries.set(name, { state: "creating" });
    try {
      const collection = await this.withNameLock(name, async () => {
        const { dir, spec, loaded } = await makeDir();
        try {
          return await DurableCollection.open(dir, spec, this.config.limits, this.indexing(), this.durability(), loaded);
        } catch (error) {
          // Not acknowledged: remove the folder again so that it does not appear on the next start.
          await dropCollectionDir(this.io.fs, this.dataDir, name).catch(() => undefined);
          throw error;
        }
      });
      this.entries.set(name, { state: "ready", collection });
      const { spec } = collection;
      this.logger?.info({ collection: name, dimension: spec.dimension, distance: spec.distance, hnsw: spec.hnsw, quantization: spec.quantization?.type }, "collection created");
      return collection;
    } catch (error) {
      this.entries.delete(name);
      throw error;
    }
  }

  /**
   * The collection called `name`, or named by the alias `name`.
   * @param field the request field that named it, for the error message.
   * @throws VectorDbError not_found (NOT_FOUND); invalid_argument for a malformed name; the recovery
   *   error (DATA_LOSS, …) of a collection that failed recovery; unavailable (UNAVAILABLE) before
   *   `open` completes or after `close`.
   */
  get(name: string, field = "collection"): DurableCollection {
    checkCollectionName(name, field);
    this.checkOpen();
    const target = this.aliases.resolve(name);
    const entry = this.entries.get(target);
    if (entry === undefined || entry.state === "creating") {
      throw new VectorDbError("not_found", `${field}: collection "${target}"${target === name ? "" : ` (named by alias "${name}")`} does not exist`);
    }
    if (entry.state === "failed") throw failedError(target, entry.error);
    return entry.collection;
  }

  /** Every collection that serves, sorted by name (collections that failed recovery are left out). */
  /** Whether {@link open} has finished and {@link close} has not begun. */
  get isOpen(): boolean {
    return this.state === "open";
  }

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
   * Drops a collection and deletes its files (atomically and durably: see `data-dir.ts`), then its
   * aliases; returns the number of points it held. A collection that failed recovery can be dropped
   * too (it held 0 points as far as the server knows). Its snapshots stay.
   *
   * @throws VectorDbError not_found (NOT_FOUND); invalid_argument for a bad name; failed_precondition
   *   (FAILED_PRECONDITION) for an alias (a drop takes the collection's own name); unavailable
   *   (UNAVAILABLE) when not open or on an I/O error (the collection then answers with that error
   *   until it is dropped again).
   */
  async drop(name: string): Promise<number> {
    checkCollectionName(name, "name");
    this.checkOpen();
    const aliased = this.aliases.target(name);
    if (aliased !== undefined) {
      throw new VectorDbError("failed_precondition", `name: "${name}" is an alias of collection "${aliased}"; DeleteCollection takes the collection's own name (UpdateAliases deletes an alias)`);
    }
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
      await this.aliases.dropAliasesOf(name);
      this.logger?.info({ collection: name, points }, "collection dropped");
      return points;
    });
  }

  /**
   * Applies alias actions atomically and durably (see `AliasTable.update`).
   * @throws VectorDbError as `AliasTable.update`; unavailable when not open.
   */
  updateAliases(actions: readonly AliasAction[]): Promise<void> {
    this.checkOpen();
    return this.aliases.update(actions);
  }

  /**
   * The aliases as `[alias, collection]`, sorted by alias; only those of one collection when
   * `collection` is given (its own name or an alias of it).
   * @throws VectorDbError invalid_argument for a malformed name; not_found for an unknown collection.
   */
  listAliases(collection?: string): [string, string][] {
    this.checkOpen();
    if (collection === undefined) return this.aliases.list();
    checkCollectionName(collection, "collection");
    const target = this.aliases.resolve(collection);
    if (!this.entries.has(target)) throw new VectorDbError("not_found", `collection: collection "${target}" does not exist`);
    return this.aliases.list(target);
  }

  /**
   * Takes a snapshot of the collection (or alias) `name` while reads and writes go on, and stores it
   * under `snapshots/<collection>/` (see `snapshots.ts`); resolves once it is durable.
   * @throws VectorDbError as {@link get}; unavailable on an I/O error.
   */
  async createSnapshot(name: string): Promise<SnapshotRecord> {
    const collection = this.get(name, "collection");
    const captured = await collection.captureSnapshot();
    return this.snapshots.create(collection.name, { sequence: captured.sequence, sections: captured.sections }, captured.pointCount);
  }

  /**
   * The collection whose snapshots a call names: an alias's collection, else `name` itself, which must
   * be a collection or have a snapshot folder (the snapshots of a dropped collection stay).
   * @throws VectorDbError invalid_argument for a malformed name; not_found when it is neither.
   */
  async snapshotOwner(name: string, field = "collection"): Promise<string> {
    checkCollectionName(name, field);
    this.checkOpen();
    const target = this.aliases.resolve(name);
    if (this.entries.has(target) || (await this.snapshots.hasFolder(target))) return target;
    throw new VectorDbError("not_found", `${field}: collection "${target}" does not exist and has no snapshots`);
  }

  /**
   * Waits for creates, drops and alias updates in progress, then closes every collection (after a checkpoint unless
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
        // An alias update still writing aliases.json would land after the directory is unlocked.
        await this.aliases.settled();
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
      wal: {
        durability: storage.fsync,
        flushIntervalMs: storage.flushIntervalMs,
        recordBytesMax: walRecordBytesMax(limits),
        queueBytesMax: walQueueBytesMax,
        ...(this.hooks.onWalSync === undefined ? {} : { onSync: this.hooks.onWalSync }),
      },
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
