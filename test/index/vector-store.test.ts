import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { dotAt, l2SquaredAt, normalizeInPlace, VectorStore } from "../../src/index/index.js";
import { rng } from "../helpers/random.js";

describe("WebAssembly kernels", () => {
  it("engine-binary.ts is what scripts/build-wasm.mjs compiles from assembly/engine.ts", () => {
    // Exits 1 with "stale: run npm run build:wasm" when the committed binary differs from the source.
    execFileSync(process.execPath, ["scripts/build-wasm.mjs", "--check"], { stdio: "pipe" });
  });

  it.each([1, 3, 4, 15, 16, 17, 33, 100, 128, 769])("match the float64 JS kernels at dimension %i (SIMD body and scalar tail)", (dimension) => {
    const random = rng(dimension);
    const rows = 20;
    const vectors = Array.from({ length: rows }, () => Float32Array.from({ length: dimension }, () => random() * 8 - 4));
    for (const distance of ["euclidean", "dot", "cosine"] as const) {
      const store = new VectorStore(dimension, distance, 4);
      store.ensureCapacity(rows);
      vectors.forEach((v, r) => store.write(r, v));
      const query = Float32Array.from({ length: dimension }, () => random() * 8 - 4);
      store.setQuery(query);
      const q = Float32Array.from(query);
      const stored = vectors.map((v) => Float32Array.from(v));
      if (distance === "cosine") {
        normalizeInPlace(q);
        stored.forEach((v) => normalizeInPlace(v));
      }
      const expected = (a: Float32Array, b: Float32Array): number =>
        distance === "euclidean" ? l2SquaredAt(a, 0, b, 0, dimension) : -dotAt(a, 0, b, 0, dimension);
      const ids = store.batchIds;
      for (let r = 0; r < rows; r++) ids[r] = rows - 1 - r;
      store.scoreBatch(rows);
      for (let r = 0; r < rows; r++) {
        const tolerance = 1e-5 * Math.max(1, Math.abs(expected(q, stored[r]!)));
        expect(Math.abs(store.distanceToQuery(r) - expected(q, stored[r]!))).toBeLessThan(tolerance);
        expect(Math.abs(store.distanceBetween(r, 0) - expected(stored[r]!, stored[0]!))).toBeLessThan(tolerance * 4);
        expect(Math.abs(store.batchDistances[rows - 1 - r]! - expected(q, stored[r]!))).toBeLessThan(tolerance);
      }
    }
  });

  it("keeps rows across growth and refuses more than 4 GiB of vectors", () => {
    const store = new VectorStore(8, "euclidean", 1);
    store.ensureCapacity(1);
    store.write(0, Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    store.ensureCapacity(100_000);
    expect(store.capacity).toBeGreaterThanOrEqual(100_000);
    expect(Array.from(store.read(0))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(() => store.ensureCapacity(store.rowsMax + 1)).toThrow(/exceed the 4 GiB vector store/);
  });
});
