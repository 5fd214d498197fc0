import type { ServerConfig } from "../config.js";
import { embeddedWritePath, type Database, type WritePath } from "../db/index.js";
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

/**
 * The data services of the server: CollectionService, PointService and SnapshotService over `db`, whose
 * changes go through `writes` (the embedded write path unless replication gives its own).
 */
export function dataServices(db: Database, config: ServerConfig, writes: WritePath = embeddedWritePath(db)): ServiceBinding[] {
  return [
    bindService(CollectionService, collectionServiceHandlers(db, config, writes)),
    bindService(PointService, pointServiceHandlers(db, config, writes)),
    bindService(SnapshotService, snapshotServiceHandlers(db)),
  ];
}
