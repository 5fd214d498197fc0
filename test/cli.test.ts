import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectFvecsFile, readFvecsFile, readFvecsRow, streamFvecsRecords, streamJsonlRecords, type JsonlRecord } from "../src/datasets/index.js";
import { freePort } from "../src/testing/index.js";
import { grpcServiceDefinition } from "../src/rpc/index.js";
import { Distance, PointService } from "../src/client/index.js";
import { datasetFile } from "./helpers/datasets.js";
import { cliPath, ensureServerBuilt } from "./helpers/build.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { makeCertificates } from "./helpers/tls.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** What a finished CLI process left behind. */
interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/src/cli/main.js ...args` to completion. VECTORDB_* variables are not inherited. */
function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CliResult> {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VECTORDB_")));
  return new Promise((resolvePromise, reject) => {
    // Load states of `ingest` go to the test's folder, not to the user's ~/.local/state.
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: root, env: { ...cleanEnv, VECTORDB_STATE_DIR: join(dir, "state"), ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`vectordb ${args.join(" ")} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Writes `count` random vectors of `dimension` components as an .fvecs file; returns them. */
function writeFvecs(path: string, count: number, dimension: number, seed = 1): Float32Array {
  let state = seed;
  const random = (): number => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const data = new Float32Array(count * dimension);
  const bytes = Buffer.alloc(count * (4 + 4 * dimension));
  for (let i = 0; i < count; i++) {
    const offset = i * (4 + 4 * dimension);
    bytes.writeInt32LE(dimension, offset);
    for (let j = 0; j < dimension; j++) {
      const value = Math.fround(random() * 2 - 1);
      data[i * dimension + j] = value;
      bytes.writeFloatLE(value, offset + 4 + 4 * j);
    }
  }
  writeFileSync(path, bytes);
  return data;
}

let server: TestServer;
let dir: string;
/** `--address <test server>`, to put before a command. */
let at: string[];

beforeAll(async () => {
  // The CLI is tested as users run it: the compiled file, in a child process.
  await ensureServerBuilt();
  server = await startTestServer();
  at = ["--address", server.address];
  dir = mkdtempSync(join(tmpdir(), "vectordb-cli-"));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("vector files", () => {
  it("reads an .fvecs file whole, by row and streamed, with the same vectors", async () => {
    const path = join(dir, "small.fvecs");
    const written = writeFvecs(path, 37, 5);
    const whole = readFvecsFile(path);
    expect(whole.dimension).toBe(5);
    expect(whole.count).toBe(37);
    expect(whole.data).toEqual(written);
    expect(await inspectFvecsFile(path)).toEqual({ dimension: 5, count: 37, recordBytes: 24, fileBytes: 37 * 24 });
    expect(await readFvecsRow(path, 36)).toEqual(written.subarray(36 * 5, 37 * 5));
    // A chunk smaller than two records exercises the chunk boundaries.
    const streamed: number[] = [];
    for await (const record of streamFvecsRecords(path, { chunkBytesMax: 50 })) {
      expect(record.vector).toEqual(written.subarray(record.index * 5, record.index * 5 + 5));
      streamed.push(record.index);
    }
    expect(streamed).toEqual(Array.from({ length: 37 }, (_, i) => i));
    await expect(readFvecsRow(path, 37)).rejects.toThrow("row 37 is outside 0..36 (the file has 37 records)");
  });

  it("rejects a truncated .fvecs file and a record whose dimension differs", async () => {
    const path = join(dir, "bad.fvecs");
    writeFvecs(path, 3, 4);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.byteLength - 2));
    expect(() => readFvecsFile(path)).toThrow("file size 58 bytes is not a multiple of the record size 20 bytes (4 + 4 × 4): record 2 is truncated (18 bytes)");
    bytes.writeInt32LE(5, 40); // record 2 declares dimension 5
    writeFileSync(path, bytes);
    expect(() => readFvecsFile(path)).toThrow("record 2 declares dimension 5, but record 0 declares 4");
    await expect(async () => {
      for await (const _ of streamFvecsRecords(path)) void _;
    }).rejects.toThrow("record 2 declares dimension 5, but record 0 declares 4");
    writeFileSync(path, "");
    expect(() => readFvecsFile(path)).toThrow("empty file");
  });

  it("streams .jsonl points and names the line of a malformed one", async () => {
    const path = join(dir, "lines.jsonl");
    writeFileSync(path, '{"id":"a","vector":[1,2],"payload":{"x":1}}\n\n{"id":"b","vector":[3,4]}\n{"id":"c","vector":[5]}\n');
    const records: JsonlRecord[] = [];
    await expect(async () => {
      for await (const record of streamJsonlRecords(path)) records.push(record);
    }).rejects.toThrow(`${path}:4: "vector" has 1 components, but the vector on line 1 has 2`);
    expect(records.map(({ line, id, vector, payload }) => ({ line, id, vector, payload }))).toEqual([
      { line: 1, id: "a", vector: [1, 2], payload: { x: 1 } },
      { line: 3, id: "b", vector: [3, 4], payload: undefined },
    ]);
  });
});

describe("vectordb CLI", () => {
  it("prints its usage and exits 2 on a usage error", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: vectordb [options] [command]");
    for (const command of ["serve", "health", "collections", "aliases", "ingest", "search", "snapshot"]) expect(help.stdout).toContain(command);
    const unknown = await runCli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
  });

  it("creates, lists, gets and deletes a collection, printing JSON", async () => {
    const created = await runCli([...at, "collections", "create", "cli_docs", "--dimension", "4", "--distance", "cosine", "--m", "8"]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toEqual({
      collection: {
        name: "cli_docs",
        dimension: 4,
        distance: "DISTANCE_COSINE",
        hnsw: { m: 8, efConstruction: 200, ef: 64 },
        pointCount: "0",
        memoryBytes: expect.any(String),
        indexedPointCount: "0",
        vectorBytes: expect.any(String),
        quantizedVectorBytes: "0",
        quantizationTrained: false,
        recallSamples: "0",
        // One empty appendable segment.
        segments: [{ id: "1", pointCount: "0", deletedCount: "0", memoryBytes: expect.any(String), indexed: true, sealed: false, fileBytes: "0" }],
        appliedSequence: "0",
        replicationLag: "0",
      },
    });
    const quantized = await runCli([...at, "collections", "create", "cli_int8", "--dimension", "4", "--distance", "euclidean", "--quantization", "int8", "--quantile", "0.95"]);
    expect(quantized.code).toBe(0);
    // quantile is a proto float: 0.95 comes back as the nearest float32.
    expect(JSON.parse(quantized.stdout).collection.quantization).toEqual({ scalar: { type: "SCALAR_TYPE_INT8", quantile: Math.fround(0.95), alwaysRam: false } });
    expect((await runCli([...at, "collections", "delete", "cli_int8"])).code).toBe(0);

    const listed = await runCli([...at, "collections", "list"]);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { collections: { name: string }[] }).collections.map((c) => c.name)).toContain("cli_docs");

    const got = await runCli([...at, "collections", "get", "cli_docs"]);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout).collection).toMatchObject({ name: "cli_docs", dimension: 4, pointCount: "0" });

    const again = await runCli([...at, "collections", "create", "cli_docs", "--dimension", "4", "--distance", "cosine"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: ALREADY_EXISTS: /);

    const deleted = await runCli([...at, "collections", "delete", "cli_docs"]);
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.stdout)).toEqual({ deletedPoints: "0" });

    const gone = await runCli([...at, "collections", "get", "cli_docs"]);
    expect(gone.code).toBe(1);
    expect(gone.stdout).toBe("");
    expect(gone.stderr).toMatch(/^error: NOT_FOUND: .*cli_docs/);
  });

  it("exits 2 for invalid option values", async () => {
    const dimension = await runCli([...at, "collections", "create", "x", "--dimension", "four", "--distance", "cosine"]);
    expect(dimension.code).toBe(2);
    expect(dimension.stderr).toContain(`argument 'four' is invalid. "four" is not an integer.`);
    const distance = await runCli([...at, "collections", "create", "x", "--dimension", "4", "--distance", "manhattan"]);
    expect(distance.code).toBe(2);
    expect(distance.stderr).toContain("Allowed choices are cosine, dot, euclidean");
    const missing = await runCli([...at, "collections", "create", "x", "--distance", "dot"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--dimension <n>' not specified");
    const quantile = await runCli([...at, "collections", "create", "x", "--dimension", "4", "--distance", "cosine", "--quantile", "0.9"]);
    expect(quantile.code).toBe(2);
    expect(quantile.stderr).toContain("--quantile needs --quantization int8");
  });

  it("gives exit 1 and NOT_FOUND for a collection that does not exist", async () => {
    const search = await runCli([...at, "search", "--collection", "no_such_collection", "--vector", "[1,2]"]);
    expect(search.code).toBe(1);
    expect(search.stderr).toMatch(/^error: NOT_FOUND: .*no_such_collection/);
    const jsonl = join(dir, "one.jsonl");
    writeFileSync(jsonl, '{"id":"a","vector":[1,2]}\n');
    const ingest = await runCli([...at, "ingest", "--collection", "no_such_collection", jsonl]);
    expect(ingest.code).toBe(1);
    expect(ingest.stderr).toContain("error: NOT_FOUND: ");
  });

  it("ingests a generated .fvecs file and finds a stored vector by its row", async () => {
    const path = join(dir, "random.fvecs");
    writeFvecs(path, 2_000, 16, 7);
    const ingest = await runCli([...at, "ingest", "--collection", "cli_fvecs", "--create", "--distance", "euclidean", "--batch-size", "300", path]);
    expect(ingest.stderr).toBe("");
    expect(ingest.code).toBe(0);
    expect(ingest.stdout).toMatch(/^ingested 2000 points \(2000 inserted, 0 updated\) in \d+\.\d\d s: [\d,]+ vectors\/s\n$/);

    const got = await runCli([...at, "collections", "get", "cli_fvecs"]);
    expect(JSON.parse(got.stdout).collection).toMatchObject({ dimension: 16, distance: "DISTANCE_EUCLIDEAN", pointCount: "2000" });

    const search = await runCli([...at, "search", "--collection", "cli_fvecs", "--fvecs", path, "--row", "1234", "-k", "3", "--exact"]);
    expect(search.code).toBe(0);
    const { hits } = JSON.parse(search.stdout) as { hits: { id: string; score: number; vector?: number[] }[] };
    expect(hits).toHaveLength(3);
    expect(hits[0]).toEqual({ id: "1234", score: 0 });
    expect(hits[1]!.score).toBeGreaterThan(0);

    // Ingesting the same file again replaces every point.
    const again = await runCli([...at, "ingest", "--collection", "cli_fvecs", "--no-progress", path]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^ingested 2000 points \(0 inserted, 2000 updated\)/);
  });

  it("ingests .jsonl with payloads and searches with a filter", async () => {
    const path = join(dir, "points.jsonl");
    const lines = Array.from({ length: 300 }, (_, i) =>
      JSON.stringify({ id: `p${i}`, vector: [Math.cos(i), Math.sin(i), 1], payload: { lang: i % 3 === 0 ? "en" : "fr", n: i, meta: { even: i % 2 === 0 } } }),
    );
    writeFileSync(path, `${lines.join("\n")}\n`);
    const ingest = await runCli([...at, "ingest", "--collection", "cli_jsonl", "--create", "--distance", "cosine", "--batch-size", "64", path]);
    expect(ingest.stderr).toBe("");
    expect(ingest.code).toBe(0);
    expect(ingest.stdout).toMatch(/^ingested 300 points \(300 inserted, 0 updated\)/);

    const filter = { must: [{ field: { key: "lang", equals: "en" } }, { field: { key: "n", range: { gte: 30, lt: 150 } } }], mustNot: [{ field: { key: "meta.even", equals: true } }] };
    const search = await runCli([...at, "search", "--collection", "cli_jsonl", "--vector", "[1,0,1]", "-k", "100", "--filter", JSON.stringify(filter)]);
    expect(search.stderr).toBe("");
    expect(search.code).toBe(0);
    const { hits } = JSON.parse(search.stdout) as { hits: { id: string; payload: { lang: string; n: number; meta: { even: boolean } } }[] };
    // n in [30, 150), n % 3 == 0 and odd: 33, 39, ..., 147 (20 points).
    const expected = Array.from({ length: 300 }, (_, n) => n).filter((n) => n >= 30 && n < 150 && n % 3 === 0 && n % 2 === 1);
    expect(hits.map((hit) => hit.id).sort()).toEqual(expected.map((n) => `p${n}`).sort());
    for (const hit of hits) expect(hit.payload).toEqual({ lang: "en", n: Number(hit.id.slice(1)), meta: { even: false } });

    const bare = await runCli([...at, "search", "--collection", "cli_jsonl", "--vector", "[1,0,1]", "-k", "2", "--no-payload", "--with-vector"]);
    const bareHits = (JSON.parse(bare.stdout) as { hits: { payload?: unknown; vector: number[] }[] }).hits;
    expect(bareHits).toHaveLength(2);
    for (const hit of bareHits) {
      expect(hit.payload).toBeUndefined();
      expect(hit.vector).toHaveLength(3);
    }
  });

  it("exits 2 with the message for a malformed --filter or --vector", async () => {
    const filter = await runCli([...at, "search", "--collection", "cli_jsonl", "--vector", "[1,0,1]", "--filter", '{"must":[{"field":{"key":"lang","equalz":"en"}}]}']);
    expect(filter.code).toBe(2);
    expect(filter.stderr).toMatch(/^error: --filter: not a vectordb\.v1\.Filter: .*equalz/);
    const json = await runCli([...at, "search", "--collection", "cli_jsonl", "--vector", "[1,0,1]", "--filter", "{must"]);
    expect(json.code).toBe(2);
    expect(json.stderr).toContain("error: --filter: invalid JSON");
    const vector = await runCli([...at, "search", "--collection", "cli_jsonl", "--vector", '[1,"x"]']);
    expect(vector.code).toBe(2);
    expect(vector.stderr).toContain('error: --vector: element 1 is "x", not a finite number');
  });

  it("names the line of a malformed .jsonl line and exits non-zero", async () => {
    const path = join(dir, "malformed.jsonl");
    writeFileSync(path, '{"id":"m1","vector":[1,0,0]}\n{"id":"m2","vector":[0,1,0]}\n{"id":"m3","vector":[0,0,1]\n');
    const result = await runCli([...at, "ingest", "--collection", "cli_bad", "--create", "--distance", "dot", path]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`error: ${path}:3: invalid JSON`);
  });

  it("health exits 0 for a serving server and 1 for a closed port, quickly", async () => {
    const serving = await runCli([...at, "health"]);
    expect(serving).toMatchObject({ code: 0, stdout: "SERVING\n" });
    const port = await freePort();
    const startedMs = performance.now();
    const closed = await runCli(["--address", `127.0.0.1:${port}`, "health"]);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/^error: (UNAVAILABLE|DEADLINE_EXCEEDED): /);
    expect(performance.now() - startedMs).toBeLessThan(5_000);
  });

  it("serve: a flag beats the environment, SIGTERM exits 0, and an invalid setting exits 2", async () => {
    const invalid = await runCli(["serve", "--log-level", "silent"], { VECTORDB_PORT: "not-a-port" });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toBe('error: --port (VECTORDB_PORT): "not-a-port" is not a non-negative integer\n');

    const port = await freePort();
    const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VECTORDB_")));
    const child = spawn(process.execPath, [cliPath, "serve", "--port", String(port), "--host", "127.0.0.1", "--metrics-port", "0", "--data-dir", join(dir, "serve-data")], {
      cwd: root,
      // If the environment won, the port would be invalid and serve would exit 2.
      env: { ...cleanEnv, VECTORDB_PORT: "not-a-port", VECTORDB_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolvePromise) => child.on("exit", (code, signal) => resolvePromise({ code, signal })));
    try {
      await new Promise<void>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not log "listening" in 10 s; stderr: ${stderr}`)), 10_000);
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
          stderr += chunk;
          if (stderr.includes("vectordb listening")) {
            clearTimeout(timer);
            resolvePromise();
          }
        });
        void exited.then(({ code }) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
      });
      const listening = stderr.split("\n").map((line) => (line.trim() === "" ? {} : (JSON.parse(line) as { msg?: string; address?: string }))).find((line) => line.msg === "vectordb listening");
      expect(listening?.address).toBe(`127.0.0.1:${port}`);
      const health = await runCli(["--address", `127.0.0.1:${port}`, "health"]);
      expect(health.code).toBe(0);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(stderr).toContain("shut down cleanly");
  });

  it("reaches a TLS server with a key (--tls-ca-file, --api-key), and prints per-RPC latency with stats", async () => {
    const certs = makeCertificates();
    const metricsPort = await freePort();
    const secure = await startTestServer({}, { tls: { certFile: certs.serverCert, keyFile: certs.serverKey }, auth: { readOnlyApiKey: "cli-ro-key" }, metricsPort });
    try {
      const tlsAt = ["--address", secure.address];
      // The certificate also names localhost: with that as the TLS server name Node does not warn
      // about an IP address in the TLS ServerName (DEP0123).
      const health = await runCli([...tlsAt, "health", "--tls-ca-file", certs.caCert, "--tls-server-name", "localhost"]);
      expect(health.stdout).toBe("SERVING\n");
      const listed = await runCli([...tlsAt, "collections", "list", "--tls-ca-file", certs.caCert, "--tls-server-name", "localhost", "--api-key", "cli-ro-key"]);
      expect(listed.stderr).toBe("");
      expect(JSON.parse(listed.stdout)).toEqual({ collections: [] });
      const keyless = await runCli([...tlsAt, "collections", "list"], { VECTORDB_TLS_CA_FILE: certs.caCert, VECTORDB_TLS_SERVER_NAME: "localhost" });
      expect(keyless.code).toBe(1);
      expect(keyless.stderr).toMatch(/^error: UNAUTHENTICATED: .*an API key is required/);
      const plaintext = await runCli([...tlsAt, "--timeout-ms", "2000", "collections", "list", "--api-key", "cli-ro-key"]);
      expect(plaintext.code).toBe(1);
      const stats = await runCli(["stats", "--metrics-url", `http://127.0.0.1:${metricsPort}/metrics`]);
      expect(stats.stderr).toBe("");
      const lines = stats.stdout.trim().split("\n");
      expect(lines[0]).toMatch(/^method\s+calls\s+failed\s+p50 ms\s+p95 ms\s+p99 ms\s+mean ms$/);
      expect(lines.find((line) => line.startsWith("CollectionService/ListCollections"))).toMatch(/^CollectionService\/ListCollections\s+2\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$/);
    } finally {
      await secure.stop();
      certs.remove();
    }
  });

  it("the Dockerfile's HEALTHCHECK command passes against plaintext, TLS and mutual-TLS servers (the container's environment)", async () => {
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    const command = /^HEALTHCHECK[^\n]*\\\n\s*CMD (.+)$/m.exec(dockerfile)?.[1];
    expect(command).toContain("node dist/src/cli/main.js health");
    // Run it as the container would (sh -c, from the app folder), with this build's CLI.
    const probe = (port: string, env: Record<string, string>): Promise<number | null> =>
      new Promise((resolvePromise, reject) => {
        const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VECTORDB_")));
        const child = spawn("sh", ["-c", command!.replace("node dist/src/cli/main.js", `"${process.execPath}" "${cliPath}"`)], {
          cwd: root,
          env: { ...cleanEnv, VECTORDB_PORT: port, ...env },
          stdio: "ignore",
        });
        child.on("error", reject);
        child.on("close", resolvePromise);
      });
    const certs = makeCertificates();
    const portOf = (server: TestServer): string => server.address.slice(server.address.lastIndexOf(":") + 1);
    const plain = await startTestServer();
    const tls = await startTestServer({}, { tls: { certFile: certs.serverCert, keyFile: certs.serverKey }, auth: { apiKey: "container-key" } });
    const mutual = await startTestServer({}, { tls: { certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: certs.caCert } });
    try {
      const serverTls = { VECTORDB_TLS_CERT_FILE: certs.serverCert, VECTORDB_TLS_KEY_FILE: certs.serverKey };
      expect(await probe(portOf(plain), {})).toBe(0);
      expect(await probe(portOf(tls), { ...serverTls, VECTORDB_API_KEY: "container-key" })).toBe(0);
      expect(await probe(portOf(tls), {})).toBe(1);
      const clientCert = { VECTORDB_TLS_CLIENT_CERT_FILE: certs.clientCert, VECTORDB_TLS_CLIENT_KEY_FILE: certs.clientKey };
      expect(await probe(portOf(mutual), { ...serverTls, VECTORDB_TLS_CLIENT_CA_FILE: certs.caCert, ...clientCert })).toBe(0);
      expect(await probe(portOf(mutual), { ...serverTls, VECTORDB_TLS_CLIENT_CA_FILE: certs.caCert })).toBe(1);
    } finally {
      await Promise.all([plain.stop(), tls.stop(), mutual.stop()]);
      certs.remove();
    }
  });

  it("serve --log-format pretty writes lines for a terminal, not JSON", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [cliPath, "serve", "--port", String(port), "--metrics-port", "0", "--log-format", "pretty", "--data-dir", join(dir, "pretty-data")], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    try {
      await new Promise<void>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "vectordb listening" in 10 s: ${stderr}`)), 10_000);
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
          stderr += chunk;
          if (stderr.includes("vectordb listening")) {
            clearTimeout(timer);
            resolvePromise();
          }
        });
      });
      const line = stderr.split("\n").find((text) => text.includes("vectordb listening"))!;
      expect(line.trimStart().startsWith("{")).toBe(false);
      expect(line).toMatch(/INFO/);
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("ingest has no overall deadline: a load longer than the default call deadline completes, and --resume continues after the durable batches", async () => {
    const path = join(dir, "long.fvecs");
    writeFvecs(path, 20_000, 16, 11);
    // The default call deadline, from the environment, is 150 ms: a unary call on a fresh channel fails.
    const tight = { VECTORDB_TIMEOUT_MS: "150" };
    const list = await runCli([...at, "collections", "list"], { VECTORDB_TIMEOUT_MS: "1" });
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/^error: DEADLINE_EXCEEDED: /);
    // The collection is made first with the usual deadline: under --create the CreateCollection call
    // itself would have the 150 ms deadline, which a loaded machine misses on a fresh channel.
    const created = await runCli([...at, "collections", "create", "cli_long", "--dimension", "16", "--distance", "dot"]);
    expect(created.stderr).toBe("");
    const ingest = await runCli([...at, "ingest", "--collection", "cli_long", "--batch-size", "100", path], tight);
    expect(ingest.stderr).toBe("");
    expect(ingest.code).toBe(0);
    const seconds = Number(/ in (\d+\.\d+) s:/.exec(ingest.stdout)?.[1]);
    expect(seconds, ingest.stdout).toBeGreaterThan(0.15);
    expect(ingest.stdout).toMatch(/^ingested 20000 points \(20000 inserted, 0 updated\)/);
    // Resuming a load that completed finds every batch durable: nothing is sent again.
    const resumed = await runCli([...at, "ingest", "--collection", "cli_long", "--batch-size", "100", "--resume", path], tight);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^resuming after batch 200: 20000 points of the file were durable already\ningested 0 points \(0 inserted, 0 updated\)/);
    const other = await runCli([...at, "ingest", "--collection", "cli_long", "--batch-size", "300", "--resume", path]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^error: nothing to resume: no load of .*long\.fvecs into "cli_long" in batches of 300 is recorded in /);
  });

  it("ingest gives up after --stall-timeout-ms without an acknowledgement, and says how to resume", async () => {
    // A server that takes the stream and never answers.
    const stalled = new grpc.Server();
    const held: grpc.ServerDuplexStream<unknown, unknown>[] = [];
    stalled.addService(grpcServiceDefinition(PointService), { ingestStream: (call: grpc.ServerDuplexStream<unknown, unknown>) => void held.push(call) });
    const port = await new Promise<number>((resolvePort, reject) => stalled.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolvePort(bound))));
    try {
      const path = join(dir, "stalled.jsonl");
      writeFileSync(path, '{"id":"a","vector":[1,2]}\n');
      const started = performance.now();
      const result = await runCli(["--address", `127.0.0.1:${port}`, "ingest", "--collection", "any", "--stall-timeout-ms", "500", path]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe("error: no acknowledgement from the server for 0.5 s (--stall-timeout-ms 500): it is stalled or unreachable; the acknowledged batches are durable, rerun with --resume\n");
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(held.length).toBe(1);
    } finally {
      stalled.forceShutdown();
    }
  });

  it("snapshot create, list, download, restore and delete", async () => {
    const path = join(dir, "snap.jsonl");
    writeFileSync(path, Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `s${i}`, vector: [i, 1, 0], payload: { i } })).join("\n"));
    expect((await runCli([...at, "ingest", "--collection", "cli_snap", "--create", "--distance", "euclidean", path])).code).toBe(0);
    const created = await runCli([...at, "snapshot", "create", "cli_snap"]);
    expect(created.stderr).toBe("");
    const snapshot = (JSON.parse(created.stdout) as { snapshot: { name: string; sha256: string; pointCount: string; sizeBytes: string } }).snapshot;
    expect(snapshot).toMatchObject({ pointCount: "50", name: expect.stringMatching(/^cli_snap-.*\.snapshot$/) });
    const listed = JSON.parse((await runCli([...at, "snapshot", "list", "cli_snap"])).stdout) as { snapshots: unknown[] };
    expect(listed.snapshots).toEqual([expect.objectContaining({ name: snapshot.name, sha256: snapshot.sha256 })]);
    const file = join(dir, "copy.snapshot");
    const downloaded = await runCli([...at, "snapshot", "download", "cli_snap", snapshot.name, "--output", file]);
    expect(downloaded.stderr).toBe("");
    expect(JSON.parse(downloaded.stdout)).toEqual({ name: snapshot.name, path: file, sizeBytes: snapshot.sizeBytes, sha256: snapshot.sha256 });
    const restored = await runCli([...at, "snapshot", "restore", file, "--collection", "cli_snap_copy"]);
    expect(restored.stderr).toBe("");
    expect(JSON.parse(restored.stdout).collection).toMatchObject({ name: "cli_snap_copy", pointCount: "50", dimension: 3 });
    const wrong = await runCli([...at, "snapshot", "restore", file, "--collection", "cli_snap_bad", "--sha256", "0".repeat(64)]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: DATA_LOSS: \[data_loss\] sha256: /);
    expect((await runCli([...at, "snapshot", "delete", "cli_snap", snapshot.name])).stdout).toBe("{}\n");
    const gone = await runCli([...at, "snapshot", "download", "cli_snap", snapshot.name, "--output", join(dir, "gone.snapshot")]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: NOT_FOUND: .*has no snapshot/);
    expect(existsSync(join(dir, "gone.snapshot"))).toBe(false);
  });

  it("aliases create, switch, rename, list and delete; collections update --ef", async () => {
    for (const name of ["cli_alias_v1", "cli_alias_v2"]) {
      await server.client.collections.createCollection({ name, dimension: 2, distance: Distance.EUCLIDEAN });
    }
    await server.client.points.upsert({ collection: "cli_alias_v2", points: [{ id: "only-in-v2", vector: [1, 0] }] });
    const created = await runCli([...at, "aliases", "create", "cli_current", "cli_alias_v1"]);
    expect(created.stderr).toBe("");
    expect(created.stdout).toBe("{}\n");
    expect((await server.client.points.count({ collection: "cli_current" })).count).toBe(0n);
    const switched = await runCli([...at, "aliases", "switch", "cli_current", "cli_alias_v2"]);
    expect(switched.stderr).toBe("");
    // The alias now names v2: a call through it sees v2's point.
    expect((await server.client.points.count({ collection: "cli_current" })).count).toBe(1n);
    expect((await runCli([...at, "aliases", "rename", "cli_current", "cli_live"])).stderr).toBe("");
    const listed = await runCli([...at, "aliases", "list", "--collection", "cli_alias_v2"]);
    expect(listed.stderr).toBe("");
    expect(JSON.parse(listed.stdout)).toEqual({ aliases: [{ alias: "cli_live", collection: "cli_alias_v2" }] });
    // Switching an alias that does not exist changes nothing: its delete fails, so its create is not applied either.
    const missing = await runCli([...at, "aliases", "switch", "cli_missing", "cli_alias_v1"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: NOT_FOUND: .*cli_missing/);

    const updated = await runCli([...at, "collections", "update", "cli_live", "--ef", "99"]);
    expect(updated.stderr).toBe("");
    expect(JSON.parse(updated.stdout).collection).toMatchObject({ name: "cli_alias_v2", hnsw: { ef: 99 } });
    const noEf = await runCli([...at, "collections", "update", "cli_alias_v2"]);
    expect(noEf.code).toBe(2);
    expect(noEf.stderr).toContain("required option '--ef <n>' not specified");

    const deleted = await runCli([...at, "aliases", "delete", "cli_live"]);
    expect(deleted.stdout).toBe("{}\n");
    expect((await server.client.collections.listAliases({})).aliases.map((a) => a.alias)).toEqual([]);
  });

  const sift = datasetFile("sift10k", "siftsmall_base.fvecs");
  it.skipIf(sift === undefined)(
    sift === undefined ? "ingests SIFT10K (skipped: ../shared/datasets/sift10k/siftsmall_base.fvecs is absent)" : "ingests SIFT10K with --create and reports 10000 points",
    async () => {
      const ingest = await runCli([...at, "ingest", "--collection", "cli_sift", "--create", "--distance", "euclidean", "--no-progress", sift!]);
      expect(ingest.stderr).toBe("");
      expect(ingest.code).toBe(0);
      expect(ingest.stdout).toMatch(/^ingested 10000 points \(10000 inserted, 0 updated\)/);
      const got = await runCli([...at, "collections", "get", "cli_sift"]);
      expect(JSON.parse(got.stdout).collection).toMatchObject({ dimension: 128, distance: "DISTANCE_EUCLIDEAN", pointCount: "10000" });
    },
  );
});
