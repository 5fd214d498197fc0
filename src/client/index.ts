export { VectorDbClient, RpcError, createTypedClient, type TypedClient, type CallOptions, type StreamCallOptions, type VectorDbClientOptions } from "./client.js";
export { Distance } from "../../gen/vectordb/v1/collection_pb.js";
export type * from "../../gen/vectordb/v1/collection_pb.js";
export type * from "../../gen/vectordb/v1/collection_service_pb.js";
export type * from "../../gen/vectordb/v1/point_pb.js";
export type * from "../../gen/vectordb/v1/point_service_pb.js";
