/**
 * Crash test harness (issue 4): a real server in a child process is killed with SIGKILL while it
 * serves a mixed write workload, restarted on the same data directory, and checked against what the
 * parent saw acknowledged.
 *
 * One round:
 *  1. Workers send, concurrently, client-streaming `Ingest` calls (2 to 5 batches each, an id may come
 *     back in a later batch of the same stream), unary `Upsert`s (new ids and re-upserts of existing ids
 *     with new vectors and payloads) and `Delete`s by ids and, now and then, by a payload filter.
 *  2. After a random delay the server is killed with SIGKILL; the workers stop sending and wait for the
 *     calls in flight to fail.
 *  3. The server is started again on the same data directory (sometimes killed again while it recovers,
 *     then started once more) and the parent waits for grpc.health.v1 `SERVING`.
 *  4. Every id of the id space is read back with `Get` and judged against the model: a point whose last
 *     acknowledged operation wrote it must be there with a bit-identical float32 vector and an equal
 *     payload; an id whose last acknowledged operation deleted it (or that was never written) must be
 *     absent. The collection itself must exist with its dimension and distance, and its point count
 *     must equal the number of points found.
 *  5. The model is set to what was found (so a loss is reported once, in the round that caused it) and
 *     the next round continues on the same data directory: state accumulates across rounds.
 *
 * The model is exact because no two operations in flight ever touch the same id: an operation locks its
 * ids (a delete by filter locks every id of its payload group) until its RPC returns. An operation that
 * returned OK is acknowledged, so its effect is known. An operation cut by the kill (sent, no answer) may
 * or may not have been applied: its ids are "uncertain" until the next check, which accepts the previous
 * acknowledged state or any value the operation sent for that id. An operation that fails before the
 * kill is reported as an unexpected error (and its ids are uncertain too).
 *
 * The random choices (kill delays, operation mix, ids, vectors, payloads) come from a seeded generator;
 * a run is reproduced with the same seed, except for what thread timing decides (which calls are in
 * flight at the kill).
 *
 * Used by `test/crash.test.ts` (20 rounds) and `bench/crash-test.ts` (`npm run crash-test`).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deriveSeed, seededRandom } from "../../random.js";
import { Distance, type VectorDbClient } from "../../client/index.js";
import { sleep } from "../net.js";
import { defaultCliPath } from "../project.js";
import { checkAndResync, ViolationLog } from "./judge.js";
import { callTimeoutMs, collectionName, Model, randomInt } from "./model.js";
import { describeError, makeReport } from "./report.js";
import { startServing } from "./server-process.js";
import type { CrashTestOptions, CrashTestSummary, RoundReport } from "./types.js";
import { emptyAcked, runWorkload, type RoundState } from "./workload.js";

/** The options of a run with every default filled in. */
interface Settings {
  seed: number;
  rounds: number;
  killMinMs: number;
  killMaxMs: number;
  dimension: number;
  recoveryKillRate: number;
  readyTimeoutMs: number;
  samplesMax: number;
  cliPath: string;
  serverArgs: readonly string[];
  dataDir: string;
  /** False in a control run: the workload stops and the live server is checked. */
  kill: boolean;
}

type Serving = Awaited<ReturnType<typeof startServing>>;

/**
 * Runs the crash test: creates a euclidean collection on a server child process, then `rounds` times
 * runs the mixed workload, kills the server with SIGKILL after a random delay, restarts it on the same
 * data directory and checks every id against the acknowledged operations (see the module comment).
 * Never throws for violations: they are in the summary. Throws only when the first server cannot start
 * or the collection cannot be created; a later start failure ends the run with `incomplete` and `error`.
 */
export async function runCrashTest(options: CrashTestOptions): Promise<CrashTestSummary> {
  const started = Date.now();
  const cliPath = options.cliPath ?? defaultCliPath();
  if (!existsSync(cliPath)) throw new Error(`${cliPath} does not exist: run npm run build first`);
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "vectordb-crash-"));
  if (!temporary) {
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) throw new Error(`data directory ${dataDir} is not empty`);
    mkdirSync(dataDir, { recursive: true });
  }
  const [killMinMs, killMaxMs] = options.killDelayMs ?? [50, 800];
  const settings: Settings = {
    seed: options.seed >>> 0,
    rounds: options.rounds,
    killMinMs,
    killMaxMs,
    dimension: options.dimension ?? 16,
    recoveryKillRate: options.recoveryKillRate ?? 0.15,
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    samplesMax: options.violationSamplesMax ?? 20,
    cliPath,
    serverArgs: options.serverArgs ?? [],
    dataDir,
    kill: options.kill !== false,
  };
  const run = new CrashRun(settings, new Model(options.ids ?? 3_000), options.onRound);
  const first = await run.start(seededRandom(deriveSeed(settings.seed, 0)));
  try {
    await run.createCollection(first.client);
    for (let round = 1; round <= settings.rounds; round++) {
      if (options.signal?.aborted === true) {
        run.summary.incomplete = true;
        run.summary.error = "aborted";
        break;
      }
      if (!(await run.playRound(round))) return run.summary;
    }
    if ((options.finalCleanRestart ?? true) && !run.summary.incomplete) await run.cleanRestart();
  } finally {
    await run.current?.server.stop("SIGKILL");
    if (temporary && options.keepDataDir !== true) rmSync(dataDir, { recursive: true, force: true });
    run.summary.durationMs = Date.now() - started;
  }
  return run.summary;
}

/** The state of one run: its settings, the model, the server running now, and the summary so far. */
class CrashRun {
  readonly summary: CrashTestSummary;
  /** The server started last (undefined before the first start). */
  current: Serving | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly model: Model,
    private readonly onRound: ((report: RoundReport) => void) | undefined,
  ) {
    this.summary = { seed: settings.seed, rounds: settings.rounds, reports: [], violationCount: 0, unexpectedErrorCount: 0, ackedOps: 0, dataDir: settings.dataDir, incomplete: false, durationMs: 0 };
  }

  /** Starts a server on the data directory (see `startServing`), waits for SERVING, and makes it {@link current}. */
  async start(random: () => number, recoveryKillRate = 0, typicalStartMs?: number): Promise<Serving> {
    const { cliPath, dataDir, serverArgs, readyTimeoutMs } = this.settings;
    this.current = await startServing(cliPath, dataDir, serverArgs, readyTimeoutMs, random, recoveryKillRate, typicalStartMs);
    return this.current;
  }

  async createCollection(client: VectorDbClient): Promise<void> {
    await client.collections.createCollection({ name: collectionName, dimension: this.settings.dimension, distance: Distance.EUCLIDEAN }, { timeoutMs: callTimeoutMs });
  }

  /**
   * One round on the {@link current} server: the workload, SIGKILL after a random delay (or, in a
   * control run, a stop), a restart and the check. Returns false when the server could not be
   * restarted (the run is then incomplete).
   */
  async playRound(round: number): Promise<boolean> {
    const current = this.current;
    if (current === undefined) throw new Error("no server is running");
    const roundStarted = Date.now();
    const roundSeed = deriveSeed(this.settings.seed, round);
    const random = seededRandom(roundSeed);
    const killAfterMs = randomInt(random, this.settings.killMinMs, this.settings.killMaxMs);
    const violations = new ViolationLog(round, this.settings.samplesMax);
    const state: RoundState = { killed: false, inFlight: 0, acked: emptyAcked(), unexpectedErrors: [], violations, startedAt: Date.now(), firstAckMs: undefined };
    const { server } = current;
    const workload = runWorkload(this.model, current.client, state, roundSeed, round, this.settings.dimension);
    await Promise.race([sleep(killAfterMs), server.exited]);
    if (server.hasExited) state.unexpectedErrors.push(`the server exited by itself during the workload; stderr:\n${server.stderr}`);
    state.killed = true;
    const inFlightAtKill = state.inFlight;
    if (!this.settings.kill) {
      // Control mode: let the calls in flight finish and check the live server, without a restart.
      await workload;
      const check = await checkAndResync(current.client, this.model, this.settings.dimension, violations);
      this.record(makeReport(false, round, roundSeed, killAfterMs, state, inFlightAtKill, check, 0, 0, violations, roundStarted));
      return true;
    }
    await server.stop("SIGKILL");
    await workload;

    let restart;
    try {
      restart = await this.start(random, this.settings.recoveryKillRate, current.restartMs);
    } catch (error) {
      this.summary.incomplete = true;
      this.summary.error = `round ${round}: restart failed: ${describeError(error)}`;
      violations.add("(server)", { kind: "read-failed", expected: "the server restarts and reports SERVING", found: describeError(error) });
      this.record(makeReport(true, round, roundSeed, killAfterMs, state, inFlightAtKill, undefined, 0, 0, violations, roundStarted));
      return false;
    }
    const check = await checkAndResync(restart.client, this.model, this.settings.dimension, violations);
    if (check.recreate) await this.createCollection(restart.client);
    this.record(makeReport(true, round, roundSeed, killAfterMs, state, inFlightAtKill, check, restart.recoveryKills, restart.restartMs, violations, roundStarted));
    return true;
  }

  /** A clean shutdown (SIGTERM: drain, close the database) must keep everything too: stop, restart, check. */
  async cleanRestart(): Promise<void> {
    const current = this.current;
    if (current === undefined) throw new Error("no server is running");
    const roundStarted = Date.now();
    const round = this.settings.rounds + 1;
    const violations = new ViolationLog(round, this.settings.samplesMax);
    const state: RoundState = { killed: true, inFlight: 0, acked: emptyAcked(), unexpectedErrors: [], violations, startedAt: roundStarted, firstAckMs: undefined };
    const exit = await current.server.stop("SIGTERM");
    if (exit.code !== 0) state.unexpectedErrors.push(`SIGTERM: the server exited with code ${exit.code} (signal ${exit.signal}); stderr:\n${current.server.stderr}`);
    state.unexpectedErrors.push(...segmentFileProblems(this.settings.dataDir));
    const restarted = await this.start(seededRandom(deriveSeed(this.settings.seed, round)));
    const check = await checkAndResync(restarted.client, this.model, this.settings.dimension, violations);
    this.record(makeReport(true, round, deriveSeed(this.settings.seed, round), 0, state, 0, check, 0, restarted.restartMs, violations, roundStarted));
  }

  private record(report: RoundReport): void {
    const { summary } = this;
    summary.reports.push(report);
    summary.violationCount += report.violationCount;
    summary.unexpectedErrorCount += report.unexpectedErrors.length;
    const { acked } = report;
    summary.ackedOps += acked.upserts + acked.ingests + acked.deletesById + acked.deletesByFilter;
    this.onRound?.(report);
  }
}

/**
 * After a clean shutdown, the collection folder must hold exactly the segment files its manifest
 * lists: none missing, and no orphan left by a seal, merge or checkpoint cut short by an earlier kill
 * (recovery removes those, and the last checkpoint removes the files it released).
 */
export function segmentFileProblems(dataDir: string): string[] {
  const dir = join(dataDir, "collections", collectionName);
  const manifestPath = join(dir, "segments.json");
  if (!existsSync(manifestPath)) return [`${manifestPath} is missing after a clean shutdown`];
  const listed = new Set((JSON.parse(readFileSync(manifestPath, "utf8")) as { segments: { file: string }[] }).segments.map((s) => s.file));
  const present = readdirSync(dir).filter((name) => /^segment-\d+-\d+\.bin$/.test(name) || name === "segment.bin");
  const problems = present.filter((name) => !listed.has(name)).map((name) => `orphan segment file ${join(dir, name)} after a clean shutdown`);
  for (const name of listed) if (!present.includes(name)) problems.push(`${join(dir, name)} is listed in segments.json but missing`);
  return problems;
}
