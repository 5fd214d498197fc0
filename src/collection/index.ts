export { MemoryCollection, type PreparedUpsert } from "./memory-collection.js";
export { DurableCollection, type DurabilityOptions, type WriteOp, type WriteOutcome, type EncodedWrite } from "./durable-collection.js";
export type { CollectionLimits } from "./validate-points.js";
export type { CollectionState } from "./snapshot.js";
export type { IndexingOptions } from "./indexer.js";
export { GraphBuilderPool } from "../index/index.js";
export type { SearchPlan } from "./search-planner.js";
export type { RecoveryReport, WalSettings, LoadedSegment } from "./recovery.js";
export type { CheckpointReport } from "./checkpointer.js";
export { checkCollectionName, collectionNamePattern, collectionNameSource } from "./collection-name.js";
export { matchesFilter, matchesCondition } from "./filter.js";
export {
  specFileName,
  walFileName,
  segmentFileName,
  collectionFormatVersion,
  segmentSectionsFormatVersion,
  encodeSpec,
  decodeSpec,
  readSpec,
  readSpecFile,
  writeSpec,
  collectionFormatVersionsRead,
  walRecordType,
  filterToJson,
  filterFromJson,
  sectionKind,
  sectionKindName,
  decodeStateSections,
  decodeSnapshotSpec,
  parseVersionedJson,
} from "./disk/index.js";
export type * from "./types.js";
