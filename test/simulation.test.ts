import { describe, expect, it } from "vitest";
import { addResult, emptyTotals, runSeed, type SeedResult } from "../src/testing/sim/index.js";

/**
 * The power-loss simulation of issue 9 in the suite: a few hundred seeds (each a database on a
 * simulated disk under a seeded workload of upserts, deletes and payload changes, 1–3 power cuts at
 * random disk operations, process crashes, faults on some seeds, every recovery checked against the
 * model of what was acknowledged). The full run is `npm run simulate -- --seeds 10000`. VECTORDB_SIM_SEEDS changes the number here.
 */

const seeds = Number(process.env.VECTORDB_SIM_SEEDS ?? 300);
const chunks = 6;

function describeFailure(result: SeedResult): string {
  return `seed ${result.seed} (${JSON.stringify(result.parameters)}): ${result.violations.join(" | ")} — replay: npm run simulate -- --seed ${result.seed}`;
}

describe("power-loss simulation", () => {
  const totals = emptyTotals();
  const policies = new Set<string>();

  for (let chunk = 0; chunk < chunks; chunk++) {
    const first = 1 + Math.floor((chunk * seeds) / chunks);
    const last = Math.floor(((chunk + 1) * seeds) / chunks);
    it(`seeds ${first}–${last}: nothing acknowledged is lost beyond the policy's window, no recovery is corrupt or reports DATA_LOSS`, async () => {
      const failures: string[] = [];
      for (let seed = first; seed <= last; seed++) {
        const result = await runSeed({ seed });
        addResult(totals, result);
        policies.add(result.parameters.policy);
        if (result.violations.length > 0 || result.dataLoss.length > 0) failures.push(describeFailure(result));
      }
      expect(failures).toEqual([]);
      // About 20 s on a quiet machine; segment bounds of 4 and 12 points make seeds do seals and merges.
    }, 180_000);
  }

  it("covered every policy, power cuts and faults", () => {
    console.log(`power-loss simulation: ${JSON.stringify(totals)}`);
    expect([...policies].sort()).toEqual(["fsync", "interval", "os"]);
    expect(totals.powerCuts).toBeGreaterThan(totals.seeds);
    expect(totals.faults).toBeGreaterThan(0);
    expect(totals.acknowledged).toBeGreaterThan(10 * totals.seeds);
  });

  it("replays a seed exactly: the same seed makes the same history", async () => {
    const once = await runSeed({ seed: 7, recordHistory: true });
    const again = await runSeed({ seed: 7, recordHistory: true });
    expect(once.history.length).toBeGreaterThan(100);
    expect(again.history).toEqual(once.history);
  });

  it("catches a disk whose fsync lies: acknowledged writes or files are found lost or damaged under the fsync policy", async () => {
    const caught: number[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const result = await runSeed({ seed, policy: "fsync", lyingDisk: true });
      // Nothing is durable on such a disk: a power cut loses acknowledged writes, the collection, or
      // leaves a file that recovery must report as DATA_LOSS (e.g. collection.json empty).
      if (result.violations.some((line) => line.startsWith("lost acknowledged writes") || line.includes("is gone") || line.startsWith("DATA_LOSS although"))) caught.push(seed);
    }
    expect(caught.length).toBeGreaterThanOrEqual(8);
  });
});
