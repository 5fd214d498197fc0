import { fromJson, toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "commander";
import { FilterSchema, type Filter } from "../client/index.js";
import { UsageError } from "./cli-errors.js";

/**
 * Parsers of option values (commander `argParser`s throw InvalidArgumentError, which commander reports
 * as a usage error, exit 2) and the JSON printer of responses.
 */

/**
 * An argParser for an integer in `min..max` (decimal digits only).
 *
 * @throws InvalidArgumentError for anything else.
 */
export function integerIn(min: number, max: number = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const trimmed = value.trim();
    if (!/^-?\d+$/.test(trimmed)) throw new InvalidArgumentError(`"${value}" is not an integer.`);
    const parsed = Number(trimmed);
    if (parsed < min || parsed > max) throw new InvalidArgumentError(`${parsed} is outside ${min}..${max}.`);
    return parsed;
  };
}

/**
 * An argParser for a finite number.
 *
 * @throws InvalidArgumentError for anything else.
 */
export function finiteNumber(value: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed)) throw new InvalidArgumentError(`"${value}" is not a finite number.`);
  return parsed;
}

/**
 * A query vector given as a JSON array of finite numbers, e.g. `[0.1, 0.2, 0.3]`.
 *
 * @throws UsageError naming `--vector` for invalid JSON, a non-array, an empty array or a non-finite element.
 */
export function parseVectorJson(text: string): number[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--vector: invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(value) || value.length === 0) throw new UsageError("--vector: expected a non-empty JSON array of numbers, e.g. [0.1, 0.2]");
  value.forEach((component: unknown, i) => {
    if (typeof component !== "number" || !Number.isFinite(component)) {
      throw new UsageError(`--vector: element ${i} is ${JSON.stringify(component)}, not a finite number`);
    }
  });
  return value as number[];
}

/**
 * A filter given in the proto3 JSON form of `vectordb.v1.Filter`, e.g.
 * `{"must": [{"field": {"key": "lang", "equals": "en"}}]}`.
 *
 * @throws UsageError naming `--filter` for invalid JSON or JSON that is not a Filter (unknown field, wrong type).
 */
export function parseFilterJson(text: string): Filter {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--filter: invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return fromJson(FilterSchema, value as Parameters<typeof fromJson>[1]);
  } catch (error) {
    throw new UsageError(`--filter: not a vectordb.v1.Filter: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * A response as pretty proto3 JSON (2 spaces, camelCase keys, 64-bit integers as strings, enums by
 * name, zero values included), followed by a newline.
 */
export function messageJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): string {
  return `${toJsonString(schema, message, { prettySpaces: 2, alwaysEmitImplicit: true })}\n`;
}
