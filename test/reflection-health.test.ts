import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeConfig } from "../src/config.js";
import { Database } from "../src/db/index.js";
import { createLogger } from "../src/logger.js";
import { dataServices } from "../src/service/index.js";
import { startServer } from "../src/transport/index.js";
import { Distance, RpcError, VectorDbClient, type IngestRequestInit } from "../src/client/index.js";
import { bufBinary, bufCurl } from "./helpers/buf-curl.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let t: TestServer;
let base: string;
beforeAll(async () => {
  t = await startTestServer();
  base = `http://${t.address}`;
});
afterAll(async () => t.stop());

describe("server reflection through buf curl", () => {
  it("lists every method", async () => {
    const methods = (await bufCurl(["--list-methods", base])).trim().split("\n").sort();
    for (const method of [
      "vectordb.v1.CollectionService/CreateCollection",
      "vectordb.v1.CollectionService/DeleteCollection",
      "vectordb.v1.CollectionService/GetCollection",
      "vectordb.v1.CollectionService/ListCollections",
      "vectordb.v1.PointService/BatchSearch",
      "vectordb.v1.PointService/Delete",
      "vectordb.v1.PointService/Get",
      "vectordb.v1.PointService/Ingest",
      "vectordb.v1.PointService/Search",
      "vectordb.v1.PointService/Upsert",
      "vectordb.v1.PointService/Scroll",
      "vectordb.v1.PointService/Count",
      "vectordb.v1.PointService/SetPayload",
      "vectordb.v1.PointService/OverwritePayload",
      "vectordb.v1.PointService/DeletePayloadKeys",
      "vectordb.v1.PointService/ClearPayload",
      "vectordb.v1.PointService/IngestStream",
      "vectordb.v1.CollectionService/UpdateCollection",
      "vectordb.v1.CollectionService/UpdateAliases",
      "vectordb.v1.CollectionService/ListAliases",
      "vectordb.v1.SnapshotService/CreateSnapshot",
      "vectordb.v1.SnapshotService/ListSnapshots",
      "vectordb.v1.SnapshotService/DeleteSnapshot",
      "vectordb.v1.SnapshotService/DownloadSnapshot",
      "vectordb.v1.SnapshotService/RestoreSnapshot",
      "grpc.health.v1.Health/Check",
    ]) {
      expect(methods).toContain(method);
    }
  });

  it("runs the README walkthrough: create, upsert with payloads, filtered search", async () => {
    const created = JSON.parse(
      await bufCurl([`${base}/vectordb.v1.CollectionService/CreateCollection`, "-d", '{"name": "docs", "dimension": 3, "distance": "DISTANCE_COSINE"}']),
    );
    expect(created.collection).toMatchObject({ name: "docs", dimension: 3, distance: "DISTANCE_COSINE" });
    const upserted = JSON.parse(
      await bufCurl([
        `${base}/vectordb.v1.PointService/Upsert`,
        "-d",
        JSON.stringify({
          collection: "docs",
          points: [
            { id: "a", vector: [1, 0, 0], payload: { lang: "en", year: 2024 } },
            { id: "b", vector: [0.9, 0.1, 0], payload: { lang: "fr", year: 2023 } },
            { id: "c", vector: [0, 1, 0], payload: { lang: "en", year: 2020 } },
          ],
        }),
      ]),
    );
    expect(upserted).toEqual({ inserted: 3, sequence: "1" });
    const found = JSON.parse(
      await bufCurl([
        `${base}/vectordb.v1.PointService/Search`,
        "-d",
        JSON.stringify({ collection: "docs", vector: [1, 0, 0], k: 2, filter: { must: [{ field: { key: "lang", equals: "en" } }] } }),
      ]),
    );
    expect(found.hits.map((h: { id: string }) => h.id)).toEqual(["a", "c"]);
    expect(found.hits[0]).toMatchObject({ id: "a", score: 1, payload: { lang: "en", year: 2024 } });
  });

  it("runs the README's examples of scroll, payloads, aliases, snapshots and resumable loads", async () => {
    const readme = readFileSync("README.md", "utf8");
    const section = readme.split(/^## /m).find((part) => part.startsWith("Scroll, payloads, aliases, snapshots and resumable loads\n"));
    expect(section, "README section").toBeDefined();
    const blocks = [...section!.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
    expect(blocks).toHaveLength(5);
    // The snapshot example names a snapshot and a downloaded file: make them exist under those names.
    const cwd = mkdtempSync(join(tmpdir(), "vectordb-readme-"));
    const placeholder = "docs-20250101T120000000Z-1a2b3c4d.snapshot";
    const outputs: string[] = [];
    try {
      for (const block of blocks) {
        let script = block.replaceAll("npx buf", bufBinary);
        if (script.includes(placeholder)) {
          const { snapshot } = await t.client.snapshots.createSnapshot({ collection: "docs" });
          const chunks: Uint8Array[] = [];
          for await (const { chunk } of t.client.snapshots.downloadSnapshot({ collection: "docs", name: snapshot!.name })) chunks.push(chunk);
          writeFileSync(join(cwd, "docs.snapshot"), Buffer.concat(chunks));
          script = script.replaceAll(placeholder, snapshot!.name);
        }
        const { stdout } = await runScript(script, { ...process.env, S: base }, cwd);
        outputs.push(stdout);
      }
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
    const [scroll, payloads, aliases, snapshots, ingest] = outputs.map((out) => out.split(/\n(?=\{)/).filter((text) => text.trim() !== "").map((text) => JSON.parse(text) as Record<string, unknown>));
    expect(scroll![0]).toEqual({ points: [{ id: "a", payload: { lang: "en", year: 2024 } }], nextCursor: "c1.YQ" });
    expect((scroll![1]!.points as { id: string }[]).map((p) => p.id)).toEqual(["b", "c"]);
    expect(scroll![1]!.nextCursor).toBeUndefined();
    expect(scroll![2]).toEqual({ count: "2" });
    // Each write answers its sequence (the WAL's): read-your-writes with min_sequence (see Replication).
    expect(payloads).toEqual([
      { updated: 2, sequence: "2" },
      { updated: 1, sequence: "3" },
      { updated: 2, sequence: "4" },
      { updated: 1, sequence: "5" },
    ]);
    expect(aliases![0]).toMatchObject({ collection: { name: "docs", hnsw: { m: 16, efConstruction: 200, ef: 128 } } });
    expect(aliases![3]).toEqual({ aliases: [{ alias: "live", collection: "docs" }] });
    expect(snapshots![0]).toMatchObject({ snapshot: { collection: "docs", name: expect.stringMatching(/^docs-.*\.snapshot$/) } });
    expect(snapshots!.some((message) => (message.collection as { name?: string } | undefined)?.name === "docs_copy")).toBe(true);
    expect(ingest).toEqual([{}, { durableBatchSeq: "1", inserted: "2" }, { durableBatchSeq: "2", inserted: "1" }]);
    const points = await t.client.points.get({ collection: "docs", ids: ["a", "b", "c", "f"], withVector: false });
    expect(points.points.map((p) => [p.id, p.payload])).toEqual([["a", { lang: "en", meta: {}, reviewed: true }], ["b", undefined], ["c", { lang: "de" }], ["f", undefined]]);
  });

  it("reports errors with their status through buf curl", async () => {
    await expect(bufCurl([`${base}/vectordb.v1.CollectionService/GetCollection`, "-d", '{"name": "missing"}'])).rejects.toThrow(
      /not_found.*collection \\?"missing\\?" does not exist/,
    );
  });

  it("answers health checks: SERVING overall and per service", async () => {
    expect(JSON.parse(await bufCurl([`${base}/grpc.health.v1.Health/Check`, "-d", "{}"]))).toEqual({ status: "SERVING" });
    expect(JSON.parse(await bufCurl([`${base}/grpc.health.v1.Health/Check`, "-d", '{"service": "vectordb.v1.PointService"}']))).toEqual({ status: "SERVING" });
    expect(await t.client.health()).toBe("SERVING");
  });
});

/** Runs a shell script with bash (-e -o pipefail); rejects with its stderr when it fails. */
async function runScript(script: string, env: NodeJS.ProcessEnv, cwd: string): Promise<{ stdout: string }> {
  try {
    return await promisify(execFile)("bash", ["-e", "-o", "pipefail", "-c", script], { env, cwd, timeout: 60_000 });
  } catch (error) {
    throw new Error(`the script failed: ${(error as { stderr?: string }).stderr ?? String(error)}\n${script}`);
  }
}

describe("health while starting and shutting down", () => {
  it("says NOT_SERVING and answers UNAVAILABLE until the server is ready, and NOT_SERVING once it shuts down", async () => {
    const config = makeConfig({ host: "127.0.0.1", port: 0, shutdownGraceMs: 1_000 });
    const server = await startServer(config, dataServices(new Database(config), config), createLogger("silent"));
    const client = new VectorDbClient(`127.0.0.1:${server.port}`);
    try {
      expect(await client.health()).toBe("NOT_SERVING");
      const starting = await client.collections.listCollections({}).catch((e: unknown) => e);
      expect(starting).toBeInstanceOf(RpcError);
      expect((starting as RpcError).status).toBe(status.UNAVAILABLE);
      expect((starting as RpcError).details).toMatch(/\[unavailable\] the server is starting/);
      server.setServing(true);
      expect(await client.health()).toBe("SERVING");
      expect((await client.collections.listCollections({})).collections).toEqual([]);
      // A health Watch would see the switch; a Check on the open channel observes it too while draining.
      const closing = server.shutdown();
      const during = await client.health("", { timeoutMs: 500 }).catch((e: unknown) => e);
      expect(during === "NOT_SERVING" || (during instanceof RpcError && during.status === status.UNAVAILABLE)).toBe(true);
      await closing;
    } finally {
      client.close();
    }
  });
});

describe("graceful shutdown", () => {
  it("ends an open Ingest at once with UNAVAILABLE naming the batches applied, tells health watchers NOT_SERVING, and does not wait out the grace period", async () => {
    const s = await startTestServer({}, { shutdownGraceMs: 10_000 });
    const raw = new grpc.Client(s.address, grpc.credentials.createInsecure());
    try {
      await s.client.collections.createCollection({ name: "drain", dimension: 1, distance: Distance.DOT });
      const watch = healthService.Watch!;
      const seen: string[] = [];
      const watchCall = raw.makeServerStreamRequest(watch.path, watch.requestSerialize, watch.responseDeserialize, { service: "" });
      watchCall.on("data", (message: { status: string }) => seen.push(String(message.status)));
      watchCall.on("error", () => {});
      while (!seen.includes("SERVING")) await new Promise((resolve) => setTimeout(resolve, 5));

      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      async function* slow(): AsyncGenerator<IngestRequestInit> {
        yield { collection: "drain", points: [{ id: "a", vector: [1] }] };
        await held;
        yield { points: [{ id: "b", vector: [2] }] };
      }
      const ingest = s.client.points.ingest(slow());
      while (s.running.db.get("drain").size === 0) await new Promise((resolve) => setTimeout(resolve, 5));

      const started = performance.now();
      const closed = s.running.close();
      while (!seen.includes("NOT_SERVING")) await new Promise((resolve) => setTimeout(resolve, 5));
      // The stream is not read any further: the second batch, sent after the signal, is not applied.
      release();
      await expect(ingest).rejects.toMatchObject({
        statusName: "UNAVAILABLE",
        details: "[unavailable] the server is shutting down: 1 batch of this stream was durably applied (1 points inserted, 0 updated); send the batches after them again once it is back",
      });
      await closed;
      expect(s.running.db.isOpen).toBe(false);
      // The open Watch stream did not hold the server for the 10 s grace period.
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(seen).toEqual(["SERVING", "NOT_SERVING"]);
    } finally {
      raw.close();
      // Closes the client, the server (a second close is a no-op) and removes the data directory.
      await s.stop();
    }
  });
});
