/**
 * The crash script of issue 4: starts `vectordb serve --data-dir DIR` as a child process, runs a mixed
 * Ingest / Upsert / Delete workload against it, kills it with SIGKILL at a random moment, restarts it on
 * the same directory and checks that every acknowledged write survived, for any number of rounds (see
 * src/testing/crash/run.ts for what is checked).
 *
 * Usage: npm run crash-test -- [--rounds 1000] [--seed N] [--kill-min-ms 50] [--kill-max-ms 800]
 *          [--ids 3000] [--dimension 16] [--recovery-kill-rate 0.15] [--data-dir DIR] [--keep]
 *          [--server-arg=--some-flag --server-arg=value ...] [--quiet] [--control]
 *
 * `--control` runs the same workload but, instead of killing the server, stops the workload and checks
 * the live server (no restart): a violation there is the harness's error or a live bug, not a lost write.
 *
 * Prints one line per round (the sample violations under a failing one) and a summary; exits 1 when
 * any acknowledged write was lost or changed (or a call failed before the kill), 2 on a usage error.
 */
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { formatDetails, formatRound, formatSummary, runCrashTest } from "../src/testing/crash/index.js";
import { type CommandLine, commandLine } from "./cli-options.js";

const cli: CommandLine = commandLine(
  "npm run crash-test -- [--rounds N] [--seed N] [--kill-min-ms MS] [--kill-max-ms MS] [--ids N] [--dimension N] [--recovery-kill-rate P] [--data-dir DIR] [--keep] [--server-arg=ARG ...] [--quiet] [--control]",
);

let parsed;
try {
  parsed = parseArgs({
    options: {
      rounds: { type: "string" },
      seed: { type: "string" },
      "kill-min-ms": { type: "string" },
      "kill-max-ms": { type: "string" },
      ids: { type: "string" },
      dimension: { type: "string" },
      "recovery-kill-rate": { type: "string" },
      "data-dir": { type: "string" },
      keep: { type: "boolean", default: false },
      "server-arg": { type: "string", multiple: true },
      quiet: { type: "boolean", default: false },
      control: { type: "boolean", default: false },
    },
  });
} catch (error) {
  cli.usage(error instanceof Error ? error.message : String(error));
}
const options = parsed.values;
const rounds = cli.integer("rounds", options.rounds, 20, 1);
// Seeds are 32-bit; accept decimal or 0x-prefixed hex, as printed.
const seed = options.seed === undefined ? randomInt(2 ** 32 - 1) : Number(options.seed);
if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) cli.usage(`--seed must be an integer in 0..4294967295 (or 0x hex), not ${JSON.stringify(options.seed)}`);
const killMinMs = cli.integer("kill-min-ms", options["kill-min-ms"], 50, 0);
const killMaxMs = cli.integer("kill-max-ms", options["kill-max-ms"], 800, killMinMs);
const recoveryKillRate = options["recovery-kill-rate"] === undefined ? 0.15 : Number(options["recovery-kill-rate"]);
if (!(recoveryKillRate >= 0 && recoveryKillRate <= 1)) cli.usage(`--recovery-kill-rate must be in [0, 1], not ${JSON.stringify(options["recovery-kill-rate"])}`);

const abort = new AbortController();
process.once("SIGINT", () => {
  console.error("SIGINT: stopping after this round (again to quit at once)");
  abort.abort();
  process.once("SIGINT", () => process.exit(130));
});

console.log(`crash test: seed ${seed} (0x${seed.toString(16)}), ${rounds} rounds, ${options.control ? "stop (control run, no kill)" : "kill"} after ${killMinMs}-${killMaxMs} ms`);
try {
  const summary = await runCrashTest({
    seed,
    rounds,
    killDelayMs: [killMinMs, killMaxMs],
    ids: cli.integer("ids", options.ids, 3_000, 1),
    dimension: cli.integer("dimension", options.dimension, 16, 1),
    recoveryKillRate,
    dataDir: options["data-dir"],
    keepDataDir: options.keep,
    serverArgs: options["server-arg"] ?? [],
    signal: abort.signal,
    kill: !options.control,
    finalCleanRestart: !options.control,
    onRound(report) {
      const failed = report.violationCount > 0 || report.unexpectedErrors.length > 0;
      if (!options.quiet || failed) console.log(formatRound(report, rounds));
      if (failed) for (const line of formatDetails(report)) console.log(line);
    },
  });
  console.log(formatSummary(summary));
  if (options.keep || options["data-dir"] !== undefined) console.log(`data directory: ${summary.dataDir}`);
  process.exitCode = summary.violationCount > 0 || summary.unexpectedErrorCount > 0 || (summary.incomplete && summary.error !== "aborted") ? 1 : 0;
} catch (error) {
  console.error(`crash test failed to run: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
