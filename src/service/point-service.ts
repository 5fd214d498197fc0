import type { DurableCollection, UpsertResult, WriteOp } from "../collection/index.js";
import type { Limits, ServerConfig } from "../config.js";
import { invalidArgument, quote, VectorDbError } from "../errors.js";
import { embeddedWritePath, type Database, type WritePath } from "../db/index.js";
import type { PointService } from "../../gen/vectordb/v1/point_service_pb.js";
import type { Point, ScoredPoint, SearchQuery } from "../../gen/vectordb/v1/point_pb.js";
import type { IngestRequest } from "../../gen/vectordb/v1/point_service_pb.js";
import { checkIds, filterFromProto, hitToProto, pointFromProto, pointToProto, searchFromProto, selectorFromProto } from "./convert.js";
import { isShutdownStop, type CallContext, type ServiceHandlers } from "./handler-types.js";
import { serveIngestStream } from "./ingest-stream.js";
import { payloadHandlers } from "./payload-handlers.js";
import { decodeCursor, encodeCursor } from "./scroll-cursor.js";

/**
 * Handlers of `vectordb.v1.PointService`: validate, convert, delegate to the collection, convert back.
 *
 * Writes (Upsert, Delete, the payload updates, each Ingest and IngestStream batch) resolve once their
 * WAL record is durable under the fsync policy and applied (see `DurableCollection`). Every call that
 * names a collection accepts an alias of it.
 *
 * Errors (as VectorDbError): NOT_FOUND for an unknown collection; INVALID_ARGUMENT for a wrong
 * dimension, a non-finite component, an empty, duplicate or over-long id, a k or ef out of range, a
 * malformed filter, a batch over `batch_points_max`; RESOURCE_EXHAUSTED past `collection_points_max`
 * or with `ingest_streams_max` Ingest and IngestStream streams already open; ABORTED for a second
 * IngestStream of one load; UNAVAILABLE when the WAL cannot be
 * written; DATA_LOSS for a collection that failed recovery;
 * CANCELLED/DEADLINE_EXCEEDED come from the transport.
 */
export function pointServiceHandlers(db: Database, config: ServerConfig, writes: WritePath = embeddedWritePath(db)): ServiceHandlers<typeof PointService> {
  const { limits } = config;
  /** The collection `name`, once this server has applied writes up to `minSequence` (read-your-writes). */
  const readable = async (name: string, minSequence: bigint, context: CallContext): Promise<DurableCollection> => {
    const collection = db.get(name);
    if (minSequence > 0n) {
      if (minSequence > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`min_sequence: ${minSequence} is above 2^53 - 1`);
      await writes.waitApplied(name, Number(minSequence), context.signal);
    }
    return collection;
  };
  let ingestStreamsOpen = 0;
  /** Runs a bulk-load stream, counted against `ingest_streams_max`. */
  const admitStream = async <T>(serve: () => Promise<T>): Promise<T> => {
    if (ingestStreamsOpen >= limits.ingestStreamsMax) {
      throw new VectorDbError("resource_exhausted", `ingest_streams_max ${limits.ingestStreamsMax} Ingest streams are open already (Ingest and IngestStream count together); retry when one ends`);
    }
    ingestStreamsOpen++;
    try {
      return await serve();
    } finally {
      ingestStreamsOpen--;
    }
  };
  return {
    async upsert(request) {
      const collection = db.get(request.collection);
      if (request.points.length === 0) throw invalidArgument("points: must hold at least one point");
      checkBatch(request.points, "points", limits);
      const outcome = await writes.write(collection.name, { kind: "upsert", points: request.points.map(pointFromProto), field: "points" });
      return { ...(outcome.result as UpsertResult), sequence: BigInt(outcome.sequence) };
    },

    async get(request, context) {
      const collection = await readable(request.collection, request.minSequence, context);
      checkIds(request.ids, "ids", limits);
      const records = collection.get(request.ids, {
        withPayload: request.withPayload ?? true,
        withVector: request.withVector ?? true,
      });
      return { points: records.map(pointToProto) };
    },

    async delete(request) {
      const collection = db.get(request.collection);
      const selector = selectorFromProto(request, limits, "delete");
      const op: WriteOp = selector.kind === "ids" ? { kind: "deleteIds", ids: selector.ids } : { kind: "deleteByFilter", filter: selector.filter };
      const outcome = await writes.write(collection.name, op);
      return { deleted: outcome.result as number, sequence: BigInt(outcome.sequence) };
    },

    async search(request, context) {
      const collection = await readable(request.collection, request.minSequence, context);
      const hits = await collection.searchFanOut(searchFromProto(request, "", limits));
      return { hits: hits.map(hitToProto) };
    },

    async batchSearch(request, context) {
      const collection = await readable(request.collection, request.minSequence, context);
      return { results: await batchSearch(collection, request.queries, limits) };
    },

    async ingest(requests, context) {
      return admitStream(() => ingestStream(db, writes, limits, requests, context));
    },

    async scroll(request, context) {
      const collection = await readable(request.collection, request.minSequence, context);
      if (request.limit > limits.scrollPointsMax) throw invalidArgument(`limit: ${request.limit} is above scroll_points_max ${limits.scrollPointsMax}`);
      const page = collection.scroll({
        after: decodeCursor(request.cursor, "cursor"),
        limit: request.limit === 0 ? limits.scrollPointsDefault : request.limit,
        filter: request.filter === undefined ? undefined : filterFromProto(request.filter, "filter", limits),
        withPayload: request.withPayload ?? true,
        withVector: request.withVector ?? false,
      });
      return { points: page.points.map(pointToProto), nextCursor: page.nextAfter === undefined ? "" : encodeCursor(page.nextAfter) };
    },

    async count(request) {
      const collection = db.get(request.collection);
      const filter = request.filter === undefined ? undefined : filterFromProto(request.filter, "filter", limits);
      return { count: BigInt(collection.count(filter)) };
    },

    ...payloadHandlers(db, writes, limits),

    async ingestStream(requests, responses, context) {
      await admitStream(() => serveIngestStream(db, writes, limits, requests, responses, context));
    },
  };
}

function checkBatch(points: readonly Point[], field: string, limits: Readonly<Limits>): void {
  if (points.length > limits.batchPointsMax) {
    throw invalidArgument(`${field}: has ${points.length} points, the limit is batch_points_max ${limits.batchPointsMax}`);
  }
}

/**
 * Every query of a BatchSearch, validated all before any runs (a bad query costs no search time);
 * the collection may run them on its builder threads (see MemoryCollection.searchBatch).
 */
async function batchSearch(collection: DurableCollection, queries: readonly SearchQuery[], limits: Readonly<Limits>): Promise<{ hits: ScoredPoint[] }[]> {
  if (queries.length === 0) throw invalidArgument("queries: must hold at least one query");
  if (queries.length > limits.batchQueriesMax) {
    throw invalidArgument(`queries: has ${queries.length} queries, the limit is batch_queries_max ${limits.batchQueriesMax}`);
  }
  const params = queries.map((query, i) => searchFromProto(query, `queries[${i}]`, limits));
  const results = await collection.searchBatch(params, (i) => `queries[${i}]`);
  return results.map((hits) => ({ hits: hits.map(hitToProto) }));
}

/**
 * The messages of one Ingest stream, each upserted durably before the next is read. When the server
 * shuts down, the stream ends with UNAVAILABLE saying how many of its batches were durably applied
 * (the batch being applied then is finished first): the client resends the rest.
 */
async function ingestStream(
  db: Database,
  writes: WritePath,
  limits: Readonly<Limits>,
  requests: AsyncIterable<IngestRequest>,
  context: CallContext,
): Promise<{ batches: bigint; inserted: bigint; updated: bigint }> {
  let name: string | undefined;
  let batches = 0;
  let inserted = 0;
  let updated = 0;
  try {
    for await (const request of requests) {
      if (context.signal.aborted) break;
      const at = `batches[${batches}]`;
      if (name === undefined) {
        if (request.collection === "") throw invalidArgument(`${at}.collection: the first message must name the collection`);
        name = request.collection;
      } else if (request.collection !== "" && request.collection !== name) {
        throw invalidArgument(`${at}.collection: ${quote(request.collection)} differs from ${quote(name)} named by the first message`);
      }
      // Looked up per batch: a collection dropped mid-stream ends the stream with NOT_FOUND.
      const collection = db.get(name, `${at}.collection`);
      checkBatch(request.points, `${at}.points`, limits);
      // Durable before the next message is read: the WAL's pace is the stream's backpressure.
      const result = (await writes.write(collection.name, { kind: "upsert", points: request.points.map(pointFromProto), field: `${at}.points` })).result as UpsertResult;
      inserted += result.inserted;
      updated += result.updated;
      batches++;
    }
  } catch (error) {
    if (!isShutdownStop(error, context)) throw error;
    throw new VectorDbError(
      "unavailable",
      `the server is shutting down: ${batches} ${batches === 1 ? "batch" : "batches"} of this stream ${batches === 1 ? "was" : "were"} durably applied (${inserted} points inserted, ${updated} updated); send the batches after them again once it is back`,
      { cause: error },
    );
  }
  return { batches: BigInt(batches), inserted: BigInt(inserted), updated: BigInt(updated) };
}
