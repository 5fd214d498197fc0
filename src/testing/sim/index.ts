export { SimulatedDisk, sectorBytes, type FaultRule, type FaultKind, type FaultOperation, type DiskCounters } from "./simulated-disk.js";
export { SimulatedFileSystem } from "./simulated-file-system.js";
export { SimClock } from "./sim-clock.js";
export { runSeed, type SeedOptions, type SeedResult } from "./run-seed.js";
export type { SeedParameters } from "./workload.js";
export { addResult, emptyTotals, type SeedCounters, type SimulationTotals } from "./totals.js";
