import { destination, pino, type Logger } from "pino";

/** The server's structured logger (pino, JSON lines on stderr). `level` is a pino level or "silent". */
export function createLogger(level: string): Logger {
  return pino({ name: "vectordb", level }, destination(2));
}
