import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Distance } from "../src/client/index.js";
import { killLeaderRound, killNatsNodeRound, pauseLeaderRound, ReplicaSet, roundDimension } from "../src/testing/index.js";
import { cliPath, ensureServerBuilt } from "./helpers/build.js";

// A 3-node NATS JetStream cluster and 3 vectordb replicas (child processes) on 127.0.0.1, shared by
// the cases below, which run in order: each leaves the set with 3 replicas running.
const leaseTtlMs = 1_500;
/** Failover bound asserted: the lease lapses after leaseTtlMs, then a follower's next tick (ttl/4) takes it. */
const failoverBoundMs = 3 * leaseTtlMs + 2_000;

let root: string;
let set: ReplicaSet;

function vector(seed: number): number[] {
  return Array.from({ length: roundDimension }, (_, i) => Math.cos(seed * 3.1 + i));
}

beforeAll(async () => {
  const binary = execFileSync("bash", ["scripts/ensure-nats-server.sh"], { encoding: "utf8" }).trim().split("\n").pop()!;
  process.env.NATS_SERVER = binary;
  await ensureServerBuilt();
  root = mkdtempSync(join(tmpdir(), "vectordb-replication-"));
  // Checkpoints every 40 records, so that the wiped replica below loads one and the log is trimmed.
  set = await ReplicaSet.start(root, { cliPath, leaseTtlMs, checkpointRecords: 40 });
  const leader = set.client(await set.leader());
  await leader.collections.createCollection({ name: "docs", dimension: roundDimension, distance: Distance.COSINE });
  await leader.collections.updateAliases({ actions: [{ action: { case: "createAlias", value: { alias: "current", collection: "docs" } } }] });
}, 90_000);

afterAll(async () => {
  await set?.stop();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

describe("replication on NATS JetStream", () => {
  it("writes through the leader; followers read the same, refuse writes naming the leader, and report the applied sequence", async () => {
    const leaderIndex = await set.leader();
    const leader = set.client(leaderIndex);
    let sequence = 0n;
    for (let batch = 0; batch < 50; batch++) {
      const points = Array.from({ length: 20 }, (_, j) => ({ id: `p${batch * 20 + j}`, vector: vector(batch * 20 + j), payload: { batch, even: j % 2 === 0 } }));
      const response = await leader.points.upsert({ collection: "current", points });
      expect(response.sequence).toBeGreaterThan(sequence);
      sequence = response.sequence;
    }
    const deleted = await leader.points.delete({ collection: "docs", ids: ["p0", "p1"] });
    const payload = await leader.points.setPayload({ collection: "docs", ids: ["p2"], payload: { tag: "x" } });
    expect(payload.sequence).toBe(deleted.sequence + 1n);
    sequence = payload.sequence;

    const query = { collection: "docs", vector: vector(7), k: 10, exact: true, minSequence: sequence };
    const expected = await leader.points.search(query);
    for (let i = 0; i < 3; i++) {
      const client = set.client(i);
      // Read-your-writes on any replica: min_sequence waits until the replica applied the write.
      expect((await client.points.search(query)).hits.map((hit) => [hit.id, hit.score])).toEqual(expected.hits.map((hit) => [hit.id, hit.score]));
      const got = await client.points.get({ collection: "current", ids: ["p0", "p2", "p999"], minSequence: sequence });
      expect(got.points.map((point) => [point.id, point.payload])).toEqual([
        ["p2", { batch: 0, even: true, tag: "x" }],
        ["p999", { batch: 49, even: false }],
      ]);
      const info = (await client.collections.getCollection({ name: "docs" })).collection!;
      expect(info.pointCount).toBe(998n);
      expect(info.appliedSequence).toBeGreaterThanOrEqual(sequence);
    }
    const follower = (leaderIndex + 1) % 3;
    await expect(set.client(follower).points.upsert({ collection: "docs", points: [{ id: "x", vector: vector(1) }] })).rejects.toMatchObject({
      code: "failed_precondition",
      message: expect.stringContaining(`at ${set.replicas[leaderIndex]!.server!.address}`),
    });
    await expect(set.client(follower).collections.createCollection({ name: "other", dimension: 2, distance: Distance.COSINE })).rejects.toMatchObject({ code: "failed_precondition" });
    // A replica waits for a sequence it has not applied only until the deadline.
    await expect(set.client(follower).points.get({ collection: "docs", ids: ["p2"], minSequence: sequence + 1_000n }, { timeoutMs: 300 })).rejects.toMatchObject({ code: "deadline_exceeded" });
  });

  it("goes on writing while one NATS node is killed (through whichever replica leads), and loses no acknowledged write", async () => {
    const round = await killNatsNodeRound(set, "docs", 0, 0, { batches: 20 });
    expect(round.ackedBatches).toBe(20);
    expect(round.lost).toEqual([]);
    // The longest time without an acknowledged write: a NATS node's loss can cost a Raft election of
    // the streams it led, a lapsed lease and a new leader; measured 1-21 s on this shared machine.
    expect(round.failoverMs).toBeLessThan(60_000);
  });

  it("rebuilds a wiped replica from the newest checkpoint in the object store and the log after it", async () => {
    let leaderIndex = await set.leader();
    // Enough records for a checkpoint (every 40) and a trim of the log below it. A write fenced off by a
    // leader change (the 1.5 s lease can lapse while the other test worker has both cores) is retried on
    // the new leader, as a client is told to.
    let sequence = 0n;
    for (let i = 0; i < 45; i++) {
      const write = { collection: "docs", points: [{ id: `w${i}`, vector: vector(9_000 + i), payload: { i } }] };
      for (let attempt = 0; ; attempt++) {
        try {
          sequence = (await set.client(leaderIndex).points.upsert(write)).sequence;
          break;
        } catch (error) {
          if (attempt >= 3 || !/retry on the leader/.test(String(error))) throw error;
          leaderIndex = await set.leader();
        }
      }
    }
    const wiped = (leaderIndex + 2) % 3;
    const leader = set.client(leaderIndex);
    const nc = await connect({ servers: set.nats.urls.split(",") });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 10_000 });
      const deadline = Date.now() + 10_000;
      let first = 1;
      while (first <= 1 && Date.now() < deadline) {
        const streams = await jsm.streams.list().next();
        first = Math.max(...streams.filter((info) => info.config.name.startsWith("VDB_C_")).map((info) => info.state.first_seq));
        if (first <= 1) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // The log no longer starts at 1: a wiped replica cannot rebuild from the log alone.
      expect(first).toBeGreaterThan(1);
    } finally {
      await nc.close();
    }
    await set.wipe(wiped);
    const client = await set.startReplica(wiped);
    const ids = Array.from({ length: 45 }, (_, i) => `w${i}`).concat(["p2", "p3"]);
    const fromLeader = await leader.points.get({ collection: "docs", ids, minSequence: sequence });
    const rebuilt = await client.points.get({ collection: "current", ids, minSequence: sequence });
    expect(rebuilt.points).toEqual(fromLeader.points);
    expect((await client.collections.getCollection({ name: "docs" })).collection!.pointCount).toBe((await leader.collections.getCollection({ name: "docs" })).collection!.pointCount);
  });

  it("a follower takes over within the bound when the leader is killed during a bulk load, and no acknowledged write is lost", async () => {
    const round = await killLeaderRound(set, "docs", 0, { batches: 24, batchPoints: 50 });
    expect(round.lost).toEqual([]);
    expect(round.ackedBatches).toBe(24);
    expect(round.failoverMs).toBeLessThan(failoverBoundMs);
  });

  it("a leader stopped past its lease cannot acknowledge a write after the new leader started", async () => {
    const round = await pauseLeaderRound(set, "docs", 0);
    expect(round.staleAcks).toBe(0);
    expect(round.lost).toEqual([]);
    expect(round.oldLeaderAnswer).toMatch(/in-flight write: .*(FAILED_PRECONDITION|UNAVAILABLE).*; later write: .*(FAILED_PRECONDITION|UNAVAILABLE)/);
    expect(round.failoverMs).toBeLessThan(failoverBoundMs);
  });
});
