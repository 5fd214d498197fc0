import { readFileSync } from "node:fs";
import { cliDefaults } from "../config.js";
import { Command, CommanderError, Option } from "commander";
import { collectionsCommand } from "./collections-command.js";
import { exitCodes } from "./cli-errors.js";
import { healthCommand } from "./health-command.js";
import { ingestCommand } from "./ingest-command.js";
import { integerIn } from "./parse.js";
import { searchCommand } from "./search-command.js";
import { serveCommand } from "./serve-command.js";
import { statsCommand } from "./stats-command.js";
import { snapshotCommand } from "./snapshot-command.js";


/** The package version, from the package.json above this file (compiled: dist/src/cli/), or "unknown". */
function packageVersion(): string {
  for (const relative of ["../../../package.json", "../../package.json"]) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as { name?: unknown; version?: unknown };
      if (manifest.name === "vectordb-grpc-server" && typeof manifest.version === "string") return manifest.version;
    } catch {
      // Not there: try the next candidate.
    }
  }
  return "unknown";
}

/** Calls `configure` on `command` and every command below it. */
function forEachCommand(command: Command, configure: (command: Command) => void): void {
  configure(command);
  for (const sub of command.commands) forEachCommand(sub, configure);
}

/**
 * The `vectordb` command tree: `serve`, `health`, `collections create|list|get|delete`, `ingest`,
 * `search`, `snapshot create|list|download|restore|delete`, with the global client options
 * `--address` and `--timeout-ms`. Every command throws a CommanderError instead of exiting (see
 * {@link exitCodeOf}); actions report their own errors and set `process.exitCode`.
 */
export function buildProgram(): Command {
  const program = new Command("vectordb")
    .description("vectordb: a vector database served over gRPC")
    .version(packageVersion())
    .addOption(new Option("--address <host:port>", "server address of client commands").env("VECTORDB_ADDRESS").default(cliDefaults.address))
    .addOption(
      new Option(
        "--timeout-ms <n>",
        `deadline of each call in ms (default: ${cliDefaults.callTimeoutMs}; health: ${cliDefaults.healthTimeoutMs}; the streams of ingest, snapshot create, download and restore: none)`,
      )
        .argParser(integerIn(1))
        .env("VECTORDB_TIMEOUT_MS"),
    )
    .addCommand(serveCommand())
    .addCommand(healthCommand())
    .addCommand(collectionsCommand())
    .addCommand(ingestCommand())
    .addCommand(searchCommand())
    .addCommand(snapshotCommand())
    .addCommand(statsCommand());
  // addCommand() does not pass settings down, so set them on every command.
  forEachCommand(program, (command) => {
    command.exitOverride().showHelpAfterError("(add --help for usage)");
    // The connection options belong to each client command: `serve` has its own --api-key (the key it
    // accepts), which a program-wide option of that name would swallow.
    if (command.commands.length === 0 && command !== program && !["serve", "stats"].includes(command.name())) {
      for (const option of connectionOptions()) command.addOption(option);
    }
  });
  return program;
}

/** The options of client commands that say how to reach the server: the API key and TLS. */
function connectionOptions(): Option[] {
  return [
    new Option("--api-key <key>", "API key sent with every call").env("VECTORDB_API_KEY"),
    new Option("--tls", "connect with TLS, trusting the system's CAs (or --tls-ca-file)"),
    new Option("--tls-ca-file <pem>", "CA bundle to trust; implies --tls").env("VECTORDB_TLS_CA_FILE"),
    new Option("--tls-server-name <name>", "name the server's certificate carries, when not the address's host; implies --tls").env("VECTORDB_TLS_SERVER_NAME"),
    new Option("--tls-client-cert-file <pem>", "client certificate for mutual TLS; implies --tls").env("VECTORDB_TLS_CLIENT_CERT_FILE"),
    new Option("--tls-client-key-file <pem>", "key of the client certificate").env("VECTORDB_TLS_CLIENT_KEY_FILE"),
    new Option("--tls-skip-verify", "TLS without checking the server's certificate (as grpcurl -insecure): for probing a server on this host only; implies --tls"),
  ];
}

/**
 * The exit code for an error thrown by commander's parse: 0 for `--help` and `--version`, 2 (usage)
 * for anything else (unknown option, missing argument, invalid value, help shown for a missing
 * subcommand).
 */
export function exitCodeOf(error: CommanderError): number {
  return error.code === "commander.helpDisplayed" || error.code === "commander.version" ? exitCodes.ok : exitCodes.usage;
}
