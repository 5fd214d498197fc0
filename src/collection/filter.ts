import type { Condition, Filter, FilterScalar, JsonObject, JsonValue } from "./types.js";

/**
 * Filter evaluation against one point's id and payload.
 *
 * Semantics (as in Qdrant): a point matches a filter when every `must` condition matches, at least one
 * `should` condition matches (if there are any) and no `mustNot` condition matches. A key path walks
 * nested objects; where it meets an array it continues into every element, and an array at the end of
 * the path contributes each element, so `equals`, `anyOf` and `range` match when any value matches.
 */
export function matchesFilter(filter: Filter, id: string, payload: JsonObject | undefined): boolean {
  for (const condition of filter.must) if (!matchesCondition(condition, id, payload)) return false;
  for (const condition of filter.mustNot) if (matchesCondition(condition, id, payload)) return false;
  if (filter.should.length === 0) return true;
  for (const condition of filter.should) if (matchesCondition(condition, id, payload)) return true;
  return false;
}

/** Whether one condition holds for the point. */
export function matchesCondition(condition: Condition, id: string, payload: JsonObject | undefined): boolean {
  switch (condition.kind) {
    case "hasId":
      return condition.ids.has(id);
    case "filter":
      return matchesFilter(condition.filter, id, payload);
    case "equals":
      return someValue(payload, condition.path, (v) => scalarEquals(v, condition.value));
    case "anyOf":
      return someValue(payload, condition.path, (v) => condition.values.some((w) => scalarEquals(v, w)));
    case "range":
      return someValue(payload, condition.path, (v) => typeof v === "number" && inRange(v, condition));
    case "exists":
      return hasKey(payload, condition.path) === condition.exists;
    case "isNull": {
      if (!hasKey(payload, condition.path)) return false;
      const isNull = someValue(payload, condition.path, (v) => v === null, false);
      return isNull === condition.isNull;
    }
  }
}

function scalarEquals(value: JsonValue, expected: FilterScalar): boolean {
  return value === expected;
}

function inRange(value: number, range: { gt?: number; gte?: number; lt?: number; lte?: number }): boolean {
  if (range.gt !== undefined && !(value > range.gt)) return false;
  if (range.gte !== undefined && !(value >= range.gte)) return false;
  if (range.lt !== undefined && !(value < range.lt)) return false;
  if (range.lte !== undefined && !(value <= range.lte)) return false;
  return true;
}

/**
 * Calls `test` on each value reached by `path` until one passes. Arrays met on the way fan out; with
 * `expandLeafArrays` an array at the end of the path is tested element by element.
 */
function someValue(
  payload: JsonObject | undefined,
  path: readonly string[],
  test: (value: JsonValue) => boolean,
  expandLeafArrays = true,
): boolean {
  if (payload === undefined) return false;
  return walk(payload, path, 0, test, expandLeafArrays);
}

function walk(
  node: JsonValue,
  path: readonly string[],
  depth: number,
  test: (value: JsonValue) => boolean,
  expandLeafArrays: boolean,
): boolean {
  if (depth === path.length) {
    if (Array.isArray(node) && expandLeafArrays) return node.some((element) => test(element));
    return test(node);
  }
  if (Array.isArray(node)) return node.some((element) => walk(element, path, depth, test, expandLeafArrays));
  if (node === null || typeof node !== "object") return false;
  const key = path[depth]!;
  if (!Object.hasOwn(node, key)) return false;
  return walk(node[key]!, path, depth + 1, test, expandLeafArrays);
}

function hasKey(payload: JsonObject | undefined, path: readonly string[]): boolean {
  return someValue(payload, path, () => true, false);
}
