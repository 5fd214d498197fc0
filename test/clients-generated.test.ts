import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeRun, root, runChild, setupClientToolchains } from "./helpers/clients.js";

/**
 * The committed Python and Go client code is exactly what `npm run generate` makes from proto/
 * (scripts/generate-clients.sh: buf with Debian's local plugins, then the Python import rewrite),
 * as test/generated.test.ts checks for gen/.
 */

const generatedDirs = ["clients/go/vectordbv1", "clients/python/src/vectordb_grpc_client/vectordb"];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "__pycache__") return [];
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe("clients/ generated code", () => {
  let skipReason: string | undefined;
  let out: string | undefined;

  beforeAll(() => {
    skipReason = setupClientToolchains("generate");
  }, 660_000);

  afterAll(() => {
    if (out !== undefined) rmSync(out, { recursive: true, force: true });
  });

  it("is exactly what scripts/generate-clients.sh produces from proto/", async (ctx) => {
    if (skipReason !== undefined) return ctx.skip();
    out = mkdtempSync(join(tmpdir(), "vectordb-clients-gen-"));
    const result = await runChild("bash", [join(root, "scripts/generate-clients.sh"), out], { timeoutMs: 120_000 });
    expect(result.code, describeRun(result)).toBe(0);
    for (const dir of generatedDirs) {
      const fresh = files(join(out, dir)).map((path) => relative(join(out!, dir), path)).sort();
      const committed = files(join(root, dir)).map((path) => relative(join(root, dir), path)).sort();
      expect(committed, `${dir}: files`).toEqual(fresh);
      for (const path of fresh) {
        expect(readFileSync(join(root, dir, path), "utf8"), `${dir}/${path} is stale: run npm run generate`).toBe(
          readFileSync(join(out, dir, path), "utf8"),
        );
      }
    }
  }, 130_000);
});
