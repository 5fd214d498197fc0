export { ServerMetrics, rpcSecondsBuckets, fsyncSecondsBuckets, type CollectionMetricsSource, type ReplicationMetricsSource } from "./server-metrics.js";
export { startMetricsListener, type MetricsListener } from "./metrics-server.js";
