import { Command } from "commander";
import { cliDefaults } from "../config.js";
import { action, exitCodes } from "./cli-errors.js";
import { print, withClient } from "./client-context.js";


/**
 * `vectordb health [--service <name>]`: grpc.health.v1 Check. Prints the status (`SERVING`,
 * `NOT_SERVING`, ...) and exits 0 only for SERVING; 1 for any other status or when the server cannot be
 * reached within the deadline (default 3000 ms). Used by the container HEALTHCHECK.
 */
export function healthCommand(): Command {
  const command = new Command("health")
    .description(`check the server's health (exit 0 when SERVING; deadline ${cliDefaults.healthTimeoutMs} ms unless --timeout-ms)`)
    .option("--service <name>", 'service to check ("" = the whole server)', "");
  command.action(
    action(async (options: { service: string }) => {
      await withClient(
        command,
        async ({ client, timeoutMs }) => {
          const status = await client.health(options.service, { timeoutMs });
          print(`${status}\n`);
          if (status !== "SERVING") process.exitCode = exitCodes.failure;
        },
        cliDefaults.healthTimeoutMs,
      );
    }),
  );
  return command;
}
