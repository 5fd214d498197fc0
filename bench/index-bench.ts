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
 * Timing: this machine is shared, so both libraries are timed by this process's CPU time (user +
 * system; both build and search on one thread) as well as wall time, and they take turns: the builds
 * alternate in slices of 2,000 points, and the searches alternate per ef. Each ef runs whole passes over
 * the queries until `--min-seconds` (default 1) of CPU time have passed, `--rounds` times (default 3)
 * alternating the libraries, and each library's best round is kept.
 *
 * Contenders: our index on float32; our index with int8 scalar quantization, searched with the best
 * `--oversampling` (default 2) × k candidates rescored on float32 and without rescoring (one build
 * for both; `--no-quantization` skips them); hnswlib-node. For each, the QPS at its best ef with
 * recall >= 0.95 is printed beside hnswlib's at its first such ef.
 *
 * Usage: npm run bench:index [-- --datasets sift10k,glove-100k,synthetic --queries 1000 --min-seconds 1 --rounds 3 --oversampling 2 --no-quantization --no-hnswlib]
 * Prints a table and writes bench/results/index-<date>.json.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readFvecsFile, readIvecsFile } from "../src/datasets/index.js";
import { FlatIndex, HnswIndex, type DistanceKind } from "../src/index/index.js";
import { seededRandom } from "../src/random.js";
import { datasetsDir, loadHnswlib, projectRoot, type HnswlibConstructor } from "../src/testing/index.js";

const projectDir = projectRoot();
const datasetsRoot = datasetsDir();

const { values: options } = parseArgs({
  options: {
    datasets: { type: "string", default: "sift10k,glove-100k,synthetic" },
    queries: { type: "string", default: "1000" },
    "no-hnswlib": { type: "boolean", default: false },
    ef: { type: "string", default: "16,32,64,128,256" },
    "min-seconds": { type: "string", default: "1" },
    rounds: { type: "string", default: "3" },
    oversampling: { type: "string", default: "2" },
    "no-quantization": { type: "boolean", default: false },
  },
});
const minSeconds = Number(options["min-seconds"]);
const rounds = Number(options.rounds);
const oversampling = Number(options.oversampling);
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
  /** Queries per second of CPU time (user + system) of this process: robust against other load. */
  qps: number;
  /** Queries per second of wall time. */
  qpsWall: number;
}

interface Run {
  library: string;
  dataset: string;
  count: number;
  dimension: number;
  buildSeconds: number;
  buildCpuSeconds: number;
  /** Inserts per second of CPU time. */
  insertsPerSecond: number;
  insertsPerWallSecond: number;
  bytesPerVector?: number;
  efs: EfRow[];
}

/** One index under test: how to build it and how to search it. */
interface Contender {
  library: string;
  /** Inserts points `start .. end-1`. */
  build(start: number, end: number): void;
  /** Runs after the last insert (not timed). */
  check?(): void;
  search(query: number, ef: number): ArrayLike<number>;
  bytesPerVector?(): number;
}

/** Wall and CPU seconds (user + system, this process) that `work` takes. */
function measure(work: () => void): { wall: number; cpu: number } {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  work();
  const wall = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return { wall, cpu: (cpu.user + cpu.system) / 1e6 };
}

/**
 * One ef for one contender: whole passes over the queries until `--min-seconds` of CPU time have
 * run (100 queries are too few to time), after a warm-up pass; recall from the last pass.
 */
function measureEf(data: Dataset, contender: Contender, ef: number): EfRow {
  for (let q = 0; q < data.queries.length; q++) contender.search(q, ef);
  const found: ArrayLike<number>[] = new Array(data.queries.length);
  let passes = 0;
  let wall = 0;
  let cpu = 0;
  while (cpu < minSeconds) {
    const took = measure(() => {
      for (let q = 0; q < data.queries.length; q++) found[q] = contender.search(q, ef);
    });
    wall += took.wall;
    cpu += took.cpu;
    passes++;
  }
  let recall = 0;
  for (let q = 0; q < data.queries.length; q++) recall += recallOf(found[q]!, data.truth[q]!);
  const queries = passes * data.queries.length;
  return { ef, recall: recall / data.queries.length, qps: queries / cpu, qpsWall: queries / wall };
}

/** Inserts per build slice: the contenders build in turns of this many points. */
const buildSlice = 2_000;

/**
 * Builds every contender in alternating slices of {@link buildSlice} points (so that a slow spell of
 * this shared machine hits both alike), then measures each ef `--rounds` times, alternating
 * contenders within a round, and keeps each contender's best round.
 */
function compare(data: Dataset, contenders: Contender[]): Run[] {
  const wall = contenders.map(() => 0);
  const cpu = contenders.map(() => 0);
  for (let start = 0; start < data.count; start += buildSlice) {
    const end = Math.min(data.count, start + buildSlice);
    contenders.forEach((contender, i) => {
      const took = measure(() => contender.build(start, end));
      wall[i]! += took.wall;
      cpu[i]! += took.cpu;
    });
  }
  const runs = contenders.map((contender, i): Run => {
    contender.check?.();
    return {
      library: contender.library,
      dataset: data.name,
      count: data.count,
      dimension: data.dimension,
      buildSeconds: wall[i]!,
      buildCpuSeconds: cpu[i]!,
      insertsPerSecond: data.count / cpu[i]!,
      insertsPerWallSecond: data.count / wall[i]!,
      bytesPerVector: contender.bytesPerVector?.(),
      efs: [],
    };
  });
  for (const ef of efs) {
    const best: (EfRow | undefined)[] = contenders.map(() => undefined);
    for (let round = 0; round < rounds; round++) {
      contenders.forEach((contender, i) => {
        const row = measureEf(data, contender, ef);
        if (best[i] === undefined || row.qps > best[i]!.qps) best[i] = row;
      });
    }
    best.forEach((row, i) => runs[i]!.efs.push(row!));
  }
  return runs;
}

function ours(data: Dataset): Contender {
  const index = new HnswIndex({ dimension: data.dimension, distance: data.distance, m, efConstruction, initialCapacity: data.count, seed: 1 });
  return {
    library: "vectordb float32",
    build(start, end) {
      for (let i = start; i < end; i++) index.add(data.base.subarray(i * data.dimension, (i + 1) * data.dimension));
    },
    check: () => index.checkIntegrity(),
    search: (q, ef) => index.search(data.queries[q]!, k, ef).ids,
    bytesPerVector: () => index.allocatedBytes / data.count,
  };
}

/**
 * Our index with int8 scalar quantization (quantile 0.99): built like {@link ours} on float32, the
 * ranges trained after the last insert, then searched on the codes — with the best
 * `--oversampling` × k rescored on float32, and (a second contender sharing the index, whose build
 * is empty) without rescoring.
 */
function oursQuantized(data: Dataset): Contender[] {
  const index = new HnswIndex({ dimension: data.dimension, distance: data.distance, m, efConstruction, initialCapacity: data.count, seed: 1, quantized: true });
  const rescored = { oversampling, rescore: true };
  const plain = { oversampling: 1, rescore: false };
  return [
    {
      library: `vectordb int8 + rescore ×${oversampling}`,
      build(start, end) {
        for (let i = start; i < end; i++) index.add(data.base.subarray(i * data.dimension, (i + 1) * data.dimension));
        if (end === data.count) index.store.trainQuantization(data.count, 0.99);
      },
      check: () => index.checkIntegrity(),
      search: (q, ef) => index.search(data.queries[q]!, k, ef, undefined, rescored).ids,
      bytesPerVector: () => index.allocatedBytes / data.count,
    },
    {
      library: "vectordb int8, no rescore",
      build() {},
      search: (q, ef) => index.search(data.queries[q]!, k, ef, undefined, plain).ids,
    },
  ];
}

function hnswlib(Hnsw: HnswlibConstructor, data: Dataset): Contender {
  const index = new Hnsw(data.distance === "euclidean" ? "l2" : "cosine", data.dimension);
  index.initIndex(data.count, m, efConstruction, 100);
  const rows: number[][] = Array.from({ length: data.count }, (_, i) => Array.from(data.base.subarray(i * data.dimension, (i + 1) * data.dimension)));
  const queries = data.queries.map((q) => Array.from(q));
  let currentEf = -1;
  return {
    library: "hnswlib-node 3.0 (C++)",
    build(start, end) {
      for (let i = start; i < end; i++) index.addPoint(rows[i]!, i);
    },
    search(q, ef) {
      if (ef !== currentEf) {
        index.setEf(ef);
        currentEf = ef;
      }
      return index.searchKnn(queries[q]!, k).neighbors;
    },
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

const Hnswlib = options["no-hnswlib"] ? undefined : loadHnswlib();
const runs: Run[] = [];
for (const [name, load] of Object.entries(loaders)) {
  if (!wanted.has(name)) continue;
  const data = await load();
  if (data === undefined) continue;
  console.log(`\n${data.name}: ${data.count} × ${data.dimension} (${data.distance}), ${data.queries.length} queries, k=${k}, m=${m}, ef_construction=${efConstruction}`);
  const contenders = [ours(data), ...(options["no-quantization"] ? [] : oursQuantized(data))];
  if (Hnswlib !== undefined) contenders.push(hnswlib(Hnswlib, data));
  const measured = compare(data, contenders);
  for (const run of measured) {
    runs.push(run);
    const bytes = run.bytesPerVector === undefined ? "" : `, ${Math.round(run.bytesPerVector)} B/vector`;
    console.log(
      `  ${run.library}: build ${run.buildSeconds.toFixed(2)} s wall, ${run.buildCpuSeconds.toFixed(2)} s CPU (${Math.round(run.insertsPerSecond)} inserts per CPU second)${bytes}`,
    );
    console.log(`    ${"ef".padStart(5)} ${"recall@10".padStart(10)} ${"QPS (CPU)".padStart(10)} ${"QPS (wall)".padStart(11)}`);
    for (const row of run.efs) {
      console.log(`    ${String(row.ef).padStart(5)} ${row.recall.toFixed(3).padStart(10)} ${Math.round(row.qps).toString().padStart(10)} ${Math.round(row.qpsWall).toString().padStart(11)}`);
    }
  }
  if (Hnswlib !== undefined) {
    const theirs = measured.at(-1)!;
    for (const mine of measured.slice(0, -1)) {
      const ratios = mine.efs.map((row, i) => `ef ${row.ef}: ${(row.qps / theirs.efs[i]!.qps).toFixed(2)}×`).join(", ");
      const build = mine.buildCpuSeconds > 0.01 * theirs.buildCpuSeconds ? `build ${(mine.insertsPerSecond / theirs.insertsPerSecond).toFixed(2)}×; ` : "";
      console.log(`  ${mine.library} / hnswlib (CPU time): ${build}QPS ${ratios}`);
    }
    // The operating point: each library's QPS at its first ef with recall >= 0.95.
    const atTarget = (run: Run): EfRow | undefined => run.efs.find((row) => row.recall >= 0.95);
    const anchor = atTarget(theirs);
    if (anchor !== undefined) {
      for (const mine of measured.slice(0, -1)) {
        const best = mine.efs.filter((row) => row.recall >= 0.95).reduce<EfRow | undefined>((a, row) => (a === undefined || row.qps > a.qps ? row : a), undefined);
        if (best !== undefined) console.log(`  at recall >= 0.95: ${mine.library} ${Math.round(best.qps)} QPS (ef ${best.ef}, recall ${best.recall.toFixed(3)}) vs hnswlib ${Math.round(anchor.qps)} (ef ${anchor.ef}, recall ${anchor.recall.toFixed(3)}): ${(best.qps / anchor.qps).toFixed(2)}×`);
      }
    }
  }
}

const resultsDir = resolve(projectDir, "bench/results");
mkdirSync(resultsDir, { recursive: true });
const out = join(resultsDir, `index-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, k, m, efConstruction, runs }, null, 2));
console.log(`\nwrote ${out}`);
