import { Collection, type CollectionSpec } from "../collection/index.js";
import type { IndexingConfig, Limits } from "../config.js";
import { invalidArgument, VectorDbError } from "../errors.js";

/** Collection names: 1 to 64 characters from [A-Za-z0-9_-], so a name is always a safe file name. */
export const collectionNamePattern = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Throws unless `name` is a valid collection name.
 * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming `field`.
 */
export function checkCollectionName(name: string, field: string): void {
  if (!collectionNamePattern.test(name)) {
    const shown = name.length > 80 ? `${name.slice(0, 80)}…` : name;
    throw invalidArgument(`${field}: ${JSON.stringify(shown)} is not a valid collection name: 1 to 64 characters from [A-Za-z0-9_-]`);
  }
}

/**
 * The registry of collections. Storage is in memory for now: the data directory is accepted and
 * reserved for the durable storage that replaces this.
 *
 * Errors: NOT_FOUND (`not_found`) for an unknown collection, ALREADY_EXISTS (`already_exists`) for a
 * taken name, RESOURCE_EXHAUSTED (`resource_exhausted`) past `collectionsMax`, INVALID_ARGUMENT for a
 * bad name.
 */
export class Database {
  private readonly collections = new Map<string, Collection>();

  constructor(
    private readonly limits: Readonly<Limits>,
    private readonly indexing: Readonly<IndexingConfig>,
  ) {}

  /** Creates an empty collection; the spec must already be validated apart from its name. */
  create(spec: CollectionSpec): Collection {
    checkCollectionName(spec.name, "name");
    if (this.collections.has(spec.name)) {
      throw new VectorDbError("already_exists", `name: collection "${spec.name}" already exists`);
    }
    if (this.collections.size >= this.limits.collectionsMax) {
      throw new VectorDbError("resource_exhausted", `name: the server holds collections_max ${this.limits.collectionsMax} collections already`);
    }
    const collection = new Collection(spec, this.limits, this.indexing);
    this.collections.set(spec.name, collection);
    return collection;
  }

  /**
   * The collection called `name`.
   * @param field the request field that named it, for the error message.
   * @throws VectorDbError not_found (NOT_FOUND), invalid_argument for a malformed name.
   */
  get(name: string, field = "collection"): Collection {
    checkCollectionName(name, field);
    const collection = this.collections.get(name);
    if (collection === undefined) throw new VectorDbError("not_found", `${field}: collection "${name}" does not exist`);
    return collection;
  }

  /** Every collection, sorted by name. */
  list(): Collection[] {
    return [...this.collections.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Drops a collection; returns the number of points it held.
   * @throws VectorDbError not_found (NOT_FOUND).
   */
  drop(name: string): number {
    const collection = this.get(name, "name");
    this.collections.delete(name);
    collection.close();
    return collection.size;
  }

  /** Releases resources; the registry is empty afterwards. */
  async close(): Promise<void> {
    for (const collection of this.collections.values()) collection.close();
    this.collections.clear();
  }
}
