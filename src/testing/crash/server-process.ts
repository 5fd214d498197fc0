import { spawn, type ChildProcess } from "node:child_process";
import { VectorDbClient } from "../../client/index.js";
import { freePort, sleep, waitForPort } from "../net.js";

const stderrTailBytes = 16 * 1024;

/** A `vectordb serve` child process. */
export class ServerProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private stderrTail = "";
  private readonly killOnExit = (): void => {
    this.child.kill("SIGKILL");
  };
  client: VectorDbClient | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly startedAt: number,
  ) {
    if (child.stderr === null) throw new Error("the server was spawned without a stderr pipe");
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-stderrTailBytes);
    });
    // If the parent exits without cleaning up, the server must not outlive it.
    process.once("exit", this.killOnExit);
    this.exited = new Promise((resolveExit) => {
      child.once("exit", (code, signal) => {
        process.removeListener("exit", this.killOnExit);
        this.exitInfo = { code, signal };
        resolveExit(this.exitInfo);
      });
    });
  }

  /** Spawns `node CLI serve` on a free port; does not wait for it. */
  static async spawn(cliPath: string, dataDir: string, extraArgs: readonly string[]): Promise<ServerProcess> {
    const port = await freePort();
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VECTORDB_")));
    const args = [cliPath, "serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir, "--log-level", "warn", "--shutdown-grace-ms", "2000", "--metrics-port", "0", ...extraArgs];
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    return new ServerProcess(child, port, Date.now());
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The last lines of the server's stderr, for error messages. */
  get stderr(): string {
    return this.stderrTail.trim();
  }

  /** True when the process has exited. */
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /**
   * Waits until grpc.health.v1 Check says SERVING, and connects {@link client}. Throws when the process
   * exits first or `timeoutMs` passes. The error says whether the port was already taken (retryable).
   */
  async waitServing(timeoutMs: number): Promise<VectorDbClient> {
    const deadline = Date.now() + timeoutMs;
    const giveUp = (): boolean => this.hasExited || Date.now() > deadline;
    // Waiting for the port first avoids grpc-js's reconnect backoff while the process boots.
    if (!(await waitForPort(this.port, giveUp))) throw this.startError(timeoutMs);
    const client = new VectorDbClient(this.address);
    let last = "";
    while (!giveUp()) {
      try {
        last = await client.health("", { timeoutMs: 2_000 });
        if (last === "SERVING") {
          this.client = client;
          return client;
        }
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await sleep(20);
    }
    client.close();
    throw this.startError(timeoutMs, last);
  }

  private startError(timeoutMs: number, lastHealth = ""): Error {
    const how = this.exitInfo !== undefined ? `exited (code ${this.exitInfo.code}, signal ${this.exitInfo.signal})` : `was not SERVING after ${timeoutMs} ms${lastHealth === "" ? "" : ` (health: ${lastHealth})`}`;
    const error = new Error(`the server on port ${this.port} ${how}; stderr:\n${this.stderr}`);
    (error as Error & { portTaken?: boolean }).portTaken = /EADDRINUSE|address already in use/i.test(this.stderr);
    return error;
  }

  /** Sends `signal` and waits for the process to exit; closes the client. */
  async stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.hasExited) this.child.kill(signal);
    const info = await this.exited;
    this.client?.close();
    return info;
  }
}

/**
 * Starts a server on `dataDir` and waits for SERVING. With probability `recoveryKillRate` (per start,
 * up to 3 times in a row) it first kills a starting server with SIGKILL after 30 % to 110 % of
 * `typicalStartMs` (the last measured time to SERVING), so the kill lands while Node loads, while the
 * database recovers, or just after SERVING; then it starts another. Retries on a port taken between
 * choosing and binding it.
 */
export async function startServing(
  cliPath: string,
  dataDir: string,
  extraArgs: readonly string[],
  readyTimeoutMs: number,
  random: () => number,
  recoveryKillRate: number,
  typicalStartMs = 800,
): Promise<{ server: ServerProcess; client: VectorDbClient; recoveryKills: number; restartMs: number }> {
  let recoveryKills = 0;
  while (recoveryKills < 3 && random() < recoveryKillRate) {
    const doomed = await ServerProcess.spawn(cliPath, dataDir, extraArgs);
    await sleep(Math.round(typicalStartMs * (0.3 + 0.8 * random())));
    await doomed.stop("SIGKILL");
    recoveryKills++;
  }
  for (let attempt = 1; ; attempt++) {
    const server = await ServerProcess.spawn(cliPath, dataDir, extraArgs);
    try {
      const client = await server.waitServing(readyTimeoutMs);
      return { server, client, recoveryKills, restartMs: Date.now() - server.startedAt };
    } catch (error) {
      await server.stop("SIGKILL");
      if (attempt < 3 && (error as { portTaken?: boolean }).portTaken === true) continue;
      throw error;
    }
  }
}

