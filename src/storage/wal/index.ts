export { Wal, type WalOpened, type WalStats } from "./wal.js";
export type { WalOptions } from "./wal-options.js";
export {
  type WalRecord,
  type WalScan,
  scanWal,
  walMagic,
  walFormatVersion,
  walMarkType,
  walHeaderBytes,
  recordHeaderBytes,
  recordTrailerBytes,
  recordOverheadBytes,
} from "./format.js";
