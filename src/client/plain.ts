/**
 * Responses as plain data: what `JSON.stringify` and `console.log` handle without surprises.
 * protobuf-es messages carry a `$typeName` on every message and `bigint` for 64-bit integers (the
 * counts: `point_count`, `inserted`, …), which `JSON.stringify` refuses.
 */

/** `T` with `$typeName` removed and `bigint` replaced by `number`, recursively. */
export type Plain<T> = T extends bigint
  ? number
  : T extends Uint8Array
    ? Uint8Array
    : T extends readonly (infer E)[]
      ? Plain<E>[]
      : T extends object
        ? { [K in keyof T as K extends "$typeName" ? never : K]: Plain<T[K]> }
        : T;

/**
 * A deep copy of a response (or any message) as plain data: no `$typeName` fields, and every `bigint`
 * as a `number`. The server's 64-bit counts stay far below 2^53 (a collection holds at most
 * `collection_points_max` points, 50 million by default), so the numbers are exact.
 *
 * @throws RangeError for a bigint above Number.MAX_SAFE_INTEGER (2^53 − 1), which a number cannot hold exactly.
 */
export function toPlain<T>(value: T): Plain<T> {
  return convert(value) as Plain<T>;
}

function convert(value: unknown): unknown {
  if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new RangeError(`${value} does not fit a number exactly`);
    return Number(value);
  }
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(convert);
  const plain: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) if (key !== "$typeName") plain[key] = convert(field);
  return plain;
}
