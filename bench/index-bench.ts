/**
 * HNSW index benchmark, in process (no gRPC): for each dataset, build seconds and inserts/s, then for
 * ef in 16, 32, 64, 128, 256 the recall@10 against exact ground truth and single-thread QPS (k = 10,
 * m = 16, ef_construction = 200, one query at a time), and bytes per vector.
 *
 * Datasets: SIFT10K (128-d, euclidean) and GloVe 100k (100-d, cosine) from ../shared/datasets
 * (VECTORDB_DATASETS overrides; a missing one is skipped with a message), and a seeded synthetic
 * clustered set (50,000 × 64-d, euclidean; ground truth by exact search).
 *
 * Comparison: when hnswlib-node is installed beside the project (never a dependency of it), the same
 * harness runs it with the same parameters. Point HNSWLIB_NODE_DIR at the folder whose node_modules
 * holds it, e.g. `mkdir ../hnswlib-beside && cd ../hnswlib-beside && npm i hnswlib-node@3.0.0`
 * (the default folder is ../hnswlib-beside).
 *
 * Usage: npm run bench:index [-- --datasets sift10k,glove-100k,synthetic --queries 1000 --no-hnswlib]
 * Prints a table and writes bench/results/index-<date>.json.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readFvecsFile, readIvecsFile } from "../src/datasets/index.js";
import { FlatIndex, HnswIndex, type DistanceKind } from "../src/index/index.js";
import { seededRandom } from "../src/random.js";
import { datasetsDir, projectRoot } from "../src/testing/index.js";

const projectDir = projectRoot();
const datasetsRoot = datasetsDir();
const hnswlibDir = process.env.HNSWLIB_NODE_DIR ?? resolve(projectDir, "../hnswlib-beside");

const { values: options } = parseArgs({
  options: {
    datasets: { type: "string", default: "sift10k,glove-100k,synthetic" },
    queries: { type: "string", default: "1000" },
    "no-hnswlib": { type: "boolean", default: false },
    ef: { type: "string", default: "16,32,64,128,256" },
  },
});
const queryCount = Number(options.queries);
const efs = options.ef.split(",").map(Number);
const m = 16;
const efConstruction = 200;
const k = 10;

/** Vectors as rows of one Float32Array, queries likewise, and the true top-k ids per query. */
interface Dataset {
  name: string;
  distance: DistanceKind;
  dimension: number;
  base: Float32Array;
  count: number;
  queries: Float32Array[];
  truth: Int32Array[];
}

async function loadFiles(name: string, distance: DistanceKind, base: string, queries: string, truth: string): Promise<Dataset | undefined> {
  if (![base, queries, truth].every(existsSync)) {
    console.log(`skipping ${name}: ${base} (or its queries / ground truth) is absent`);
    return undefined;
  }
  const b = await readFvecsFile(base);
  const q = await readFvecsFile(queries);
  const t = readIvecsFile(truth);
  const n = Math.min(queryCount, q.count);
  return {
    name,
    distance,
    dimension: b.dimension,
    base: b.data,
    count: b.count,
    queries: Array.from({ length: n }, (_, i) => q.data.slice(i * q.dimension, (i + 1) * q.dimension)),
    truth: t.slice(0, n),
  };
}

function synthetic(): Dataset {
  const count = 50_000;
  const dimension = 64;
  const clusters = 200;
  const random = seededRandom(20261120);
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dimension }, () => random() * 20 - 10));
  const point = (): Float32Array => {
    const centre = centres[Math.floor(random() * clusters)]!;
    return Float32Array.from(centre, (x) => x + (random() - 0.5) * 4);
  };
  const base = new Float32Array(count * dimension);
  for (let i = 0; i < count; i++) base.set(point(), i * dimension);
  const queries = Array.from({ length: Math.min(queryCount, 1000) }, point);
  const flat = new FlatIndex(dimension, "euclidean", count);
  for (let i = 0; i < count; i++) flat.add(base.subarray(i * dimension, (i + 1) * dimension));
  const truth = queries.map((q) => Int32Array.from(flat.search(q, k).slots));
  return { name: `synthetic-${count / 1000}k`, distance: "euclidean", dimension, base, count, queries, truth };
}

function recallOf(found: ArrayLike<number>, truth: Int32Array): number {
  const expected = new Set(Array.from(truth.subarray(0, k)));
  let hits = 0;
  for (let i = 0; i < found.length; i++) if (expected.has(found[i]!)) hits++;
  return hits / k;
}

interface EfRow {
  ef: number;
  recall: number;
  qps: number;
}

interface Run {
  library: string;
  dataset: string;
  count: number;
  dimension: number;
  buildSeconds: number;
  insertsPerSecond: number;
  bytesPerVector?: number;
  efs: EfRow[];
}

/** Queries per second of `search` over all queries, after one warm-up pass; and mean recall. */
function sweep(data: Dataset, search: (query: number, ef: number) => ArrayLike<number>): EfRow[] {
  return efs.map((ef) => {
    for (let q = 0; q < data.queries.length; q++) search(q, ef);
    let recall = 0;
    const start = performance.now();
    const found: ArrayLike<number>[] = new Array(data.queries.length);
    for (let q = 0; q < data.queries.length; q++) found[q] = search(q, ef);
    const seconds = (performance.now() - start) / 1000;
    for (let q = 0; q < data.queries.length; q++) recall += recallOf(found[q]!, data.truth[q]!);
    return { ef, recall: recall / data.queries.length, qps: data.queries.length / seconds };
  });
}

function runOurs(data: Dataset): Run {
  const index = new HnswIndex({ dimension: data.dimension, distance: data.distance, m, efConstruction, initialCapacity: data.count, seed: 1 });
  const start = performance.now();
  for (let i = 0; i < data.count; i++) index.add(data.base.subarray(i * data.dimension, (i + 1) * data.dimension));
  const buildSeconds = (performance.now() - start) / 1000;
  index.checkIntegrity();
  const rows = sweep(data, (q, ef) => index.search(data.queries[q]!, k, ef).ids);
  return {
    library: "vectordb HnswIndex (TS + Wasm SIMD)",
    dataset: data.name,
    count: data.count,
    dimension: data.dimension,
    buildSeconds,
    insertsPerSecond: data.count / buildSeconds,
    bytesPerVector: index.allocatedBytes / data.count,
    efs: rows,
  };
}

interface HnswlibIndex {
  initIndex(maxElements: number, m: number, efConstruction: number, randomSeed: number): void;
  addPoint(point: number[], label: number): void;
  setEf(ef: number): void;
  searchKnn(query: number[], k: number): { neighbors: number[] };
}

function loadHnswlib(): (new (space: string, dimension: number) => HnswlibIndex) | undefined {
  if (options["no-hnswlib"]) return undefined;
  try {
    const require = createRequire(join(hnswlibDir, "package.json"));
    return (require("hnswlib-node") as { HierarchicalNSW: new (space: string, dimension: number) => HnswlibIndex }).HierarchicalNSW;
  } catch {
    console.log(`hnswlib-node not found beside the project (HNSWLIB_NODE_DIR=${hnswlibDir}); comparing against it is skipped`);
    return undefined;
  }
}

function runHnswlib(Hnsw: new (space: string, dimension: number) => HnswlibIndex, data: Dataset): Run {
  const index = new Hnsw(data.distance === "euclidean" ? "l2" : "cosine", data.dimension);
  index.initIndex(data.count, m, efConstruction, 100);
  const rows: number[][] = Array.from({ length: data.count }, (_, i) => Array.from(data.base.subarray(i * data.dimension, (i + 1) * data.dimension)));
  const start = performance.now();
  for (let i = 0; i < data.count; i++) index.addPoint(rows[i]!, i);
  const buildSeconds = (performance.now() - start) / 1000;
  const queries = data.queries.map((q) => Array.from(q));
  let currentEf = -1;
  const efRows = sweep(data, (q, ef) => {
    if (ef !== currentEf) {
      index.setEf(ef);
      currentEf = ef;
    }
    return index.searchKnn(queries[q]!, k).neighbors;
  });
  return {
    library: "hnswlib-node 3.0 (C++)",
    dataset: data.name,
    count: data.count,
    dimension: data.dimension,
    buildSeconds,
    insertsPerSecond: data.count / buildSeconds,
    efs: efRows,
  };
}

const wanted = new Set(options.datasets.split(","));
const loaders: Record<string, () => Promise<Dataset | undefined>> = {
  sift10k: () =>
    loadFiles(
      "sift10k",
      "euclidean",
      join(datasetsRoot, "sift10k/siftsmall_base.fvecs"),
      join(datasetsRoot, "sift10k/siftsmall_query.fvecs"),
      join(datasetsRoot, "sift10k/siftsmall_groundtruth.ivecs"),
    ),
  "glove-100k": () =>
    loadFiles(
      "glove-100k",
      "cosine",
      join(datasetsRoot, "glove-100-wink/glove100_base.fvecs"),
      join(datasetsRoot, "glove-100-wink/glove100_query.fvecs"),
      join(datasetsRoot, "glove-100-wink/glove100_groundtruth.ivecs"),
    ),
  synthetic: async () => synthetic(),
};

const Hnswlib = loadHnswlib();
const runs: Run[] = [];
for (const [name, load] of Object.entries(loaders)) {
  if (!wanted.has(name)) continue;
  const data = await load();
  if (data === undefined) continue;
  console.log(`\n${data.name}: ${data.count} × ${data.dimension} (${data.distance}), ${data.queries.length} queries, k=${k}, m=${m}, ef_construction=${efConstruction}`);
  const pair = [runOurs(data)];
  if (Hnswlib !== undefined) pair.push(runHnswlib(Hnswlib, data));
  for (const run of pair) {
    runs.push(run);
    const bytes = run.bytesPerVector === undefined ? "" : `, ${Math.round(run.bytesPerVector)} B/vector`;
    console.log(`  ${run.library}: build ${run.buildSeconds.toFixed(2)} s (${Math.round(run.insertsPerSecond)} inserts/s)${bytes}`);
    console.log(`    ${"ef".padStart(5)} ${"recall@10".padStart(10)} ${"QPS".padStart(9)}`);
    for (const row of run.efs) console.log(`    ${String(row.ef).padStart(5)} ${row.recall.toFixed(3).padStart(10)} ${Math.round(row.qps).toString().padStart(9)}`);
  }
  if (pair.length === 2) {
    const [ours, theirs] = pair as [Run, Run];
    const ratios = ours.efs.map((row, i) => `ef ${row.ef}: ${(row.qps / theirs.efs[i]!.qps).toFixed(2)}×`).join(", ");
    console.log(`  ratio ours / hnswlib: build ${(ours.insertsPerSecond / theirs.insertsPerSecond).toFixed(2)}×; QPS ${ratios}`);
  }
}

const resultsDir = resolve(projectDir, "bench/results");
mkdirSync(resultsDir, { recursive: true });
const out = join(resultsDir, `index-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, k, m, efConstruction, runs }, null, 2));
console.log(`\nwrote ${out}`);
