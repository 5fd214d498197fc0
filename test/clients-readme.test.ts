import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { debianPython, describeRun, GoWorkspace, root, runChecked, runChild, setupClientToolchains } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * The TypeScript, Python and Go examples of the README's "Clients" section, run verbatim against a
 * real server: the only change is the address `127.0.0.1:50051`, replaced by the test server's. The
 * TypeScript one runs in a project of its own that installed the packed npm package.
 */

const readmeAddress = "127.0.0.1:50051";
const runTimeoutMs = 60_000;
const buildTimeoutMs = 300_000;

/** The body of the first ```lang block under `### heading` in the README's "## Clients" section. */
function readmeExample(heading: string, lang: string): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const clients = readme.split(/^## /m).find((section) => section.startsWith("Clients\n"));
  if (clients === undefined) throw new Error('README.md has no "## Clients" section');
  const part = clients.split(/^### /m).find((section) => section.startsWith(`${heading}\n`));
  if (part === undefined) throw new Error(`README.md "## Clients" has no "### ${heading}"`);
  const block = new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "m").exec(part);
  if (block === null) throw new Error(`README.md "### ${heading}" has no \`\`\`${lang} block`);
  return block[1]!;
}

/** The example with the test server's address; the README's address must appear exactly once. */
function pointedAt(code: string, address: string): string {
  expect(code.split(readmeAddress).length - 1, `occurrences of ${readmeAddress}`).toBe(1);
  return code.replace(readmeAddress, address);
}

describe("README Clients examples", () => {
  let server: TestServer | undefined;
  let pythonSkip: string | undefined;
  let goSkip: string | undefined;
  let workspace: GoWorkspace | undefined;

  beforeAll(async () => {
    pythonSkip = setupClientToolchains("python");
    goSkip = setupClientToolchains("go");
    if (goSkip === undefined) workspace = new GoWorkspace();
    server = await startTestServer();
  }, 1_200_000);

  afterAll(async () => {
    await server?.stop();
    workspace?.remove();
  });

  // Both examples create "docs": drop it after each.
  afterEach(async () => {
    const { collections } = await server!.client.collections.listCollections({});
    if (collections.some((c) => c.name === "docs")) await server!.client.collections.deleteCollection({ name: "docs" });
  });

  it("packs the TypeScript client as its own npm package, which needs no server dependency, and runs its example", async () => {
    const project = mkdtempSync(join(tmpdir(), "vectordb-ts-client-"));
    try {
      await runChecked("npm", ["run", "pack:client", "--", "--pack-destination", project], { cwd: root, timeoutMs: 120_000 });
      const tarball = readdirSync(project).find((name) => name.endsWith(".tgz"));
      expect(tarball).toBe("vectordb-grpc-client-0.1.0.tgz");
      writeFileSync(join(project, "package.json"), JSON.stringify({ name: "readme-example", private: true, type: "module" }));
      // The dependencies come from npm's cache that this project's own install filled (same versions).
      await runChecked("npm", ["install", `./${tarball}`, "--prefer-offline", "--no-audit", "--no-fund"], { cwd: project, timeoutMs: 300_000 });
      const installed = readdirSync(join(project, "node_modules"));
      for (const serverOnly of ["pino", "commander", "cli-progress", "grpc-health-check"]) expect(installed).not.toContain(serverOnly);
      expect(readdirSync(join(project, "node_modules/@grpc"))).not.toContain("reflection");
      writeFileSync(join(project, "example.mjs"), pointedAt(readmeExample("TypeScript", "ts"), server!.address));
      const result = await runChild(process.execPath, ["example.mjs"], { timeoutMs: runTimeoutMs, cwd: project });
      expect(result.code, describeRun(result)).toBe(0);
      expect(result.stdout.trim().split("\n")).toEqual(['a 0.995 {"lang":"en"}', "b 0.100 {}", '{"batches":1,"inserted":100,"updated":0}']);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }, 480_000);

  it("runs the Python example (clients/python from source)", async (ctx) => {
    if (pythonSkip !== undefined) return ctx.skip();
    const code = pointedAt(readmeExample("Python", "python"), server!.address);
    const result = await runChild(debianPython, ["-c", code], {
      timeoutMs: runTimeoutMs,
      env: { PYTHONPATH: join(root, "clients/python/src") },
    });
    expect(result.code, describeRun(result)).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(5);
    // Three English hits, the query's own point first; payloads as dicts (key order is not kept).
    expect(lines[0]).toMatch(/^doc-1 1\.0 \{('lang': 'en', 'n': 1|'n': 1, 'lang': 'en')\}$/);
    for (const line of lines.slice(1, 3)) expect(line).toMatch(/^doc-\d*[13579] 0\.\d+ \{.*'lang': 'en'.*\}$/);
    expect(lines[3]).toBe("IngestResult(batches=1, inserted=100, updated=0)");
    expect(lines[4]).toBe("INVALID_ARGUMENT [invalid_argument] vector: has 2 components, the collection's dimension is 8");
    const { collection } = await server!.client.collections.getCollection({ name: "docs" });
    expect(collection?.pointCount).toBe(200n);
  }, runTimeoutMs + 10_000);

  it("builds (GOPATH mode, Debian's Go) and runs the Go example", async (ctx) => {
    if (goSkip !== undefined) return ctx.skip();
    const dir = join(workspace!.dir, "src/readme_example");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "main.go"), pointedAt(readmeExample("Go", "go"), server!.address));
    const binary = join(workspace!.dir, "readme_example");
    await workspace!.build("readme_example", binary, buildTimeoutMs);
    const result = await runChild(binary, [], { timeoutMs: runTimeoutMs });
    expect(result.code, describeRun(result)).toBe(0);
    expect(result.stdout.trim().split("\n")).toEqual(["a 0.981 map[lang:en]", "b 0.196 map[]"]);
  }, buildTimeoutMs + runTimeoutMs);
});
