import { execFile } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { defaultCliPath, projectRoot } from "../../src/testing/index.js";

/**
 * The compiled server for tests that run it as users do (`node dist/src/cli/main.js`, a child
 * process): test/cli.test.ts and test/crash.test.ts.
 */

const root = projectRoot();

/** The compiled CLI the crash test runs as a child process. */
export const cliPath = defaultCliPath();

/** True when every .ts file under `dir` (relative to the project) is older than its compiled .js in dist/. */
function compiledIsFresh(dir: string): boolean {
  return readdirSync(dir, { withFileTypes: true }).every((entry) => {
    const path = join(dir, entry.name);
    // The AssemblyScript sources are compiled to engine-binary.ts (npm run build:wasm), not by tsc.
    if (entry.isDirectory()) return path === join(root, "src/index/wasm/assembly") || compiledIsFresh(path);
    if (!entry.name.endsWith(".ts") || entry.name.endsWith(".d.ts")) return true;
    const compiled = join(root, "dist", relative(root, path)).replace(/\.ts$/, ".js");
    try {
      return statSync(compiled).mtimeMs >= statSync(path).mtimeMs;
    } catch {
      return false;
    }
  });
}

/**
 * Compiles the server (`tsc -p tsconfig.build.json`) unless dist/ is newer than
 * every source under src/ and gen/: the crash test runs the server as users do, `node dist/src/cli/main.js`.
 */
export async function ensureServerBuilt(): Promise<void> {
  if (compiledIsFresh(join(root, "src")) && compiledIsFresh(join(root, "gen"))) return;
  await promisify(execFile)("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: root }).catch((error: { stdout?: string; message: string }) => {
    throw new Error(`npx tsc -p tsconfig.build.json failed:\n${error.stdout ?? error.message}`);
  });
}
