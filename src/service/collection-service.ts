import type { DurableCollection } from "../collection/index.js";
import type { ServerConfig } from "../config.js";
import { invalidArgument } from "../errors.js";
import type { Database } from "../db/index.js";
import { type CollectionInfo, CollectionInfoSchema, HnswConfigSchema } from "../../gen/vectordb/v1/collection_pb.js";
import type { CollectionService } from "../../gen/vectordb/v1/collection_service_pb.js";
import { create } from "@bufbuild/protobuf";
import { distanceToProto } from "../rpc/index.js";
import { distanceFromProto, hnswFromProto, quantizationFromProto, quantizationToProto } from "./convert.js";
import type { ServiceHandlers } from "./handler-types.js";

/** A collection as the API reports it. */
export function collectionInfo(collection: DurableCollection): CollectionInfo {
  const { spec } = collection;
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
  });
}

/**
 * Handlers of `vectordb.v1.CollectionService`: validate, convert, delegate to the {@link Database}.
 * Errors (as VectorDbError): INVALID_ARGUMENT for a bad name, dimension, distance or HNSW parameter;
 * ALREADY_EXISTS; NOT_FOUND; RESOURCE_EXHAUSTED past `collections_max`; UNAVAILABLE on an I/O
 * error; DATA_LOSS for a collection that failed recovery (DeleteCollection still drops it).
 */
export function collectionServiceHandlers(db: Database, config: ServerConfig): ServiceHandlers<typeof CollectionService> {
  const { limits } = config;
  return {
    async createCollection(request) {
      if (request.dimension < 1 || request.dimension > limits.dimensionMax) {
        throw invalidArgument(`dimension: ${request.dimension} is outside 1..${limits.dimensionMax} (dimension_max)`);
      }
      const distance = distanceFromProto(request.distance, "distance");
      const collection = await db.create({
        name: request.name,
        dimension: request.dimension,
        distance,
        hnsw: hnswFromProto(request.hnsw, config.hnswDefaults, limits),
        quantization: quantizationFromProto(request.quantization, distance),
      });
      return { collection: collectionInfo(collection) };
    },
    async getCollection(request) {
      return { collection: collectionInfo(db.get(request.name, "name")) };
    },
    async listCollections() {
      return { collections: db.list().map(collectionInfo) };
    },
    async deleteCollection(request) {
      return { deletedPoints: BigInt(await db.drop(request.name)) };
    },
  };
}
