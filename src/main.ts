import type { Logger } from "pino";
import type { ServerConfig } from "./config.js";
import { Database } from "./db/index.js";
import { createLogger } from "./logger.js";
import { startServer, type RunningServer } from "./transport/index.js";

/** A started database server: the gRPC server and the database behind it. */
export interface VectorDbServer {
  readonly server: RunningServer;
  readonly db: Database;
  /** Drains calls (up to `shutdownGraceMs`), then closes the database. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the server: binds the port (health NOT_SERVING, calls UNAVAILABLE), opens the database, then
 * switches to SERVING. Storage is in memory until durable storage lands; `dataDir` is reserved.
 *
 * @throws Error when the port cannot be bound.
 */
export async function openServer(config: ServerConfig, logger: Logger = createLogger(config.logLevel)): Promise<VectorDbServer> {
  const db = new Database(config.limits, config.indexing);
  const server = await startServer(config, db, logger);
  server.setServing(true);
  logger.info({ address: server.address, storage: "memory" }, "vectordb listening");
  let closing: Promise<void> | undefined;
  return {
    server,
    db,
    close() {
      closing ??= (async () => {
        await server.shutdown();
        await db.close();
      })();
      return closing;
    },
  };
}

/**
 * Runs the server until SIGTERM or SIGINT, then drains in-flight calls, closes the database and exits
 * with code 0 (1 if shutting down failed). A second signal exits at once with code 1.
 */
export async function runServer(config: ServerConfig): Promise<void> {
  const logger = createLogger(config.logLevel);
  const running = await openServer(config, logger);
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal }, "second signal: exiting without draining");
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, "shutting down: draining calls");
    running.close().then(
      () => {
        logger.info("shut down cleanly");
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
