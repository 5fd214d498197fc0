export { specFileName, walFileName, segmentFileName, manifestFileName, collectionFormatVersion, collectionFormatVersionsRead, segmentSectionsFormatVersion } from "./layout.js";
export { encodeSpec, decodeSpec, decodeSpecFile, readSpec, readSpecFile, writeSpec } from "./spec-file.js";
export {
  walRecordType,
  encodeUpsertRecord,
  decodeUpsertRecord,
  encodeDeleteIdsRecord,
  decodeDeleteIdsRecord,
  encodeDeleteFilterRecord,
  decodeDeleteFilterRecord,
  encodePayloadChangeRecord,
  decodePayloadChangeRecord,
  encodeIngestBatchRecord,
  decodeIngestBatchRecord,
  filterToJson,
  filterFromJson,
  type DecodedUpsert,
  type DecodedIngestBatch,
} from "./wal-records.js";
export { sectionKind, sectionKindName, encodeStateSections, decodeStateSections, encodeDeletesSection, decodeDeletesSection } from "./segment-sections.js";
export { encodeSnapshotSections, decodeSnapshotSpec } from "./snapshot-file.js";
export { parseVersionedJson } from "./json-file.js";
export { writeManifest, readManifest, segmentFileNameFor, deletesFileNameFor, isSegmentFileName, manifestFormatVersion, type Manifest, type ManifestSegment } from "./manifest-file.js";
