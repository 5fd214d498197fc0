import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import type { ServerConfig } from "../config.js";
import type { Database } from "../db/index.js";
import { VectorDbError } from "../errors.js";
import { collectionServiceHandlers, pointServiceHandlers } from "../service/index.js";
import { CollectionService } from "../../gen/vectordb/v1/collection_service_pb.js";
import { PointService } from "../../gen/vectordb/v1/point_service_pb.js";
import { Health } from "../../gen/health/v1/health_pb.js";
import { type CallHooks, grpcServiceDefinition, grpcServiceImplementation } from "./adapter.js";
import { addReflection } from "./reflection.js";

/** The services this server exposes, by full name (also their names in the health service). */
export const serviceNames = [CollectionService.typeName, PointService.typeName] as const;

/** After the data calls drain, how long health watchers get to receive NOT_SERVING before their streams close, in ms. */
const watchersFlushMs = 100;

/** A listening server. */
export interface RunningServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** `host:port` as bound. */
  readonly address: string;
  /** Marks the server SERVING (health) and lets calls through; before this they get UNAVAILABLE. */
  setServing(serving: boolean): void;
  /**
   * Stops accepting calls, sets health to NOT_SERVING, waits up to `graceMs` for in-flight data calls
   * to finish (cancelling them after that), then closes the long-lived health Watch and reflection
   * streams. Resolves when the server is closed.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Binds a grpc-js server with CollectionService, PointService, grpc.health.v1.Health and server
 * reflection on `config.host:config.port`. Health reports NOT_SERVING for "" and each service until
 * {@link RunningServer.setServing} is called, and the data services answer UNAVAILABLE until then.
 * Messages above `limits.messageBytesMax` are refused by grpc-js with RESOURCE_EXHAUSTED.
 *
 * @throws Error when the address cannot be bound (in use, bad host).
 */
export async function startServer(config: ServerConfig, db: Database, logger: Logger): Promise<RunningServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": config.limits.messageBytesMax,
    "grpc.max_send_message_length": config.limits.messageBytesMax,
  });
  let serving = false;
  let closing = false;
  const health = new HealthImplementation({ "": "NOT_SERVING", ...Object.fromEntries(serviceNames.map((name) => [name, "NOT_SERVING"])) });
  const setHealth = (status: "SERVING" | "NOT_SERVING"): void => {
    health.setStatus("", status);
    for (const name of serviceNames) health.setStatus(name, status);
  };
  // Data calls in flight; shutdown waits for these, not for long-lived health Watch or reflection streams.
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  const hooks: CallHooks = {
    admit() {
      if (closing) throw new VectorDbError("unavailable", "the server is shutting down");
      if (!serving) throw new VectorDbError("unavailable", "the server is starting; retry shortly");
    },
    started() {
      inFlight++;
    },
    finished() {
      inFlight--;
      if (inFlight === 0) onIdle?.();
    },
  };
  const logInternal = (error: unknown, path: string): void => logger.error({ err: error, path }, "internal error");

  server.addService(
    grpcServiceDefinition(CollectionService),
    grpcServiceImplementation(CollectionService, collectionServiceHandlers(db, config), logInternal, hooks),
  );
  server.addService(
    grpcServiceDefinition(PointService),
    grpcServiceImplementation(PointService, pointServiceHandlers(db, config), logInternal, hooks),
  );
  health.addToServer(server);
  addReflection(server, [CollectionService, PointService, Health]);

  const host = config.host.includes(":") && !config.host.startsWith("[") ? `[${config.host}]` : config.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${config.port}`, grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });

  let closed: Promise<void> | undefined;
  return {
    port,
    address: `${host}:${port}`,
    setServing(value) {
      serving = value;
      setHealth(value && !closing ? "SERVING" : "NOT_SERVING");
    },
    shutdown(graceMs = config.shutdownGraceMs) {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        setHealth("NOT_SERVING");
        const timer = setTimeout(() => {
          logger.warn({ graceMs }, "in-flight calls did not finish in time; cancelling them");
          server.forceShutdown();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
        // Once the data calls have drained, health Watch and reflection streams (which never end by
        // themselves) are closed too, after a moment for watchers to receive NOT_SERVING.
        const closeStreams = (): void => {
          setTimeout(() => server.forceShutdown(), watchersFlushMs).unref();
        };
        if (inFlight === 0) closeStreams();
        else onIdle = closeStreams;
      });
      return closed;
    },
  };
}
