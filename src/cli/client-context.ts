import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { cliDefaults } from "../config.js";
import { VectorDbClient, type VectorDbClientOptions } from "../client/index.js";
import { UsageError } from "./cli-errors.js";


/** The global options of client commands, as commander parsed them. */
export interface GlobalOptions {
  /** `host:port` of the server. */
  address: string;
  /** Per-call deadline in ms, when given on the command line. */
  timeoutMs?: number;
  /** API key sent with every call. */
  apiKey?: string;
  /** Use TLS (with the system's CAs unless `tlsCaFile`). */
  tls?: boolean;
  /** PEM CA bundle to trust (implies TLS). */
  tlsCaFile?: string;
  /** Name the server's certificate must carry, when not the address's host. */
  tlsServerName?: string;
  /** PEM client certificate and key, for a server that requires mutual TLS (implies TLS). */
  tlsClientCertFile?: string;
  tlsClientKeyFile?: string;
  /** TLS without verifying the server's certificate (a probe of a server on the same host). */
  tlsSkipVerify?: boolean;
}

/**
 * The client options of the global flags: the API key, and TLS when `--tls` or any TLS file is given.
 * @throws UsageError when a file cannot be read, or only one of the client certificate and key is given.
 */
export function clientOptions(options: GlobalOptions): VectorDbClientOptions {
  const read = (path: string, flag: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new UsageError(`${flag}: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  if ((options.tlsClientCertFile === undefined) !== (options.tlsClientKeyFile === undefined)) {
    throw new UsageError("--tls-client-cert-file and --tls-client-key-file go together");
  }
  const tls =
    options.tls === true || options.tlsSkipVerify === true || options.tlsCaFile !== undefined || options.tlsClientCertFile !== undefined || options.tlsServerName !== undefined;
  return {
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(tls
      ? {
          tls: {
            ...(options.tlsCaFile === undefined ? {} : { rootCerts: read(options.tlsCaFile, "--tls-ca-file") }),
            ...(options.tlsClientCertFile === undefined ? {} : { certChain: read(options.tlsClientCertFile, "--tls-client-cert-file") }),
            ...(options.tlsClientKeyFile === undefined ? {} : { privateKey: read(options.tlsClientKeyFile, "--tls-client-key-file") }),
            ...(options.tlsServerName === undefined ? {} : { serverName: options.tlsServerName }),
            ...(options.tlsSkipVerify === true ? { skipVerify: true } : {}),
          },
        }
      : {}),
  };
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
export async function withClient(
  command: Command,
  run: (context: ClientContext) => Promise<void>,
  timeoutMsDefault: number | "none" = cliDefaults.callTimeoutMs,
): Promise<void> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const { address, timeoutMs } = globals;
  const client = new VectorDbClient(address, clientOptions(globals));
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
