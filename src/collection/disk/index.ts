export { specFileName, walFileName, segmentFileName, collectionFormatVersion, segmentSectionsFormatVersion } from "./layout.js";
export { encodeSpec, decodeSpec, readSpec } from "./spec-file.js";
export {
  walRecordType,
  encodeUpsertRecord,
  decodeUpsertRecord,
  encodeDeleteIdsRecord,
  decodeDeleteIdsRecord,
  encodeDeleteFilterRecord,
  decodeDeleteFilterRecord,
  filterToJson,
  filterFromJson,
  type DecodedUpsert,
} from "./wal-records.js";
export { sectionKind, encodeStateSections, decodeStateSections } from "./segment-sections.js";
