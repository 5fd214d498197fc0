import type { SeedResult } from "./run-seed.js";

/** What a set of seeds did, summed. */
export interface SimulationTotals {
  seeds: number;
  powerCuts: number;
  processCrashes: number;
  /** Recoveries checked against the model (after power cuts and restarts). */
  recoveries: number;
  writes: number;
  acknowledged: number;
  /** Of the writes, payload changes. */
  payloadChanges: number;
  /** UpdateAliases calls issued / acknowledged. */
  aliasUpdates: number;
  aliasUpdatesAcknowledged: number;
  faults: number;
  diskOperations: number;
  /** Reopenings that reported DATA_LOSS (each is also a violation). */
  dataLoss: number;
  /** Seeds with a violation. */
  failed: number;
}

/** Totals of no seed. */
export function emptyTotals(): SimulationTotals {
  return { seeds: 0, powerCuts: 0, processCrashes: 0, recoveries: 0, writes: 0, acknowledged: 0, payloadChanges: 0, aliasUpdates: 0, aliasUpdatesAcknowledged: 0, faults: 0, diskOperations: 0, dataLoss: 0, failed: 0 };
}

/** Adds one seed's result to `totals` (in place). */
export function addResult(totals: SimulationTotals, result: SeedResult): void {
  totals.seeds++;
  totals.powerCuts += result.powerCuts;
  totals.processCrashes += result.processCrashes;
  totals.recoveries += result.recoveries;
  totals.writes += result.writes;
  totals.acknowledged += result.acknowledged;
  totals.payloadChanges += result.payloadChanges;
  totals.aliasUpdates += result.aliasUpdates;
  totals.aliasUpdatesAcknowledged += result.aliasUpdatesAcknowledged;
  totals.faults += result.faults;
  totals.diskOperations += result.diskOperations;
  totals.dataLoss += result.dataLoss.length;
  if (result.violations.length > 0) totals.failed++;
}
