export {
  Database,
  checkCollectionName,
  collectionNamePattern,
  type DatabaseOpenReport,
  type DatabaseCloseOptions,
  type FailedCollection,
} from "./database.js";
export {
  collectionsDir,
  collectionsDirName,
  specFileName,
  lockFileName,
  storageFormatVersion,
  encodeSpec,
  decodeSpec,
} from "./layout.js";
