import type { Command } from "commander";
import { cliDefaults } from "../config.js";
import { VectorDbClient } from "../client/index.js";


/** The global options of client commands, as commander parsed them. */
export interface GlobalOptions {
  /** `host:port` of the server. */
  address: string;
  /** Per-call deadline in ms, when given on the command line. */
  timeoutMs?: number;
}

/** A connected client and the per-call deadline to use with it. */
export interface ClientContext {
  client: VectorDbClient;
  /** Deadline of each call, in ms; undefined = no deadline (commands that stream files, without `--timeout-ms`). */
  timeoutMs: number | undefined;
}

/**
 * Runs `run` with a client for the `--address` of `command` (or its parents) and closes the client
 * afterwards, whatever happens. `timeoutMsDefault` applies when `--timeout-ms` is absent: a number of
 * ms, or `"none"` for no deadline. (It is not an optional parameter: passing `undefined` for "no
 * deadline" used to fall back to the 30 s default, which cut long bulk loads.)
 */
export async function withClient(command: Command, run: (context: ClientContext) => Promise<void>, timeoutMsDefault: number | "none" = cliDefaults.callTimeoutMs): Promise<void> {
  const { address, timeoutMs } = command.optsWithGlobals<GlobalOptions>();
  const client = new VectorDbClient(address);
  try {
    await run({ client, timeoutMs: timeoutMs ?? (timeoutMsDefault === "none" ? undefined : timeoutMsDefault) });
  } finally {
    client.close();
  }
}

/** Writes `text` to stdout. */
export function print(text: string): void {
  process.stdout.write(text);
}
