import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeConfig, type AuthConfig, type IndexingConfig, type Limits, type ServerConfig, type StorageConfig, type TlsConfig } from "../../src/config.js";
import { openServer, type VectorDbServer } from "../../src/main.js";
import type { Logger } from "pino";
import { createLogger } from "../../src/logger.js";
import { VectorDbClient } from "../../src/client/index.js";

/** A real server on 127.0.0.1 with a free port, and a client connected to it. */
export interface TestServer {
  running: VectorDbServer;
  client: VectorDbClient;
  address: string;
  config: ServerConfig;
  /** Stops the server (checkpointing its collections) and removes its data directory, unless it was given. */
  stop(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1:0 (in this process) with optional limit and setting overrides. Its data
 * directory is a new temporary one (removed by `stop()`) unless `settings.dataDir` names one (kept).
 */
export async function startTestServer(
  limits: Partial<Limits> = {},
  settings: {
    shutdownGraceMs?: number;
    keepaliveTimeMs?: number;
    keepaliveTimeoutMs?: number;
    indexing?: Partial<IndexingConfig>;
    storage?: Partial<StorageConfig>;
    dataDir?: string;
    /** The server's logger (silent by default); see `captureLogs` in logs.ts. */
    logger?: Logger;
    /** Port of the metrics listener; 0 (the default here) = none. */
    metricsPort?: number;
    auth?: Partial<AuthConfig>;
    tls?: Partial<TlsConfig>;
  } = {},
): Promise<TestServer> {
  const dataDir = settings.dataDir ?? mkdtempSync(join(tmpdir(), "vectordb-test-"));
  const config = makeConfig({
    host: "127.0.0.1",
    port: 0,
    logLevel: "silent",
    dataDir,
    shutdownGraceMs: settings.shutdownGraceMs ?? 2_000,
    ...(settings.keepaliveTimeMs === undefined ? {} : { keepaliveTimeMs: settings.keepaliveTimeMs }),
    ...(settings.keepaliveTimeoutMs === undefined ? {} : { keepaliveTimeoutMs: settings.keepaliveTimeoutMs }),
    // No metrics listener unless a test passes a port (0 = off).
    metricsPort: settings.metricsPort ?? 0,
    ...(settings.auth === undefined ? {} : { auth: settings.auth }),
    ...(settings.tls === undefined ? {} : { tls: settings.tls }),
    limits,
    indexing: settings.indexing ?? {},
    storage: settings.storage ?? {},
  });
  const removeDir = (): void => {
    if (settings.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
  };
  let running;
  try {
    running = await openServer(config, settings.logger ?? createLogger("silent"));
  } catch (error) {
    removeDir();
    throw error;
  }
  const address = `127.0.0.1:${running.server.port}`;
  const client = new VectorDbClient(address);
  return {
    running,
    client,
    address,
    config,
    async stop() {
      client.close();
      try {
        await running.close();
      } finally {
        removeDir();
      }
    },
  };
}

/** Polls GetCollection until every point is linked into the HNSW graph (background indexing done). */
export async function waitIndexed(client: VectorDbClient, name: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { collection } = await client.collections.getCollection({ name });
    if (collection !== undefined && collection.indexedPointCount === collection.pointCount) return;
    if (Date.now() > deadline) throw new Error(`collection ${name}: still indexing after ${timeoutMs} ms (${collection?.indexedPointCount} of ${collection?.pointCount})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
