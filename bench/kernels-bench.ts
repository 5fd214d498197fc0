/**
 * Distance kernel benchmark: nanoseconds per distance for the tuned JS loops (src/index/distance.ts,
 * four accumulators, float64 sums) against the WebAssembly SIMD kernels of the engine
 * (src/index/wasm/assembly/engine.ts, f32x4, through VectorStore), one call per row and 1,024 rows per call (`scoreBatch`), on random
 * vectors of the datasets' dimensions. This is the measurement behind keeping the WebAssembly kernels.
 *
 * Usage: npm run bench:kernels. Prints a table and writes bench/results/kernels-<date>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { batchRowsMax, dotAt, l2SquaredAt, VectorStore } from "../src/index/index.js";
import { projectRoot } from "../src/testing/index.js";

const projectDir = projectRoot();
const rows = 10_000;
const repetitions = 30;

function time(label: string, work: () => number): { label: string; nsPerDistance: number; checksum: number } {
  work(); // warm-up: let the JIT compile the loop
  let best = Number.POSITIVE_INFINITY;
  let checksum = 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    const start = performance.now();
    checksum = 0;
    for (let r = 0; r < repetitions; r++) checksum += work();
    best = Math.min(best, ((performance.now() - start) * 1e6) / (repetitions * rows));
  }
  return { label, nsPerDistance: +best.toFixed(1), checksum };
}

const results: Record<string, unknown>[] = [];
for (const dimension of [100, 128, 768]) {
  for (const distance of ["euclidean", "dot"] as const) {
    const matrix = Float32Array.from({ length: rows * dimension }, () => Math.random() * 2 - 1);
    const query = Float32Array.from({ length: dimension }, () => Math.random() * 2 - 1);
    const store = new VectorStore(dimension, distance, rows);
    for (let r = 0; r < rows; r++) store.write(r, matrix.subarray(r * dimension, (r + 1) * dimension));
    store.setQuery(query);
    const jsKernel = distance === "euclidean" ? l2SquaredAt : dotAt;
    const js = time("js", () => {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += jsKernel(query, 0, matrix, r * dimension, dimension);
      return sum;
    });
    const single = time("wasm, one call per row", () => {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += store.distanceToQuery(r);
      return sum;
    });
    const batched = time(`wasm, ${batchRowsMax} rows per call`, () => {
      let sum = 0;
      const ids = store.batchIds;
      const out = store.batchDistances;
      for (let r = 0; r < rows; r += batchRowsMax) {
        const count = Math.min(batchRowsMax, rows - r);
        for (let i = 0; i < count; i++) ids[i] = r + i;
        store.scoreBatch(count);
        for (let i = 0; i < count; i++) sum += out[i]!;
      }
      return sum;
    });
    results.push({
      dimension,
      distance,
      jsNs: js.nsPerDistance,
      wasmSingleNs: single.nsPerDistance,
      wasmBatchNs: batched.nsPerDistance,
      speedup: +(js.nsPerDistance / batched.nsPerDistance).toFixed(1),
    });
  }
}
console.log(`ns per distance over ${rows} random rows (best of 3 × ${repetitions} passes)`);
console.table(results);
const outDir = join(projectDir, "bench/results");
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `kernels-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(outFile, JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2));
console.log(`wrote ${outFile}`);
