import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** `../shared/datasets` beside the project (VECTORDB_DATASETS overrides). */
export const datasetsDir = process.env.VECTORDB_DATASETS ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../../shared/datasets");

/** Absolute path of a dataset file, or undefined when it is absent. */
export function datasetFile(...parts: string[]): string | undefined {
  const path = join(datasetsDir, ...parts);
  return existsSync(path) ? path : undefined;
}

/** Reads an .ivecs file (int32 k, then k int32 ids, per record) into arrays of ids. */
export function readIvecs(path: string): Int32Array[] {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows: Int32Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; ) {
    const k = view.getInt32(offset, true);
    const row = new Int32Array(k);
    for (let i = 0; i < k; i++) row[i] = view.getInt32(offset + 4 + 4 * i, true);
    rows.push(row);
    offset += 4 + 4 * k;
  }
  return rows;
}
