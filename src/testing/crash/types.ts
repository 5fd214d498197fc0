/** Public types of the crash harness: what it is asked to do and what it reports. */

/** A JSON value as payloads hold it (google.protobuf.Struct). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object: a point's payload. */
export type JsonObject = { [key: string]: JsonValue };

/** A point as the server must hold it. */
export interface StoredPoint {
  /** The vector, float32 as sent (compared bit for bit). */
  vector: Float32Array;
  /** The payload, compared as JSON (numbers by value, key order ignored). */
  payload: JsonObject;
}

/** What the server must hold for one id: a point, or `null` when the id must be absent. */
export type PointState = StoredPoint | null;

/** What a violation is about. */
export type ViolationKind =
  /** An acknowledged point is absent after the restart. */
  | "lost"
  /** An id whose last acknowledged operation deleted it (or that was never written) is present. */
  | "resurrected"
  /** The point is there but its vector is not bit-identical. */
  | "vector"
  /** The point is there but its payload differs. */
  | "payload"
  /** An id touched by an operation cut by the kill holds neither its previous state nor a value sent. */
  | "uncertain"
  /** The collection does not exist after the restart. */
  | "collection-lost"
  /** The collection's dimension or distance changed. */
  | "collection-config"
  /** GetCollection's point count differs from the number of points found. */
  | "point-count"
  /** A read of the check failed (e.g. DATA_LOSS or UNAVAILABLE after SERVING). */
  | "read-failed"
  /** An acknowledged response's counts (inserted, updated, deleted) disagree with the model. */
  | "response";

/** One broken guarantee. */
export interface Violation {
  /** Round number, from 1; `rounds + 1` is the check after the final clean restart. */
  round: number;
  kind: ViolationKind;
  /** The point id, or `(collection)` for collection-wide checks. */
  id: string;
  /** What the model required. */
  expected: string;
  /** What the server had. */
  found: string;
}

/** Acknowledged operations of one round, by kind. */
export interface AckedCounts {
  /** Upsert calls that returned OK. */
  upserts: number;
  /** Ingest streams that returned OK. */
  ingests: number;
  /** Delete-by-ids calls that returned OK. */
  deletesById: number;
  /** Delete-by-filter calls that returned OK. */
  deletesByFilter: number;
  /** Point values written by acknowledged Upserts and Ingests. */
  pointsWritten: number;
  /** Points removed by acknowledged deletes (as the model predicts and the server reported). */
  pointsDeleted: number;
}

/** The outcome of one round. */
export interface RoundReport {
  /** From 1; `rounds + 1` for the final check after a clean (SIGTERM) restart. */
  round: number;
  /** The seed this round's random choices derive from. */
  roundSeed: number;
  /** Delay between the start of the workload and SIGKILL, ms (0 for the final clean restart). */
  killAfterMs: number;
  /** False in a control run (`kill: false`): the workload stopped and the live server was checked. */
  restarted: boolean;
  acked: AckedCounts;
  /** Operations that were sent but not acknowledged when the server died. */
  inFlightAtKill: number;
  /** From the start of the workload to the first acknowledgement, ms; undefined when none came before the kill. */
  firstAckMs: number | undefined;
  /** Ids whose outcome was uncertain (touched by an operation cut by the kill, or that failed). */
  uncertainIds: number;
  /** Ids read back and judged (the whole id space). */
  checked: number;
  /** Ids that had to be present (acknowledged, not uncertain). */
  expectedPresent: number;
  /** Ids that had to be absent (deleted, or never written; not uncertain). */
  expectedAbsent: number;
  /** Points found by the check. */
  foundPresent: number;
  /** Times the restarting server was killed again before it was up (while booting or recovering). */
  recoveryKills: number;
  /** From spawning the final restart to SERVING, ms. */
  restartMs: number;
  /** Number of violations (all of them; `violations` keeps a sample). */
  violationCount: number;
  /** Violations by kind. */
  violationsByKind: Partial<Record<ViolationKind, number>>;
  /** The first violations (at most `violationSamplesMax`). */
  violations: Violation[];
  /** Calls that failed before the kill (the server should not fail them). */
  unexpectedErrors: string[];
  /** Wall time of the round, ms. */
  durationMs: number;
}

/** The outcome of a whole run. */
export interface CrashTestSummary {
  seed: number;
  /** Rounds asked for. */
  rounds: number;
  /** One report per round run, then the final clean-restart check (when it ran). */
  reports: RoundReport[];
  /** Sum of violations over all rounds. */
  violationCount: number;
  /** Sum of unexpected errors over all rounds. */
  unexpectedErrorCount: number;
  /** Acknowledged operations over all rounds. */
  ackedOps: number;
  /** The data directory used (removed at the end unless kept). */
  dataDir: string;
  /** True when the run stopped early (aborted, or the server could not be started). */
  incomplete: boolean;
  /** Why the run stopped early. */
  error?: string;
  /** Wall time of the run, ms. */
  durationMs: number;
}

/** Options of {@link runCrashTest}. */
export interface CrashTestOptions {
  /** Seed of every random choice (32-bit). */
  seed: number;
  /** Rounds of workload ▸ SIGKILL ▸ restart ▸ check. */
  rounds: number;
  /** The kill comes a uniform random time in [min, max] ms after the workload starts; default [50, 800]. */
  killDelayMs?: readonly [number, number];
  /** Size of the id space (ids are reused: re-upserts, deletes, re-inserts); default 3,000. */
  ids?: number;
  /** Vector dimension of the (euclidean) test collection; default 16. */
  dimension?: number;
  /**
   * Chance, per restart, of killing the restarting server again before it is up (30 % to 110 % of the
   * last measured start time), to crash recovery itself; default 0.15.
   */
  recoveryKillRate?: number;
  /** After the last round: stop with SIGTERM (clean shutdown), restart and check once more; default true. */
  finalCleanRestart?: boolean;
  /** Data directory; must be empty or absent. Default: a new temporary directory. */
  dataDir?: string;
  /** Keep the data directory at the end (a temporary one is removed by default). */
  keepDataDir?: boolean;
  /** The `vectordb` entry point; default `dist/src/cli/main.js` of this project. */
  cliPath?: string;
  /** More `serve` flags, after the harness's own (so they override them), e.g. a small WAL size. */
  serverArgs?: readonly string[];
  /** How long a (re)start may take to reach SERVING, ms; default 30,000. */
  readyTimeoutMs?: number;
  /** Violations kept per round in the report; default 20. */
  violationSamplesMax?: number;
  /** Called after each round with its report. */
  onRound?: (report: RoundReport) => void;
  /** Stops the run after the current round. */
  signal?: AbortSignal;
  /**
   * false: a control run. At the "kill" moment the workload stops, the calls in flight finish, and the
   * live server is checked without a restart, so any violation is the harness's own error (or a live
   * bug), not a durability one. Default true.
   */
  kill?: boolean;
}
