export { ServerMetrics, rpcSecondsBuckets, fsyncSecondsBuckets, type CollectionMetricsSource } from "./server-metrics.js";
export { startMetricsListener, type MetricsListener } from "./metrics-server.js";
