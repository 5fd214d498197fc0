import { create, type JsonObject as ProtoJsonObject } from "@bufbuild/protobuf";
import type { ListValue, Value } from "@bufbuild/protobuf/wkt";
import type {
  Condition,
  Filter,
  FilterScalar,
  Hit,
  HnswParams,
  JsonObject,
  PointInput,
  PointRecord,
  PointSelector,
  QuantizationSpec,
  SearchParams,
} from "../collection/index.js";
import { quantizationDefaults, type HnswDefaults, type Limits } from "../config.js";
import { invalidArgument, quote } from "../errors.js";
import type { DistanceKind } from "../index/index.js";
import { distanceFromProto as rpcDistanceFromProto } from "../rpc/index.js";
import {
  type Distance,
  type HnswConfig,
  type QuantizationConfig,
  QuantizationConfigSchema,
  ScalarQuantizationSchema,
  ScalarType,
} from "../../gen/vectordb/v1/collection_pb.js";
import {
  type Filter as ProtoFilter,
  type Point,
  PointSchema,
  type ScoredPoint,
  ScoredPointSchema,
  type SearchQuery,
} from "../../gen/vectordb/v1/point_pb.js";

/**
 * Conversion between protobuf messages and domain types, validating as it goes. Every function throws
 * `VectorDbError` invalid_argument (INVALID_ARGUMENT) with a message that names the request field and,
 * where there is one, the limit.
 */

/** The domain distance of a proto enum value. */
export function distanceFromProto(distance: Distance, field: string): DistanceKind {
  const kind = rpcDistanceFromProto(distance);
  if (kind === undefined) throw invalidArgument(`${field}: must be DISTANCE_COSINE, DISTANCE_DOT or DISTANCE_EUCLIDEAN, got ${distance}`);
  return kind;
}

/** Effective HNSW parameters: 0 (unset) takes the default; others must be inside the limits. */
export function hnswFromProto(hnsw: HnswConfig | undefined, defaults: HnswDefaults, limits: Limits): HnswParams {
  const m = hnsw?.m || defaults.m;
  const efConstruction = hnsw?.efConstruction || defaults.efConstruction;
  const ef = hnsw?.ef || defaults.ef;
  if (m < 2 || m > limits.hnswMMax) throw invalidArgument(`hnsw.m: ${m} is outside 2..${limits.hnswMMax} (hnsw_m_max)`);
  if (efConstruction > limits.efMax) throw invalidArgument(`hnsw.ef_construction: ${efConstruction} is above ef_max ${limits.efMax}`);
  if (ef > limits.efMax) throw invalidArgument(`hnsw.ef: ${ef} is above ef_max ${limits.efMax}`);
  return { m, efConstruction, ef };
}

/**
 * The quantization of a new collection: undefined when the request sets none; `quantile` defaults
 * to 0.99. INVALID_ARGUMENT for a config without a method, a type other than SCALAR_TYPE_INT8, a
 * quantile outside (0.5, 1], or a dot-product collection (searched exactly, so nothing to quantize).
 */
export function quantizationFromProto(config: QuantizationConfig | undefined, distance: DistanceKind): QuantizationSpec | undefined {
  if (config === undefined) return undefined;
  if (config.method.case !== "scalar") throw invalidArgument("quantization: sets no method (expected scalar)");
  const scalar = config.method.value;
  if (scalar.type !== ScalarType.INT8) throw invalidArgument(`quantization.scalar.type: must be SCALAR_TYPE_INT8, got ${scalar.type}`);
  const quantile = scalar.quantile ?? quantizationDefaults.quantile;
  if (!(quantile > 0.5 && quantile <= 1)) throw invalidArgument(`quantization.scalar.quantile: ${quantile} is outside (0.5, 1]`);
  if (distance === "dot") throw invalidArgument("quantization: DISTANCE_DOT collections are always searched exactly; quantization is for cosine and euclidean");
  return { type: "int8", quantile, alwaysRam: scalar.alwaysRam };
}

/** The quantization of a collection as the API reports it. */
export function quantizationToProto(spec: QuantizationSpec | undefined): QuantizationConfig | undefined {
  if (spec === undefined) return undefined;
  return create(QuantizationConfigSchema, {
    method: { case: "scalar", value: create(ScalarQuantizationSchema, { type: ScalarType.INT8, quantile: spec.quantile, alwaysRam: spec.alwaysRam }) },
  });
}

/**
 * A vector of a request as a Float32Array: the array itself when the server's deserializer decoded
 * it into one (see `rpc/float-vectors.ts`; it belongs to this request alone), else a copy.
 */
export function float32Vector(vector: readonly number[] | Float32Array): Float32Array {
  return vector instanceof Float32Array ? vector : new Float32Array(vector);
}

/** A proto point as a domain point; the vector as a Float32Array (see {@link float32Vector}). */
export function pointFromProto(point: Point): PointInput {
  return { id: point.id, vector: float32Vector(point.vector), payload: point.payload as JsonObject | undefined };
}

/**
 * A response vector: the record's own Float32Array (a copy made for this response) where the message
 * type says `number[]`; protobuf-es encodes a packed `repeated float` by index, so the bytes are the same
 * and no per-component number is made.
 */
function responseVector(vector: Float32Array | undefined): number[] {
  return (vector ?? noVector) as unknown as number[];
}
const noVector = new Float32Array(0);

/** A domain point record as a proto point (built as the message object itself: no `create` walk per point). */
export function pointToProto(record: PointRecord): Point {
  return { $typeName: PointSchema.typeName, id: record.id, vector: responseVector(record.vector), payload: record.payload as ProtoJsonObject | undefined };
}

/** A domain hit as a proto scored point (built as the message object itself: no `create` walk per hit). */
export function hitToProto(hit: Hit): ScoredPoint {
  return { $typeName: ScoredPointSchema.typeName, id: hit.id, score: hit.score, payload: hit.payload as ProtoJsonObject | undefined, vector: responseVector(hit.vector) };
}

/** Checks an id list against `idsPerRequestMax`; `allowEmpty` for Delete, where a filter may be used. */
export function checkIds(ids: readonly string[], field: string, limits: Limits, allowEmpty = false): void {
  if (ids.length === 0 && !allowEmpty) throw invalidArgument(`${field}: must list at least one id`);
  if (ids.length > limits.idsPerRequestMax) {
    throw invalidArgument(`${field}: has ${ids.length} ids, the limit is ids_per_request_max ${limits.idsPerRequestMax}`);
  }
}

/**
 * A payload key (`meta.lang`) as a path (`["meta", "lang"]`), checked: not empty, at most
 * `filterKeyBytesMax` bytes, no empty segment between dots.
 */
export function keyPathFromProto(key: string, field: string, limits: Limits): string[] {
  const keyBytes = Buffer.byteLength(key, "utf8");
  if (keyBytes === 0) throw invalidArgument(`${field}: must not be empty`);
  if (keyBytes > limits.filterKeyBytesMax) throw invalidArgument(`${field}: is ${keyBytes} bytes, the limit is filter_key_bytes_max ${limits.filterKeyBytesMax}`);
  const path = key.split(".");
  if (path.some((part) => part === "")) throw invalidArgument(`${field}: ${quote(key)} has an empty segment between dots`);
  return path;
}

/**
 * The points a write other than an upsert applies to (Delete, the payload updates): exactly one of
 * `ids` and `filter`; an empty filter is refused, since it would match every point.
 *
 * @param what the write, for the message about an empty filter (`delete`, `update`).
 */
export function selectorFromProto(request: { ids: readonly string[]; filter?: ProtoFilter | undefined }, limits: Limits, what: string): PointSelector {
  if ((request.ids.length > 0) === (request.filter !== undefined)) throw invalidArgument("ids, filter: give exactly one of ids and filter");
  if (request.filter === undefined) {
    checkIds(request.ids, "ids", limits);
    return { kind: "ids", ids: request.ids };
  }
  const filter = filterFromProto(request.filter, "filter", limits);
  // An empty filter matches every point. A generated client sets `filter` merely by touching it, so
  // applying a write to everything that way is refused.
  if (filter.must.length + filter.should.length + filter.mustNot.length === 0) {
    throw invalidArgument(`filter: is empty and would ${what} every point; give at least one condition`);
  }
  return { kind: "filter", filter };
}

/** A search query (SearchRequest or one SearchQuery of a BatchSearch) in domain form. */
export function searchFromProto(
  query: Pick<SearchQuery, "vector" | "k" | "filter" | "scoreThreshold" | "ef" | "exact" | "withPayload" | "withVector" | "rescore" | "oversampling">,
  field: string,
  limits: Limits,
): SearchParams {
  const prefix = field === "" ? "" : `${field}.`;
  if (query.k < 1 || query.k > limits.kMax) throw invalidArgument(`${prefix}k: ${query.k} is outside 1..${limits.kMax} (k_max)`);
  if (query.ef > limits.efMax) throw invalidArgument(`${prefix}ef: ${query.ef} is above ef_max ${limits.efMax}`);
  if (query.scoreThreshold !== undefined && Number.isNaN(query.scoreThreshold)) {
    throw invalidArgument(`${prefix}score_threshold: must be a number, got NaN`);
  }
  const { oversampling } = query;
  if (oversampling !== undefined) {
    if (!(oversampling >= 1 && oversampling <= quantizationDefaults.oversamplingMax)) {
      throw invalidArgument(`${prefix}oversampling: ${oversampling} is outside 1..${quantizationDefaults.oversamplingMax}`);
    }
    if (Math.ceil(oversampling * query.k) > limits.efMax) {
      throw invalidArgument(`${prefix}oversampling: ${oversampling} × k ${query.k} keeps more candidates than ef_max ${limits.efMax}`);
    }
  }
  return {
    vector: float32Vector(query.vector),
    k: query.k,
    filter: query.filter === undefined ? undefined : filterFromProto(query.filter, `${prefix}filter`, limits),
    scoreThreshold: query.scoreThreshold,
    ef: query.ef === 0 ? undefined : Math.max(query.ef, query.k),
    exact: query.exact,
    rescore: query.rescore,
    oversampling,
    withPayload: query.withPayload ?? true,
    withVector: query.withVector ?? false,
  };
}

/**
 * A proto filter in domain form, checked against `filterDepthMax`, `filterConditionsMax`,
 * `anyOfValuesMax`, `idsPerRequestMax` and `filterKeyBytesMax`.
 */
export function filterFromProto(filter: ProtoFilter, field: string, limits: Limits): Filter {
  const budget = { conditions: 0 };
  return convertFilter(filter, field, 1, limits, budget);
}

function convertFilter(filter: ProtoFilter, field: string, depth: number, limits: Limits, budget: { conditions: number }): Filter {
  if (depth > limits.filterDepthMax) throw invalidArgument(`${field}: filters nest deeper than filter_depth_max ${limits.filterDepthMax}`);
  const convertList = (list: ProtoFilter["must"], name: string): Condition[] =>
    list.map((condition, i) => {
      budget.conditions++;
      if (budget.conditions > limits.filterConditionsMax) {
        throw invalidArgument(`${field}.${name}[${i}]: the filter has more than filter_conditions_max ${limits.filterConditionsMax} conditions`);
      }
      return convertCondition(condition.condition, `${field}.${name}[${i}]`, depth, limits, budget);
    });
  return { must: convertList(filter.must, "must"), should: convertList(filter.should, "should"), mustNot: convertList(filter.mustNot, "must_not") };
}

function convertCondition(
  condition: ProtoFilter["must"][number]["condition"],
  field: string,
  depth: number,
  limits: Limits,
  budget: { conditions: number },
): Condition {
  switch (condition.case) {
    case "filter":
      return { kind: "filter", filter: convertFilter(condition.value, `${field}.filter`, depth + 1, limits, budget) };
    case "hasId": {
      checkIds(condition.value.ids, `${field}.has_id.ids`, limits);
      return { kind: "hasId", ids: new Set(condition.value.ids) };
    }
    case "field": {
      const { key, match } = condition.value;
      const path = keyPathFromProto(key, `${field}.field.key`, limits);
      switch (match.case) {
        case "equals":
          return { kind: "equals", path, value: scalarFromValue(match.value, `${field}.field.equals`) };
        case "anyOf":
          return { kind: "anyOf", path, values: scalarsFromList(match.value, `${field}.field.any_of`, limits) };
        case "range":
          return rangeCondition(path, match.value, `${field}.field.range`);
        case "exists":
          return { kind: "exists", path, exists: match.value };
        case "isNull":
          return { kind: "isNull", path, isNull: match.value };
        case undefined:
          throw invalidArgument(`${field}.field: set one of equals, any_of, range, exists, is_null`);
      }
      break;
    }
    case undefined:
      throw invalidArgument(`${field}: set one of field, filter, has_id`);
  }
  throw invalidArgument(`${field}: unknown condition`);
}

function rangeCondition(path: string[], range: { gt?: number; gte?: number; lt?: number; lte?: number }, field: string): Condition {
  const condition: Condition = { kind: "range", path };
  let bounds = 0;
  for (const name of ["gt", "gte", "lt", "lte"] as const) {
    const value = range[name];
    if (value === undefined) continue;
    if (Number.isNaN(value)) throw invalidArgument(`${field}.${name}: must be a number, got NaN`);
    condition[name] = value;
    bounds++;
  }
  if (bounds === 0) throw invalidArgument(`${field}: set at least one of gt, gte, lt, lte`);
  return condition;
}

function scalarFromValue(value: Value | undefined, field: string): FilterScalar {
  const kind = value?.kind;
  switch (kind?.case) {
    case "stringValue":
    case "boolValue":
      return kind.value;
    case "numberValue":
      if (!Number.isFinite(kind.value)) throw invalidArgument(`${field}: must be a finite number, got ${kind.value}`);
      return kind.value;
    case "nullValue":
      return null;
    case "structValue":
    case "listValue":
      throw invalidArgument(`${field}: must be a string, number, bool or null, not an ${kind.case === "structValue" ? "object" : "array"}`);
    default:
      throw invalidArgument(`${field}: a value is required`);
  }
}

function scalarsFromList(list: ListValue, field: string, limits: Limits): FilterScalar[] {
  if (list.values.length === 0) throw invalidArgument(`${field}: must list at least one value`);
  if (list.values.length > limits.anyOfValuesMax) {
    throw invalidArgument(`${field}: has ${list.values.length} values, the limit is any_of_values_max ${limits.anyOfValuesMax}`);
  }
  return list.values.map((value, i) => scalarFromValue(value, `${field}[${i}]`));
}
