import { invalidArgument, VectorDbError } from "../errors.js";
import { FlatIndex, internalThreshold, norm, scoreOf } from "../index/index.js";
import { matchesFilter } from "./filter.js";
import type {
  CollectionSpec,
  CollectionStats,
  Filter,
  Hit,
  JsonObject,
  PointInput,
  PointRecord,
  SearchParams,
  UpsertResult,
} from "./types.js";

/** Limits a collection enforces on its own writes. */
export interface CollectionLimits {
  /** Longest id in UTF-8 bytes. */
  idBytesMax: number;
  /** Largest payload, in bytes of its JSON serialisation. */
  payloadBytesMax: number;
  /** Most points the collection may hold. */
  collectionPointsMax: number;
}

/** Estimated heap bytes per point beyond its vector: the id string, map entry and array slots. */
const pointOverheadBytes = 96;

/**
 * One collection: points (id, vector, payload) of one dimension and distance, searchable by exact scan.
 *
 * Storage layout: vectors in a {@link FlatIndex} (one contiguous Float32Array, dense slots); `ids` and
 * `payloads` are arrays indexed by the same slot; `slotById` maps an id to its slot. Deleting moves the
 * last slot into the hole, so every structure stays dense.
 *
 * Every write is validated as a whole before anything changes, so a rejected batch leaves the collection
 * as it was. Errors: INVALID_ARGUMENT (`invalid_argument`) for a bad point or filter,
 * RESOURCE_EXHAUSTED (`resource_exhausted`) past `collectionPointsMax`.
 *
 * Until the HNSW index lands every search is an exact scan; `ef` is accepted and ignored.
 */
export class Collection {
  private readonly vectors: FlatIndex;
  private readonly ids: string[] = [];
  private readonly payloads: (JsonObject | undefined)[] = [];
  private readonly payloadBytes: number[] = [];
  private readonly slotById = new Map<string, number>();
  private payloadBytesTotal = 0;
  private idBytesTotal = 0;

  constructor(
    readonly spec: Readonly<CollectionSpec>,
    private readonly limits: Readonly<CollectionLimits>,
  ) {
    this.vectors = new FlatIndex(spec.dimension, spec.distance);
  }

  get name(): string {
    return this.spec.name;
  }

  /** Number of points stored. */
  get size(): number {
    return this.vectors.size;
  }

  /** Point count and approximate memory. */
  stats(): CollectionStats {
    return { pointCount: this.size, memoryBytes: this.memoryBytes() };
  }

  /**
   * Approximate bytes of memory held: the allocated vector matrix, plus per point its id (2 bytes per
   * UTF-16 unit), a fixed overhead for the map entry and array slots, and twice the payload's JSON size
   * (parsed objects take roughly that). An estimate for capacity planning, not an exact figure.
   */
  memoryBytes(): number {
    return this.vectors.allocatedBytes + this.size * pointOverheadBytes + this.idBytesTotal + 2 * this.payloadBytesTotal;
  }

  /**
   * Inserts or replaces points. Validates the whole batch first (ids unique, non-empty and at most
   * `idBytesMax` bytes; vectors of the collection's dimension with finite components, non-zero for
   * cosine; payloads at most `payloadBytesMax` bytes of JSON); on any error nothing is written.
   *
   * @param field name of the list in error messages, e.g. `points` → `points[3].vector: ...`.
   * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming the point and field;
   *   resource_exhausted (RESOURCE_EXHAUSTED) when the collection would exceed `collectionPointsMax`.
   */
  upsert(points: readonly PointInput[], field = "points"): UpsertResult {
    const sizes = this.validatePoints(points, field);
    let newPoints = 0;
    for (const point of points) if (!this.slotById.has(point.id)) newPoints++;
    if (this.size + newPoints > this.limits.collectionPointsMax) {
      throw new VectorDbError(
        "resource_exhausted",
        `${field}: collection "${this.name}" holds ${this.size} points; ${newPoints} more would exceed collection_points_max ${this.limits.collectionPointsMax}`,
      );
    }
    let inserted = 0;
    let updated = 0;
    for (let i = 0; i < points.length; i++) {
      const point = points[i]!;
      const bytes = sizes[i]!;
      const existing = this.slotById.get(point.id);
      if (existing === undefined) {
        const slot = this.vectors.add(point.vector);
        this.ids[slot] = point.id;
        this.payloads[slot] = point.payload;
        this.payloadBytes[slot] = bytes;
        this.slotById.set(point.id, slot);
        this.idBytesTotal += point.id.length * 2;
        this.payloadBytesTotal += bytes;
        inserted++;
      } else {
        this.vectors.set(existing, point.vector);
        this.payloadBytesTotal += bytes - this.payloadBytes[existing]!;
        this.payloads[existing] = point.payload;
        this.payloadBytes[existing] = bytes;
        updated++;
      }
    }
    return { inserted, updated };
  }

  /** The points with these ids that exist, in the order asked; missing ids are left out. */
  get(ids: readonly string[], options: { withPayload: boolean; withVector: boolean }): PointRecord[] {
    const records: PointRecord[] = [];
    for (const id of ids) {
      const slot = this.slotById.get(id);
      if (slot !== undefined) records.push(this.record(slot, options.withPayload, options.withVector));
    }
    return records;
  }

  /** Deletes the points with these ids; returns how many existed. Unknown ids are ignored. */
  deleteIds(ids: readonly string[]): number {
    let deleted = 0;
    for (const id of ids) {
      const slot = this.slotById.get(id);
      if (slot === undefined) continue;
      this.removeSlot(slot);
      deleted++;
    }
    return deleted;
  }

  /** Deletes every point matching `filter`; returns how many. */
  deleteByFilter(filter: Filter): number {
    const doomed: string[] = [];
    for (let slot = 0; slot < this.size; slot++) {
      if (matchesFilter(filter, this.ids[slot]!, this.payloads[slot])) doomed.push(this.ids[slot]!);
    }
    return this.deleteIds(doomed);
  }

  /**
   * The `k` points nearest to `params.vector` that pass the filter and the score threshold, best first.
   *
   * @throws VectorDbError invalid_argument when the query's dimension is wrong, a component is not
   *   finite, or (cosine) the query is a zero vector.
   */
  search(params: SearchParams): Hit[] {
    this.checkVector(params.vector, "vector");
    if (this.size === 0) return [];
    const distance = this.spec.distance;
    const filter = params.filter;
    const accept = filter === undefined ? undefined : (slot: number) => matchesFilter(filter, this.ids[slot]!, this.payloads[slot]);
    const maxDistance = params.scoreThreshold === undefined ? undefined : internalThreshold(distance, params.scoreThreshold);
    const found = this.vectors.search(params.vector, params.k, {
      ...(accept === undefined ? {} : { accept }),
      ...(maxDistance === undefined ? {} : { maxDistance }),
    });
    const hits: Hit[] = [];
    for (let i = 0; i < found.slots.length; i++) {
      const slot = found.slots[i]!;
      const hit: Hit = { id: this.ids[slot]!, score: scoreOf(distance, found.distances[i]!) };
      if (params.withPayload && this.payloads[slot] !== undefined) hit.payload = this.payloads[slot];
      if (params.withVector) hit.vector = Float32Array.from(this.vectors.vectorAt(slot));
      hits.push(hit);
    }
    return hits;
  }

  private record(slot: number, withPayload: boolean, withVector: boolean): PointRecord {
    const record: PointRecord = { id: this.ids[slot]! };
    if (withVector) record.vector = Float32Array.from(this.vectors.vectorAt(slot));
    if (withPayload && this.payloads[slot] !== undefined) record.payload = this.payloads[slot];
    return record;
  }

  private removeSlot(slot: number): void {
    const id = this.ids[slot]!;
    this.slotById.delete(id);
    this.idBytesTotal -= id.length * 2;
    this.payloadBytesTotal -= this.payloadBytes[slot]!;
    const moved = this.vectors.removeSwap(slot);
    if (moved >= 0) {
      this.ids[slot] = this.ids[moved]!;
      this.payloads[slot] = this.payloads[moved];
      this.payloadBytes[slot] = this.payloadBytes[moved]!;
      this.slotById.set(this.ids[slot]!, slot);
    }
    this.ids.pop();
    this.payloads.pop();
    this.payloadBytes.pop();
  }

  /** Validates a batch; returns each point's payload size in JSON bytes. */
  private validatePoints(points: readonly PointInput[], field: string): number[] {
    const seen = new Set<string>();
    const sizes: number[] = new Array(points.length);
    for (let i = 0; i < points.length; i++) {
      const point = points[i]!;
      const at = `${field}[${i}]`;
      const idBytes = Buffer.byteLength(point.id, "utf8");
      if (idBytes === 0) throw invalidArgument(`${at}.id: must not be empty`);
      if (idBytes > this.limits.idBytesMax) {
        throw invalidArgument(`${at}.id: is ${idBytes} bytes, the limit is id_bytes_max ${this.limits.idBytesMax}`);
      }
      if (seen.has(point.id)) throw invalidArgument(`${at}.id: "${point.id}" appears more than once in ${field}`);
      seen.add(point.id);
      this.checkVector(point.vector, `${at} (id "${point.id}").vector`);
      const bytes = point.payload === undefined ? 0 : Buffer.byteLength(JSON.stringify(point.payload), "utf8");
      if (bytes > this.limits.payloadBytesMax) {
        throw invalidArgument(
          `${at} (id "${point.id}").payload: is ${bytes} bytes of JSON, the limit is payload_bytes_max ${this.limits.payloadBytesMax}`,
        );
      }
      sizes[i] = bytes;
    }
    return sizes;
  }

  private checkVector(vector: Float32Array, at: string): void {
    if (vector.length !== this.spec.dimension) {
      throw invalidArgument(`${at}: has ${vector.length} components, the collection's dimension is ${this.spec.dimension}`);
    }
    for (let j = 0; j < vector.length; j++) {
      if (!Number.isFinite(vector[j]!)) throw invalidArgument(`${at}[${j}]: is ${vector[j]}, components must be finite`);
    }
    if (this.spec.distance === "cosine" && norm(vector) === 0) {
      throw invalidArgument(`${at}: is a zero vector, which has no direction for cosine distance`);
    }
  }
}
