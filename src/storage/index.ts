export {
  ioError,
  fsyncFile,
  fsyncDirectory,
  writeFileAtomic,
  writeChunksAt,
  readWholeFile,
  readFileBytes,
  readFileChunks,
  writeNewFile,
  makeDirectoryDurably,
  removeTree,
  removeStaleTemporaries,
  temporaryPathFor,
  isTemporaryName,
  temporaryInfix,
  type RemoveTemporariesOptions,
} from "./files.js";
export { type FileSystem, type StorageFile, type OpenFlags, type FileStat, type DirectoryEntry, fileSystemError, errorCode } from "./file-system.js";
export { type Clock, type RepeatingTimer, type StorageIo, systemClock } from "./clock.js";
export { nodeFileSystem, realStorageIo } from "./node-file-system.js";
export * from "./wal/index.js";
export * from "./segment/index.js";
