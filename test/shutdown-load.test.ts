import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Distance, RpcError, VectorDbClient, type PointInit } from "../src/client/index.js";
import { freePort, sleep } from "../src/testing/index.js";
import { cliPath, ensureServerBuilt } from "./helpers/build.js";

/**
 * SIGTERM while bulk loads stream in (issue 15): the server stops reading at once, ends an open
 * Ingest and an open IngestStream with UNAVAILABLE saying how many of their batches were durably
 * applied, checkpoints, and exits 0 well within the grace period, logging nothing at error level. A
 * second start on the same data directory holds exactly the points the statuses said were applied.
 */

const dimension = 32;
const batchPoints = 500;
const graceMs = 10_000;

let dir: string;
beforeAll(async () => {
  await ensureServerBuilt();
  dir = mkdtempSync(join(tmpdir(), "vectordb-shutdown-load-"));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Child {
  child: ChildProcess;
  address: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function serve(): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, [cliPath, "serve", "--port", String(port), "--host", "127.0.0.1", "--metrics-port", "0", "--data-dir", join(dir, "data"), "--log-level", "info", "--shutdown-grace-ms", String(graceMs)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const address = `127.0.0.1:${port}`;
  const client = new VectorDbClient(address);
  try {
    for (let deadline = Date.now() + 20_000; (await client.health("", { timeoutMs: 1_000 }).catch(() => "")) !== "SERVING"; ) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server not SERVING: ${stderr}`);
      await sleep(50);
    }
  } finally {
    client.close();
  }
  return { child, address, stderr: () => stderr, exited };
}

const batch = (prefix: string, n: number): PointInit[] =>
  Array.from({ length: batchPoints }, (_, i) => ({ id: `${prefix}-${n}-${i}`, vector: Array.from({ length: dimension }, (_, j) => Math.sin(n * 31 + i * 7 + j)) }));

describe("SIGTERM during bulk loads", () => {
  it("ends open Ingest and IngestStream calls with UNAVAILABLE naming the batches applied, exits 0 within the grace period, logs no error", async () => {
    const server = await serve();
    const client = new VectorDbClient(server.address);
    await client.collections.createCollection({ name: "load", dimension, distance: Distance.EUCLIDEAN });

    // Ingest (client stream): as many batches as the server will take; counts what was handed to grpc-js.
    let ingestSent = 0;
    const ingest = client.points
      .ingest(
        (async function* () {
          for (let n = 0; n < 10_000; n++) {
            ingestSent++;
            yield { collection: n === 0 ? "load" : "", points: batch("a", n) };
          }
        })(),
      )
      .then(
        () => new Error("Ingest ended with OK"),
        (error: unknown) => error,
      );

    // IngestStream (bidirectional): each batch waits for its acknowledgement.
    const stream = client.points.ingestStream();
    await stream.send({ collection: "load", ingestId: "load-b" });
    const acknowledged: bigint[] = [];
    const streamEnded = (async (): Promise<unknown> => {
      try {
        for await (const response of stream.responses) if (response.inserted > 0n) acknowledged.push(response.durableBatchSeq);
        return new Error("IngestStream ended with OK");
      } catch (error) {
        return error;
      }
    })();
    const streamSender = (async () => {
      for (let n = 1; n <= 10_000; n++) {
        while (acknowledged.length < n - 1) await sleep(1);
        await stream.send({ batchSeq: BigInt(n), points: batch("b", n) }).catch(() => undefined);
        if (server.child.exitCode !== null || acknowledged.length < n - 1) break;
      }
    })();

    while (acknowledged.length < 5 || ingestSent < 10) await sleep(10);
    const signalledMs = performance.now();
    server.child.kill("SIGTERM");
    const [ingestError, streamError] = await Promise.all([ingest, streamEnded]);
    const answeredMs = performance.now() - signalledMs;
    const exit = await server.exited;
    const exitMs = performance.now() - signalledMs;
    void streamSender;
    client.close();

    if (process.env.VECTORDB_TEST_VERBOSE) {
      console.log({ answeredMs, exitMs, ingest: String(ingestError), ingestStream: String(streamError), log: server.stderr().split("\n").slice(-4).join("\n") });
    }
    expect(exit).toEqual({ code: 0, signal: null });
    expect(ingestError).toBeInstanceOf(RpcError);
    expect(streamError).toBeInstanceOf(RpcError);
    const ingestStatus = ingestError as RpcError;
    const streamStatus = streamError as RpcError;
    expect(ingestStatus.statusName, ingestStatus.message).toBe("UNAVAILABLE");
    expect(streamStatus.statusName, streamStatus.message).toBe("UNAVAILABLE");
    const ingestApplied = /: (\d+) batches of this stream were durably applied \((\d+) points inserted, 0 updated\)/.exec(ingestStatus.details);
    expect(ingestApplied, ingestStatus.details).not.toBeNull();
    const streamApplied = /: (\d+) batches of this stream were durably applied; the load's durable batch_seq is (\d+), resume from (\d+)/.exec(streamStatus.details);
    expect(streamApplied, streamStatus.details).not.toBeNull();
    expect(Number(ingestApplied![2])).toBe(Number(ingestApplied![1]) * batchPoints);
    expect(Number(ingestApplied![1])).toBeGreaterThan(0);
    expect(Number(streamApplied![1])).toBeGreaterThanOrEqual(acknowledged.length);
    expect(Number(streamApplied![2])).toBe(Number(streamApplied![1]));

    // Stopped reading at once: the calls ended long before the grace period, and so did the process.
    expect(answeredMs).toBeLessThan(graceMs / 2);
    expect(exitMs).toBeLessThan(graceMs);
    const lines = server.stderr().trim().split("\n").map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
    expect(lines.some((line) => line.msg === "in-flight calls did not finish in time; cancelling them")).toBe(false);
    expect(lines.at(-1)?.msg).toBe("shut down cleanly");

    // What the statuses said was applied is what the data directory holds.
    const again = await serve();
    const reader = new VectorDbClient(again.address);
    const { count } = await reader.points.count({ collection: "load" });
    reader.close();
    again.child.kill("SIGTERM");
    expect((await again.exited).code).toBe(0);
    expect(Number(count)).toBe(Number(ingestApplied![2]) + Number(streamApplied![1]) * batchPoints);
  }, 60_000);
});
