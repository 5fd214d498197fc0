/**
 * The crash script of the resumable bulk load (issue 16): `vectordb ingest` loads a 100,000-point
 * `.fvecs` file into a `vectordb serve` child process; at random moments the server or the client is
 * killed with SIGKILL, and the load continues with `--resume` until it completes, load after load,
 * until `--kills` kills have been made. Every completed load is checked: exactly the file's points,
 * bit for bit, and exactly one WAL record per batch (see src/testing/resumable-load.ts).
 *
 * Usage: npm run crash-test:ingest -- [--kills 200] [--seed N] [--points 100000] [--batch-size 1000]
 *          [--kill-min-ms 300] [--kill-max-ms 2500] [--client-kill-rate 0.4] [--quiet] [--keep]
 *
 * Prints one line per CLI run and a summary; exits 1 when a violation was found, 2 on a usage error.
 */
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { formatRun, runResumableLoadTest } from "../src/testing/index.js";

function usage(message: string): never {
  console.error(`error: ${message}`);
  console.error("usage: npm run crash-test:ingest -- [--kills N] [--seed N] [--points N] [--batch-size N] [--kill-min-ms MS] [--kill-max-ms MS] [--client-kill-rate P] [--quiet] [--keep]");
  process.exit(2);
}

function number(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) usage(`--${name} must be a number >= ${min}, not ${JSON.stringify(text)}`);
  return value;
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      kills: { type: "string" },
      seed: { type: "string" },
      points: { type: "string" },
      "batch-size": { type: "string" },
      "kill-min-ms": { type: "string" },
      "kill-max-ms": { type: "string" },
      "client-kill-rate": { type: "string" },
      quiet: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
    },
  });
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
const { values } = parsed;
const seed = number("seed", values.seed, randomInt(2 ** 32 - 1), 0);
const summary = await runResumableLoadTest({
  seed,
  kills: number("kills", values.kills, 200, 1),
  points: number("points", values.points, 100_000, 1),
  batchSize: number("batch-size", values["batch-size"], 1_000, 1),
  killDelayMs: [number("kill-min-ms", values["kill-min-ms"], 300, 0), number("kill-max-ms", values["kill-max-ms"], 2_500, 1)],
  clientKillRate: number("client-kill-rate", values["client-kill-rate"], 0.4, 0),
  keepDataDir: values.keep,
  onRun: (report) => {
    if (!values.quiet || report.killed === undefined) console.log(formatRun(report));
  },
});
const runs = summary.runs.length;
const resumedWithProgress = summary.runs.filter((run) => run.resumed && run.pointsAfter > 0).length;
console.log(
  `\nseed ${seed}: ${summary.kills.server + summary.kills.client} SIGKILLs (${summary.kills.server} server, ${summary.kills.client} client) over ${runs} CLI runs (${resumedWithProgress} resumed after durable batches); ${summary.loadsChecked} loads of ${values.points ?? 100_000} points completed and checked; ${summary.violations.length} violations; ${(summary.durationMs / 1000).toFixed(0)} s`,
);
for (const violation of summary.violations) console.log(`VIOLATION: ${violation}`);
if (values.keep) console.log(`data kept in ${summary.dataDir}`);
process.exit(summary.violations.length > 0 ? 1 : 0);
