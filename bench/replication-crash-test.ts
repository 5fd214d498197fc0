/**
 * The replication crash test (issue 14): a 3-node NATS JetStream cluster and 3 vectordb replicas on
 * 127.0.0.1 (child processes); each round kills the leader with SIGKILL during a bulk load, stops the
 * leader with SIGSTOP past its lease while a write to it is in flight, and kills a NATS node with
 * SIGKILL during writes (see src/testing/replication-rounds.ts). Every acknowledged write is read back
 * from the new leader and a follower.
 *
 * Usage: npm run crash-test:replication -- [--rounds 10] [--lease-ttl-ms 1500] [--batches 30]
 *
 * Prints one line per round and a summary (acknowledged writes lost, which must be 0; stale
 * acknowledgements of a deposed leader, which must be 0; failover times). Exits 1 on a violation.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Distance } from "../src/client/index.js";
import { defaultCliPath, killLeaderRound, killNatsNodeRound, pauseLeaderRound, ReplicaSet, roundDimension, type FailoverRound } from "../src/testing/index.js";
import { commandLine } from "./cli-options.js";

const cli = commandLine("npm run crash-test:replication -- [--rounds N] [--lease-ttl-ms MS] [--batches N]");
const parsed = (() => {
  try {
    return parseArgs({ options: { rounds: { type: "string" }, "lease-ttl-ms": { type: "string" }, batches: { type: "string" } } });
  } catch (error) {
    return cli.usage(error instanceof Error ? error.message : String(error));
  }
})();
const rounds = cli.integer("rounds", parsed.values.rounds, 10, 1);
const leaseTtlMs = cli.integer("lease-ttl-ms", parsed.values["lease-ttl-ms"], 1_500, 500);
const batches = cli.integer("batches", parsed.values.batches, 30, 3);

process.env.NATS_SERVER = execFileSync("bash", ["scripts/ensure-nats-server.sh"], { encoding: "utf8" }).trim().split("\n").pop()!;
const root = mkdtempSync(join(tmpdir(), "vectordb-replication-crash-"));
const set = await ReplicaSet.start(root, { cliPath: defaultCliPath(), leaseTtlMs, checkpointRecords: 200 });
const results: FailoverRound[] = [];
const started = Date.now();
try {
  await set.client(await set.leader()).collections.createCollection({ name: "crash", dimension: roundDimension, distance: Distance.COSINE });
  for (let round = 0; round < rounds; round++) {
    for (const run of [
      () => killLeaderRound(set, "crash", round, { batches }),
      () => pauseLeaderRound(set, "crash", round),
      () => killNatsNodeRound(set, "crash", round, round % 3),
    ]) {
      const result = await run();
      results.push(result);
      console.log(
        `round ${round} ${result.kind.padEnd(14)} failover ${String(result.failoverMs).padStart(5)} ms  acked ${result.ackedBatches} batches / ${result.ackedPoints} points  unknown ${result.unknownBatches}  lost ${result.lost.length}  stale acks ${result.staleAcks}` +
          (result.oldLeaderAnswer === undefined ? "" : `  (${result.oldLeaderAnswer.slice(0, 160)})`),
      );
    }
  }
} finally {
  await set.stop();
  rmSync(root, { recursive: true, force: true });
}

const lost = results.reduce((sum, result) => sum + result.lost.length, 0);
const stale = results.reduce((sum, result) => sum + result.staleAcks, 0);
const acked = results.reduce((sum, result) => sum + result.ackedPoints, 0);
for (const kind of ["kill-leader", "pause-leader", "kill-nats-node"] as const) {
  const times = results.filter((result) => result.kind === kind).map((result) => result.failoverMs).sort((a, b) => a - b);
  if (times.length === 0) continue;
  const what = kind === "kill-nats-node" ? "longest time without an acknowledged write" : "time to the first write acknowledged by the new leader";
  console.log(`${kind}: ${times.length} rounds, ${what}: median ${times[Math.floor(times.length / 2)]} ms, max ${times.at(-1)} ms`);
}
console.log(`summary: ${results.length} rounds in ${((Date.now() - started) / 1000).toFixed(1)} s (lease ${leaseTtlMs} ms), ${acked} acknowledged point writes checked, ${lost} lost, ${stale} stale acknowledgements`);
process.exit(lost === 0 && stale === 0 ? 0 : 1);
