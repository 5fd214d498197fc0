export { Collection, type CollectionLimits, type CollectionState, type PreparedUpsert, type SearchPlan } from "./collection.js";
export {
  DurableCollection,
  type DurabilityOptions,
  type RecoveryReport,
  type CheckpointReport,
  walFileName,
  segmentFileName,
} from "./durable-collection.js";
export { matchesFilter, matchesCondition } from "./filter.js";
export { walRecordType, filterToJson, filterFromJson } from "./wal-records.js";
export { sectionKind } from "./segment-sections.js";
export type * from "./types.js";
