export { buildProgram, exitCodeOf, addressDefault } from "./program.js";
export { exitCodes, reportError, UsageError } from "./cli-errors.js";
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
