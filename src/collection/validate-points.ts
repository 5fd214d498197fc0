import { invalidArgument, quote } from "../errors.js";
import { norm } from "../index/index.js";
import type { CollectionSpec, JsonValue, PointInput } from "./types.js";

/** Limits a collection enforces on its own writes. */
export interface CollectionLimits {
  /** Longest id in UTF-8 bytes. */
  idBytesMax: number;
  /** Largest payload, in bytes of its JSON serialisation. */
  payloadBytesMax: number;
  /** Deepest payload: the payload object is level 1, each object or array inside adds one. */
  payloadDepthMax: number;
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
 * vectors as {@link checkVector}; payloads at most `payloadBytesMax` bytes of JSON and
 * `payloadDepthMax` levels deep, with no NaN or infinite number (JSON cannot store them). Returns each payload's JSON and size.
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
    if (seen.has(point.id)) throw invalidArgument(`${at}.id: ${quote(point.id)} appears more than once in ${field}`);
    seen.add(point.id);
    const named = `${at} (id ${quote(point.id)})`;
    checkVector(point.vector, `${named}.vector`, spec);
    const text = point.payload === undefined ? undefined : JSON.stringify(point.payload);
    const bytes = text === undefined ? 0 : Buffer.byteLength(text, "utf8");
    if (bytes > limits.payloadBytesMax) {
      throw invalidArgument(`${named}.payload: is ${bytes} bytes of JSON, the limit is payload_bytes_max ${limits.payloadBytesMax}`);
    }
    // Nesting deeper than the limit needs more than that many brackets, so the walk runs only then.
    if (point.payload !== undefined && text !== undefined && bracketCount(text) > limits.payloadDepthMax) {
      const where = tooDeepPath(point.payload, limits.payloadDepthMax);
      if (where !== undefined) {
        throw invalidArgument(`${named}.payload${where}: nests deeper than payload_depth_max ${limits.payloadDepthMax}`);
      }
    }
    // JSON writes NaN and ±Infinity as null, which would change the payload on restart; they can only
    // be where the text says "null", so the walk runs only then.
    if (point.payload !== undefined && text !== undefined && text.includes("null")) {
      const where = nonFiniteNumberPath(point.payload);
      if (where !== undefined) {
        throw invalidArgument(`${named}.payload${where}: is not a finite number (NaN and Infinity cannot be stored)`);
      }
    }
    json[i] = text;
    sizes[i] = bytes;
  });
  return { json, sizes };
}

/** How many `{` and `[` a JSON text holds (inside strings too: an upper bound on its nesting). */
function bracketCount(text: string): number {
  let count = 0;
  for (let i = text.indexOf("{"); i !== -1; i = text.indexOf("{", i + 1)) count++;
  for (let i = text.indexOf("["); i !== -1; i = text.indexOf("[", i + 1)) count++;
  return count;
}

/** The path of the first object or array at level `depthMax + 1` inside a payload (level 1), or undefined. */
function tooDeepPath(value: JsonValue, depthMax: number, depth = 1, path = ""): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  if (depth > depthMax) return path;
  const entries: [string, JsonValue][] = Array.isArray(value) ? value.map((item, i) => [`[${i}]`, item]) : Object.entries(value).map(([key, item]) => [keyPath(key), item]);
  for (const [step, item] of entries) {
    const found = tooDeepPath(item, depthMax, depth + 1, `${path}${step}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** One key of a payload path as an error message shows it: `.key`, or quoted (and cut) when it is not a plain name. */
function keyPath(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key) ? `.${key}` : `[${quote(key)}]`;
}

/** The path (`.a[2].b`, `["odd key"]`) of the first NaN or infinite number inside a JSON value, or undefined. */
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
    const found = nonFiniteNumberPath(item, `${path}${keyPath(key)}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
