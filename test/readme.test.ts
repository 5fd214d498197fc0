import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configOptions, makeConfig } from "../src/config.js";

const readme = readFileSync("README.md", "utf8");

describe("README", () => {
  it("documents every setting with its flag, environment variable and actual default", () => {
    const config = makeConfig();
    for (const option of configOptions) {
      const value = option.path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
      const shown = option.defaultText ?? (typeof value === "number" ? value.toLocaleString("en-US") : `\`${String(value)}\``);
      const row = readme.split("\n").find((line) => line.startsWith(`| \`--${option.flag}\` |`));
      expect(row, `README has no row for --${option.flag}`).toBeDefined();
      expect(row).toContain(`\`${option.env}\``);
      expect(row!.split("|")[3]!.trim(), `default of --${option.flag}`).toBe(shown);
    }
  });

  it("gives the test command that .ci/run runs", () => {
    expect(readme).toContain("npm ci && npm test");
    expect(readme).toContain("npm ci && npm start");
    expect(readFileSync(".ci/run", "utf8")).toMatch(/^npm ci && npm test$/m);
  });
});
