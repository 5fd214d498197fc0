export {
  fileBytes,
  inspectFvecsFile,
  readFvecsFile,
  readFvecsRow,
  streamFvecsRecords,
  streamJsonlRecords,
  vectorFileFormat,
  type FvecsData,
  type FvecsLayout,
  type FvecsRecord,
  type FvecsStreamOptions,
  type JsonlRecord,
  type VectorFileFormat,
} from "./vector-files.js";
export { readIvecsFile } from "./ground-truth.js";
