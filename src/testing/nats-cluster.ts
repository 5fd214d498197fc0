import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort, sleep, waitForPort } from "./net.js";

/** Where Debian's `nats-server` is installed (see scripts/ensure-nats-server.sh); `NATS_SERVER` overrides. */
export function natsServerPath(): string {
  return process.env.NATS_SERVER ?? "/usr/sbin/nats-server";
}

/** One nats-server of a {@link NatsCluster}. */
export interface NatsNode {
  name: string;
  /** Client port on 127.0.0.1. */
  port: number;
  /** Route (cluster) port on 127.0.0.1. */
  clusterPort: number;
  /** `nats://127.0.0.1:<port>`. */
  url: string;
  /** JetStream's store directory. */
  storeDir: string;
  process: ChildProcess | undefined;
}

/** Whether the nats-server binary is there (the tests' setup installs it; see ensure-nats-server.sh). */
export function natsServerAvailable(): boolean {
  return spawnSync(natsServerPath(), ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * A JetStream cluster of `nodes` nats-server processes on 127.0.0.1 with free ports, each storing in
 * `dir/<name>`: for tests and the replication crash test. Every wait is bounded; stop() kills every
 * process it started (SIGKILL).
 */
export class NatsCluster {
  private constructor(
    readonly nodes: NatsNode[],
    private readonly clusterName: string,
  ) {}

  /** The client URLs of every node, comma-separated (as `--replication` takes them). */
  get urls(): string {
    return this.nodes.map((node) => node.url).join(",");
  }

  /**
   * Starts the cluster and waits (at most `readyMs`) until every node accepts connections.
   * @throws Error when nats-server is missing or a node does not come up in time.
   */
  static async start(dir: string, options: { nodes?: number; readyMs?: number } = {}): Promise<NatsCluster> {
    const count = options.nodes ?? 3;
    const nodes: NatsNode[] = [];
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const clusterPort = await freePort();
      const name = `n${i + 1}`;
      nodes.push({ name, port, clusterPort, url: `nats://127.0.0.1:${port}`, storeDir: join(dir, name), process: undefined });
    }
    const cluster = new NatsCluster(nodes, `vdbtest${process.pid}`);
    for (let i = 0; i < count; i++) cluster.spawnNode(i);
    await cluster.waitReady(options.readyMs ?? 15_000);
    return cluster;
  }

  /** Sends `signal` to node `i` (SIGKILL to crash it); its process is forgotten for SIGKILL. */
  kill(i: number, signal: NodeJS.Signals = "SIGKILL"): void {
    const node = this.nodes[i]!;
    node.process?.kill(signal);
    if (signal === "SIGKILL") node.process = undefined;
  }

  /** Starts node `i` again (same ports and store) and waits until it answers JetStream requests. */
  async restart(i: number, readyMs = 15_000): Promise<void> {
    this.spawnNode(i);
    const node = this.nodes[i]!;
    const deadline = Date.now() + readyMs;
    if (!(await waitForPort(node.port, () => Date.now() > deadline))) throw new Error(`nats-server ${node.name} did not listen within ${readyMs} ms`);
    while (Date.now() < deadline) {
      const nc = await connect({ servers: [node.url], timeout: 2_000 }).catch(() => undefined);
      try {
        if (nc !== undefined && (await jetstreamManager(nc, { timeout: 2_000 }).then(() => true, () => false))) return;
      } finally {
        await nc?.close().catch(() => undefined);
      }
      await sleep(200);
    }
    throw new Error(`nats-server ${node.name} did not answer JetStream requests within ${readyMs} ms`);
  }

  /** Kills every node (SIGKILL) and waits for them to exit (at most 5 s). */
  async stop(): Promise<void> {
    const exits = this.nodes.map((node) => {
      const child = node.process;
      node.process = undefined;
      if (child === undefined || child.exitCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGKILL");
      });
    });
    await Promise.all(exits);
  }

  private spawnNode(i: number): void {
    const node = this.nodes[i]!;
    mkdirSync(node.storeDir, { recursive: true });
    const routes = this.nodes.filter((other) => other !== node).map((other) => `nats://127.0.0.1:${other.clusterPort}`);
    // A config file: max_payload (1 MB by default) has no flag, and a batch of points is one message.
    const configPath = join(node.storeDir, "nats.conf");
    writeFileSync(
      configPath,
      [
        `server_name: ${node.name}`,
        `listen: 127.0.0.1:${node.port}`,
        `max_payload: 8MB`,
        `jetstream { store_dir: ${JSON.stringify(node.storeDir)} }`,
        `cluster { name: ${this.clusterName}, listen: 127.0.0.1:${node.clusterPort}, routes: [${routes.join(", ")}] }`,
        "",
      ].join("\n"),
    );
    const args = ["-c", configPath];
    const child = spawn(natsServerPath(), args, { stdio: ["ignore", "ignore", "ignore"] });
    child.on("error", () => undefined);
    node.process = child;
  }

  private async waitReady(readyMs: number): Promise<void> {
    const deadline = Date.now() + readyMs;
    for (const node of this.nodes) {
      if (!(await waitForPort(node.port, () => Date.now() > deadline))) {
        await this.stop();
        throw new Error(`nats-server ${node.name} did not listen on ${node.url} within ${readyMs} ms (is ${natsServerPath()} installed? see scripts/ensure-nats-server.sh)`);
      }
    }
    // The JetStream meta group elects a leader shortly after the routes connect; clients retry until then.
    await sleep(200);
  }
}
