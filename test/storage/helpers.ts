import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { VectorDbError, type ErrorCode } from "../../src/errors.js";

const made: string[] = [];

/** A fresh temporary directory, removed by {@link removeTempDirs}. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "vectordb-storage-"));
  made.push(dir);
  return dir;
}

/** Removes the directories made by {@link tempDir}; call it in `afterEach`. */
export async function removeTempDirs(): Promise<void> {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** Asserts that `promise` rejects with a VectorDbError of `code` and returns it. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<VectorDbError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(VectorDbError);
    expect((error as VectorDbError).code).toBe(code);
    return error as VectorDbError;
  }
  throw new Error(`expected a rejection with ${code}`);
}

/** Bytes 0, 1, 2, … of length n, offset by `seed`. */
export function pattern(n: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}
