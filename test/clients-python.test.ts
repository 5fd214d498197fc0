import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { debianPython, describeRun, root, runChecked, runChild, setupClientToolchains } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * The Python client package (clients/python, import name vectordb_grpc_client) against a real server,
 * with Debian's /usr/bin/python3, python3-grpcio and python3-numpy (installed through
 * scripts/setup-clients.sh python when missing). test/python/package_check.py does the checks, once
 * importing the package from source and once from a venv where pip installed it offline.
 */

const checkScript = join(root, "test/python/package_check.py");
const checkTimeoutMs = 60_000;
const installTimeoutMs = 120_000;

const expectedChecks = [
  "health",
  "collections",
  "upsert",
  "get",
  "search",
  "batch_search",
  "ingest_forms",
  "ingest_errors",
  "delete",
  "lifecycle_errors",
  "scroll_count",
  "payload_updates",
  "update_collection_aliases",
  "snapshots",
  "ingest_stream",
  "ingest_stream_stall",
  "tls_api_key",
];

interface Summary {
  ok: boolean;
  checks: string[];
  package_file: string;
  api_keys_seen: Array<string | null>;
  ingest_items_read_of_1000: number;
  ingest_stream_resumed_after: number;
  ingest_stream_bad_batch_error: string;
  stall_error: string;
}

function summaryOf(stdout: string): Summary {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as Summary;
}

describe("Python client package (clients/python)", () => {
  let skipReason: string | undefined;
  let server: TestServer | undefined;
  let scratch: string | undefined;

  beforeAll(async () => {
    skipReason = setupClientToolchains("python");
    if (skipReason === undefined) server = await startTestServer();
  }, 660_000);

  afterAll(async () => {
    await server?.stop();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it("works from source (PYTHONPATH=clients/python/src): every method (scroll, payloads, aliases, snapshots, resumable ingest too), numpy and lists, errors, tls and api_key", async (ctx) => {
    if (skipReason !== undefined) return ctx.skip();
    const result = await runChild(debianPython, [checkScript, server!.address], {
      timeoutMs: checkTimeoutMs,
      env: { PYTHONPATH: join(root, "clients/python/src") },
    });
    expect(result.code, describeRun(result)).toBe(0);
    const summary = summaryOf(result.stdout);
    expect(summary.ok).toBe(true);
    expect(summary.checks).toEqual(expectedChecks);
    expect(summary.package_file).toBe(join(root, "clients/python/src/vectordb_grpc_client/__init__.py"));
    expect(summary.api_keys_seen).toEqual(["secret-1", null]);
    // The producer of 1,000 batches was read only a little past the batch the server refused.
    expect(summary.ingest_items_read_of_1000).toBeLessThan(100);
    // A load broken at its 5th batch resumed after at most the 4th; errors name the message and the limit.
    expect(summary.ingest_stream_resumed_after).toBeLessThanOrEqual(4);
    expect(summary.ingest_stream_bad_batch_error).toMatch(/^\[invalid_argument\] batches\[1\]\.points\[0\] \(id "bad"\)\.vector: /);
    expect(summary.stall_error).toMatch(/no acknowledgement from the server for 0\.5 s \(stall_timeout\)/);
    // Every collection the check made was dropped again.
    const { collections } = await server!.client.collections.listCollections({});
    expect(collections.map((c) => c.name).filter((name) => name.startsWith("pkg_"))).toEqual([]);
  }, checkTimeoutMs + 10_000);

  it("installs with pip into a venv (offline: --no-index --no-build-isolation) and works from there", async (ctx) => {
    if (skipReason !== undefined) return ctx.skip();
    scratch = mkdtempSync(join(tmpdir(), "vectordb-pyclient-"));
    // Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    const source = join(scratch, "src-copy");
    cpSync(join(root, "clients/python"), source, {
      recursive: true,
      filter: (path) => !/(__pycache__|\.egg-info|[/\\]build)$/.test(path),
    });
    const venv = join(scratch, "venv");
    await runChecked(debianPython, ["-m", "venv", "--system-site-packages", venv], { timeoutMs: installTimeoutMs });
    await runChecked(
      join(venv, "bin/pip"),
      ["install", "--no-index", "--no-build-isolation", "--disable-pip-version-check", "--quiet", source],
      { timeoutMs: installTimeoutMs, cwd: scratch },
    );
    // Run from the scratch directory, with no PYTHONPATH: the package can only come from the venv.
    const result = await runChild(join(venv, "bin/python"), [checkScript, server!.address], { timeoutMs: checkTimeoutMs, cwd: scratch });
    expect(result.code, describeRun(result)).toBe(0);
    const summary = summaryOf(result.stdout);
    expect(summary.checks).toEqual(expectedChecks);
    expect(summary.package_file.startsWith(join(venv, "lib"))).toBe(true);
    expect(summary.package_file).toMatch(/site-packages\/vectordb_grpc_client\/__init__\.py$/);
  }, 2 * installTimeoutMs + checkTimeoutMs);
});
