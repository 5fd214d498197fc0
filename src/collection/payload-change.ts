import { VectorDbError } from "../errors.js";
import type { PointTable } from "./point-table.js";
import type { JsonObject, JsonValue, PayloadChange } from "./types.js";

/**
 * The payload a point has after `change` (see {@link PayloadChange}); undefined for none. Payloads are
 * treated as immutable (snapshots share them), so the result is a new object wherever it differs and
 * `payload` itself is never modified.
 */
export function changedPayload(payload: JsonObject | undefined, change: PayloadChange): JsonObject | undefined {
  switch (change.kind) {
    case "set":
      return { ...payload, ...change.payload };
    case "overwrite":
      return change.payload;
    case "clear":
      return undefined;
    case "deleteKeys": {
      let result = payload;
      for (const path of change.keys) if (result !== undefined) result = withoutPath(result, path, 0);
      return result;
    }
  }
}

/** `object` without the value at `path` (from `depth` on), copied along the path; `object` itself when the path is not there. */
function withoutPath(object: JsonObject, path: readonly string[], depth: number): JsonObject {
  const key = path[depth]!;
  if (!Object.hasOwn(object, key)) return object;
  if (depth === path.length - 1) {
    const copy = { ...object };
    delete copy[key];
    return copy;
  }
  const child: JsonValue = object[key]!;
  if (child === null || typeof child !== "object" || Array.isArray(child)) return object;
  const replaced = withoutPath(child, path, depth + 1);
  return replaced === child ? object : { ...object, [key]: replaced };
}

/** Size of a payload's JSON in UTF-8 bytes (0 for none), as stored and as `payload_bytes_max` counts it. */
export function payloadJsonBytes(payload: JsonObject | undefined): number {
  return payload === undefined ? 0 : Buffer.byteLength(JSON.stringify(payload), "utf8");
}

/**
 * Checks a payload change against the points in `slots` as they are now, and returns the JSON of its
 * payload (`set`, `overwrite`; undefined for the others, which cannot grow a payload). The payload
 * itself must be within `payloadBytesMax`; with `set`, so must every point's merged payload.
 *
 * @param field the request field that chose the points (`ids`, `filter`), for errors.
 * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming `payload` and, for a merged
 *   payload, the first point whose payload would be too large.
 */
export function checkPayloadChange(table: PointTable, slots: readonly number[], change: PayloadChange, field: string, payloadBytesMax: number): { payloadJson: string | undefined } {
  if (change.kind !== "set" && change.kind !== "overwrite") return { payloadJson: undefined };
  const payloadJson = JSON.stringify(change.payload);
  const ownBytes = Buffer.byteLength(payloadJson, "utf8");
  if (ownBytes > payloadBytesMax) throw new VectorDbError("invalid_argument", `payload: is ${ownBytes} bytes of JSON, the limit is payload_bytes_max ${payloadBytesMax}`);
  if (change.kind === "set") {
    for (const slot of slots) {
      const bytes = payloadJsonBytes(changedPayload(table.payloads[slot], change));
      if (bytes > payloadBytesMax) {
        const id = JSON.stringify(table.ids[slot]);
        throw new VectorDbError("invalid_argument", `payload: point ${id} (chosen by ${field}) would have a payload of ${bytes} bytes, the limit is payload_bytes_max ${payloadBytesMax}`);
      }
    }
  }
  return { payloadJson };
}
