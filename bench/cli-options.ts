/** The command line of the benchmark scripts: usage errors (exit 2) and integer options. */

/** What {@link commandLine} returns. */
export interface CommandLine {
  /** Prints `error: message` and the usage line to stderr, and exits with status 2. */
  usage(message: string): never;
  /** The option's integer value, `fallback` when absent; a usage error below `min` or when not an integer. */
  integer(name: string, text: string | undefined, fallback: number, min: number): number;
}

/** Helpers for a script whose usage line is `usageLine` (e.g. `npm run simulate -- [--seeds N]`). */
export function commandLine(usageLine: string): CommandLine {
  const usage = (message: string): never => {
    console.error(`error: ${message}`);
    console.error(`usage: ${usageLine}`);
    process.exit(2);
  };
  const integer = (name: string, text: string | undefined, fallback: number, min: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < min) usage(`--${name} must be an integer >= ${min}, not ${JSON.stringify(text)}`);
    return value;
  };
  return { usage, integer };
}
