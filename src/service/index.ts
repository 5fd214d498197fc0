export { collectionServiceHandlers, collectionInfo } from "./collection-service.js";
export { pointServiceHandlers } from "./point-service.js";
export type { ServiceHandlers, CallContext } from "./handler-types.js";
