/**
 * The power-loss simulation of issue 9: runs seeds of `src/testing/sim/` (a database on a simulated
 * disk, a seeded workload, power cuts at random disk operations, process crashes, faults, every
 * recovery checked against a model of what was acknowledged) and prints what they proved, per policy.
 *
 * Usage: npm run simulate -- [--seeds 1000] [--first 1] [--seed N] [--policy fsync|interval|os]
 *          [--history] [--quiet]
 *
 * `--seeds N` runs seeds first … first + N − 1; `--seed N` runs that one seed and prints its history
 * (every disk operation, write, acknowledgement, fsync, fault and cut). A failing seed prints its
 * violations and the end of its history, replayed exactly (the same seed always does the same
 * thing). Exits 1 when any seed broke a promise, 2 on a usage error.
 */
import { parseArgs } from "node:util";
import type { FsyncPolicy } from "../src/config.js";
import { addResult, emptyTotals, runSeed, type SeedResult, type SimulationTotals } from "../src/testing/sim/index.js";
import { type CommandLine, commandLine } from "./cli-options.js";

const cli: CommandLine = commandLine("npm run simulate -- [--seeds N] [--first N] [--seed N] [--policy fsync|interval|os] [--history] [--quiet]");
const policies: readonly FsyncPolicy[] = ["fsync", "interval", "os"];

let parsed;
try {
  parsed = parseArgs({
    options: {
      seeds: { type: "string" },
      first: { type: "string" },
      seed: { type: "string" },
      policy: { type: "string" },
      history: { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
    },
  });
} catch (error) {
  cli.usage(error instanceof Error ? error.message : String(error));
}
const options = parsed.values;
if (options.policy !== undefined && !(policies as readonly string[]).includes(options.policy)) cli.usage(`--policy must be one of ${policies.join(", ")}`);
const policy = options.policy as FsyncPolicy | undefined;
const single = options.seed === undefined ? undefined : cli.integer("seed", options.seed, 0, 0);
const first = single ?? cli.integer("first", options.first, 1, 0);
const count = single === undefined ? cli.integer("seeds", options.seeds, 1_000, 1) : 1;
const historyShown = single !== undefined || options.history;
const forced = policy === undefined ? {} : { policy };

function printFailure(result: SeedResult, history: readonly string[]): void {
  console.log(`\nseed ${result.seed} FAILED (${JSON.stringify(result.parameters)}):`);
  for (const line of result.violations) console.log(`  ${line}`);
  const shown = historyShown ? history : history.slice(-80);
  if (shown.length < history.length) console.log(`  … last ${shown.length} of ${history.length} events (all of them: npm run simulate -- --seed ${result.seed}):`);
  for (const line of shown) console.log(`    ${line}`);
  console.log(`  replay: npm run simulate -- --seed ${result.seed}${policy === undefined ? "" : ` --policy ${policy}`}`);
}

function row(name: string, t: SimulationTotals): string {
  return `| ${name} | ${t.seeds} | ${t.powerCuts} | ${t.processCrashes} | ${t.recoveries} | ${t.writes} | ${t.payloadChanges} | ${t.acknowledged} | ${t.aliasUpdates} | ${t.aliasUpdatesAcknowledged} | ${t.faults} | ${t.dataLoss} | ${t.failed} |`;
}

const byPolicy = new Map<FsyncPolicy, SimulationTotals>(policies.map((p) => [p, emptyTotals()]));
const all = emptyTotals();
const failed: number[] = [];
const started = performance.now();
for (let seed = first; seed < first + count; seed++) {
  const result = await runSeed({ seed, recordHistory: historyShown, ...forced });
  addResult(byPolicy.get(result.parameters.policy)!, result);
  addResult(all, result);
  if (single !== undefined && result.violations.length === 0) for (const line of result.history) console.log(`  ${line}`);
  if (result.violations.length > 0) {
    failed.push(seed);
    // Run again with the history recorded: the same seed does exactly the same thing.
    printFailure(result, historyShown ? result.history : (await runSeed({ seed, recordHistory: true, ...forced })).history);
  }
  if (!options.quiet && single === undefined && (seed - first + 1) % 500 === 0) {
    console.log(`… ${seed - first + 1} seeds in ${((performance.now() - started) / 1000).toFixed(1)} s, ${failed.length} failed`);
  }
}

const seconds = (performance.now() - started) / 1000;
console.log(`\npower-loss simulation: seeds ${first}–${first + count - 1}, ${seconds.toFixed(1)} s`);
console.log(
  "| policy | seeds | power cuts | process crashes | recoveries checked | writes | of them payload changes | acknowledged | alias updates | acknowledged | faults injected | DATA_LOSS reopenings | seeds failed |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const [name, totals] of byPolicy) if (totals.seeds > 0) console.log(row(name, totals));
console.log(row("all", all));
console.log(`${all.diskOperations} simulated disk operations, ${Math.round(all.diskOperations / seconds)} per second; ${Math.round(all.writes / seconds)} writes per second`);
if (failed.length > 0) {
  console.log(`FAILED seeds: ${failed.join(", ")}`);
  process.exit(1);
}
