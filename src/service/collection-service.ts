import type { DurableCollection, HnswParams } from "../collection/index.js";
import type { Limits, ServerConfig } from "../config.js";
import { invalidArgument } from "../errors.js";
import { embeddedWritePath, type AliasAction as DomainAliasAction, type Database, type WritePath } from "../db/index.js";
import { type CollectionInfo, CollectionInfoSchema, type HnswConfig, HnswConfigSchema, SegmentInfoSchema } from "../../gen/vectordb/v1/collection_pb.js";
import type { AliasAction, CollectionService } from "../../gen/vectordb/v1/collection_service_pb.js";
import { create } from "@bufbuild/protobuf";
import { distanceToProto } from "../rpc/index.js";
import { distanceFromProto, hnswFromProto, quantizationFromProto, quantizationToProto } from "./convert.js";
import type { ServiceHandlers } from "./handler-types.js";

/** A collection as the API reports it. */
export function collectionInfo(collection: DurableCollection, writes?: WritePath): CollectionInfo {
  const { spec } = collection;
  const status = writes?.status(collection) ?? { appliedSequence: collection.appliedSequence, lag: 0 };
  const stats = collection.stats();
  return create(CollectionInfoSchema, {
    name: spec.name,
    dimension: spec.dimension,
    distance: distanceToProto(spec.distance),
    hnsw: create(HnswConfigSchema, { m: spec.hnsw.m, efConstruction: spec.hnsw.efConstruction, ef: spec.hnsw.ef }),
    pointCount: BigInt(stats.pointCount),
    memoryBytes: BigInt(stats.memoryBytes),
    indexedPointCount: BigInt(stats.indexedPointCount),
    quantization: quantizationToProto(spec.quantization),
    vectorBytes: BigInt(stats.vectorBytes),
    quantizedVectorBytes: BigInt(stats.quantizedVectorBytes),
    quantizationTrained: stats.quantizationTrained,
    recallEstimate: stats.recallEstimate,
    recallSamples: BigInt(stats.recallSamples),
    segments: (stats.segments ?? []).map((segment) =>
      create(SegmentInfoSchema, {
        id: BigInt(segment.id),
        pointCount: BigInt(segment.pointCount),
        deletedCount: BigInt(segment.deletedCount),
        memoryBytes: BigInt(segment.memoryBytes),
        indexed: segment.indexed,
        sealed: segment.sealed,
        fileBytes: BigInt(segment.fileBytes),
      }),
    ),
    appliedSequence: BigInt(status.appliedSequence),
    replicationLag: BigInt(status.lag),
  });
}

/**
 * Handlers of `vectordb.v1.CollectionService`: validate, convert, delegate to the {@link Database}.
 * Errors (as VectorDbError): INVALID_ARGUMENT for a bad name, dimension, distance or HNSW parameter,
 * an HNSW parameter UpdateCollection cannot change, a bad alias action; ALREADY_EXISTS (a name taken
 * by a collection or an alias); NOT_FOUND; FAILED_PRECONDITION for DeleteCollection of an alias;
 * RESOURCE_EXHAUSTED past `collections_max` or `aliases_max`; UNAVAILABLE on an I/O error; DATA_LOSS
 * for a collection that failed recovery (DeleteCollection still drops it).
 */
export function collectionServiceHandlers(db: Database, config: ServerConfig, writes: WritePath = embeddedWritePath(db)): ServiceHandlers<typeof CollectionService> {
  const { limits } = config;
  const info = (collection: DurableCollection): CollectionInfo => collectionInfo(collection, writes);
  return {
    async createCollection(request) {
      if (request.dimension < 1 || request.dimension > limits.dimensionMax) {
        throw invalidArgument(`dimension: ${request.dimension} is outside 1..${limits.dimensionMax} (dimension_max)`);
      }
      const distance = distanceFromProto(request.distance, "distance");
      const collection = await writes.createCollection({
        name: request.name,
        dimension: request.dimension,
        distance,
        hnsw: hnswFromProto(request.hnsw, config.hnswDefaults, limits),
        quantization: quantizationFromProto(request.quantization, distance),
      });
      return { collection: info(collection) };
    },
    async getCollection(request) {
      return { collection: info(db.get(request.name, "name")) };
    },
    async listCollections() {
      return { collections: db.list().map(info) };
    },
    async deleteCollection(request) {
      return { deletedPoints: BigInt(await writes.dropCollection(request.name)) };
    },
    async updateCollection(request) {
      const collection = db.get(request.name, "name");
      const ef = checkHnswUpdate(collection.spec.hnsw, request.hnsw, limits);
      if (ef !== undefined) await writes.updateSearchEf(request.name, ef);
      return { collection: info(db.get(request.name, "name")) };
    },
    async updateAliases(request) {
      await writes.updateAliases(request.actions.map(aliasActionFromProto));
      return {};
    },
    async listAliases(request) {
      const aliases = db.listAliases(request.collection === "" ? undefined : request.collection);
      return { aliases: aliases.map(([alias, collection]) => ({ alias, collection })) };
    },
  };
}

/**
 * The new default `ef` of an UpdateCollection request, or undefined when it changes nothing.
 * @throws VectorDbError invalid_argument for `ef` above `ef_max`, or a change of `m` or `ef_construction`.
 */
function checkHnswUpdate(current: HnswParams, hnsw: HnswConfig | undefined, limits: Limits): number | undefined {
  if (hnsw === undefined) return undefined;
  const fixed = [
    ["m", hnsw.m, current.m],
    ["ef_construction", hnsw.efConstruction, current.efConstruction],
  ] as const;
  for (const [name, asked, value] of fixed) {
    if (asked !== 0 && asked !== value) {
      throw invalidArgument(`hnsw.${name}: is ${value} and cannot change without rebuilding the graph (asked ${asked}); create a new collection, load it, and switch an alias to it`);
    }
  }
  if (hnsw.ef > limits.efMax) throw invalidArgument(`hnsw.ef: ${hnsw.ef} is above ef_max ${limits.efMax}`);
  return hnsw.ef === 0 || hnsw.ef === current.ef ? undefined : hnsw.ef;
}

/** One proto alias action in domain form. @throws VectorDbError invalid_argument when none is set. */
function aliasActionFromProto(action: AliasAction, i: number): DomainAliasAction {
  switch (action.action.case) {
    case "createAlias":
      return { kind: "create", alias: action.action.value.alias, collection: action.action.value.collection };
    case "deleteAlias":
      return { kind: "delete", alias: action.action.value.alias };
    case "renameAlias":
      return { kind: "rename", from: action.action.value.oldAlias, to: action.action.value.newAlias };
    case undefined:
      throw invalidArgument(`actions[${i}]: set one of create_alias, delete_alias, rename_alias`);
  }
}
