export { Wal, type WalDurability, type WalOptions, type WalOpened, type WalStats, defaultWalRecordBytesMax, defaultWalQueueBytesMax, defaultWalFlushIntervalMs } from "./wal.js";
export {
  type WalRecord,
  type WalScan,
  scanWal,
  walMagic,
  walFormatVersion,
  walHeaderBytes,
  recordHeaderBytes,
  recordTrailerBytes,
  recordOverheadBytes,
} from "./format.js";
