import type { DistanceKind } from "../index/index.js";

/** A JSON value as stored in payloads. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object: the payload of a point. */
export type JsonObject = { [key: string]: JsonValue };

/** HNSW parameters of a collection (Malkov & Yashunin, arXiv:1603.09320). */
export interface HnswParams {
  /** Links per node on the upper layers; layer 0 keeps 2·m. */
  m: number;
  /** Candidate-list width while inserting. */
  efConstruction: number;
  /** Default candidate-list width while searching. */
  ef: number;
}

/**
 * int8 scalar quantization of a collection's vectors (see the proto's ScalarQuantization): codes of
 * one byte per component beside the float32 vectors, searched with integer SIMD and rescored.
 */
export interface QuantizationSpec {
  type: "int8";
  /** Share of each component's values the code range spans, in (0.5, 1]. */
  quantile: number;
  /** Accepted and reported; every vector is in memory anyway. */
  alwaysRam: boolean;
}

/** What a collection is created with. */
export interface CollectionSpec {
  name: string;
  /** Components per vector. */
  dimension: number;
  distance: DistanceKind;
  hnsw: HnswParams;
  /** Absent: no quantization. */
  quantization?: QuantizationSpec | undefined;
}

/** A point as written: `vector` has exactly the collection's dimension. */
export interface PointInput {
  id: string;
  vector: Float32Array;
  payload?: JsonObject | undefined;
}

/** A point as read back. `vector` is a copy; for cosine it is the stored unit vector. */
export interface PointRecord {
  id: string;
  vector?: Float32Array;
  payload?: JsonObject;
}

/** One nearest-neighbour query in domain form. */
export interface SearchParams {
  /** Exactly the collection's dimension, finite components. */
  vector: Float32Array;
  /** Top-k, at least 1. */
  k: number;
  filter?: Filter | undefined;
  /** Public score threshold: `score >= t` for cosine and dot, `distance <= t` for euclidean. */
  scoreThreshold?: number | undefined;
  /** HNSW candidate-list width; undefined = the collection's default. */
  ef?: number | undefined;
  /** Force a brute-force scan. */
  exact: boolean;
  /**
   * With quantization: rescore the best `oversampling × k` candidates on float32 (default true);
   * absent = default.
   */
  rescore?: boolean | undefined;
  /** With quantization: candidates kept for rescoring, as a multiple of k (at least 1; default 2). */
  oversampling?: number | undefined;
  withPayload: boolean;
  withVector: boolean;
}

/** A search hit; `score` as defined in the proto (similarity, or L2 distance for euclidean). */
export interface Hit {
  id: string;
  score: number;
  payload?: JsonObject;
  vector?: Float32Array;
}

/** Counters of a collection. */
export interface CollectionStats {
  pointCount: number;
  /** Approximate bytes held: vector store, graph, ids, payloads (see MemoryCollection.memoryBytes). */
  memoryBytes: number;
  /** Live points linked into the HNSW graph (all of them for a collection searched exactly). */
  indexedPointCount: number;
  /** Bytes of the float32 vectors (allocated rows). */
  vectorBytes: number;
  /** Bytes of the quantization codes (allocated rows; 0 without quantization). */
  quantizedVectorBytes: number;
  /** Whether searches use the quantization codes (trained), false without quantization. */
  quantizationTrained: boolean;
  /** The recall monitor's mean recall@k of sampled graph searches; undefined before the first sample. */
  recallEstimate?: number | undefined;
  /** Samples behind {@link recallEstimate} (at most 1,000: a sliding window). */
  recallSamples: number;
  /** The segments, appendable last (absent for a bare `MemoryCollection`). */
  segments?: SegmentStats[];
}

/** One segment of a collection (see `SegmentedCollection`). */
export interface SegmentStats {
  /** The segment's id within the collection (names its file). */
  id: number;
  /** Live points. */
  pointCount: number;
  /** Dead slots (tombstones) the segment still holds; a vacuum reclaims them. */
  deletedCount: number;
  /** Approximate memory held, bytes. */
  memoryBytes: number;
  /** Every live point is linked into the segment's graph. */
  indexed: boolean;
  /** False for the appendable segment (the one that takes new points). */
  sealed: boolean;
  /** Size of the segment file the last checkpoint wrote, bytes (0: not written yet). */
  fileBytes: number;
}

/** Result of an upsert. */
export interface UpsertResult {
  inserted: number;
  updated: number;
}

/** A scalar a filter compares with. */
export type FilterScalar = string | number | boolean | null;

/** A filter tree: all of `must`, at least one of `should` (if any), none of `mustNot`. */
export interface Filter {
  must: Condition[];
  should: Condition[];
  mustNot: Condition[];
}

/** One condition. `path` is the payload key split on dots (`meta.lang` → ["meta", "lang"]). */
export type Condition =
  | { kind: "equals"; path: string[]; value: FilterScalar }
  | { kind: "anyOf"; path: string[]; values: FilterScalar[] }
  | { kind: "range"; path: string[]; gt?: number; gte?: number; lt?: number; lte?: number }
  | { kind: "exists"; path: string[]; exists: boolean }
  | { kind: "isNull"; path: string[]; isNull: boolean }
  | { kind: "hasId"; ids: ReadonlySet<string> }
  | { kind: "filter"; filter: Filter };

/** Which points a write that is not an upsert applies to: listed ids, or every point matching a filter. */
export type PointSelector = { kind: "ids"; ids: readonly string[] } | { kind: "filter"; filter: Filter };

/**
 * A change to the payloads of the selected points: `set` adds or replaces top-level keys, `overwrite`
 * replaces the payload, `deleteKeys` removes keys (each a path, `["meta", "lang"]` for `meta.lang`),
 * `clear` removes the payload.
 */
export type PayloadChange =
  | { kind: "set"; payload: JsonObject }
  | { kind: "overwrite"; payload: JsonObject }
  | { kind: "deleteKeys"; keys: readonly (readonly string[])[] }
  | { kind: "clear" };

/** One page of a scroll through the points in id order. */
export interface ScrollParams {
  /** Only ids above this one (exclusive); undefined for the first page. */
  after?: string | undefined;
  /** Most points in the page, at least 1. */
  limit: number;
  filter?: Filter | undefined;
  withPayload: boolean;
  withVector: boolean;
}

/** A page of a scroll. */
export interface ScrollPage {
  /** At most `limit` points, ascending by id (UTF-16 code unit order, as JavaScript compares strings). */
  points: PointRecord[];
  /** The id to continue after, undefined when no matching point follows this page. */
  nextAfter: string | undefined;
}
