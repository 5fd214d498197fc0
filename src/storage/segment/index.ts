export {
  type Segment,
  type SegmentContents,
  type SegmentSectionInput,
  writeSegment,
  readSegment,
  encodeSegment,
  decodeSegment,
  segmentMagic,
  segmentFormatVersion,
  segmentHeaderBytes,
  segmentSectionEntryBytes,
  segmentSectionAlignmentBytes,
} from "./segment.js";
