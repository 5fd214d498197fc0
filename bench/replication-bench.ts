/**
 * Write latency and throughput with replication (3 NATS JetStream nodes, 3 vectordb replicas, streams
 * with 3 replicas, file storage) against the embedded WAL (one server, fsync per group), all on
 * 127.0.0.1 in child processes on this machine; then the catch-up rate of a follower that was down
 * while the leader took writes.
 *
 * Usage: npm run bench:replication -- [--batches 200] [--batch-points 100] [--dimension 128] [--concurrency 8] [--backlog-batches 100]
 *
 * Prints figures; the ratio replication / embedded is the number to compare across machines.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Distance, type VectorDbClient } from "../src/client/index.js";
import { ServerProcess } from "../src/testing/crash/index.js";
import { defaultCliPath, ReplicaSet } from "../src/testing/index.js";
import { commandLine } from "./cli-options.js";

const cli = commandLine("npm run bench:replication -- [--batches N] [--batch-points N] [--dimension N] [--concurrency N] [--backlog-batches N]");
const parsed = (() => {
  try {
    return parseArgs({ options: { batches: { type: "string" }, "batch-points": { type: "string" }, dimension: { type: "string" }, concurrency: { type: "string" }, "backlog-batches": { type: "string" } } });
  } catch (error) {
    return cli.usage(error instanceof Error ? error.message : String(error));
  }
})();
const batches = cli.integer("batches", parsed.values.batches, 200, 10);
const batchPoints = cli.integer("batch-points", parsed.values["batch-points"], 100, 1);
const dimension = cli.integer("dimension", parsed.values.dimension, 128, 1);
const concurrency = cli.integer("concurrency", parsed.values.concurrency, 8, 1);
const backlogBatches = cli.integer("backlog-batches", parsed.values["backlog-batches"], 100, 1);

function batchOf(batch: number): { id: string; vector: number[] }[] {
  return Array.from({ length: batchPoints }, (_, j) => ({ id: `b${batch % 1000}-${j}`, vector: Array.from({ length: dimension }, (_, i) => Math.sin(batch * 31 + j * 7 + i)) }));
}

interface Figures {
  p50Ms: number;
  p99Ms: number;
  sequentialPointsPerSecond: number;
  concurrentPointsPerSecond: number;
}

/** Sequential upserts (latency), then `concurrency` writers (throughput), into collection `bench`. */
async function measure(client: VectorDbClient): Promise<Figures> {
  await client.collections.createCollection({ name: "bench", dimension, distance: Distance.COSINE });
  const latencies: number[] = [];
  let started = performance.now();
  for (let batch = 0; batch < batches; batch++) {
    const t = performance.now();
    await client.points.upsert({ collection: "bench", points: batchOf(batch) });
    latencies.push(performance.now() - t);
  }
  const sequentialSeconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let batch = next++; batch < batches; batch = next++) await client.points.upsert({ collection: "bench", points: batchOf(batches + batch) });
    }),
  );
  const concurrentSeconds = (performance.now() - started) / 1000;
  return {
    p50Ms: latencies[Math.floor(latencies.length / 2)]!,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!,
    sequentialPointsPerSecond: (batches * batchPoints) / sequentialSeconds,
    concurrentPointsPerSecond: (batches * batchPoints) / concurrentSeconds,
  };
}

function print(label: string, figures: Figures): void {
  console.log(
    `${label.padEnd(12)} upsert of ${batchPoints} × ${dimension}-d points: p50 ${figures.p50Ms.toFixed(1)} ms, p99 ${figures.p99Ms.toFixed(1)} ms; ` +
      `${Math.round(figures.sequentialPointsPerSecond)} points/s sequential, ${Math.round(figures.concurrentPointsPerSecond)} points/s with ${concurrency} in flight`,
  );
}

const root = mkdtempSync(join(tmpdir(), "vectordb-replication-bench-"));
try {
  const embeddedServer = await ServerProcess.spawn(defaultCliPath(), join(root, "embedded"), []);
  let embedded: Figures;
  try {
    embedded = await measure(await embeddedServer.waitServing(30_000));
  } finally {
    await embeddedServer.stop("SIGKILL");
  }
  print("embedded", embedded);

  process.env.NATS_SERVER = execFileSync("bash", ["scripts/ensure-nats-server.sh"], { encoding: "utf8" }).trim().split("\n").pop()!;
  const set = await ReplicaSet.start(join(root, "replicated"), { cliPath: defaultCliPath(), leaseTtlMs: 3_000, readyMs: 180_000 });
  try {
    const leaderIndex = await set.leader();
    const leader = set.client(leaderIndex);
    const replicated = await measure(leader);
    print("replication", replicated);
    console.log(
      `ratio replication / embedded: latency p50 ×${(replicated.p50Ms / embedded.p50Ms).toFixed(2)}, sequential throughput ×${(replicated.sequentialPointsPerSecond / embedded.sequentialPointsPerSecond).toFixed(2)}, concurrent throughput ×${(replicated.concurrentPointsPerSecond / embedded.concurrentPointsPerSecond).toFixed(2)}`,
    );

    // Catch-up: a follower restarted with nothing to apply (baseline), then after missing a backlog.
    const follower = (leaderIndex + 1) % 3;
    await set.signal(follower, "SIGKILL");
    let t = performance.now();
    await set.startReplica(follower);
    const baselineMs = performance.now() - t;
    await set.signal(follower, "SIGKILL");
    for (let batch = 0; batch < backlogBatches; batch++) await leader.points.upsert({ collection: "bench", points: batchOf(10_000 + batch) });
    t = performance.now();
    await set.startReplica(follower);
    const catchUpMs = performance.now() - t;
    const applyMs = Math.max(1, catchUpMs - baselineMs);
    console.log(
      `catch-up: a follower restarted after missing ${backlogBatches} records (${backlogBatches * batchPoints} points) was SERVING after ${Math.round(catchUpMs)} ms ` +
        `(${Math.round(baselineMs)} ms with nothing to apply): ${Math.round((backlogBatches * 1000) / applyMs)} records/s, ${Math.round((backlogBatches * batchPoints * 1000) / applyMs)} points/s applied`,
    );
  } finally {
    await set.stop();
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
