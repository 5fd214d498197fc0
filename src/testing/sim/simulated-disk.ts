/**
 * A simulated disk for the power-loss simulation: a {@link FileSystem} that keeps, for every file and
 * directory, what is durable and what is only in the (simulated) page cache, and that can lose power.
 *
 * ### The model
 *
 * - **Files.** Every file has its durable contents and its cached contents (what reads return), and
 *   the list of writes and truncations made since its last successful `sync` / `datasync`. A sync
 *   makes the cached contents durable (fdatasync and fsync are alike here: both make the data and the
 *   size durable; neither makes the file's name durable).
 * - **Directories.** Every directory has its durable entries and its cached entries, and the list of
 *   entry changes (a creation, a removal, a rename within the directory) made since its last
 *   successful `syncDirectory`. Only an entry change that survives makes a file reachable under its
 *   name: a file whose creation did not survive is lost whatever was synced into it.
 * - **Power cut** ({@link powerCut}). Durable state stays. For the cached part a seeded random choice
 *   decides what survives, per file: everything, nothing, the writes in order up to a point (the next
 *   one torn: a prefix of it ending at a 512-byte sector boundary of the file), or each write on its
 *   own (whole, none or torn), which models write-back in any order. Entry changes survive all, none,
 *   in order up to a point (a journal), or each on its own (ext4 / xfs reordering). A write into a
 *   region nothing durable covered leaves zeros before it (an unwritten extent reads as zeros).
 * - **Process crash** ({@link processCrash}): the process dies, the machine does not; the cache stays.
 * - **Faults** on demand ({@link injectFault}) or at random ({@link setRandomFaults}): EIO or ENOSPC
 *   on a write (nothing written), a short write (fewer bytes written than asked, no error), EIO on a
 *   file sync or a directory sync. A failed file sync behaves as Linux does since 4.13 ("fsyncgate"):
 *   some of the cached writes may have reached the disk, the others are no longer dirty — a later sync
 *   that succeeds does not write them, so they are lost at the next power cut even though reads still
 *   return them. A failed directory sync makes some entry changes durable and leaves the others
 *   pending.
 * - **Time and order.** Every operation is queued and completes only when the simulation calls
 *   {@link step} (which picks one queued operation, at random, to complete), so that writes and
 *   fsyncs of concurrent requests interleave and group commit happens as on a real disk, yet a run
 *   depends only on its seed. An operation takes effect when it completes. {@link armPowerCut} cuts
 *   the power just before the n-th mutating operation takes effect; from then on no queued or new
 *   operation ever settles (the process is gone), until {@link powerCut} boots the machine again.
 *
 * Paths are absolute POSIX paths. Renames across directories are not supported (EXDEV): the storage
 * code never makes them.
 */
import { deriveSeed, seededRandom } from "../../random.js";
import { applyEntryChange, applyTruncate, applyWrite, type DirNode, type FileChange, type FileNode, neverSettles, type Node, splitPath } from "./disk-nodes.js";
import { SimulatedFileSystem } from "./simulated-file-system.js";

/** Bytes of a sector: a torn write keeps a prefix ending at a multiple of this file offset. */
export const sectorBytes = 512;

/** Operations a fault can hit. */
export type FaultOperation = "write" | "sync" | "syncDirectory";
/** What a fault does: fail with EIO or ENOSPC, or (writes only) write fewer bytes than asked. */
export type FaultKind = "EIO" | "ENOSPC" | "short";

/** A fault injected with {@link SimulatedDisk.injectFault}. */
export interface FaultRule {
  operation: FaultOperation;
  kind: FaultKind;
  /** Only paths containing this string (default: any). */
  pathIncludes?: string;
  /** How many matching operations it hits (default 1). */
  times?: number;
}

/** Counters of a disk over its whole life. */
export interface DiskCounters {
  /** Operations completed (reads included). */
  operations: number;
  /** Mutating operations completed: writes, truncations, syncs, creations, renames, removals. */
  mutations: number;
  /** Power cuts. */
  powerCuts: number;
  /** Process crashes (the machine kept its page cache). */
  processCrashes: number;
  /** Faults injected (on demand and at random). */
  faults: number;
}

interface Queued {
  mutating: boolean;
  /** What the operation is, in words (built only when asked: history, `lastOperation`). */
  describe: () => string;
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The machine's disk: its state outlives power cuts. Each boot is a {@link SimulatedFileSystem}
 * (the file system as the process sees it) and a power cut makes a new one.
 */
export class SimulatedDisk {
  private readonly nodes = new Map<number, Node>();
  private nextId = 1;
  private entryOrder = 0;
  private readonly random: () => number;
  private readonly names: () => number;
  private queue: Queued[] = [];
  private cutAt: number | undefined;
  private faults: FaultRule[] = [];
  private randomFaultRate = 0;
  private randomFaultsLeft = 0;
  private faultsSuspended = false;
  private boot: SimulatedFileSystem;
  /** Set once the power is gone, until {@link powerCut}. */
  dead = false;
  private lastDescribe: () => string = () => "";
  readonly counters: DiskCounters = { operations: 0, mutations: 0, powerCuts: 0, processCrashes: 0, faults: 0 };
  /** One line per operation completed, fault and power cut, when {@link recordHistory} is on. */
  readonly history: string[] = [];
  /** Record {@link history} (off by default: it costs time). */
  recordHistory = false;
  /**
   * What becomes of cached data that a power cut or a failed sync leaves undecided: `"random"` (the
   * seeded choices of the module documentation) or `"lost"` (the worst case: nothing cached survives
   * a power cut, nothing a failed sync covered reaches the disk). Tests of one scenario use `"lost"`.
   */
  cacheFate: "random" | "lost" = "random";
  /**
   * A lying disk, to show that the simulation catches one: syncs succeed without making anything
   * durable (as a drive whose write cache ignores flushes). Off by default.
   */
  ignoreSyncs = false;
  /** Called when a fault hits an operation (the simulation's model watches for failed WAL fsyncs). */
  onFault: ((operation: FaultOperation, path: string, kind: FaultKind) => void) | undefined;
  /**
   * Called when a file sync is called (`"issued"`: the data written before it is what it covers) and
   * when it completes (`"done"`, or `"failed"`); the simulation's model tracks WAL fsyncs with it.
   */
  onSync: ((path: string, phase: "issued" | "done" | "failed") => void) | undefined;

  /** @param seed every random choice of the disk (completion order, survival, names) follows from it. */
  constructor(seed: number) {
    this.random = seededRandom(deriveSeed(seed, 1));
    this.names = seededRandom(deriveSeed(seed, 2));
    this.nodes.set(0, { kind: "dir", id: 0, entries: new Map(), durable: new Map(), dirty: [] });
    this.boot = new SimulatedFileSystem(this, 0);
  }

  /** The file system of the current boot. */
  get fs(): SimulatedFileSystem {
    return this.boot;
  }

  /** What the last completed operation was, e.g. `rename /d/a.tmp-… -> /d/a` (tests stop at a chosen one). */
  get lastOperation(): string {
    return this.lastDescribe();
  }

  /** Operations queued and not completed. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Cuts the power just before mutating operation number `mutation` (counted over the disk's life,
   * see {@link counters}) takes effect. Undefined disarms.
   */
  armPowerCut(mutation: number | undefined): void {
    this.cutAt = mutation;
  }

  /** Adds a fault for the next matching operations (see {@link FaultRule}). */
  injectFault(rule: FaultRule): void {
    this.faults.push({ ...rule, times: rule.times ?? 1 });
  }

  /**
   * Random faults: each write, file sync and directory sync fails (or, for a write, is short) with
   * probability `rate`, at most `budget` times in all.
   */
  setRandomFaults(rate: number, budget: number): void {
    this.randomFaultRate = rate;
    this.randomFaultsLeft = budget;
  }

  /** While suspended, no random fault hits (faults injected on demand still do). */
  suspendRandomFaults(suspended: boolean): void {
    this.faultsSuspended = suspended;
  }

  /**
   * Lets the event loop turn once (`setImmediate`), then completes one queued operation chosen at
   * random. Resolves true when an operation completed.
   */
  async step(): Promise<boolean> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.dead || this.queue.length === 0) return false;
    const at = this.queue.length === 1 ? 0 : Math.floor(this.random() * this.queue.length);
    const [operation] = this.queue.splice(at, 1);
    this.complete(operation!);
    return true;
  }

  /**
   * The power comes back: keeps the durable state and, for what was only cached, a random choice of
   * what survives (see the module documentation); then boots a new file system over it (the previous
   * one is dead for good). May be called whether or not an armed cut happened.
   */
  powerCut(): SimulatedFileSystem {
    this.log(`power cut after ${this.counters.mutations} mutations`);
    this.counters.powerCuts++;
    this.boot.kill();
    this.queue = [];
    this.cutAt = undefined;
    this.dead = false;
    const entryMode = this.pickMode();
    const journalCut = this.entryOrder === 0 ? 0 : Math.floor(this.random() * (this.entryOrder + 1));
    for (const node of this.nodes.values()) {
      if (node.kind === "file") this.settleFile(node);
      else this.settleDirectory(node, entryMode, journalCut);
    }
    this.collectGarbage();
    this.boot = new SimulatedFileSystem(this, this.counters.powerCuts);
    return this.boot;
  }

  /**
   * The process dies (`kill -9`) but the machine keeps running: operations queued and not completed
   * never happen, the page cache and every file and directory stay as they are, and a new process
   * sees them through a new file system. Returns it.
   */
  processCrash(): SimulatedFileSystem {
    this.log(`process crash after ${this.counters.mutations} mutations`);
    this.counters.processCrashes++;
    this.boot.kill();
    this.queue = [];
    this.boot = new SimulatedFileSystem(this, this.boot.bootNumber);
    return this.boot;
  }

  /** Durable contents of the file at `path` as the disk holds them now (tests). */
  durableContents(path: string): Uint8Array | undefined {
    let node: Node | undefined = this.nodes.get(0);
    for (const part of splitPath(path)) {
      if (node?.kind !== "dir") return undefined;
      const id = node.durable.get(part);
      node = id === undefined ? undefined : this.nodes.get(id);
    }
    return node?.kind === "file" ? node.durable.slice() : undefined;
  }

  // ---- used by SimulatedFileSystem ----

  /** @internal Queues an operation of boot `boot`; it settles when {@link step} completes it. */
  enqueue<T>(boot: SimulatedFileSystem, mutating: boolean, describe: () => string, run: () => T): Promise<T> {
    if (this.dead || boot !== this.boot) return neverSettles();
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ mutating, describe, run, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /** @internal */
  node(id: number): Node {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`simulated disk: node ${id} is gone`);
    return node;
  }

  /** @internal */
  newFile(): FileNode {
    const node: FileNode = { kind: "file", id: this.nextId++, data: new Uint8Array(0), size: 0, durable: new Uint8Array(0), dirty: [] };
    this.nodes.set(node.id, node);
    return node;
  }

  /** @internal */
  newDirectory(): DirNode {
    const node: DirNode = { kind: "dir", id: this.nextId++, entries: new Map(), durable: new Map(), dirty: [] };
    this.nodes.set(node.id, node);
    return node;
  }

  /** @internal Records an entry change of `dir` and applies it to its cached entries. */
  changeEntries(dir: DirNode, set: [string, number | undefined][]): void {
    for (const [name, id] of set) {
      if (id === undefined) dir.entries.delete(name);
      else dir.entries.set(name, id);
    }
    dir.dirty.push({ order: this.entryOrder++, set });
  }

  /** @internal The fault hitting this operation, if any (consumes it). */
  takeFault(operation: FaultOperation, path: string, canBeShort: boolean): FaultKind | undefined {
    for (const rule of this.faults) {
      if (rule.operation !== operation || (rule.pathIncludes !== undefined && !path.includes(rule.pathIncludes))) continue;
      if (rule.kind === "short" && !canBeShort) continue;
      rule.times = (rule.times ?? 1) - 1;
      if (rule.times <= 0) this.faults.splice(this.faults.indexOf(rule), 1);
      return this.fault(operation, path, rule.kind);
    }
    if (!this.faultsSuspended && this.randomFaultsLeft > 0 && this.random() < this.randomFaultRate) {
      this.randomFaultsLeft--;
      const kinds: FaultKind[] = operation === "write" ? (canBeShort ? ["EIO", "ENOSPC", "short"] : ["EIO", "ENOSPC"]) : ["EIO"];
      return this.fault(operation, path, kinds[Math.floor(this.random() * kinds.length)]!);
    }
    return undefined;
  }

  /**
   * @internal The path a node has now in the cached tree (a file keeps its handle's name in messages,
   * but a rename moves it), or undefined when no name reaches it.
   */
  currentPath(id: number): string | undefined {
    const search = (dir: DirNode, prefix: string): string | undefined => {
      for (const [name, child] of dir.entries) {
        if (child === id) return `${prefix}/${name}`;
        const node = this.nodes.get(child);
        if (node?.kind === "dir") {
          const found = search(node, `${prefix}/${name}`);
          if (found !== undefined) return found;
        }
      }
      return undefined;
    };
    return search(this.node(0) as DirNode, "");
  }

  /** @internal A random integer in [0, n). */
  randomInt(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** @internal 16 hex digits from the disk's seed. */
  uniqueSuffix(): string {
    const word = (): string => Math.floor(this.names() * 0x1_0000_0000).toString(16).padStart(8, "0");
    return word() + word();
  }

  /** @internal A failed file sync (fsyncgate): some dirty writes reached the disk, the rest are clean but not durable. */
  failFileSync(file: FileNode): void {
    file.durable = this.survivors(file.durable, file.dirty, this.cacheFate === "lost" ? "none" : "each");
    file.dirty = [];
  }

  /**
   * @internal A failed directory sync: some entry changes reached the disk, the others stay pending
   * (a later directory sync that succeeds makes them durable).
   */
  failDirectorySync(dir: DirNode): void {
    dir.dirty = dir.dirty.filter((change) => {
      if (this.cacheFate === "lost" || this.random() >= 0.5) return true;
      applyEntryChange(dir.durable, change);
      return false;
    });
  }

  /** @internal A successful file sync: every pending change is durable (not the ones a failed sync dropped). */
  syncFile(file: FileNode): void {
    if (this.ignoreSyncs) return;
    file.durable = this.survivors(file.durable, file.dirty, "all");
    file.dirty = [];
  }

  /** @internal A successful directory sync: every pending entry change is durable. */
  syncDirectory(dir: DirNode): void {
    if (this.ignoreSyncs) return;
    for (const change of dir.dirty) applyEntryChange(dir.durable, change);
    dir.dirty = [];
  }

  /** @internal */
  log(line: string): void {
    if (this.recordHistory) this.history.push(line);
  }

  private fault(operation: FaultOperation, path: string, kind: FaultKind): FaultKind {
    this.counters.faults++;
    this.log(`fault: ${kind} on ${operation} ${path}`);
    this.onFault?.(operation, path, kind);
    return kind;
  }

  private complete(operation: Queued): void {
    if (operation.mutating) {
      if (this.cutAt !== undefined && this.counters.mutations + 1 >= this.cutAt) {
        this.log(`power lost before: ${operation.describe()}`);
        this.dead = true;
        this.queue = [];
        this.boot.clock?.stop();
        return;
      }
      this.counters.mutations++;
    }
    this.counters.operations++;
    this.lastDescribe = operation.describe;
    if (this.recordHistory) this.log(operation.describe());
    let result: unknown;
    try {
      result = operation.run();
    } catch (error) {
      operation.reject(error);
      return;
    }
    operation.resolve(result);
  }

  private pickMode(): "all" | "none" | "ordered" | "each" {
    if (this.cacheFate === "lost") return "none";
    const r = this.random();
    return r < 0.15 ? "all" : r < 0.3 ? "none" : r < 0.65 ? "ordered" : "each";
  }

  /** The durable image after `changes` are applied to `durable` as far as they survive under `mode`. */
  private survivors(durable: Uint8Array, changes: readonly FileChange[], mode: "all" | "none" | "ordered" | "each"): Uint8Array {
    let bytes = durable;
    if (mode === "none" || changes.length === 0) return bytes;
    const stopAt = mode === "ordered" ? this.randomInt(changes.length + 1) : changes.length;
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      let fate: "whole" | "none" | "torn" = "whole";
      if (mode === "ordered") fate = i < stopAt ? "whole" : i === stopAt ? (this.random() < 0.5 ? "torn" : "none") : "none";
      else if (mode === "each") fate = (["whole", "none", "torn"] as const)[this.randomInt(3)]!;
      if (fate === "none") continue;
      if (change.kind === "truncate") {
        if (fate === "whole") bytes = applyTruncate(bytes, change.length);
        continue;
      }
      bytes = applyWrite(bytes, change.offset, fate === "whole" ? change.bytes : this.tornPrefix(change.offset, change.bytes));
    }
    return bytes;
  }

  /** A prefix of a write ending at a sector boundary strictly inside it (empty when none is). */
  private tornPrefix(offset: number, bytes: Uint8Array): Uint8Array {
    const first = Math.floor(offset / sectorBytes) * sectorBytes + sectorBytes;
    const end = offset + bytes.length;
    if (first >= end) return bytes.subarray(0, 0);
    const boundaries = Math.ceil((end - first) / sectorBytes);
    const boundary = first + this.randomInt(boundaries) * sectorBytes;
    return bytes.subarray(0, Math.min(boundary, end) - offset);
  }

  private settleFile(file: FileNode): void {
    file.durable = this.survivors(file.durable, file.dirty, this.pickMode());
    file.dirty = [];
    file.data = file.durable.slice();
    file.size = file.durable.length;
  }

  private settleDirectory(dir: DirNode, mode: "all" | "none" | "ordered" | "each", journalCut: number): void {
    for (const change of dir.dirty) {
      const survives = mode === "all" || (mode === "ordered" && change.order < journalCut) || (mode === "each" && this.random() < 0.5);
      if (survives) applyEntryChange(dir.durable, change);
    }
    dir.dirty = [];
    dir.entries = new Map(dir.durable);
  }

  /** Drops the nodes no durable entry reaches any more. */
  private collectGarbage(): void {
    const reachable = new Set<number>([0]);
    const stack = [0];
    while (stack.length > 0) {
      const node = this.nodes.get(stack.pop()!);
      if (node?.kind !== "dir") continue;
      for (const id of node.durable.values()) {
        if (reachable.has(id)) continue;
        reachable.add(id);
        stack.push(id);
      }
    }
    for (const id of [...this.nodes.keys()]) if (!reachable.has(id)) this.nodes.delete(id);
  }
}
