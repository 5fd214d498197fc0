export { grpcServiceDefinition, methodPath, type WireOptions } from "./wire.js";
export { MalformedMessage, tolerantDeserializer } from "./decode.js";
export { RpcError, rpcErrorOf } from "./rpc-error.js";
export { distanceNames, distanceToProto, distanceFromProto } from "./distance.js";
export type { DistanceKind } from "../index/distance.js";
