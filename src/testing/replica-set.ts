import { rmSync } from "node:fs";
import { join } from "node:path";
import type { VectorDbClient } from "../client/index.js";
import { ServerProcess } from "./crash/index.js";
import { freePort, sleep } from "./net.js";
import { NatsCluster } from "./nats-cluster.js";

/** One vectordb replica of a {@link ReplicaSet}. */
export interface Replica {
  nodeId: string;
  dataDir: string;
  metricsPort: number;
  server: ServerProcess | undefined;
}

/** Settings of a {@link ReplicaSet}. */
export interface ReplicaSetOptions {
  /** The compiled CLI (`dist/src/cli/main.js`). */
  cliPath: string;
  replicas?: number;
  leaseTtlMs?: number;
  checkpointRecords?: number;
  /** How long a replica may take to report SERVING, ms. */
  readyMs?: number;
  /** The replicas' log level (their stderr tail is kept; default warn). */
  logLevel?: string;
}

/**
 * A NATS JetStream cluster (3 nodes) and vectordb replicas (`vectordb serve --replication …` child
 * processes) on 127.0.0.1, each in its folder under `root`: for the replication tests and the
 * replication crash test. Every wait is bounded.
 */
export class ReplicaSet {
  private constructor(
    readonly nats: NatsCluster,
    readonly replicas: Replica[],
    private readonly options: Required<ReplicaSetOptions>,
  ) {}

  static async start(root: string, options: ReplicaSetOptions): Promise<ReplicaSet> {
    const settings: Required<ReplicaSetOptions> = { replicas: 3, leaseTtlMs: 1_500, checkpointRecords: 20_000, readyMs: 30_000, logLevel: "warn", ...options };
    const nats = await NatsCluster.start(join(root, "nats"));
    const replicas: Replica[] = [];
    for (let i = 0; i < settings.replicas; i++) {
      replicas.push({ nodeId: `r${i + 1}`, dataDir: join(root, `r${i + 1}`), metricsPort: await freePort(), server: undefined });
    }
    const set = new ReplicaSet(nats, replicas, settings);
    try {
      await Promise.all(replicas.map((_, i) => set.startReplica(i)));
    } catch (error) {
      await set.stop();
      throw error;
    }
    return set;
  }

  /** Starts replica `i` (again) and waits until its health says SERVING (its logs applied). */
  async startReplica(i: number): Promise<VectorDbClient> {
    const replica = this.replicas[i]!;
    const args = [
      "--replication", this.nats.urls,
      "--node-id", replica.nodeId,
      "--lease-ttl-ms", String(this.options.leaseTtlMs),
      "--checkpoint-records", String(this.options.checkpointRecords),
      "--metrics-port", String(replica.metricsPort),
      "--log-level", this.options.logLevel,
    ];
    const server = await ServerProcess.spawn(this.options.cliPath, replica.dataDir, args);
    replica.server = server;
    return server.waitServing(this.options.readyMs);
  }

  /** The client of replica `i` (started). */
  client(i: number): VectorDbClient {
    const client = this.replicas[i]!.server?.client;
    if (client === undefined) throw new Error(`replica ${this.replicas[i]!.nodeId} is not running`);
    return client;
  }

  /** Sends `signal` to replica `i`; for SIGKILL waits for its exit and forgets it. */
  async signal(i: number, signal: NodeJS.Signals): Promise<void> {
    const replica = this.replicas[i]!;
    if (replica.server === undefined) return;
    if (signal === "SIGKILL") {
      await replica.server.stop("SIGKILL");
      replica.server = undefined;
    } else {
      replica.server.child.kill(signal);
    }
  }

  /** Kills replica `i` and removes its data directory (a wiped replica). */
  async wipe(i: number): Promise<void> {
    await this.signal(i, "SIGKILL");
    rmSync(this.replicas[i]!.dataDir, { recursive: true, force: true });
  }

  /** Whether replica `i` says it is the leader (its metrics), false when it does not answer. */
  async isLeader(i: number): Promise<boolean> {
    const replica = this.replicas[i]!;
    if (replica.server === undefined) return false;
    try {
      const response = await fetch(`http://127.0.0.1:${replica.metricsPort}/metrics`, { signal: AbortSignal.timeout(1_000) });
      return /^vectordb_replication_leader 1$/m.test(await response.text());
    } catch {
      return false;
    }
  }

  /**
   * The index of the replica that leads, waiting up to `timeoutMs` for one (other than `except`).
   * @throws Error when none leads by then.
   */
  async leader(timeoutMs = 15_000, except?: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (let i = 0; i < this.replicas.length; i++) {
        if (i !== except && (await this.isLeader(i))) return i;
      }
      await sleep(25);
    }
    throw new Error(`no replica became the leader within ${timeoutMs} ms`);
  }

  /** Kills every replica and NATS node. */
  async stop(): Promise<void> {
    for (const replica of this.replicas) {
      if (replica.server !== undefined) {
        replica.server.child.kill("SIGCONT");
        await replica.server.stop("SIGKILL");
        replica.server = undefined;
      }
    }
    await this.nats.stop();
  }
}
