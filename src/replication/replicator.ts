import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import { checkCollectionName, type CollectionSpec, type DurableCollection } from "../collection/index.js";
import type { ReplicationConfig, ServerConfig } from "../config.js";
import { waitForSequence, type AliasAction, type Database, type ReplicationStatus, type WritePath } from "../db/index.js";
import { VectorDbError } from "../errors.js";
import { realStorageIo } from "../storage/index.js";
import { CollectionLog, type LogHost } from "./collection-log.js";
import { StreamFollower } from "./follower.js";
import { LeaderLease, type LeaseHolder } from "./lease.js";
import { readReplicationState, writeReplicationState, type ReplicationState } from "./local-state.js";
import {
  barrierType,
  checkpointBucketName,
  checkpointObjectName,
  checkpointSequenceOf,
  collectionStreamName,
  collectionSubject,
  leaseBucketName,
  metaStreamName,
  metaSubject,
  termHeader,
  typeHeader,
} from "./log-names.js";

/** A record of the meta log (JSON). `create`'s incarnation is the record's own stream sequence. */
type MetaRecord =
  | { op: "create"; spec: CollectionSpec }
  | { op: "drop"; name: string }
  | { op: "aliases"; actions: AliasAction[] }
  | { op: "ef"; name: string; ef: number };

type MetaOutcome = { ok: unknown } | { error: unknown };

/** How long start-up waits for JetStream (the meta leader election of a new cluster), ms. */
const jetStreamReadyMaxMs = 30_000;
/** How often stream ends are looked up (lag, health, checkpoints), ms. */
const statusIntervalMs = 500;
/** A consumer behind its stream that handled nothing for this long is re-opened, ms. */
const stallMs = 1_000;
/** Checkpoints kept per collection in the object store; the log is trimmed below the oldest. */
const checkpointsKept = 2;

/** Where replication stands on this node (for metrics and tests). */
export interface ReplicationSnapshot {
  nodeId: string;
  isLeader: boolean;
  /** The lease holder as last seen (this node when it leads). */
  leader: LeaseHolder | undefined;
  term: number | undefined;
  metaApplied: number;
  collections: { name: string; applied: number; lag: number; fenced: number }[];
  /** Whether every log is within `catchUpLagMax` of its end. */
  caughtUp: boolean;
}

/**
 * Replication on one node: every collection lives in a replicated log on a NATS JetStream cluster (see
 * `log-names.ts` for what is stored where), one node (the lease holder) appends, every node applies.
 *
 * - Meta log: collection create/drop, alias and ef changes, applied on every node in order through
 *   the {@link Database} API; how far is kept in `replication.json` (see `local-state.ts`).
 * - Collection logs: see {@link CollectionLog} (apply in stream order; fencing by term; pipelined
 *   appends with expected-last-sequence).
 * - Leadership: see {@link LeaderLease}. A follower whose logs are all applied to their end takes the
 *   lapsed lease, writes a barrier with its term to every log (expecting the end it applied, so nothing
 *   of the old leader can land after it), and then accepts writes. Followers refuse writes with
 *   FAILED_PRECONDITION naming the leader's address (no forwarding: one hop, and the client knows
 *   where its writes went).
 * - Checkpoints: the leader stores a snapshot of a collection in the object store every
 *   `checkpointRecords` records, keeps the newest {@link checkpointsKept} and trims the log below the
 *   oldest kept; a replica without the collection (new, wiped) or behind the trimmed log loads the
 *   newest checkpoint and replays the log after it.
 */
export class Replicator implements LogHost {
  private readonly logs = new Map<string, CollectionLog>();
  private readonly metaOutcomes = new Map<number, MetaOutcome>();
  private metaFollower: StreamFollower | undefined;
  private metaProcessed: number;
  private metaTerm = 0;
  private metaLastKnown = 0;
  private metaChain: Promise<unknown> = Promise.resolve();
  /** Set once this node has written its barriers as leader (writes are accepted from then on). */
  private ready = false;
  private leaderSeen: LeaseHolder | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private statusBusy = false;
  private closed = false;
  private caughtUpNow = false;
  private initialCatchUpDone = false;
  private readonly rebuilding = new Set<string>();
  private readonly resyncing = new Set<CollectionLog>();
  readonly publishTimeoutMs: number;
  private readonly settings: ReplicationConfig;
  private readonly self: LeaseHolder;

  private constructor(
    private readonly db: Database,
    config: ServerConfig,
    readonly logger: Logger,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly lease: LeaderLease,
    private readonly objects: ObjectStore,
    private state: ReplicationState,
    self: LeaseHolder,
    private readonly onHealth: (serving: boolean) => void,
  ) {
    this.settings = config.replication;
    this.publishTimeoutMs = config.replication.publishTimeoutMs;
    this.metaProcessed = state.metaSequence;
    this.self = self;
  }

  /**
   * Connects to NATS, creates the meta log and the buckets when missing, resumes every collection log
   * at its applied sequence, and starts following the meta log and competing for the lease.
   *
   * @param address this node's gRPC address, named in the lease.
   * @param onHealth called with false while a log is more than `catchUpLagMax` records behind, true once caught up.
   * @throws VectorDbError unavailable when NATS or JetStream cannot be reached within 30 s.
   */
  static async start(db: Database, config: ServerConfig, logger: Logger, address: string, onHealth: (serving: boolean) => void): Promise<Replicator> {
    const settings = config.replication;
    if (settings.servers === undefined) throw new VectorDbError("failed_precondition", "replication: no NATS servers configured (--replication)");
    const nodeId = settings.nodeId ?? hostname().replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64);
    const servers = settings.servers.split(",").map((url) => url.trim());
    let nc: NatsConnection;
    try {
      nc = await connect({ servers, name: `vectordb-${nodeId}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5_000 });
    } catch (error) {
      throw new VectorDbError("unavailable", `replication: cannot connect to NATS at ${settings.servers}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: settings.publishTimeoutMs });
      const js = jetstream(nc, { timeout: settings.publishTimeoutMs });
      const replicas = settings.streamReplicas;
      const ttlMs = settings.leaseTtlMs;
      const { kv, objects } = await retryUntil(jetStreamReadyMaxMs, async () => {
        await jsm.streams.add({ name: metaStreamName, subjects: [metaSubject], num_replicas: replicas, storage: StorageType.File }).catch(async (error: unknown) => {
          // Exists already (another node created it): fine when it is there.
          await jsm.streams.info(metaStreamName).catch(() => {
            throw error;
          });
        });
        const kvBucket = await new Kvm(js).create(leaseBucketName, { replicas, ttl: ttlMs, history: 1 });
        const objectStore = await new Objm(js).create(checkpointBucketName, { replicas, storage: StorageType.File });
        return { kv: kvBucket, objects: objectStore };
      });
      const self = { nodeId, address: settings.advertiseAddress ?? address };
      const lease = new LeaderLease(kv, self, ttlMs);
      const state = await readReplicationState(realStorageIo.fs, config.dataDir);
      const replicator = new Replicator(db, config, logger, nc, js, jsm, lease, objects, state, self, onHealth);
      await replicator.resume();
      return replicator;
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
  }

  /** The write path that sends every change through the replicated logs. */
  writePath(): WritePath {
    return {
      write: async (name, op, field) => {
        const collection = this.db.get(name, field);
        this.requireLeader();
        const log = this.logs.get(collection.name);
        if (log === undefined || log.collection !== collection) throw new VectorDbError("unavailable", `collection "${collection.name}": its replicated log is not open on this node yet; retry`);
        const { type, body } = collection.encodeWrite(op);
        return log.append(type, concat(body), this.nc.info?.max_payload ?? 1024 * 1024);
      },
      createCollection: async (spec) => {
        checkCollectionName(spec.name, "name");
        this.requireLeader();
        if (this.db.list().some((collection) => collection.name === spec.name)) throw new VectorDbError("already_exists", `name: collection "${spec.name}" already exists`);
        return (await this.appendMeta({ op: "create", spec })) as DurableCollection;
      },
      dropCollection: async (name) => {
        this.db.get(name, "name");
        this.requireLeader();
        return (await this.appendMeta({ op: "drop", name })) as number;
      },
      updateAliases: async (actions) => {
        this.requireLeader();
        await this.appendMeta({ op: "aliases", actions: [...actions] });
      },
      updateSearchEf: async (name, ef) => {
        const collection = this.db.get(name, "name");
        this.requireLeader();
        await this.appendMeta({ op: "ef", name: collection.name, ef });
      },
      status: (collection) => this.statusOf(collection),
      waitApplied: (name, sequence, signal, field) => {
        const collection = this.db.get(name, field);
        const log = this.logs.get(collection.name);
        const applied = (): number => (log === undefined ? collection.appliedSequence : log.processed);
        return waitForSequence(applied, sequence, signal, `this replica of collection "${collection.name}"`);
      },
    };
  }

  /** Where replication stands on this node. */
  snapshot(): ReplicationSnapshot {
    return {
      nodeId: this.self.nodeId,
      isLeader: this.isLeader,
      leader: this.isLeader ? this.self : this.leaderSeen,
      term: this.lease.term,
      metaApplied: this.metaProcessed,
      collections: [...this.logs.values()].map((log) => ({ name: log.name, applied: log.processed, lag: log.lag, fenced: log.fenced })),
      caughtUp: this.caughtUpNow,
    };
  }

  /** Whether this node leads and accepts writes. */
  get isLeader(): boolean {
    return this.ready && this.lease.held;
  }

  /** As LogHost: the term while this node holds the lease. */
  leaderTerm(): number | undefined {
    return this.lease.held ? this.lease.term : undefined;
  }

  /** As LogHost: a trimmed gap; the collection is rebuilt from the newest checkpoint. */
  onGap(log: CollectionLog): void {
    void this.rebuild(log.name, log.incarnation);
  }

  /** As LogHost: re-learn the log's end before the next append. */
  onPublishFailed(log: CollectionLog): void {
    if (this.resyncing.has(log)) return;
    this.resyncing.add(log);
    void (async () => {
      try {
        for (let attempt = 0; attempt < 100 && !this.closed && this.lease.held && !log.writerReady; attempt++) {
          try {
            const info = await this.jsm.streams.info(log.stream);
            await log.waitProcessed(info.state.last_seq);
            if (this.lease.held) log.setWriterEnd(info.state.last_seq);
          } catch (error) {
            this.logger.warn({ err: error, collection: log.name }, "replication: re-synchronising the writer failed; retrying");
            await sleep(200);
          }
        }
      } finally {
        this.resyncing.delete(log);
      }
    })();
  }

  /**
   * Stores a checkpoint of collection `name` in the object store now (the leader does this every
   * `checkpointRecords` records) and trims the log below the oldest checkpoint kept.
   * @throws VectorDbError not_found; unavailable when the object store cannot be written.
   */
  async checkpoint(name: string): Promise<number> {
    const log = this.logs.get(this.db.get(name).name);
    if (log === undefined) throw new VectorDbError("unavailable", `collection "${name}": its replicated log is not open on this node`);
    const record = await this.db.createSnapshot(log.name);
    try {
      const chunks: Uint8Array[] = [];
      for await (const chunk of this.db.snapshots.chunks(log.name, record.name)) chunks.push(chunk);
      await this.objects.putBlob(
        { name: checkpointObjectName(log.incarnation, record.sequence), description: JSON.stringify({ sha256: record.sha256, sequence: record.sequence, pointCount: record.pointCount }) },
        concat(chunks),
      );
    } finally {
      await this.db.snapshots.delete(log.name, record.name).catch(() => undefined);
    }
    log.lastCheckpointSequence = record.sequence;
    const kept = (await this.checkpointsOf(log.incarnation)).slice(-checkpointsKept);
    for (const old of (await this.checkpointsOf(log.incarnation)).slice(0, -checkpointsKept)) await this.objects.delete(old.name).catch(() => undefined);
    if (kept.length > 0) await this.jsm.streams.purge(log.stream, { seq: kept[0]!.sequence + 1 }).catch(() => undefined);
    this.logger.info({ collection: log.name, sequence: record.sequence, bytes: record.sizeBytes }, "replication: checkpoint stored");
    return record.sequence;
  }

  /** Stops following, gives the lease up if held (a follower takes over at once) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.leaseTimer);
    clearInterval(this.statusTimer);
    clearInterval(this.stallTimer);
    this.ready = false;
    if (this.lease.term !== undefined) await this.lease.release();
    await this.metaFollower?.stop();
    await Promise.all([...this.logs.values()].map((log) => log.stop()));
    await this.nc.close().catch(() => undefined);
  }

  // ---- start-up -------------------------------------------------------------------------------

  private async resume(): Promise<void> {
    const held = new Set(this.db.list().map((collection) => collection.name));
    for (const [name, incarnation] of Object.entries(this.state.collections)) {
      if (!held.has(name)) {
        // The folder is gone (a partly wiped replica): load it again from the checkpoint and the log.
        const spec = await this.specOf(incarnation);
        if (spec === undefined) continue;
        await this.materialize(spec, incarnation);
      }
      await this.openLog(name, incarnation);
    }
    this.metaFollower = new StreamFollower(this.js, metaStreamName, this.metaProcessed + 1, (message) => this.applyMeta(message), this.logger);
    this.metaFollower.start();
    const tickMs = Math.max(100, Math.floor(this.settings.leaseTtlMs / 4));
    this.leaseTimer = setInterval(() => void this.tick(), tickMs);
    this.statusTimer = setInterval(() => void this.refreshStatus(), statusIntervalMs);
    // On its own timer: the status loop can wait seconds on a stream without a Raft leader.
    this.stallTimer = setInterval(() => {
      for (const log of this.logs.values()) log.restartIfStalled(stallMs);
      this.metaFollower?.restartIfStalled(this.metaLastKnown > this.metaProcessed, stallMs);
    }, stallMs / 4);
    void this.refreshStatus();
  }

  /** The spec a create record of the meta log gave (for a collection whose folder is missing). */
  private async specOf(incarnation: number): Promise<CollectionSpec | undefined> {
    try {
      const message = await this.jsm.streams.getMessage(metaStreamName, { seq: incarnation });
      const record = JSON.parse(new TextDecoder().decode(message!.data)) as MetaRecord;
      return record.op === "create" ? record.spec : undefined;
    } catch {
      return undefined;
    }
  }

  /** Opens the log of a collection held here, rebuilding it first when the log was trimmed past it. */
  private async openLog(name: string, incarnation: number): Promise<void> {
    const collection = this.db.get(name);
    const log = new CollectionLog(name, incarnation, collection, this.js, this);
    const info = await this.jsm.streams.info(log.stream).catch(() => undefined);
    if (info !== undefined) {
      log.lastKnown = info.state.last_seq;
      if (info.state.first_seq > log.processed + 1 && info.state.messages > 0) {
        await this.rebuild(name, incarnation);
        return;
      }
    }
    this.logs.set(name, log);
    log.startFollowing();
    if (this.leaderTerm() !== undefined) {
      // The leader opening a log (a collection it just created): appends continue after the log's end.
      if (info === undefined || log.processed === info.state.last_seq) log.setWriterEnd(info?.state.last_seq ?? 0);
      else this.onPublishFailed(log);
    }
  }

  // ---- meta log ---------------------------------------------------------------------------------

  private async applyMeta(message: JsMsg): Promise<void> {
    const term = Number(message.headers?.get(termHeader) ?? "0");
    const type = message.headers?.get(typeHeader) ?? "";
    let outcome: MetaOutcome | undefined;
    if (term < this.metaTerm) {
      this.logger.warn({ sequence: message.seq, term, currentTerm: this.metaTerm }, "replication: ignored a meta record of a deposed leader");
    } else {
      this.metaTerm = term;
      if (type !== barrierType) {
        try {
          outcome = { ok: await this.applyMetaRecord(JSON.parse(new TextDecoder().decode(message.data)) as MetaRecord, message.seq) };
        } catch (error) {
          outcome = { error };
        }
      }
    }
    this.state = { ...this.state, metaSequence: message.seq };
    await writeReplicationState(realStorageIo.fs, this.db.dataDir, this.state);
    if (outcome !== undefined && this.leaderTerm() !== undefined) this.metaOutcomes.set(message.seq, outcome);
    this.metaProcessed = message.seq;
    this.metaLastKnown = Math.max(this.metaLastKnown, message.seq + message.info.pending);
  }

  private async applyMetaRecord(record: MetaRecord, sequence: number): Promise<unknown> {
    switch (record.op) {
      case "create":
        return this.applyCreate(record.spec, sequence);
      case "drop":
        return this.applyDrop(record.name);
      case "aliases":
        return this.db.updateAliases(record.actions);
      case "ef":
        return this.db.get(record.name, "name").updateSearchEf(record.ef);
    }
  }

  private async applyCreate(spec: CollectionSpec, incarnation: number): Promise<DurableCollection> {
    const known = this.state.collections[spec.name];
    if (known === incarnation && this.logs.has(spec.name)) return this.db.get(spec.name);
    if (known !== undefined && known !== incarnation) await this.dropLocal(spec.name);
    // Held already but not recorded: created before a crash that came before replication.json was written.
    const held = this.db.list().find((collection) => collection.name === spec.name);
    const collection = held ?? (await this.materialize(spec, incarnation));
    this.state = { ...this.state, collections: { ...this.state.collections, [spec.name]: incarnation } };
    await this.openLog(spec.name, incarnation);
    return collection;
  }

  private async applyDrop(name: string): Promise<number> {
    const incarnation = this.state.collections[name];
    const points = await this.dropLocal(name);
    const collections = { ...this.state.collections };
    delete collections[name];
    this.state = { ...this.state, collections };
    if (incarnation !== undefined && this.leaderTerm() !== undefined) {
      // The leader removes the log and the checkpoints once the drop is in the meta log.
      await this.jsm.streams.delete(collectionStreamName(incarnation)).catch(() => undefined);
      for (const checkpoint of await this.checkpointsOf(incarnation).catch(() => [])) await this.objects.delete(checkpoint.name).catch(() => undefined);
    }
    return points;
  }

  /** Stops the collection's log and drops the local collection (if held); resolves with its points. */
  private async dropLocal(name: string): Promise<number> {
    const log = this.logs.get(name);
    this.logs.delete(name);
    await log?.stop();
    if (!this.db.list().some((collection) => collection.name === name)) return 0;
    return this.db.drop(name);
  }

  /** Creates the collection here from its newest checkpoint, or empty when it has none. */
  private async materialize(spec: CollectionSpec, incarnation: number): Promise<DurableCollection> {
    const newest = (await this.checkpointsOf(incarnation)).at(-1);
    if (newest === undefined) return this.db.create(spec);
    const data = await this.objects.getBlob(newest.name);
    if (data === null) return this.db.create(spec);
    const sha256 = createHash("sha256").update(data).digest("hex");
    const collection = await this.db.restoreSnapshot(spec.name, sha256, (async function* () {
      yield data;
    })());
    this.logger.info({ collection: spec.name, sequence: newest.sequence, bytes: data.byteLength }, "replication: collection loaded from a checkpoint");
    return collection;
  }

  /** Drops the local copy of a collection that fell behind the trimmed log and loads it again. */
  private async rebuild(name: string, incarnation: number): Promise<void> {
    if (this.rebuilding.has(name) || this.closed) return;
    this.rebuilding.add(name);
    try {
      const spec = this.db.get(name).spec;
      const aliases = this.db.listAliases(name);
      await this.dropLocal(name);
      await this.materialize(spec, incarnation);
      if (aliases.length > 0) await this.db.updateAliases(aliases.map(([alias, collection]) => ({ kind: "create", alias, collection })));
      const log = new CollectionLog(name, incarnation, this.db.get(name), this.js, this);
      this.logs.set(name, log);
      log.startFollowing();
    } catch (error) {
      this.logger.error({ err: error, collection: name }, "replication: rebuilding the collection from its checkpoint failed");
    } finally {
      this.rebuilding.delete(name);
    }
  }

  /** The checkpoints of an incarnation in the object store, oldest first. */
  private async checkpointsOf(incarnation: number): Promise<{ name: string; sequence: number }[]> {
    const found: { name: string; sequence: number }[] = [];
    for (const info of await this.objects.list()) {
      if (info.deleted) continue;
      const sequence = checkpointSequenceOf(incarnation, info.name);
      if (sequence !== undefined) found.push({ name: info.name, sequence });
    }
    return found.sort((a, b) => a.sequence - b.sequence);
  }

  /** Leader: appends a meta record (one at a time) and resolves with what applying it here returned. */
  private appendMeta(record: MetaRecord): Promise<unknown> {
    const run = this.metaChain.then(async () => {
      const term = this.requireLeader();
      const expectLast = this.metaProcessed;
      let stream: string | undefined;
      if (record.op === "create") {
        // The collection's log exists before the record that creates the collection, so followers can follow it at once.
        stream = collectionStreamName(expectLast + 1);
        await this.jsm.streams.add({ name: stream, subjects: [collectionSubject(expectLast + 1)], num_replicas: this.settings.streamReplicas, storage: StorageType.File });
      }
      let sequence: number;
      try {
        const ack = await this.js.publish(metaSubject, JSON.stringify(record), { headers: this.headersOf(term, "meta"), expect: { lastSequence: expectLast }, timeout: this.publishTimeoutMs });
        sequence = ack.seq;
      } catch (error) {
        if (stream !== undefined) await this.jsm.streams.delete(stream).catch(() => undefined);
        throw new VectorDbError("unavailable", `the replicated meta log did not acknowledge the change (${error instanceof Error ? error.message : String(error)}); retry`, { cause: error });
      }
      await this.waitMeta(sequence);
      const outcome = this.metaOutcomes.get(sequence);
      this.metaOutcomes.delete(sequence);
      if (outcome === undefined) throw new VectorDbError("failed_precondition", `the change at meta sequence ${sequence} was fenced off (a newer leader took over); retry on the leader`);
      if ("error" in outcome) throw outcome.error;
      if (this.leaderTerm() !== term) throw new VectorDbError("unavailable", "this node lost the leader lease before acknowledging the change (it is in the log and will be applied)");
      return outcome.ok;
    });
    this.metaChain = run.catch(() => undefined);
    return run;
  }

  private async waitMeta(sequence: number): Promise<void> {
    const deadline = performance.now() + 30_000;
    while (this.metaProcessed < sequence) {
      if (performance.now() > deadline) throw new VectorDbError("unavailable", `meta record ${sequence} was not applied here within 30 s`);
      await sleep(1);
    }
  }

  private headersOf(term: number, type: string) {
    const h = natsHeaders();
    h.set(termHeader, String(term));
    h.set(typeHeader, type);
    return h;
  }

  // ---- leadership ---------------------------------------------------------------------------------

  /** @returns the leader's term. @throws VectorDbError failed_precondition naming the leader, on a follower. */
  private requireLeader(): number {
    const term = this.leaderTerm();
    if (term !== undefined && this.ready) return term;
    const leader = this.leaderSeen;
    if (leader === undefined || leader.nodeId === this.self.nodeId) {
      throw new VectorDbError("unavailable", `node "${this.self.nodeId}" is a replication follower and no leader holds the lease right now (an election takes up to ${this.settings.leaseTtlMs} ms); retry`);
    }
    throw new VectorDbError("failed_precondition", `node "${this.self.nodeId}" is a replication follower: send writes to the leader "${leader.nodeId}" at ${leader.address}`);
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      if (this.lease.term !== undefined) {
        if (!(await this.lease.renew())) this.stepDown("the lease was lost");
        return;
      }
      this.leaderSeen = await this.lease.holder();
      if (this.leaderSeen === undefined && (await this.appliedToEnd())) await this.takeOver();
    } catch (error) {
      this.logger.info({ err: error }, "replication: lease tick failed");
    } finally {
      this.ticking = false;
    }
  }

  /** Whether the meta log and every collection log are applied here to their end. */
  private async appliedToEnd(): Promise<boolean> {
    const meta = await this.jsm.streams.info(metaStreamName);
    if (meta.state.last_seq !== this.metaProcessed) return false;
    for (const log of this.logs.values()) {
      const info = await this.jsm.streams.info(log.stream).catch(() => undefined);
      if (info !== undefined && info.state.last_seq !== log.processed) return false;
    }
    return this.rebuilding.size === 0;
  }

  private async takeOver(): Promise<void> {
    const term = await this.lease.acquire();
    if (term === undefined) return;
    try {
      const ack = await this.js.publish(metaSubject, new Uint8Array(0), { headers: this.headersOf(term, barrierType), expect: { lastSequence: this.metaProcessed }, timeout: this.publishTimeoutMs });
      await this.waitMeta(ack.seq);
      for (const log of this.logs.values()) {
        const barrier = await log.publishBarrier(term, log.processed);
        await log.waitProcessed(barrier);
        log.setWriterEnd(barrier);
      }
      if (!this.lease.held) throw new Error("the lease lapsed while taking over");
      this.ready = true;
      this.leaderSeen = this.self;
      this.logger.info({ nodeId: this.self.nodeId, term }, "replication: this node is the leader");
    } catch (error) {
      this.logger.warn({ err: error }, "replication: taking over failed; giving the lease up");
      this.stepDown("taking over failed");
      await this.lease.release();
    }
  }

  private stepDown(reason: string): void {
    const wasLeader = this.ready;
    this.ready = false;
    this.lease.drop();
    for (const log of this.logs.values()) log.setWriterEnd(undefined);
    this.leaderSeen = undefined;
    if (wasLeader) this.logger.warn({ nodeId: this.self.nodeId, reason }, "replication: this node stepped down");
    // Learn who leads now, so that refused writes name the new leader at once.
    void this.lease.holder().then(
      (holder) => {
        if (this.lease.term === undefined) this.leaderSeen = holder;
      },
      () => undefined,
    );
  }

  // ---- status, health, checkpoints ---------------------------------------------------------------

  private statusOf(collection: DurableCollection): ReplicationStatus {
    const log = this.logs.get(collection.name);
    if (log === undefined || log.collection !== collection) return { appliedSequence: collection.appliedSequence, lag: 0 };
    return { appliedSequence: log.processed, lag: log.lag };
  }

  private async refreshStatus(): Promise<void> {
    if (this.statusBusy || this.closed) return;
    this.statusBusy = true;
    try {
      // Each lookup on its own: one stream without a leader for a moment must not hide the others' ends.
      const meta = await this.jsm.streams.info(metaStreamName).catch(() => undefined);
      if (meta !== undefined) this.metaLastKnown = meta.state.last_seq;
      // Until the logs were once applied to their end, a starting replica is catching up (bound 0).
      const bound = this.initialCatchUpDone ? this.settings.catchUpLagMax : 0;
      let caughtUp = this.metaLastKnown - this.metaProcessed <= bound && this.rebuilding.size === 0;
      for (const log of this.logs.values()) {
        const info = await this.jsm.streams.info(log.stream).catch(() => undefined);
        if (info !== undefined) log.lastKnown = info.state.last_seq;
        if (log.lag > bound) caughtUp = false;
      }
      if (caughtUp) this.initialCatchUpDone = true;
      if (caughtUp !== this.caughtUpNow) {
        this.caughtUpNow = caughtUp;
        this.onHealth(caughtUp);
      }
      if (this.isLeader) {
        for (const log of this.logs.values()) {
          if (log.processed - log.lastCheckpointSequence >= this.settings.checkpointRecords) await this.checkpoint(log.name);
        }
      }
    } catch (error) {
      this.logger.debug({ err: error }, "replication: status refresh failed");
    } finally {
      this.statusBusy = false;
    }
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  return Buffer.concat(chunks);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `attempt` until it succeeds or `maxMs` passes (then throws its last error as UNAVAILABLE). */
async function retryUntil<T>(maxMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + maxMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (performance.now() > deadline) throw new VectorDbError("unavailable", `replication: JetStream is not ready after ${maxMs} ms: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      await sleep(250);
    }
  }
}
