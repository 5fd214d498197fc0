import type { ServerConfig } from "../config.js";
import type { Database } from "../db/index.js";
import { CollectionService } from "../../gen/vectordb/v1/collection_service_pb.js";
import { PointService } from "../../gen/vectordb/v1/point_service_pb.js";
import { collectionServiceHandlers } from "./collection-service.js";
import { bindService, type ServiceBinding } from "./handler-types.js";
import { pointServiceHandlers } from "./point-service.js";

export { collectionServiceHandlers, collectionInfo } from "./collection-service.js";
export { pointServiceHandlers } from "./point-service.js";
export { bindService, type ServiceHandlers, type ServiceBinding, type CallContext } from "./handler-types.js";

/** The data services of the server: CollectionService and PointService over `db`. */
export function dataServices(db: Database, config: ServerConfig): ServiceBinding[] {
  return [bindService(CollectionService, collectionServiceHandlers(db, config)), bindService(PointService, pointServiceHandlers(db, config))];
}
