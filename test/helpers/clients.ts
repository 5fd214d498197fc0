import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Helpers of the tests that run clients in other languages against a real server: installing their
 * Debian toolchains through the project's setup scripts, running a child process without blocking the
 * event loop (the server under test lives in the test's process), and building Go code in GOPATH mode.
 */

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Debian's interpreter: the one with python3-grpcio & co. (the `python3` on PATH may be another). */
export const debianPython = "/usr/bin/python3";
export const inCi = /^(1|true|yes)$/i.test(process.env.CI ?? "");
/** Bound on a setup script: a cold apt-get install of every toolchain takes 1 to 2 minutes. */
export const setupTimeoutMs = 600_000;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A readable account of a finished child for assertion messages. */
export function describeRun(result: RunResult): string {
  return `status ${result.code} signal ${result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

/**
 * Runs a child to completion (killed after `timeoutMs`). PYTHONPATH and PYTHONHOME are removed from
 * the inherited environment, so Debian's interpreter never picks up another Python's modules; `env`
 * adds variables on top.
 */
export function runChild(
  command: string,
  args: string[],
  options: { timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };
    delete env.PYTHONPATH;
    delete env.PYTHONHOME;
    Object.assign(env, options.env);
    const child = spawn(command, args, { cwd: options.cwd ?? root, env, stdio: ["ignore", "pipe", "pipe"], timeout: options.timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

/** Runs a child and throws with its output unless it exits 0. */
export async function runChecked(command: string, args: string[], options: { timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  const result = await runChild(command, args, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${describeRun(result)}`);
  return result;
}

/**
 * Installs (when missing) the Debian toolchains for `parts` of scripts/setup-clients.sh: "python",
 * "go", "generate". Returns undefined when they are there, or the reason they cannot be installed on
 * this machine (exit 3: not root, no apt-get), which the caller turns into a skip; under CI=true that
 * throws instead, since CI must not skip silently. Any other failure throws.
 * Synchronous: call it before the test's server starts.
 */
export function setupClientToolchains(...parts: Array<"python" | "go" | "generate">): string | undefined {
  const script = join(root, "scripts/setup-clients.sh");
  const setup = spawnSync("bash", [script, ...parts], { cwd: root, encoding: "utf8", timeout: setupTimeoutMs });
  if (setup.error) throw new Error(`${script} could not run: ${setup.error.message}`);
  if (setup.status === 0) return undefined;
  if (setup.status !== 3) throw new Error(`${script} ${parts.join(" ")} failed (status ${setup.status}, signal ${setup.signal}):\n${setup.stderr}`);
  const reason = `${script} cannot install the ${parts.join(" + ")} toolchain here:\n${setup.stderr.trim()}`;
  if (inCi) throw new Error(`CI=true, so not skipping: ${reason}`);
  console.warn(`SKIPPING: ${reason}`);
  return reason;
}

/** The Go import path of clients/go (the module path in clients/go/go.mod). */
export const goClientImportPath = "vectordb/clients/go";

/**
 * A GOPATH workspace for building against clients/go with Debian's Go toolchain, offline: GOPATH mode
 * (GO111MODULE=off) with this temporary tree first, where `src/vectordb/clients/go` links to the
 * repository's clients/go, and /usr/share/gocode (Debian's golang-*-dev sources) second. The build
 * cache is kept across runs in the system temporary directory.
 */
export class GoWorkspace {
  readonly dir = mkdtempSync(join(tmpdir(), "vectordb-gopath-"));
  readonly env: NodeJS.ProcessEnv = {
    GO111MODULE: "off",
    GOPATH: `${this.dir}:/usr/share/gocode`,
    GOCACHE: join(tmpdir(), "vectordb-go-build-cache"),
    GOFLAGS: "",
    GOPROXY: "off",
  };

  constructor() {
    const link = join(this.dir, "src", goClientImportPath);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(root, "clients/go"), link);
  }

  /** `go build -o out importPath`; a cold build of grpc-go takes ~10 s on 2 cores, later ones ~1 s. */
  async build(importPath: string, out: string, timeoutMs = 300_000): Promise<void> {
    await runChecked("/usr/bin/go", ["build", "-o", out, importPath], { timeoutMs, env: this.env });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
