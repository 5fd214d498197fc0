export { grpcServiceDefinition, methodPath } from "./wire.js";
export { RpcError, rpcErrorOf } from "./rpc-error.js";
export { distanceNames, distanceToProto, distanceFromProto } from "./distance.js";
export type { DistanceKind } from "../index/distance.js";
