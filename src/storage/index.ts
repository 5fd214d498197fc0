export {
  ioError,
  fsyncFile,
  fsyncDirectory,
  writeFileAtomic,
  readFileChunks,
  writeNewFile,
  readWholeFile,
  temporaryPathFor,
  removeStaleTemporaries,
  isTemporaryName,
  temporaryInfix,
  type RemoveTemporariesOptions,
} from "./files.js";
export * from "./wal/index.js";
export * from "./segment/index.js";
