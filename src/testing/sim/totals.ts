import type { SeedResult } from "./run-seed.js";

/** What a seed counts (summed over seeds in {@link SimulationTotals}). */
export interface SeedCounters {
  /** Power cuts simulated. */
  powerCuts: number;
  /** Process crashes simulated (kill -9: the page cache stays). */
  processCrashes: number;
  /** Recoveries checked against the model (after power cuts and restarts). */
  recoveries: number;
  /** Writes issued / acknowledged. */
  writes: number;
  acknowledged: number;
  /** Of the writes issued, the payload changes (set, overwrite, delete keys, clear). */
  payloadChanges: number;
  /** UpdateAliases calls issued / acknowledged. */
  aliasUpdates: number;
  aliasUpdatesAcknowledged: number;
  /** Faults injected. */
  faults: number;
  /** Disk operations completed. */
  diskOperations: number;
}

const counterNames: readonly (keyof SeedCounters)[] = [
  "powerCuts",
  "processCrashes",
  "recoveries",
  "writes",
  "acknowledged",
  "payloadChanges",
  "aliasUpdates",
  "aliasUpdatesAcknowledged",
  "faults",
  "diskOperations",
];

/** Counters of nothing yet. */
export function emptyCounters(): SeedCounters {
  return Object.fromEntries(counterNames.map((name) => [name, 0])) as unknown as SeedCounters;
}

/** What a set of seeds did, summed. */
export interface SimulationTotals extends SeedCounters {
  seeds: number;
  /** Reopenings that reported DATA_LOSS (each is also a violation). */
  dataLoss: number;
  /** Seeds with a violation. */
  failed: number;
}

/** Totals of no seed. */
export function emptyTotals(): SimulationTotals {
  return { seeds: 0, ...emptyCounters(), dataLoss: 0, failed: 0 };
}

/** Adds one seed's result to `totals` (in place). */
export function addResult(totals: SimulationTotals, result: SeedResult): void {
  totals.seeds++;
  for (const name of counterNames) totals[name] += result[name];
  totals.dataLoss += result.dataLoss.length;
  if (result.violations.length > 0) totals.failed++;
}
