import type { ServerConfig } from "../config.js";
import type { Database } from "../db/index.js";
import { CollectionService } from "../../gen/vectordb/v1/collection_service_pb.js";
import { PointService } from "../../gen/vectordb/v1/point_service_pb.js";
import { SnapshotService } from "../../gen/vectordb/v1/snapshot_service_pb.js";
import { collectionServiceHandlers } from "./collection-service.js";
import { bindService, type ServiceBinding } from "./handler-types.js";
import { pointServiceHandlers } from "./point-service.js";
import { snapshotServiceHandlers } from "./snapshot-service.js";

export { collectionServiceHandlers, collectionInfo } from "./collection-service.js";
export { pointServiceHandlers } from "./point-service.js";
export { snapshotServiceHandlers } from "./snapshot-service.js";
export { bindService, type ServiceHandlers, type ServiceBinding, type CallContext, type ResponseSink } from "./handler-types.js";

/** The data services of the server: CollectionService, PointService and SnapshotService over `db`. */
export function dataServices(db: Database, config: ServerConfig): ServiceBinding[] {
  return [
    bindService(CollectionService, collectionServiceHandlers(db, config)),
    bindService(PointService, pointServiceHandlers(db, config)),
    bindService(SnapshotService, snapshotServiceHandlers(db)),
  ];
}
