import { scrollCursorBytesMax } from "../config.js";
import { invalidArgument } from "../errors.js";

/**
 * Scroll cursors: `c1.` followed by the last id of the page in base64url (UTF-8). Opaque to clients;
 * they stay valid while points are written and across restarts, since a page continues after an id,
 * not at a position.
 */
const prefix = "c1.";

/** The cursor that continues after `id`. */
export function encodeCursor(id: string): string {
  return prefix + Buffer.from(id, "utf8").toString("base64url");
}

/**
 * The id a cursor continues after; undefined for the empty cursor (the first page).
 * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming `field` for anything else than a
 *   cursor made by {@link encodeCursor}.
 */
export function decodeCursor(cursor: string, field: string): string | undefined {
  if (cursor === "") return undefined;
  const bytes = Buffer.byteLength(cursor, "utf8");
  if (bytes > scrollCursorBytesMax) throw invalidArgument(`${field}: is ${bytes} bytes, longer than any cursor (at most ${scrollCursorBytesMax})`);
  const body = cursor.slice(prefix.length);
  const id = Buffer.from(body, "base64url").toString("utf8");
  if (!cursor.startsWith(prefix) || body === "" || encodeCursor(id) !== cursor) {
    throw invalidArgument(`${field}: ${JSON.stringify(cursor.slice(0, 40))} is not a cursor: pass the next_cursor of the previous response, or "" for the first page`);
  }
  return id;
}
