import { invalidArgument, quote } from "../errors.js";

/** What a collection name is made of: 1 to 64 characters from [A-Za-z0-9_-], so always a safe file name. */
export const collectionNameSource = "[A-Za-z0-9_-]{1,64}";

/** A whole collection name (see {@link collectionNameSource}). */
export const collectionNamePattern = new RegExp(`^${collectionNameSource}$`);

/**
 * Throws unless `name` is a valid collection name.
 * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming `field`.
 */
export function checkCollectionName(name: string, field: string): void {
  if (!collectionNamePattern.test(name)) {
    throw invalidArgument(`${field}: ${quote(name)} is not a valid collection name: 1 to 64 characters from [A-Za-z0-9_-]`);
  }
}
