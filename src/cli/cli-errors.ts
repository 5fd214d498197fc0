import { RpcError } from "../client/index.js";

/** Exit codes of the command line. */
export const exitCodes = Object.freeze({
  /** Success (for `health`: the server is SERVING). */
  ok: 0,
  /** The operation failed: a server error (RpcError), an unreadable or malformed file, NOT_SERVING. */
  failure: 1,
  /** The command line itself is wrong: unknown option, bad number, bad `--filter`, invalid setting. */
  usage: 2,
});

/** A mistake in the command line (exit code 2), found after commander parsed it. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * Prints an error on stderr and returns its exit code: `error: <STATUS_NAME>: <details>` and 1 for an
 * {@link RpcError}, `error: <message>` and 2 for a {@link UsageError}, `error: <message>` and 1 for
 * anything else.
 */
export function reportError(error: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (error instanceof RpcError) {
    stderr.write(`error: ${error.statusName}: ${error.details}\n`);
    return exitCodes.failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  stderr.write(`error: ${message}\n`);
  return error instanceof UsageError ? exitCodes.usage : exitCodes.failure;
}

/**
 * Wraps a commander action so that any error is reported by {@link reportError} and becomes
 * `process.exitCode`, instead of an unhandled rejection.
 */
export function action<Args extends unknown[]>(run: (...args: Args) => Promise<void>): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      await run(...args);
    } catch (error) {
      process.exitCode = reportError(error);
    }
  };
}
