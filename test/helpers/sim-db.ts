import type { DurableCollection, PointInput } from "../../src/collection/index.js";
import { makeConfig, type StorageConfig } from "../../src/config.js";
import { Database } from "../../src/db/index.js";
import { SimClock, SimulatedDisk } from "../../src/testing/sim/index.js";

/**
 * A database on a simulated disk, for tests of one power-loss scenario: every call runs by letting
 * the disk complete operations one at a time ({@link run}); `kill` is a process crash (the page cache
 * stays), `powerCut` a power loss (by default the worst case: nothing that was only cached survives).
 */
export class SimDatabase {
  readonly disk: SimulatedDisk;
  clock = new SimClock(0);
  db: Database | undefined;

  constructor(
    private readonly storage: Partial<StorageConfig>,
    seed = 1,
  ) {
    this.disk = new SimulatedDisk(seed);
    this.disk.cacheFate = "lost";
  }

  /** Lets the disk complete operations until `promise` settles. */
  async run<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    const finish = (): void => {
      done = true;
    };
    promise.then(finish, finish);
    for (let idle = 0; !done; ) {
      if (this.disk.dead) throw new Error("the power is off");
      if (await this.disk.step()) idle = 0;
      else if (++idle > 1_000) throw new Error("the call did not settle while the disk was idle");
    }
    return promise;
  }

  /** Opens a database on the current boot. */
  async open(): Promise<Database> {
    this.disk.fs.clock = this.clock;
    const db = new Database(
      makeConfig({ dataDir: "/data", logLevel: "silent", indexing: { indexThreads: 0, indexSliceMs: Number.MAX_SAFE_INTEGER }, storage: this.storage }),
      undefined,
      { io: { fs: this.disk.fs, clock: this.clock } },
    );
    await this.run(db.open());
    this.db = db;
    return db;
  }

  /** The collection `name` of the open database. */
  collection(name = "c"): DurableCollection {
    return this.db!.get(name);
  }

  /** Upserts points `ids` (vector [i], payload {id}) and waits for the answer. */
  upsert(ids: readonly string[], name = "c"): Promise<unknown> {
    const points: PointInput[] = ids.map((id, i) => ({ id, vector: Float32Array.from([i + 1, 2]), payload: { id } }));
    return this.run(this.collection(name).upsert(points));
  }

  /** The ids of `ids` that the collection holds. */
  present(ids: readonly string[], name = "c"): string[] {
    return this.collection(name)
      .get(ids, { withPayload: false, withVector: false })
      .map((point) => point.id);
  }

  /** Steps the disk until the last completed operation matches `pattern`. */
  async runUntil(pattern: RegExp): Promise<void> {
    for (let turns = 0; !pattern.test(this.disk.lastOperation); turns++) {
      if (turns > 10_000) throw new Error(`no operation matched ${pattern}`);
      await this.disk.step();
    }
  }

  /** The process dies (kill -9) and a new one opens the database on the same machine. */
  async kill(): Promise<Database> {
    this.disk.processCrash();
    this.clock = new SimClock(this.clock.now());
    return this.open();
  }

  /** The power goes out; the machine boots and opens the database. */
  async powerCut(): Promise<Database> {
    this.disk.powerCut();
    this.clock = new SimClock(this.clock.now() + 1_000);
    return this.open();
  }
}
