import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { projectRoot } from "./project.js";

/** The part of hnswlib-node's `HierarchicalNSW` the benchmarks use. */
export interface HnswlibIndex {
  initIndex(maxElements: number, m: number, efConstruction: number, randomSeed: number): void;
  addPoint(point: number[], label: number): void;
  setEf(ef: number): void;
  searchKnn(query: number[], k: number): { neighbors: number[] };
}

/** `new HierarchicalNSW(space, dimension)`, space "l2", "ip" or "cosine". */
export type HnswlibConstructor = new (space: string, dimension: number) => HnswlibIndex;

/**
 * hnswlib-node (the C++ anchor of the benchmarks), loaded from a folder beside the project: it is never
 * a dependency of the project. `HNSWLIB_NODE_DIR` names the folder whose node_modules holds it
 * (default ../hnswlib-beside: `mkdir ../hnswlib-beside && cd ../hnswlib-beside && npm i hnswlib-node@3.0.0`).
 * Undefined (and a message on stdout) when it is not there.
 */
export function loadHnswlib(): HnswlibConstructor | undefined {
  const folder = process.env.HNSWLIB_NODE_DIR ?? resolve(projectRoot(), "../hnswlib-beside");
  try {
    const require = createRequire(join(folder, "package.json"));
    return (require("hnswlib-node") as { HierarchicalNSW: HnswlibConstructor }).HierarchicalNSW;
  } catch {
    console.log(`hnswlib-node not found beside the project (HNSWLIB_NODE_DIR=${folder}); comparing against it is skipped`);
    return undefined;
  }
}
