import { defaultLimits, defaultStorage, fsyncPolicies, type FsyncPolicy, walQueueBytesMax, walRecordBytesMax } from "../../config.js";
import { VectorDbError } from "../../errors.js";
import type { StorageIo } from "../clock.js";
import { realStorageIo } from "../node-file-system.js";
import { recordBodyBytesFormatMax } from "./format.js";

/**
 * Options of {@link Wal.open}. An option left out takes its default from `src/config.ts`, the one
 * source of every default.
 */
export interface WalOptions {
  /** When `append` resolves (see the module documentation). Default `defaultStorage.fsync`. */
  durability?: FsyncPolicy;
  /** Period of the background fsync under `"interval"`, in ms, at least 1. Default `defaultStorage.flushIntervalMs`. Ignored otherwise. */
  flushIntervalMs?: number;
  /**
   * Largest record body `append` accepts, in bytes, at most 2^32 − 1. Default `walRecordBytesMax` of
   * the default limits. Applies to appends only: on open a length is bad when it runs past the end of
   * the file (which also bounds it), so lowering this limit never turns records written under a
   * higher one into a "torn tail".
   */
  recordBytesMax?: number;
  /**
   * Most body bytes waiting to be written (appended but not yet written); an append beyond it is
   * rejected with `resource_exhausted`. Bounds memory when the disk falls behind. Default
   * `walQueueBytesMax`.
   */
  queueBytesMax?: number;
  /**
   * The lowest sequence the next append may take, e.g. the loaded segment's sequence + 1, so that a
   * WAL recreated after being lost never reuses sequences a segment already holds. Default 1.
   */
  minNextSequence?: number;
  /** The disk and the clock (the interval policy's timer). Default the real ones (`realStorageIo`). */
  io?: StorageIo;
  /** Called after each successful fdatasync of the log with how long it took, in seconds (metrics). */
  onSync?: (seconds: number) => void;
}

/** {@link WalOptions} with every default filled in, checked. */
export type ResolvedWalOptions = Required<WalOptions>;

function positiveInteger(name: string, value: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new VectorDbError("invalid_argument", `WAL option ${name} must be an integer from 1 to ${max}, got ${value}`);
  }
  return value;
}

/**
 * The options with their defaults (from `src/config.ts`), checked.
 * @throws VectorDbError invalid_argument (INVALID_ARGUMENT) naming a bad option.
 */
export function resolveWalOptions(options: WalOptions): ResolvedWalOptions {
  const durability = options.durability ?? defaultStorage.fsync;
  if (!fsyncPolicies.includes(durability)) {
    throw new VectorDbError("invalid_argument", `WAL option durability must be "fsync", "interval" or "os", got ${JSON.stringify(durability)}`);
  }
  return {
    durability,
    flushIntervalMs: positiveInteger("flushIntervalMs", options.flushIntervalMs ?? defaultStorage.flushIntervalMs, 2_147_483_647),
    recordBytesMax: positiveInteger("recordBytesMax", options.recordBytesMax ?? walRecordBytesMax(defaultLimits), recordBodyBytesFormatMax),
    queueBytesMax: positiveInteger("queueBytesMax", options.queueBytesMax ?? walQueueBytesMax, Number.MAX_SAFE_INTEGER),
    minNextSequence: positiveInteger("minNextSequence", options.minNextSequence ?? 1, Number.MAX_SAFE_INTEGER),
    io: options.io ?? realStorageIo,
    onSync: options.onSync ?? (() => undefined),
  };
}
