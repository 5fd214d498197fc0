import type { Logger } from "pino";
import type { ServerConfig } from "./config.js";
import { Database, type DatabaseCloseOptions, type DatabaseOpenReport } from "./db/index.js";
import { createLogger } from "./logger.js";
import { ServerMetrics, startMetricsListener, type MetricsListener } from "./metrics/index.js";
import { embeddedWritePath, type WritePath } from "./db/index.js";
import { Replicator } from "./replication/index.js";
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
  /** Replication on this node (undefined without `--replication`). */
  readonly replicator: Replicator | undefined;
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
  // Replication's write path exists only once the replicator has started (after the database opened);
  // no data call gets through before then (the server is not serving yet).
  let writes: WritePath = embeddedWritePath(db);
  const replicated = config.replication.servers !== undefined;
  const forward: WritePath = {
    write: (name, op, field) => writes.write(name, op, field),
    createCollection: (spec) => writes.createCollection(spec),
    dropCollection: (name) => writes.dropCollection(name),
    updateAliases: (actions) => writes.updateAliases(actions),
    updateSearchEf: (name, ef) => writes.updateSearchEf(name, ef),
    status: (collection) => writes.status(collection),
    waitApplied: (name, sequence, signal, field) => writes.waitApplied(name, sequence, signal, field),
  };
  let server: RunningServer;
  try {
    server = await startServer(config, dataServices(db, config, forward), logger, metrics);
  } catch (error) {
    await metricsListener?.close();
    throw error;
  }
  let recovery: DatabaseOpenReport;
  let replicator: Replicator | undefined;
  try {
    recovery = await db.open();
    if (replicated) {
      const running = server;
      replicator = await Replicator.start(db, config, logger, server.address, (healthy) => running.setHealthy(healthy));
      writes = replicator.writePath();
      metrics.setReplication(replicator);
    }
  } catch (error) {
    await server.shutdown(0);
    await db.close().catch(() => undefined);
    await metricsListener?.close();
    throw error;
  }
  server.setServing(true);
  // Replication: NOT_SERVING until the logs are applied (the replicator reports when).
  if (replicator !== undefined) server.setHealthy(replicator.snapshot().caughtUp);
  logger.info(
    {
      address: server.address,
      metrics: metricsListener === undefined ? "off" : `http://${metricsListener.address}/metrics`,
      dataDir: config.dataDir,
      fsync: config.storage.fsync,
      replication: replicator === undefined ? "off" : `node ${replicator.snapshot().nodeId}`,
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
    replicator,
    close(options) {
      closing ??= (async () => {
        await server.shutdown();
        try {
          await replicator?.close();
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
