export { Database, type DatabaseOpenReport, type DatabaseCloseOptions, type DatabaseHooks, type DatabaseOptions, type FailedCollection } from "./database.js";
export { collectionsDir, collectionsDirName } from "./data-dir.js";
export { lockFileName } from "./lock.js";
export { aliasesFileName, type AliasAction } from "./aliases.js";
export { snapshotsDirName, checkSnapshotName, type SnapshotRecord } from "./snapshots.js";
export { embeddedWritePath, waitForSequence, minSequenceWaitMaxMs, type WritePath, type ReplicationStatus } from "./write-path.js";
