import { pino, type Logger } from "pino";

/** A pino log line as parsed back from JSON. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** pino's numeric levels, for assertions (`warn` is 40, `error` 50). */
export const logLevels = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/** A logger at `level` whose lines are kept in `lines` (parsed), for tests that check what the server logs. */
export function captureLogs(level = "debug"): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}
