/**
 * Aliases: other names of collections, in `<dataDir>/aliases.json`:
 *
 * ```json
 * { "formatVersion": 1, "aliases": { "docs": "docs_v2", "latest": "docs_v2" } }
 * ```
 *
 * The file is replaced atomically and durably (temporary name, fsync, rename, directory fsync) on
 * every change, so after a crash it holds the aliases before or after an UpdateAliases call, never a
 * mix. Aliases and collection names share one namespace; an alias names a collection, never another
 * alias. Absent file: no aliases.
 */
import { join } from "node:path";
import type { Logger } from "pino";
import { checkCollectionName, collectionNamePattern, parseVersionedJson } from "../collection/index.js";
import { VectorDbError } from "../errors.js";
import { errorCode, type FileSystem, ioError, readFileBytes, writeFileAtomic } from "../storage/index.js";

/** The aliases file inside the data directory. */
export const aliasesFileName = "aliases.json";

/** `formatVersion` of `aliases.json`. */
const aliasesFormatVersion = 1;

/** One change of UpdateAliases, in domain form. */
export type AliasAction = { kind: "create"; alias: string; collection: string } | { kind: "delete"; alias: string } | { kind: "rename"; from: string; to: string };

/**
 * Reads `<dataDir>/aliases.json` (alias → collection); empty when the file does not exist.
 * @throws VectorDbError data_loss (DATA_LOSS) naming the file when it is not a valid aliases file;
 *   failed_precondition (FAILED_PRECONDITION) for another format version; unavailable on an I/O error.
 */
export async function readAliases(fs: FileSystem, dataDir: string): Promise<Map<string, string>> {
  const path = join(dataDir, aliasesFileName);
  let text: string;
  try {
    text = (await readFileBytes(fs, path)).toString("utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return new Map();
    throw ioError(path, "reading", error, "unavailable");
  }
  const bad = (what: string): never => {
    throw new VectorDbError("data_loss", `${path}: ${what}`);
  };
  const entries = parseVersionedJson(text, path, [aliasesFormatVersion]).aliases;
  if (typeof entries !== "object" || entries === null || Array.isArray(entries)) return bad(`"aliases" is not an object`);
  const aliases = new Map<string, string>();
  for (const [alias, collection] of Object.entries(entries)) {
    if (!collectionNamePattern.test(alias) || typeof collection !== "string" || !collectionNamePattern.test(collection)) {
      return bad(`alias ${JSON.stringify(alias)} → ${JSON.stringify(collection)} is not a pair of valid names`);
    }
    aliases.set(alias, collection);
  }
  for (const [alias, collection] of aliases) if (aliases.has(collection)) bad(`alias "${alias}" names "${collection}", which is an alias itself`);
  return aliases;
}

/**
 * Replaces `<dataDir>/aliases.json` with `aliases`, atomically and durably.
 * @throws VectorDbError unavailable (UNAVAILABLE) on an I/O error (the old file stays).
 */
export async function writeAliases(fs: FileSystem, dataDir: string, aliases: ReadonlyMap<string, string>): Promise<void> {
  const sorted = Object.fromEntries(sortedPairs(aliases));
  const text = `${JSON.stringify({ formatVersion: aliasesFormatVersion, aliases: sorted }, null, 2)}\n`;
  await writeFileAtomic(fs, join(dataDir, aliasesFileName), [Buffer.from(text, "utf8")]);
}

/**
 * The aliases after `actions`, applied in order to a copy of `current` (which is left unchanged), each
 * checked against the state the previous ones left: all or none.
 *
 * @param isCollection whether a collection of that name exists (or is being created).
 * @param aliasesMax most aliases after the change.
 * @throws VectorDbError naming the action's field (`actions[2].create_alias.alias: …`):
 *   invalid_argument for a bad name or an alias of an alias; not_found for an unknown alias or
 *   collection; already_exists for a name taken by a collection or an alias; resource_exhausted past
 *   `aliasesMax`.
 */
export function applyAliasActions(current: ReadonlyMap<string, string>, actions: readonly AliasAction[], isCollection: (name: string) => boolean, aliasesMax: number): Map<string, string> {
  const next = new Map(current);
  const free = (name: string, field: string): void => {
    checkCollectionName(name, field);
    const target = next.get(name);
    if (target !== undefined) throw new VectorDbError("already_exists", `${field}: "${name}" is an alias (of collection "${target}") already`);
    if (isCollection(name)) throw new VectorDbError("already_exists", `${field}: "${name}" is the name of a collection`);
  };
  const existing = (name: string, field: string): void => {
    checkCollectionName(name, field);
    if (!next.has(name)) throw new VectorDbError("not_found", `${field}: alias "${name}" does not exist`);
  };
  actions.forEach((action, i) => {
    switch (action.kind) {
      case "create": {
        const field = `actions[${i}].create_alias`;
        free(action.alias, `${field}.alias`);
        checkCollectionName(action.collection, `${field}.collection`);
        const aliased = next.get(action.collection);
        if (aliased !== undefined) throw new VectorDbError("invalid_argument", `${field}.collection: "${action.collection}" is an alias (of "${aliased}"); an alias names a collection itself`);
        if (!isCollection(action.collection)) throw new VectorDbError("not_found", `${field}.collection: collection "${action.collection}" does not exist`);
        next.set(action.alias, action.collection);
        if (next.size > aliasesMax) throw new VectorDbError("resource_exhausted", `${field}: the server would hold more than aliases_max ${aliasesMax} aliases`);
        return;
      }
      case "delete":
        existing(action.alias, `actions[${i}].delete_alias.alias`);
        next.delete(action.alias);
        return;
      case "rename": {
        const field = `actions[${i}].rename_alias`;
        existing(action.from, `${field}.old_alias`);
        if (action.to === action.from) return;
        free(action.to, `${field}.new_alias`);
        next.set(action.to, next.get(action.from)!);
        next.delete(action.from);
        return;
      }
    }
  });
  return next;
}

/** Sorted by alias. */
function sortedPairs(pairs: Iterable<[string, string]>): [string, string][] {
  return [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The aliases of a database, as lookups see them and as `aliases.json` holds them. The map is replaced
 * whole (never changed in place) by each update, once the new file is durable, so a lookup sees the
 * state before or after an update, never one in between. Updates run one at a time.
 */
export class AliasTable {
  private aliases: ReadonlyMap<string, string> = new Map();
  /** Aliases being created by an update whose file write is in progress: the names are taken already. */
  private readonly reserved = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();

  /**
   * @param fs the storage seam every file operation goes through.
   * @param isCollection whether a collection of that name exists (or is being created).
   * @param aliasesMax most aliases, and most actions per update.
   */
  constructor(
    private readonly fs: FileSystem,
    private readonly dataDir: string,
    private readonly isCollection: (name: string) => boolean,
    private readonly aliasesMax: number,
    private readonly logger?: Logger,
  ) {}

  /**
   * Reads `aliases.json`; drops (durably) the aliases whose collection is gone (a crash between dropping
   * a collection and rewriting the file leaves them) or whose name is a collection's. Returns the
   * aliases dropped.
   * @throws VectorDbError as {@link readAliases}; unavailable when the file cannot be rewritten.
   */
  async load(): Promise<string[]> {
    const aliases = await readAliases(this.fs, this.dataDir);
    const dangling = [...aliases].filter(([alias, collection]) => !this.isCollection(collection) || this.isCollection(alias)).map(([alias]) => alias);
    for (const alias of dangling) aliases.delete(alias);
    if (dangling.length > 0) {
      this.logger?.warn({ aliases: dangling }, "dropping aliases whose collection does not exist");
      await writeAliases(this.fs, this.dataDir, aliases);
    }
    this.aliases = aliases;
    return dangling;
  }

  /** The collection the alias `name` names, undefined when it is not an alias. */
  target(name: string): string | undefined {
    return this.aliases.get(name);
  }

  /** The collection `name` means: an alias's collection, else `name` itself. */
  resolve(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  /** Whether `name` is an alias, or is being created as one. */
  taken(name: string): boolean {
    return this.aliases.has(name) || this.reserved.has(name);
  }

  /** The aliases as `[alias, collection]`, sorted by alias; only those of `collection` when given. */
  list(collection?: string): [string, string][] {
    return sortedPairs([...this.aliases].filter(([, name]) => collection === undefined || name === collection));
  }

  /**
   * Applies `actions` atomically and durably (see `applyAliasActions`): the new aliases are written to
   * `aliases.json` and only then replace the ones lookups see.
   * @throws VectorDbError as `applyAliasActions` (nothing changes); invalid_argument for no action or
   *   more than `aliasesMax`; unavailable on an I/O error (the old aliases stay).
   */
  update(actions: readonly AliasAction[]): Promise<void> {
    if (actions.length === 0) return Promise.reject(new VectorDbError("invalid_argument", "actions: must hold at least one action"));
    if (actions.length > this.aliasesMax) {
      return Promise.reject(new VectorDbError("invalid_argument", `actions: has ${actions.length} actions, the limit is aliases_max ${this.aliasesMax}`));
    }
    return this.serialized(async () => {
      const next = applyAliasActions(this.aliases, actions, this.isCollection, this.aliasesMax);
      const added = [...next.keys()].filter((alias) => !this.aliases.has(alias));
      for (const alias of added) this.reserved.add(alias);
      try {
        await writeAliases(this.fs, this.dataDir, next);
        this.aliases = next;
      } finally {
        for (const alias of added) this.reserved.delete(alias);
      }
    });
  }

  /**
   * Removes the aliases of a dropped collection. If writing `aliases.json` fails they are gone all the
   * same for this process, and the next {@link load} drops them from the file.
   */
  dropAliasesOf(collection: string): Promise<void> {
    return this.serialized(async () => {
      const next = new Map([...this.aliases].filter(([, name]) => name !== collection));
      if (next.size === this.aliases.size) return;
      this.aliases = next;
      await writeAliases(this.fs, this.dataDir, next).catch((error: unknown) =>
        this.logger?.warn({ collection, err: error }, "writing aliases.json after a drop failed; the next start drops the dead aliases"),
      );
    });
  }

  /** Resolves once every update and drop started so far has finished (successfully or not). */
  settled(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  private serialized<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.chain.then(operation);
    this.chain = result.catch(() => undefined);
    return result;
  }
}
