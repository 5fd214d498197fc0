import { destination, pino, type Logger } from "pino";
import pretty from "pino-pretty";

/**
 * The server's structured logger (pino) on stderr. `level` is a pino level or "silent"; `format` is
 * `json` (one object per line with ISO times and level names, for log collectors) or `pretty`
 * (pino-pretty: coloured, aligned lines for a terminal, written synchronously).
 */
export function createLogger(level: string, format: "json" | "pretty" = "json"): Logger {
  const options = { name: "vectordb", level };
  if (format === "pretty") return pino(options, pretty({ destination: 2, sync: true, translateTime: "SYS:standard", ignore: "pid,hostname" }));
  return pino({ ...options, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, destination(2));
}
