import { invalidArgument } from "../errors.js";
import { norm } from "../index/index.js";
import type { CollectionSpec, JsonValue, PointInput } from "./types.js";

/** Limits a collection enforces on its own writes. */
export interface CollectionLimits {
  /** Longest id in UTF-8 bytes. */
  idBytesMax: number;
  /** Largest payload, in bytes of its JSON serialisation. */
  payloadBytesMax: number;
  /** Most points the collection may hold. */
  collectionPointsMax: number;
}

/** A batch's payloads as {@link validatePoints} found them: JSON per point (undefined when none), and its UTF-8 size. */
export interface CheckedPayloads {
  json: (string | undefined)[];
  sizes: number[];
}

/**
 * Throws unless `vector` has the collection's dimension, finite components, and (cosine) a direction.
 * @param at the field named in the message, e.g. `points[3] (id "a").vector`.
 * @throws VectorDbError invalid_argument (INVALID_ARGUMENT).
 */
export function checkVector(vector: Float32Array, at: string, spec: Readonly<CollectionSpec>): void {
  if (vector.length !== spec.dimension) {
    throw invalidArgument(`${at}: has ${vector.length} components, the collection's dimension is ${spec.dimension}`);
  }
  for (let j = 0; j < vector.length; j++) {
    if (!Number.isFinite(vector[j]!)) throw invalidArgument(`${at}[${j}]: is ${vector[j]}, components must be finite`);
  }
  if (spec.distance === "cosine" && norm(vector) === 0) {
    throw invalidArgument(`${at}: is a zero vector, which has no direction for cosine distance`);
  }
}

/**
 * Validates a batch of points as a whole: ids unique, non-empty and at most `idBytesMax` bytes;
 * vectors as {@link checkVector}; payloads at most `payloadBytesMax` bytes of JSON, with no NaN or
 * infinite number (JSON cannot store them). Returns each payload's JSON and size.
 *
 * @param field name of the list in error messages, e.g. `points` → `points[3].vector: ...`.
 * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming the point and field.
 */
export function validatePoints(points: readonly PointInput[], field: string, spec: Readonly<CollectionSpec>, limits: Readonly<CollectionLimits>): CheckedPayloads {
  const seen = new Set<string>();
  const sizes: number[] = new Array(points.length);
  const json: (string | undefined)[] = new Array(points.length);
  points.forEach((point, i) => {
    const at = `${field}[${i}]`;
    const idBytes = Buffer.byteLength(point.id, "utf8");
    if (idBytes === 0) throw invalidArgument(`${at}.id: must not be empty`);
    if (idBytes > limits.idBytesMax) {
      throw invalidArgument(`${at}.id: is ${idBytes} bytes, the limit is id_bytes_max ${limits.idBytesMax}`);
    }
    if (seen.has(point.id)) throw invalidArgument(`${at}.id: "${point.id}" appears more than once in ${field}`);
    seen.add(point.id);
    checkVector(point.vector, `${at} (id "${point.id}").vector`, spec);
    const text = point.payload === undefined ? undefined : JSON.stringify(point.payload);
    const bytes = text === undefined ? 0 : Buffer.byteLength(text, "utf8");
    if (bytes > limits.payloadBytesMax) {
      throw invalidArgument(`${at} (id "${point.id}").payload: is ${bytes} bytes of JSON, the limit is payload_bytes_max ${limits.payloadBytesMax}`);
    }
    // JSON writes NaN and ±Infinity as null, which would change the payload on restart; they can only
    // be where the text says "null", so the walk runs only then.
    if (point.payload !== undefined && text !== undefined && text.includes("null")) {
      const where = nonFiniteNumberPath(point.payload);
      if (where !== undefined) {
        throw invalidArgument(`${at} (id "${point.id}").payload${where}: is not a finite number (NaN and Infinity cannot be stored)`);
      }
    }
    json[i] = text;
    sizes[i] = bytes;
  });
  return { json, sizes };
}

/** The path (`.a[2].b`) of the first NaN or infinite number inside a JSON value, or undefined. */
function nonFiniteNumberPath(value: JsonValue, path = ""): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : path;
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nonFiniteNumberPath(value[i]!, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const found = nonFiniteNumberPath(item, `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
