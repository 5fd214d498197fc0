import type { Logger } from "pino";
import type { ServerConfig } from "./config.js";
import { Database, type DatabaseCloseOptions, type DatabaseOpenReport } from "./db/index.js";
import { createLogger } from "./logger.js";
import { ServerMetrics, startMetricsListener, type MetricsListener } from "./metrics/index.js";
import { dataServices } from "./service/index.js";
import { startServer, type RunningServer } from "./transport/index.js";

/** A started database server: the gRPC server and the database behind it. */
export interface VectorDbServer {
  readonly server: RunningServer;
  readonly db: Database;
  /** The server's metrics; served over HTTP by {@link metricsListener} when `metricsPort` is not 0. */
  readonly metrics: ServerMetrics;
  readonly metricsListener: MetricsListener | undefined;
  /** What recovery found when the database was opened. */
  readonly recovery: DatabaseOpenReport;
  /**
   * Drains calls (up to `shutdownGraceMs`), then closes the database: every collection is
   * checkpointed (unless `checkpoint: false`, which leaves the WAL to be replayed, as after a crash)
   * and the data directory is unlocked. Idempotent (the first call's options win).
   */
  close(options?: DatabaseCloseOptions): Promise<void>;
}

/**
 * Starts the server: wires the data services to the database, binds the port (health NOT_SERVING, data calls UNAVAILABLE), opens the database
 * in `config.dataDir` (locks it and recovers every collection: segment, then WAL replay), then switches
 * health to SERVING. A collection that fails recovery answers its own error (e.g. DATA_LOSS) while the
 * others serve.
 *
 * @throws Error when the port cannot be bound; VectorDbError failed_precondition when another process
 *   holds the data directory, unavailable when it cannot be created or read.
 */
export async function openServer(config: ServerConfig, logger: Logger = createLogger(config.logLevel, config.logFormat)): Promise<VectorDbServer> {
  let db: Database | undefined;
  // Listed per scrape; nothing while the database is still opening (or once it is closed).
  const metrics = new ServerMetrics(() => (db?.isOpen === true ? db.list() : []));
  db = new Database(config, logger, { hooks: { onWalSync: (seconds) => metrics.observeFsync(seconds) } });
  const metricsListener = config.metricsPort === 0 ? undefined : await startMetricsListener(metrics, config.metricsHost, config.metricsPort);
  let server: RunningServer;
  try {
    server = await startServer(config, dataServices(db, config), logger, metrics);
  } catch (error) {
    await metricsListener?.close();
    throw error;
  }
  let recovery: DatabaseOpenReport;
  try {
    recovery = await db.open();
  } catch (error) {
    await server.shutdown(0);
    await metricsListener?.close();
    throw error;
  }
  server.setServing(true);
  logger.info(
    {
      address: server.address,
      metrics: metricsListener === undefined ? "off" : `http://${metricsListener.address}/metrics`,
      dataDir: config.dataDir,
      fsync: config.storage.fsync,
      collections: recovery.opened,
      failedCollections: recovery.failed.length,
      recoveryMs: Math.round(recovery.durationMs),
    },
    "vectordb listening",
  );
  let closing: Promise<void> | undefined;
  const opened = db;
  return {
    server,
    db: opened,
    metrics,
    metricsListener,
    recovery,
    close(options) {
      closing ??= (async () => {
        await server.shutdown();
        try {
          await opened.close(options);
        } finally {
          await metricsListener?.close();
        }
      })();
      return closing;
    },
  };
}

/**
 * Runs the server until SIGTERM or SIGINT, then drains in-flight calls, checkpoints and closes the
 * database and exits with code 0 (1 if shutting down failed: the WALs still hold every acknowledged
 * write). A second signal exits at once with code 1 (nothing acknowledged is lost: it is in the WALs).
 */
export async function runServer(config: ServerConfig): Promise<void> {
  const logger = createLogger(config.logLevel, config.logFormat);
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
