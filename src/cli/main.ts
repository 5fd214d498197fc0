#!/usr/bin/env node
import { CommanderError } from "commander";
import { reportError } from "./cli-errors.js";
import { buildProgram, exitCodeOf } from "./program.js";

/**
 * Entry of the `vectordb` command (package.json `bin`). Exit codes: 0 success, 1 failure (server
 * error, unreadable or malformed file, health not SERVING), 2 usage error. Run `vectordb --help`.
 */
async function main(argv: readonly string[]): Promise<void> {
  // `vectordb ... | head` closes stdout early: stop quietly instead of crashing on EPIPE.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    process.exitCode = error instanceof CommanderError ? exitCodeOf(error) : reportError(error);
  }
}

await main(process.argv);
