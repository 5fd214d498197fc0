export { startServer, serviceNames, type RunningServer } from "./server.js";
export { grpcServiceDefinition, grpcServiceImplementation, methodPath } from "./adapter.js";
export { addReflection } from "./reflection.js";
