import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** `../shared/datasets` beside the project (VECTORDB_DATASETS overrides). */
export const datasetsDir = process.env.VECTORDB_DATASETS ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../../shared/datasets");

/** Absolute path of a dataset file, or undefined when it is absent. */
export function datasetFile(...parts: string[]): string | undefined {
  const path = join(datasetsDir, ...parts);
  return existsSync(path) ? path : undefined;
}

export { readIvecsFile as readIvecs } from "../../src/cli/ground-truth.js";
