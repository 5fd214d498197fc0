import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../src/testing/index.js";

/**
 * The storage seam (`src/storage/file-system.ts`): on the data path — storage/, collection/, db/ —
 * only `node-file-system.ts` touches node:fs, so that the power-loss simulation sees every file
 * operation; and storage/ stays below collection/ and index/.
 */

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

function importsOf(path: string): string[] {
  const text = readFileSync(path, "utf8");
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"/g)].map((match) => match[1]!);
}

const src = join(projectRoot(), "src");

describe("the storage seam", () => {
  it("is the only way to node:fs on the data path", () => {
    const offenders: string[] = [];
    for (const layer of ["storage", "collection", "db"]) {
      for (const file of sourceFiles(join(src, layer))) {
        const name = relative(src, file);
        if (name === join("storage", "node-file-system.ts")) continue;
        if (importsOf(file).some((specifier) => specifier === "node:fs" || specifier === "node:fs/promises" || specifier === "fs")) offenders.push(name);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("keeps storage/ free of collection/ and index/ imports", () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(join(src, "storage"))) {
      for (const specifier of importsOf(file)) {
        if (!specifier.startsWith(".")) continue;
        const target = relative(src, join(dirname(file), specifier));
        if (/^(collection|index)([/.]|$)/.test(target)) offenders.push(`${relative(src, file)}: ${specifier}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
