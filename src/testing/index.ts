/**
 * Test support shared by test/ and bench/: the crash harness, where the project and its datasets are,
 * free ports; the power-loss simulation is `./sim/index.js` (it runs the database in process, so it
 * imports db/, collection/ and storage/). Nothing in src/ imports it; the rest imports only the
 * client, the datasets and src/random.ts.
 */
export { projectRoot, defaultCliPath, datasetsDir, datasetFile } from "./project.js";
export { freePort, waitForPort, sleep } from "./net.js";
export { loadHnswlib, type HnswlibConstructor, type HnswlibIndex } from "./hnswlib.js";
export { runResumableLoadTest, formatRun, ingestRecordsOf, type ResumableLoadOptions, type ResumableLoadSummary, type RunReport } from "./resumable-load.js";
export { NatsCluster, natsServerAvailable, natsServerPath, type NatsNode } from "./nats-cluster.js";
export { ReplicaSet, type Replica, type ReplicaSetOptions } from "./replica-set.js";
export { killLeaderRound, killNatsNodeRound, pauseLeaderRound, roundDimension, type FailoverRound } from "./replication-rounds.js";
