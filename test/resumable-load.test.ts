import { randomInt } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { formatRun, runResumableLoadTest } from "../src/testing/index.js";
import { cliPath, ensureServerBuilt } from "./helpers/build.js";

describe("resumable bulk load (issue 16)", () => {
  beforeAll(ensureServerBuilt, 120_000);

  it("ends with exactly the file's points, none missing, none applied twice, over 10 SIGKILLs of the server or the client", async () => {
    // A new seed each run finds more; RESUMABLE_LOAD_SEED replays one (printed on failure).
    const seed = process.env.RESUMABLE_LOAD_SEED === undefined ? randomInt(2 ** 32 - 1) : Number(process.env.RESUMABLE_LOAD_SEED);
    const lines: string[] = [];
    const summary = await runResumableLoadTest({ seed, kills: 10, cliPath, onRun: (report) => lines.push(formatRun(report)) });
    const text = [...lines, `kills: ${JSON.stringify(summary.kills)}, loads checked: ${summary.loadsChecked}`, ...summary.violations, `(RESUMABLE_LOAD_SEED=${seed} replays these random choices)`].join("\n");
    if (process.env.VECTORDB_TEST_VERBOSE) console.log(text);
    expect(summary.violations, text).toEqual([]);
    expect(summary.kills.server + summary.kills.client, text).toBeGreaterThanOrEqual(10);
    expect(summary.kills.server, text).toBeGreaterThan(0);
    expect(summary.kills.client, text).toBeGreaterThan(0);
    expect(summary.loadsChecked, text).toBeGreaterThanOrEqual(1);
    // The kills landed during loads, not only before them: some runs resumed after durable batches.
    expect(summary.runs.filter((run) => run.resumed && run.pointsAfter > 0).length, text).toBeGreaterThan(0);
  }, 300_000);
});
