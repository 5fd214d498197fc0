import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { bufBinary } from "./helpers/buf-curl.js";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe("gen/", () => {
  it("is exactly what `buf generate` produces from proto/", () => {
    const out = mkdtempSync(join(tmpdir(), "vectordb-gen-"));
    try {
      execFileSync(bufBinary, ["generate", "--output", out], {
        cwd: process.cwd(),
        env: { ...process.env, PATH: `${join(process.cwd(), "node_modules/.bin")}:${process.env.PATH}` },
      });
      const fresh = files(join(out, "gen")).map((path) => relative(join(out, "gen"), path)).sort();
      const committed = files("gen").map((path) => relative("gen", path)).sort();
      expect(committed).toEqual(fresh);
      for (const path of fresh) {
        expect(readFileSync(join("gen", path), "utf8"), `gen/${path} is stale: run npm run generate`).toBe(readFileSync(join(out, "gen", path), "utf8"));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
