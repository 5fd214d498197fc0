import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where things are, for tests and benchmarks, whether they run from source (vitest) or compiled
 * (`dist/`): the project folder, the compiled CLI, and the shared datasets beside the project.
 */

let root: string | undefined;

/** The project folder: the nearest folder above this file whose package.json names `vectordb-grpc-server`. */
export function projectRoot(): string {
  if (root !== undefined) return root;
  const here = dirname(fileURLToPath(import.meta.url));
  for (let candidate = here; ; candidate = dirname(candidate)) {
    try {
      const manifest = JSON.parse(readFileSync(join(candidate, "package.json"), "utf8")) as { name?: unknown };
      if (manifest.name === "vectordb-grpc-server") return (root = candidate);
    } catch {
      // Not there: try the folder above.
    }
    if (dirname(candidate) === candidate) throw new Error(`cannot find the vectordb project above ${here}`);
  }
}

/** The compiled CLI entry, `dist/src/cli/main.js` of this project. */
export function defaultCliPath(): string {
  return join(projectRoot(), "dist/src/cli/main.js");
}

/** `../shared/datasets` beside the project (the environment variable VECTORDB_DATASETS overrides it). */
export function datasetsDir(): string {
  return process.env.VECTORDB_DATASETS ?? resolve(projectRoot(), "../shared/datasets");
}

/** Absolute path of a dataset file, or undefined when it is absent. */
export function datasetFile(...parts: string[]): string | undefined {
  const path = join(datasetsDir(), ...parts);
  return existsSync(path) ? path : undefined;
}
