export { Replicator, type ReplicationSnapshot } from "./replicator.js";
export { replicationStateFileName } from "./local-state.js";
