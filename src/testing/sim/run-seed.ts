/**
 * One seed of the power-loss simulation: a database on a {@link SimulatedDisk} with a
 * {@link SimClock}, a seeded workload of upserts, deletes by id and by filter, payload changes (by
 * ids and by filter), alias updates, checkpoints, clean restarts and time passing, issued
 * concurrently, with power cuts at random disk operations (in the middle of WAL appends, fsyncs,
 * checkpoints, WAL cuts, `aliases.json` rewrites, collection creation and recovery itself), random
 * faults on some seeds, and after every cut a recovery checked against the model (`model.ts`): the
 * points and payloads, and the aliases.
 *
 * Everything that happens follows from the seed: the disk completes operations in a seeded order one
 * at a time (`SimulatedDisk.step`), the clock moves only when the workload says so, temporaries get
 * seeded names, graph linking runs to completion in one turn (`indexSliceMs` huge, no builder
 * threads), and nothing else in the process does I/O. So a failing seed replays exactly, with its
 * history printed (`recordHistory`).
 */
import type { CollectionSpec, DurableCollection } from "../../collection/index.js";
import { type FsyncPolicy, makeConfig, type ServerConfig } from "../../config.js";
import { Database } from "../../db/index.js";
import { VectorDbError } from "../../errors.js";
import { deriveSeed, seededRandom } from "../../random.js";
import {
  type AliasState,
  aliasesAfter,
  describeAliases,
  explainMismatch,
  lateFsyncs,
  type ModelOp,
  type ModelState,
  type ModelWrite,
  requiredAfterRestart,
  requiredSequence,
  type Requirement,
  stateOf,
  type WalSyncCall,
} from "./model.js";
import { SimClock } from "./sim-clock.js";
import { emptyCounters, type SeedCounters } from "./totals.js";
import { describeAliasActions, describeWrite, pickParameters, type SeedParameters, universe, Workload } from "./workload.js";
import { SimulatedDisk } from "./simulated-disk.js";
import type { SimulatedFileSystem } from "./simulated-file-system.js";

/** Options of {@link runSeed}. */
export interface SeedOptions {
  seed: number;
  /** Keep the history of every operation (to print it); off for speed. */
  recordHistory?: boolean;
  /** Run every seed under this policy instead of the one the seed picks. */
  policy?: FsyncPolicy;
  /**
   * A disk whose syncs lie (succeed without making anything durable): the simulation must then find
   * lost writes. For the test that shows the checks bite; never in a real run.
   */
  lyingDisk?: boolean;
}

/** What one seed did and found. */
export interface SeedResult extends SeedCounters {
  seed: number;
  parameters: SeedParameters;
  checkpoints: number;
  /** Reopenings where the collection reported DATA_LOSS (each with its message). */
  dataLoss: string[];
  /** What broke a promise (empty when the seed passed). */
  violations: string[];
  /** Every operation and disk event, when `recordHistory` was on. */
  history: string[];
}

const collectionName = "sim";
const dataDir = "/data";
/** Idle turns of the event loop, with no disk operation queued, after which a call counts as hung. */
const idleTurnsMax = 5_000;

/** How a call ended. */
type Settled<T> = { state: "resolved"; value: T } | { state: "rejected"; error: unknown };
/** Settled or not, without waiting. */
type Settlement<T> = { state: "pending" } | Settled<T>;

/** The power went out while waiting. */
const powerLost = Symbol("power lost");

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The simulation of one seed; see the module documentation. */
class SeedRun {
  private readonly random: () => number;
  readonly parameters: SeedParameters;
  private readonly disk: SimulatedDisk;
  private readonly config: ServerConfig;
  private readonly spec: CollectionSpec;
  private readonly writes: Workload;
  private clock = new SimClock(0);
  private fs: SimulatedFileSystem;
  private db: Database | undefined;
  private collection: DurableCollection | undefined;

  // The model.
  /** The state the last recovery found (durable from then on) and its sequence. */
  private base: ModelState = new Map();
  private baseSequence = 0;
  /** Writes since `base`. */
  private ops: ModelOp[] = [];
  /** Highest sequence a checkpoint or clean close made durable. */
  private durableSequence = 0;
  /** The aliases the database holds: the recovered ones, then each acknowledged update's. */
  private aliases: AliasState = new Map();
  /**
   * What `aliases.json` may hold beyond {@link aliases}: the aliases of every update since the last
   * acknowledged one that failed (UNAVAILABLE: its rename may have happened) or is unfinished.
   */
  private aliasCandidates: AliasState[] = [];
  /** An UpdateAliases call is running (the workload issues one at a time). */
  private aliasUpdateRunning = false;
  /** Counts the processes (boots, crashes, reopenings): a call of an earlier one is ignored when it settles. */
  private process = 0;
  /** Whether the collection's creation was acknowledged (it must then exist), or is in flight. */
  private created: "no" | "pending" | "yes" = "no";
  /** Set by a failed fsync of the WAL: from then on, until a reopen, nothing may be acknowledged. */
  private walSyncFailed = false;
  /** Counter of model events (acknowledgements, fsync calls, checkpoints, closes): their order. */
  private event = 0;
  /** Every write acknowledged before this event is durable (see `requiredSequence`). */
  private durableEvent = 0;
  /** WAL fsync calls of this boot (for the interval policy's timeliness). */
  private walSyncCalls: WalSyncCall[] = [];
  /** WAL fsyncs called and not completed, in call order. */
  private readonly syncsInFlight = new Map<string, WalSyncCall[]>();
  /** The event of this boot's start: the interval timer's promise is checked for writes after it. */
  private bootEvent = 0;
  /** A WAL fsync failed during this boot (the interval timer stops then). */
  private walFailedThisBoot = false;
  /**
   * What the next recovery is checked against: a power cut (with the durability point reached before
   * it) or a restart without power loss.
   */
  private pendingCheck: { kind: "power cut"; durableEvent: number } | { kind: "restart" } | undefined;

  readonly result: SeedResult;

  constructor(options: SeedOptions) {
    this.random = seededRandom(deriveSeed(options.seed, 0));
    this.parameters = pickParameters(this.random, options.policy);
    const { policy, flushIntervalMs, walBytesMax, distance, dimension } = this.parameters;
    this.disk = new SimulatedDisk(options.seed);
    this.disk.recordHistory = options.recordHistory ?? false;
    this.disk.ignoreSyncs = options.lyingDisk ?? false;
    this.disk.onFault = (operation, path) => {
      if (operation === "sync" && path.endsWith("/wal.log")) {
        this.walSyncFailed = true;
        this.walFailedThisBoot = true;
      }
    };
    this.disk.onSync = (path, phase) => {
      // The WAL, or its replacement being written by a cut (its fsync counts for the interval timer
      // only: it is durable under the WAL's name once the cut's directory fsync is done).
      if (!/\/wal\.log(\.tmp-[0-9a-f]+)?$/.test(path)) return;
      const key = path.endsWith("/wal.log") ? "wal" : "replacement";
      if (phase === "issued") {
        const call = { event: this.event++, atMs: this.clock.now() };
        this.log(`fsync called on ${path}`);
        this.walSyncCalls.push(call);
        this.syncsInFlight.set(key, [...(this.syncsInFlight.get(key) ?? []), call]);
        return;
      }
      // A replacement renamed to wal.log while its fsync ran is not counted either way.
      const [call, ...rest] = this.syncsInFlight.get(key) ?? [];
      this.syncsInFlight.set(key, rest);
      // A recovery interrupted by a power cut before it was checked: its fsync makes durable what it
      // read, not the writes the earlier cut lost (the model does not know what it read).
      if (this.pendingCheck?.kind === "power cut") return;
      if (phase === "done" && key === "wal" && call !== undefined) this.durableEvent = Math.max(this.durableEvent, call.event);
    };
    this.fs = this.disk.fs;
    this.config = makeConfig({
      dataDir,
      logLevel: "silent",
      // Linking runs to completion in one turn of the event loop, on this thread: deterministic.
      indexing: { indexThreads: 0, indexSliceMs: Number.MAX_SAFE_INTEGER, fullScanPointsMax: 5_000, filteredScanPointsMax: 2_000, segmentPointsMax: this.parameters.segmentPointsMax },
      storage: { fsync: policy, flushIntervalMs, walBytesMax },
    });
    this.spec = { name: collectionName, dimension, distance, hnsw: { m: 4, efConstruction: 16, ef: 16 } };
    this.writes = new Workload(this.random, dimension);
    this.result = {
      seed: options.seed,
      parameters: this.parameters,
      ...emptyCounters(),
      checkpoints: 0,
      dataLoss: [],
      violations: [],
      history: this.disk.history,
    };
  }

  private log(line: string): void {
    this.disk.log(`[t=${this.clock.now()} ms] ${line}`);
  }

  private violation(line: string): void {
    this.log(`VIOLATION: ${line}`);
    this.result.violations.push(line);
  }

  /** Lets the disk complete operations until `promise` settles or the power is lost. */
  private async settle<T>(promise: Promise<T>): Promise<Settled<T> | typeof powerLost> {
    let settlement: Settlement<T> = { state: "pending" };
    promise.then(
      (value) => (settlement = { state: "resolved", value }),
      (error: unknown) => (settlement = { state: "rejected", error }),
    );
    let idle = 0;
    for (;;) {
      const current = settlement as Settlement<T>;
      if (current.state !== "pending") return current;
      if (this.disk.dead) return powerLost;
      if (await this.disk.step()) idle = 0;
      else if (++idle > idleTurnsMax) throw new Error(`a call did not settle while the disk was idle for ${idleTurnsMax} turns (a hang)`);
    }
  }

  /** Runs the whole seed. */
  async run(): Promise<SeedResult> {
    const { crashes } = this.parameters;
    try {
      // Boots 0 … crashes − 1 end in a power cut; the next one closes cleanly, loses power and checks
      // that everything acknowledged is there. A cut during recovery adds a boot (at most 3 times).
      for (let boot = 0; boot <= crashes + 3 && this.result.violations.length === 0; boot++) {
        const last = boot >= crashes;
        const alive = await this.bootAndRecover(boot > 0 && boot < crashes && this.random() < 0.15);
        if (alive === "stop") break;
        if (alive === "up") await this.workload(last);
        if (last && alive === "up" && !this.disk.dead) {
          await this.finalCheck();
          break;
        }
        this.cut();
      }
    } catch (error) {
      this.violation(`the simulation failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    const counters = this.disk.counters;
    this.result.powerCuts = counters.powerCuts;
    this.result.processCrashes = counters.processCrashes;
    this.result.diskOperations = counters.operations;
    this.result.faults = counters.faults;
    return this.result;
  }

  private cut(): void {
    const cutAtMs = this.clock.now();
    this.log("power cut");
    if (this.parameters.policy === "interval" && !this.walFailedThisBoot && this.collection !== undefined) {
      const late = lateFsyncs(this.ops.filter((op) => op.acknowledgedAtEvent > this.bootEvent), this.walSyncCalls, this.parameters.flushIntervalMs, cutAtMs);
      if (late.length > 0) {
        const op = late[0]!;
        this.violation(`no WAL fsync was called within ${this.parameters.flushIntervalMs} ms of the acknowledgement of #${op.sequence ?? "-"} at ${op.acknowledgedAtMs} ms (and ${late.length - 1} more)`);
      }
    }
    this.walSyncCalls = [];
    this.bootEvent = this.event++;
    this.syncsInFlight.clear();
    this.walFailedThisBoot = false;
    this.fs = this.disk.powerCut();
    this.process++;
    this.db = undefined;
    this.collection = undefined;
    this.pendingCheck = { kind: "power cut", durableEvent: this.durableEvent };
  }

  /**
   * Opens the database on the current boot (the power may be cut during recovery when
   * `cutDuringRecovery`), checks what it recovered, creates the collection if needed.
   * @returns "up" when serving, "down" when the power went out, "stop" when the seed cannot go on
   *   (a DATA_LOSS reopening, or a violation).
   */
  private async bootAndRecover(cutDuringRecovery: boolean): Promise<"up" | "down" | "stop"> {
    this.clock = new SimClock(this.clock.now() + 1_000);
    this.fs.clock = this.clock;
    this.disk.setRandomFaults(0, 0);
    if (cutDuringRecovery) this.disk.armPowerCut(this.disk.counters.mutations + 1 + Math.floor(this.random() * 12));
    this.log(`boot ${this.fs.bootNumber}${cutDuringRecovery ? " (power cut armed during recovery)" : ""}`);
    const opened = await this.openDatabase();
    if (opened !== "up") return opened;
    this.disk.armPowerCut(undefined);
    if (this.collection === undefined) {
      const created = await this.createCollection();
      if (created !== "up") return created;
    }
    this.disk.setRandomFaults(this.parameters.faultRate, this.parameters.faultBudget);
    return "up";
  }

  /** Opens the database and checks the recovered collection against the model (see {@link pendingCheck}). */
  private async openDatabase(): Promise<"up" | "down" | "stop"> {
    const db = new Database(this.config, undefined, { io: { fs: this.fs, clock: this.clock } });
    // Faults hit the workload, not the opening (a failed open is the operator's to retry).
    this.disk.suspendRandomFaults(true);
    const opened = await this.settle(db.open());
    this.disk.suspendRandomFaults(false);
    if (opened === powerLost) return "down";
    if (opened.state === "rejected") {
      this.violation(`the database did not open: ${errorText(opened.error)}`);
      return "stop";
    }
    this.db = db;
    this.checkAliases(db);
    const failed = db.failures().find((failure) => failure.name === collectionName);
    if (failed !== undefined) return this.recoveryFailed(failed.error);
    const collection = db.list().find((c) => c.name === collectionName);
    if (collection === undefined) {
      if (this.created === "yes") this.violation(`the collection, whose creation was acknowledged, is gone`);
      this.created = "no";
      this.base = new Map();
      this.baseSequence = 0;
      this.ops = [];
      this.durableSequence = 0;
      this.pendingCheck = undefined;
      return this.result.violations.length > 0 ? "stop" : "up";
    }
    this.created = "yes";
    this.collection = collection;
    this.checkRecovered(collection);
    return this.result.violations.length > 0 ? "stop" : "up";
  }

  private recoveryFailed(error: VectorDbError): "stop" {
    const message = error.message;
    this.log(`recovery failed: ${message}`);
    if (error.code !== "data_loss") {
      this.violation(`recovery failed with ${error.code}, not DATA_LOSS: ${message}`);
    } else {
      this.result.dataLoss.push(message);
      if (!/\/data\/collections\/sim\/\S+/.test(message) || !/offset/.test(message)) this.violation(`DATA_LOSS without the file and offset: ${message}`);
      // The simulated disk never damages a durable byte: a power cut, a crash or a fault is not corruption.
      this.violation(`DATA_LOSS although no durable byte was damaged (${this.parameters.policy} policy): ${message}`);
    }
    return "stop";
  }

  private async createCollection(): Promise<"up" | "down" | "stop"> {
    this.log(`create collection ${JSON.stringify(this.spec)}`);
    this.created = "pending";
    const created = await this.settle(this.db!.create(this.spec));
    if (created === powerLost) return "down";
    if (created.state === "rejected") {
      this.violation(`creating the collection failed: ${errorText(created.error)}`);
      return "stop";
    }
    this.created = "yes";
    this.collection = created.value;
    return "up";
  }

  /** Checks a recovered collection against the model, then makes its state the new base. */
  private checkRecovered(collection: DurableCollection): void {
    const check = this.pendingCheck;
    this.pendingCheck = undefined;
    this.result.recoveries++;
    const applied = collection.appliedSequence;
    const actual = stateOf(collection.get(universe(), { withPayload: true, withVector: true }));
    if (collection.size !== actual.size) this.violation(`the collection counts ${collection.size} points but holds ${actual.size} of the ids written`);
    const { policy } = this.parameters;
    const durable = Math.max(this.durableSequence, this.baseSequence);
    const required: Requirement = check?.kind === "power cut" ? requiredSequence(this.ops, policy, check.durableEvent, durable) : requiredAfterRestart(this.ops, durable);
    this.log(`recovered ${actual.size} points up to sequence ${applied} (${check?.kind ?? "first open"}; required ≥ ${required.sequence}: ${required.reason})`);
    if (applied < required.sequence) {
      const lost = this.ops.filter((op) => op.sequence !== undefined && op.sequence > applied && op.sequence <= required.sequence && op.outcome === "acknowledged");
      this.violation(`lost acknowledged writes: recovered up to sequence ${applied}, but ${required.sequence} was ${required.reason}; lost: ${lost.map((op) => `#${op.sequence} ${describeWrite(op.write)}`).join(", ")}`);
      return;
    }
    const issuedMax = Math.max(this.baseSequence, ...this.ops.map((op) => op.sequence ?? 0));
    if (applied > issuedMax) {
      this.violation(`recovered up to sequence ${applied}, beyond the last write issued (${issuedMax})`);
      return;
    }
    const mismatch = explainMismatch(this.base, this.baseSequence, this.ops, applied, actual);
    if (mismatch !== undefined) {
      this.violation(mismatch);
      return;
    }
    // What a recovery found must stay found: it is the new base, which every later recovery must hold
    // (recovery makes it durable before it serves). Writes above it are not in the log.
    this.base = actual;
    this.baseSequence = applied;
    this.ops = [];
    this.walSyncFailed = false;
  }

  /**
   * Checks the aliases a database opened with against the model: those of the last acknowledged
   * update, or of a later one that failed or did not finish (see {@link aliasCandidates}). What it
   * found is the model's from then on.
   */
  private checkAliases(db: Database): void {
    const found = new Map(db.listAliases());
    const allowed = [this.aliases, ...this.aliasCandidates];
    const text = describeAliases(found);
    this.log(`aliases found: ${text}`);
    if (!allowed.some((state) => describeAliases(state) === text)) {
      this.violation(`the aliases after reopening are ${text}; the acknowledged updates allow ${allowed.map((state) => describeAliases(state)).join(" or ")}`);
    }
    this.aliases = found;
    this.aliasCandidates = [];
    this.aliasUpdateRunning = false;
  }

  /** Issues one UpdateAliases call (unless one is running) without waiting for it. */
  private issueAliasUpdate(): void {
    if (this.aliasUpdateRunning) return;
    const actions = this.writes.aliasActions(this.aliases, collectionName);
    const next = aliasesAfter(this.aliases, actions);
    const process = this.process;
    this.aliasUpdateRunning = true;
    this.aliasCandidates.push(next);
    this.result.aliasUpdates++;
    const described = describeAliasActions(actions);
    this.log(`issue aliases: ${described}`);
    this.db!.updateAliases(actions).then(
      () => {
        if (process !== this.process) return;
        this.aliasUpdateRunning = false;
        this.aliases = next;
        this.aliasCandidates = [];
        this.result.aliasUpdatesAcknowledged++;
        this.log(`ack aliases: ${described}`);
      },
      (error: unknown) => {
        if (process !== this.process) return;
        this.aliasUpdateRunning = false;
        this.log(`fail aliases: ${described}: ${errorText(error)}`);
        if (!(error instanceof VectorDbError) || error.code !== "unavailable") this.violation(`UpdateAliases (${described}) failed with something else than UNAVAILABLE: ${errorText(error)}`);
      },
    );
  }

  /** Issues one write without waiting for it; its outcome lands in the model. */
  private issue(write: ModelWrite): void {
    const collection = this.collection!;
    const before = collection.nextSequence;
    let promise: Promise<unknown>;
    switch (write.kind) {
      case "upsert":
        promise = collection.upsert(write.points);
        break;
      case "deleteIds":
        promise = collection.deleteIds(write.ids);
        break;
      case "deleteByFilter":
        promise = collection.deleteByFilter(write.filter);
        break;
      case "payload":
        promise = collection.changePayload(write.selector, write.change, write.selector.kind);
        this.result.payloadChanges++;
        break;
    }
    const sequence = collection.nextSequence === before + 1 ? before : undefined;
    const op: ModelOp = { write, sequence, outcome: "pending", acknowledgedAtMs: 0, acknowledgedAtEvent: 0, error: undefined };
    this.ops.push(op);
    this.result.writes++;
    this.log(`issue #${sequence ?? "-"} ${describeWrite(write)}`);
    promise.then(
      () => {
        op.outcome = "acknowledged";
        op.acknowledgedAtMs = this.clock.now();
        op.acknowledgedAtEvent = this.event++;
        this.result.acknowledged++;
        this.log(`ack #${sequence ?? "-"}`);
        if (this.walSyncFailed) this.violation(`write #${sequence ?? "-"} (${describeWrite(write)}) was acknowledged after a failed fsync of the WAL, before a reopen`);
      },
      (error: unknown) => {
        op.outcome = "failed";
        op.error = errorText(error);
        this.log(`fail #${sequence ?? "-"}: ${op.error}`);
        if (!(error instanceof VectorDbError) || error.code !== "unavailable") this.violation(`write #${sequence ?? "-"} failed with something else than UNAVAILABLE: ${op.error}`);
      },
    );
  }

  private checkpoint(): void {
    const collection = this.collection!;
    this.log("checkpoint");
    collection.checkpoint().then(
      (report) => {
        this.result.checkpoints++;
        // The segment holds everything up to its sequence (a call joining a running checkpoint gets
        // that one's report: writes acknowledged after its snapshot are not in it).
        if (report !== undefined) {
          this.durableSequence = Math.max(this.durableSequence, report.sequence);
          this.log(`checkpoint done at sequence ${report.sequence}`);
        }
      },
      (error: unknown) => this.log(`checkpoint failed: ${errorText(error)}`),
    );
  }

  /**
   * A restart without power loss: close (a checkpoint; it fails after a failed WAL fsync) and reopen
   * on the same boot, then check that every acknowledged write is there.
   */
  private async restart(): Promise<"up" | "down" | "stop"> {
    this.log("restart: close the database");
    const closed = await this.settle(this.db!.close());
    if (closed === powerLost) return "down";
    const clean = closed.state === "resolved";
    this.log(clean ? "closed cleanly" : `close failed: ${errorText((closed as { error: unknown }).error)}`);
    return this.reopen();
  }

  /** Opens the database again on the same boot (no power loss) and checks it; recreates the collection if it is gone. */
  private async reopen(): Promise<"up" | "down" | "stop"> {
    this.process++;
    this.db = undefined;
    this.collection = undefined;
    this.pendingCheck = { kind: "restart" };
    const opened = await this.openDatabase();
    if (opened !== "up") return opened;
    if (this.collection === undefined) return this.createCollection();
    return "up";
  }

  /**
   * The process dies (`kill -9`) and restarts on the same machine: the page cache survives, so every
   * acknowledged write must be there under every policy. Writes in flight have unknown outcomes.
   */
  private async kill(): Promise<"up" | "down" | "stop"> {
    this.log("process crash (kill -9), then a restart");
    for (const op of this.ops) {
      if (op.outcome !== "pending") continue;
      op.outcome = "failed";
      op.error = "in flight when the process died";
    }
    this.fs = this.disk.processCrash();
    this.clock = new SimClock(this.clock.now());
    this.fs.clock = this.clock;
    return this.reopen();
  }

  /** The workload of one boot; arms a power cut at a random step unless `last`. */
  private async workload(last: boolean): Promise<void> {
    const { stepsPerBoot, flushIntervalMs } = this.parameters;
    const cutStep = last ? -1 : Math.floor(this.random() * stepsPerBoot);
    for (let step = 0; step < stepsPerBoot; step++) {
      if (this.disk.dead) return;
      if (step === cutStep) {
        const at = this.disk.counters.mutations + 1 + Math.floor(this.random() * 10);
        this.log(`power cut armed at mutation ${at}`);
        this.disk.armPowerCut(at);
      }
      if (this.walSyncFailed || this.random() < 0.03) {
        if ((await this.restart()) !== "up") return;
        continue;
      }
      if (this.random() < 0.02) {
        if ((await this.kill()) !== "up") return;
        continue;
      }
      const r = this.random();
      if (r < 0.6) this.issue(this.writes.next());
      else if (r < 0.64) this.issueAliasUpdate();
      else if (r < 0.68) this.checkpoint();
      else if (r < 0.9) {
        // Disk operations take no simulated time: time moves only while the disk is idle.
        while ((await this.disk.step()) && !this.disk.dead);
        await this.clock.advance(1 + Math.floor(this.random() * 2 * flushIntervalMs));
      }
      const turns = Math.floor(this.random() * 5);
      for (let turn = 0; turn < turns && !this.disk.dead; turn++) await this.disk.step();
    }
    // Let what is in flight finish (or the armed cut happen).
    const idle = this.collection === undefined ? Promise.resolve() : this.whenSettled();
    await this.settle(idle);
  }

  /** Resolves once no write of the model is pending and the collection has no checkpoint running. */
  private async whenSettled(): Promise<void> {
    for (let turns = 0; this.ops.some((op) => op.outcome === "pending"); turns++) {
      if (turns > idleTurnsMax) throw new Error("writes did not settle");
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** The last boot: a clean shutdown, a power cut, and every acknowledged write must be there. */
  private async finalCheck(): Promise<void> {
    this.log("final: clean close, then a power cut");
    this.disk.setRandomFaults(0, 0);
    const closed = await this.settle(this.db!.close());
    if (closed === powerLost || closed.state === "rejected") {
      this.log(`final close failed: ${closed === powerLost ? "power lost" : errorText(closed.error)}`);
      this.cut();
      return;
    }
    const acknowledged = Math.max(this.baseSequence, ...this.ops.filter((op) => op.outcome === "acknowledged").map((op) => op.sequence ?? 0));
    this.durableSequence = Math.max(this.durableSequence, acknowledged);
    this.cut();
    this.clock = new SimClock(this.clock.now() + 1_000);
    this.fs.clock = this.clock;
    const opened = await this.openDatabase();
    if (opened === "up" && this.db !== undefined) await this.settle(this.db.close());
  }
}

/** Runs one seed of the simulation (see the module documentation). */
export function runSeed(options: SeedOptions): Promise<SeedResult> {
  return new SeedRun(options).run();
}
