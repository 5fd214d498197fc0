import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeRun, goClientImportPath, GoWorkspace, root, runChild, setupClientToolchains } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * The Go client (clients/go: the generated package vectordbv1 and example/) built offline with Debian's
 * Go 1.19 and golang-google-grpc-dev in GOPATH mode (installed through scripts/setup-clients.sh go
 * when missing), then run against a real server.
 */

const buildTimeoutMs = 300_000;
const runTimeoutMs = 60_000;

describe("Go client (clients/go)", () => {
  let skipReason: string | undefined;
  let workspace: GoWorkspace | undefined;
  let server: TestServer | undefined;
  let example = "";

  beforeAll(async () => {
    skipReason = setupClientToolchains("go");
    if (skipReason !== undefined) return;
    workspace = new GoWorkspace();
    example = join(workspace.dir, "example");
    await workspace.build(`${goClientImportPath}/example`, example, buildTimeoutMs);
    server = await startTestServer();
  }, 600_000 + buildTimeoutMs);

  afterAll(async () => {
    await server?.stop();
    workspace?.remove();
  });

  it("runs the example against a real server: health, create, upsert, filtered search, Ingest stream, get, status codes, delete", async (ctx) => {
    if (skipReason !== undefined) return ctx.skip();
    const result = await runChild(example, ["-addr", server!.address, "-batches", "20", "-batch-size", "500"], { timeoutMs: runTimeoutMs });
    expect(result.code, describeRun(result)).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toEqual([
      "health: SERVING",
      "created: go_example dimension=4 hnsw.m=16",
      "upserted: inserted=3 updated=0",
      "hit: a score=1.000 lang=en",
      "hit: c score=0.000 lang=en",
      "ingested: batches=20 inserted=10000 updated=0",
      "get: a payload=map[lang:en year:2024]",
      "error: InvalidArgument - [invalid_argument] vector: has 2 components, the collection's dimension is 4",
      "deleted: 2 points, then the collection with 10001 points",
      "ok",
    ]);
    const { collections } = await server!.client.collections.listCollections({});
    expect(collections.map((c) => c.name)).not.toContain("go_example");
  }, runTimeoutMs + 10_000);

  // (go vet is left to developers: it analyses every dependency from source, ~20 s cold.)
  it("is gofmt-clean", async (ctx) => {
    if (skipReason !== undefined) return ctx.skip();
    const gofmt = await runChild("/usr/bin/gofmt", ["-l", join(root, "clients/go")], { timeoutMs: runTimeoutMs });
    expect(gofmt.code, describeRun(gofmt)).toBe(0);
    expect(gofmt.stdout, "files gofmt would change").toBe("");
  }, runTimeoutMs);
});
