export { startServer, type RunningServer } from "./server.js";
export { grpcServiceImplementation, type CallHooks } from "./service-adapter.js";
export { addReflection } from "./reflection.js";
