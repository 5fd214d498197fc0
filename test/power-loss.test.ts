import { describe, expect, it } from "vitest";
import { SimDatabase } from "./helpers/sim-db.js";
import { rejectsWith } from "./storage/helpers.js";

/**
 * Power-loss scenarios on the simulated disk, one per defect the simulation (`npm run simulate`)
 * found, and the fsync-failure rule of issue 9. Every power cut here is the worst case: nothing that
 * was only in the page cache survives.
 */

const spec = { name: "c", dimension: 2, distance: "euclidean" as const, hnsw: { m: 4, efConstruction: 16, ef: 16 } };

/** A database with collection `c` holding `a`, whose next WAL fsync fails (EIO) under the write of `b`. */
async function afterFailedWalFsync(): Promise<SimDatabase> {
  const sim = new SimDatabase({ fsync: "fsync" });
  await sim.open();
  await sim.run(sim.db!.create(spec));
  await sim.upsert(["a"]);
  sim.disk.injectFault({ operation: "sync", kind: "EIO", pathIncludes: "/wal.log" });
  const failed = await rejectsWith(sim.upsert(["b"]), "unavailable");
  expect(failed.message).toContain("fsync failed: EIO");
  return sim;
}

describe("power loss", () => {
  it("keeps writes a killed process acknowledged under interval once the next process has run longer than the interval (seed 112)", async () => {
    // Before the fix, recovery replayed records found only in the page cache and never fsynced
    // them: its WAL was not dirty, so the interval timer had nothing to do.
    const sim = new SimDatabase({ fsync: "interval", flushIntervalMs: 50 });
    await sim.open();
    await sim.run(sim.db!.create(spec));
    await sim.upsert(["a", "b"]);
    await sim.kill();
    expect(sim.present(["a", "b"])).toEqual(["a", "b"]);
    await sim.clock.advance(500);
    await sim.powerCut();
    expect(sim.present(["a", "b"])).toEqual(["a", "b"]);
  });

  it("keeps writes acknowledged on top of a WAL that a killed checkpoint renamed into place but did not fsync the directory of", async () => {
    // Before the fix, recovery opened the new wal.log whose name was in the page cache only; writes
    // fsynced into it were lost with the name at the next power cut.
    const sim = new SimDatabase({ fsync: "fsync" });
    await sim.open();
    await sim.run(sim.db!.create(spec));
    await sim.upsert(["a"]);
    await sim.upsert(["b"]);
    void sim.collection().checkpoint();
    await sim.runUntil(/^rename .*\/wal\.log\.tmp-[0-9a-f]+ -> .*\/wal\.log$/);
    await sim.kill();
    await sim.upsert(["c"]);
    await sim.powerCut();
    expect(sim.present(["a", "b", "c"])).toEqual(["a", "b", "c"]);
  });

  it("refuses every write with UNAVAILABLE after a failed WAL fsync, never retrying it as if the data were safe, until reopened", async () => {
    const sim = await afterFailedWalFsync();
    // The disk is healthy again, but the collection does not believe it: the write whose fsync failed
    // may be gone from the page cache's write-back queue, and another fsync would hide that.
    const mutationsBefore = sim.disk.counters.mutations;
    const writes = [() => sim.upsert(["c"]), () => sim.run(sim.collection().deleteIds(["a"])), () => sim.run(sim.collection().deleteByFilter({ must: [], should: [], mustNot: [] }))];
    for (const write of writes) {
      const refused = await rejectsWith(write(), "unavailable");
      expect(refused.message).toContain("refuses appends after a failed fsync");
      expect(refused.message).toContain("reopen it");
    }
    expect(sim.disk.counters.mutations).toBe(mutationsBefore);
    // Reads go on.
    expect(sim.present(["a", "c"])).toEqual(["a"]);
    // Reopened, it writes again; closing reported the failure.
    await rejectsWith(sim.run(sim.db!.close()), "unavailable");
    await sim.open();
    await sim.upsert(["d"]);
    expect(sim.present(["a", "d"])).toEqual(["a", "d"]);
  });

  it("recovers after a failed WAL fsync, a reopen and a power cut, without DATA_LOSS and with every acknowledged write (seeds 126, 622)", async () => {
    // Before the fix, the reopened collection replayed the record whose fsync had failed (still
    // readable in the page cache, never to be written back) and appended after it; the power cut
    // left a hole of zeros before fsynced records: DATA_LOSS under the fsync policy.
    const sim = await afterFailedWalFsync();
    await sim.run(sim.db!.close()).catch(() => undefined);
    await sim.open();
    await sim.upsert(["d"]);
    await sim.powerCut();
    expect(sim.db!.failures()).toEqual([]);
    expect(sim.present(["a", "d"])).toEqual(["a", "d"]);
  });

  it("recovers after a failed WAL fsync, a process crash and a power cut, without DATA_LOSS", async () => {
    const sim = await afterFailedWalFsync();
    await sim.kill();
    await sim.upsert(["d"]);
    await sim.powerCut();
    expect(sim.db!.failures()).toEqual([]);
    expect(sim.present(["a", "d"])).toEqual(["a", "d"]);
  });

  it("keeps a collection whose creation a killed process renamed into place, once the next process served it", async () => {
    const sim = new SimDatabase({ fsync: "fsync" });
    await sim.open();
    void sim.db!.create(spec);
    await sim.runUntil(/^rename \/data\/collections\/c\.tmp-[0-9a-f]+ -> \/data\/collections\/c$/);
    await sim.kill();
    expect(sim.db!.list().map((c) => c.name)).toEqual(["c"]);
    await sim.upsert(["a"]);
    await sim.powerCut();
    expect(sim.present(["a"])).toEqual(["a"]);
  });
});
