/**
 * Crash harness of the resumable bulk load (issue 16): `vectordb ingest` (the CLI, a child process)
 * loads a `.fvecs` file through IngestStream into a `vectordb serve` child process, and at a random
 * moment one of the two is killed with SIGKILL: the server (then restarted on the same data directory)
 * or the client. The load is continued with `vectordb ingest --resume` each time, until it completes;
 * then the next load starts, into a new collection, until `kills` kills have been made. Every completed
 * load is checked:
 *
 *  - the collection holds exactly the file's points: `Count` is the record count, and a `Scroll`
 *    through every point finds ids 0 … N−1 once each, with vectors bit-identical to the file's;
 *  - none was applied twice: the collection's WAL (never cut here: `--wal-bytes-max` is 1 GiB and the
 *    server only ever dies by SIGKILL) holds exactly one resumable-load record per batch, batch_seq
 *    1 … B once each, all of the load's ingest id, and no other record.
 *
 * A CLI run that fails without a kill, or exits otherwise than 0 or 1 after the server's kill, is a
 * violation too.
 * Used by `test/resumable-load.test.ts` (20 kills) and `bench/resumable-load-test.ts` (any number).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { VectorDbClient } from "../client/index.js";
import { deriveSeed, seededRandom } from "../random.js";
import { startServing, type ServerProcess } from "./crash/index.js";
import { sleep } from "./net.js";
import { defaultCliPath } from "./project.js";

/** Options of {@link runResumableLoadTest}. */
export interface ResumableLoadOptions {
  seed: number;
  /** SIGKILLs to make (of the server or the client), at least. */
  kills: number;
  /** Points per load (file records). Default 100,000. */
  points?: number;
  /** Components per vector. Default 8. */
  dimension?: number;
  /** Points per batch (`--batch-size`). Default 1,000. */
  batchSize?: number;
  /** A kill comes this long after the CLI is spawned, uniformly in [min, max] ms. Default [300, 2500]. */
  killDelayMs?: [number, number];
  /** Share of the kills that hit the client rather than the server. Default 0.4. */
  clientKillRate?: number;
  cliPath?: string;
  /** Called after each CLI run. */
  onRun?: (report: RunReport) => void;
  /** Keep the temporary data directory (its path is in the summary). */
  keepDataDir?: boolean;
}

/** One CLI run. */
export interface RunReport {
  load: number;
  run: number;
  resumed: boolean;
  /** What was killed, if anything, and after how long. */
  killed: "server" | "client" | undefined;
  killAfterMs: number;
  exitCode: number | null;
  /** The CLI's output lines (stdout and stderr), cut. */
  output: string;
  /** Points the collection held after the run (read after a restart when the server was killed). */
  pointsAfter: number;
}

/** What a run of the harness found. */
export interface ResumableLoadSummary {
  seed: number;
  kills: { server: number; client: number };
  runs: RunReport[];
  /** Loads completed and checked. */
  loadsChecked: number;
  violations: string[];
  dataDir: string;
  durationMs: number;
}

/** A `.fvecs` file of `count` seeded random vectors; returns them. */
function writeFvecs(path: string, count: number, dimension: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const vectors = new Float32Array(count * dimension);
  const bytes = Buffer.alloc(count * (4 + 4 * dimension));
  for (let i = 0; i < count; i++) {
    const at = i * (4 + 4 * dimension);
    bytes.writeInt32LE(dimension, at);
    for (let j = 0; j < dimension; j++) {
      const value = Math.fround(random() * 2 - 1);
      vectors[i * dimension + j] = value;
      bytes.writeFloatLE(value, at + 4 + 4 * j);
    }
  }
  writeFileSync(path, bytes);
  return vectors;
}

/** A CLI child process: its exit, and its output so far. */
function spawnCli(cliPath: string, args: string[], env: NodeJS.ProcessEnv): { kill(): void; exited: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const killOnExit = (): void => void child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => {
    child.once("close", (code) => {
      process.removeListener("exit", killOnExit);
      resolve({ code, output: output.trim() });
    });
  });
  return { kill: () => void child.kill("SIGKILL"), exited };
}

/** The resumable-load records of a WAL file: `[ingest id, batch_seq]` per type-5 record, and the count of other records. */
export function ingestRecordsOf(walPath: string): { batches: [string, number][]; others: number } {
  const bytes = readFileSync(walPath);
  const batches: [string, number][] = [];
  let others = 0;
  for (let at = 24; at + 17 <= bytes.length; ) {
    const length = bytes.readUInt32LE(at);
    if (at + 17 + length > bytes.length) break;
    // Type 0 is the WAL's own durability mark (format version 2), not a record of the database.
    if (bytes[at + 12] === 0) {
      at += 17 + length;
      continue;
    }
    if (bytes[at + 12] === 5) {
      const body = at + 13;
      const idLength = bytes.readUInt32LE(body);
      batches.push([bytes.toString("utf8", body + 4, body + 4 + idLength), Number(bytes.readBigUInt64LE(body + 4 + idLength))]);
    } else {
      others++;
    }
    at += 17 + length;
  }
  return { batches, others };
}

/** Checks a completed load (see the module documentation); returns the violations found. */
async function checkLoad(client: VectorDbClient, collection: string, walPath: string, stateDir: string, vectors: Float32Array, settings: { points: number; dimension: number; batchSize: number }): Promise<string[]> {
  const problems: string[] = [];
  const count = Number((await client.points.count({ collection })).count);
  if (count !== settings.points) problems.push(`${collection}: Count is ${count}, the file has ${settings.points} points`);
  const seen = new Uint8Array(settings.points);
  let cursor = "";
  do {
    const page = await client.points.scroll({ collection, cursor, limit: 5_000, withPayload: false, withVector: true });
    for (const point of page.points) {
      const index = Number(point.id);
      if (!Number.isInteger(index) || index < 0 || index >= settings.points || seen[index] === 1) {
        problems.push(`${collection}: unexpected or repeated id ${JSON.stringify(point.id)}`);
        continue;
      }
      seen[index] = 1;
      const expected = vectors.subarray(index * settings.dimension, (index + 1) * settings.dimension);
      const found = Float32Array.from(point.vector);
      if (found.length !== expected.length || found.some((value, j) => !Object.is(value, expected[j]))) problems.push(`${collection}: point ${index} has another vector`);
    }
    cursor = page.nextCursor;
  } while (cursor !== "" && problems.length < 20);
  const missing = seen.reduce((sum, flag) => sum + (flag === 1 ? 0 : 1), 0);
  if (missing > 0) problems.push(`${collection}: ${missing} of the file's points are missing`);
  const state = JSON.parse(readFileSync(join(stateDir, "ingest", readdirSync(join(stateDir, "ingest"))[0]!), "utf8")) as { ingestId: string };
  const { batches, others } = ingestRecordsOf(walPath);
  const expectedBatches = Math.ceil(settings.points / settings.batchSize);
  const wrongId = batches.filter(([id]) => id !== state.ingestId).length;
  const seqs = batches.map(([, seq]) => seq).sort((a, b) => a - b);
  const exact = seqs.length === expectedBatches && seqs.every((seq, i) => seq === i + 1);
  if (!exact || wrongId > 0 || others > 0) {
    problems.push(`${collection}: the WAL holds ${batches.length} load records (${wrongId} of another ingest id) and ${others} others; expected exactly batches 1..${expectedBatches} once each`);
  }
  return problems;
}

/**
 * Runs the harness (see the module documentation). Never throws for a violation (they are in the
 * summary); throws when the server cannot be started.
 */
export async function runResumableLoadTest(options: ResumableLoadOptions): Promise<ResumableLoadSummary> {
  const started = Date.now();
  const settings = { points: options.points ?? 100_000, dimension: options.dimension ?? 8, batchSize: options.batchSize ?? 1_000 };
  const [killMinMs, killMaxMs] = options.killDelayMs ?? [300, 2_500];
  const cliPath = options.cliPath ?? defaultCliPath();
  const root = mkdtempSync(join(tmpdir(), "vectordb-resumable-"));
  const dataDir = join(root, "data");
  const file = join(root, "load.fvecs");
  const vectors = writeFvecs(file, settings.points, settings.dimension, options.seed);
  const random = seededRandom(deriveSeed(options.seed, 1));
  const serverArgs = ["--wal-bytes-max", String(1024 ** 3)];
  const summary: ResumableLoadSummary = { seed: options.seed, kills: { server: 0, client: 0 }, runs: [], loadsChecked: 0, violations: [], dataDir, durationMs: 0 };
  let server: ServerProcess | undefined;
  const serve = async (): Promise<VectorDbClient> => {
    const serving = await startServing(cliPath, dataDir, serverArgs, 30_000, random, 0);
    server = serving.server;
    return serving.client;
  };
  try {
    let client = await serve();
    for (let load = 0, run = 0; ; load++) {
      const collection = `load${load}`;
      const stateDir = join(root, `state${load}`);
      mkdirSync(stateDir);
      const env = { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VECTORDB_"))), VECTORDB_STATE_DIR: stateDir };
      for (let done = false; !done; run++) {
        const resumed = existsSync(join(stateDir, "ingest")) && readdirSync(join(stateDir, "ingest")).some((name) => name.endsWith(".json"));
        const args = ["--address", server!.address, "ingest", "--collection", collection, "--create", "--distance", "dot", "--batch-size", String(settings.batchSize), "--no-progress", ...(resumed ? ["--resume"] : []), file];
        const cli = spawnCli(cliPath, args, env);
        const enough = summary.kills.server + summary.kills.client >= options.kills;
        const killAfterMs = enough ? 0 : Math.round(killMinMs + random() * (killMaxMs - killMinMs));
        const victim = random() < (options.clientKillRate ?? 0.4) ? "client" : "server";
        const timer = enough ? undefined : sleep(killAfterMs).then(() => "timer" as const);
        const first = await Promise.race([cli.exited.then(() => "exit" as const), ...(timer === undefined ? [] : [timer])]);
        let killed: RunReport["killed"];
        if (first === "timer") {
          killed = victim;
          if (victim === "client") cli.kill();
          else await server!.stop("SIGKILL");
          summary.kills[victim]++;
        }
        const { code, output } = await cli.exited;
        if (killed === "server") client = await serve();
        done = code === 0;
        if (killed === undefined && code !== 0) summary.violations.push(`load ${load} run ${run}: vectordb ingest exited ${code} without a kill: ${output}`);
        // After the server's kill the run fails (1), or had just finished (0).
        if (killed === "server" && code !== 1 && code !== 0) summary.violations.push(`load ${load} run ${run}: vectordb ingest exited ${code} after the server was killed: ${output}`);
        const pointsAfter = await client.collections.getCollection({ name: collection }).then((info) => Number(info.collection?.pointCount ?? 0), () => 0);
        const report: RunReport = { load, run, resumed, killed, killAfterMs, exitCode: code, output: output.slice(-300), pointsAfter };
        summary.runs.push(report);
        options.onRun?.(report);
        if (summary.violations.length > 0 && !done && killed === undefined) break;
      }
      const walPath = join(dataDir, "collections", collection, "wal.log");
      summary.violations.push(...(await checkLoad(client, collection, walPath, stateDir, vectors, settings)));
      summary.loadsChecked++;
      if (summary.kills.server + summary.kills.client >= options.kills || summary.violations.length > 0) break;
    }
  } finally {
    await server?.stop("SIGKILL");
    if (options.keepDataDir !== true) rmSync(root, { recursive: true, force: true });
    summary.durationMs = Date.now() - started;
  }
  return summary;
}

/** One line per CLI run, for logs and failure messages. */
export function formatRun(report: RunReport): string {
  const what = report.killed === undefined ? "no kill" : `SIGKILL ${report.killed} after ${report.killAfterMs} ms`;
  const last = report.output.split("\n").pop() ?? "";
  return `load ${report.load} run ${String(report.run).padStart(3)} ${report.resumed ? "--resume" : "        "} ${what.padEnd(30)} exit ${report.exitCode} · ${report.pointsAfter} points · ${last.slice(0, 110)}`;
}
