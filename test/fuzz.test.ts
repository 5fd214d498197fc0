import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusMessageBytesMax } from "../src/config.js";
import { Distance, type PointInit } from "../src/client/index.js";
import { callTarget, fuzzCase, fuzzDimension as dimension, int } from "./helpers/fuzz-requests.js";
import { captureLogs, logLevels } from "./helpers/logs.js";
import { rng } from "./helpers/random.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { eventually, http2Preface, rawClient, sendAndClose, socketFdCount } from "./helpers/wire.js";

/**
 * A seeded, bounded fuzz test of the server from outside (issue 9): requests for every method of
 * every service, generated from the descriptors (so new RPCs are covered without a change here), then
 * mangled (bit flips, truncation, splices, random bytes, deep nesting, long and odd strings), plus
 * connections that send random HTTP/2 frames. It asserts what a client may rely on: no INTERNAL or
 * UNKNOWN status, no call left hanging, every status message within `statusMessageBytesMax`, no
 * error logged, the server's sockets back to where they started, and a canary collection (which no
 * request names) bit for bit intact.
 *
 * `VECTORDB_FUZZ_SEED` and `VECTORDB_FUZZ_CASES` change the seed (default 9) and the number of calls
 * (default 1,500); a failure prints the seed, the case number, the method and the request bytes.
 */

const seed = Number(process.env.VECTORDB_FUZZ_SEED ?? 9);
const cases = Number(process.env.VECTORDB_FUZZ_CASES ?? 1_500);
const concurrency = 8;
const canary = "canary";

const canaryIds = Array.from({ length: 40 }, (_, i) => `c${i}`);
const canaryPoints: PointInit[] = canaryIds.map((id, i) => ({
  id,
  vector: Array.from({ length: dimension }, (_, j) => Math.fround(Math.sin(i * 7 + j) + 1.5)),
  payload: { i, tag: `t${i % 3}`, nested: { list: [i, "x", true, null] } },
}));

let t: TestServer;
const logs = captureLogs("warn");
beforeAll(async () => {
  t = await startTestServer({ collectionsMax: 24, messageBytesMax: 1 << 20, payloadBytesMax: 4096 }, { keepaliveTimeMs: 300, keepaliveTimeoutMs: 300, logger: logs.logger });
  await t.client.collections.createCollection({ name: canary, dimension, distance: Distance.COSINE });
  await t.client.points.upsert({ collection: canary, points: canaryPoints });
  await t.client.collections.createCollection({ name: "fuzz", dimension, distance: Distance.COSINE });
  await t.client.health();
});
afterAll(async () => t.stop());

describe(`fuzz (seed ${seed}, ${cases} calls)`, () => {
  it("never answers INTERNAL or UNKNOWN, bounds every status, frees every socket, leaves the canary intact", async () => {
    const before = (await t.client.points.get({ collection: canary, ids: canaryIds })).points;
    const baseline = socketFdCount();
    const random = rng(seed);
    const client = rawClient(t.address, { "grpc.max_receive_message_length": 1 << 20 });
    const failures: string[] = [];
    const counts = new Map<number, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases && failures.length < 5) {
        const n = next++;
        const { target, messages } = fuzzCase(random);
        const result = await callTarget(client, target, messages);
        counts.set(result.code, (counts.get(result.code) ?? 0) + 1);
        const encodedBytes = encodeURI(result.details).length;
        if ([status.INTERNAL, status.UNKNOWN, status.DEADLINE_EXCEEDED].includes(result.code) || encodedBytes > statusMessageBytesMax) {
          failures.push(`seed ${seed} case ${n} ${target.path}: ${status[result.code]} (${encodedBytes} bytes) ${result.details.slice(0, 300)}\n  request: ${messages.map((m) => Buffer.from(m).toString("hex").slice(0, 400)).join(" | ")}`);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    client.close();

    // Connections that break HTTP/2: random frames after the preface.
    for (let i = 0; i < 30; i++) {
      const frame = Uint8Array.from({ length: 9 + int(random, 40) }, () => int(random, 255));
      await sendAndClose(t.running.server.port, Buffer.concat([http2Preface, frame]), 20);
    }

    if (process.env.VECTORDB_TEST_VERBOSE) console.log(Object.fromEntries([...counts].map(([code, n]) => [status[code], n])));
    expect(failures).toEqual([]);
    expect(await eventually(() => socketFdCount() <= baseline, 10_000), `sockets: ${socketFdCount()} open, ${baseline} at the start`).toBe(true);
    expect(logs.lines.filter((line) => line.level >= logLevels.error)).toEqual([]);
    expect(await t.client.health()).toBe("SERVING");
    const after = (await t.client.points.get({ collection: canary, ids: canaryIds })).points;
    expect(after).toEqual(before);
    expect(after).toHaveLength(canaryPoints.length);
  }, 240_000);
});
