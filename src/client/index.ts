export { VectorDbClient, createTypedClient, type TypedClient, type CallOptions, type StreamCallOptions, type VectorDbClientOptions, type BidiStream } from "./client.js";
export { RpcError, distanceNames, distanceToProto, distanceFromProto, type DistanceKind } from "../rpc/index.js";
export { VectorDbError, type ErrorCode } from "../errors.js";
export { toPlain, type Plain } from "./plain.js";
// The generated messages, enums and schemas (for toJson/fromJson), so users need no import from gen/.
export * from "../../gen/vectordb/v1/collection_pb.js";
export * from "../../gen/vectordb/v1/collection_service_pb.js";
export * from "../../gen/vectordb/v1/point_pb.js";
export * from "../../gen/vectordb/v1/point_service_pb.js";
export * from "../../gen/vectordb/v1/snapshot_service_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { FilterSchema, PointSchema, SearchQuerySchema } from "../../gen/vectordb/v1/point_pb.js";
import type { IngestRequestSchema } from "../../gen/vectordb/v1/point_service_pb.js";
/** A point as the client accepts it: `{ id, vector: number[], payload?: JsonObject }`. */
export type PointInit = MessageInitShape<typeof PointSchema>;
/** A filter as the client accepts it (see `Filter` in point.proto). */
export type FilterInit = MessageInitShape<typeof FilterSchema>;
/** One query of a BatchSearch as the client accepts it. */
export type SearchQueryInit = MessageInitShape<typeof SearchQuerySchema>;
/** One message of an Ingest stream as the client accepts it. */
export type IngestRequestInit = MessageInitShape<typeof IngestRequestSchema>;
