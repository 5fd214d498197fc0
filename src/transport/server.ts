import type { DescMessage } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import { decodeRecursionLimit, type ServerConfig } from "../config.js";
import { VectorDbError } from "../errors.js";
import { grpcServiceDefinition, tolerantDeserializer, type WireOptions } from "../rpc/index.js";
import { Health } from "../../gen/health/v1/health_pb.js";
import { ApiKeyGate, resolveApiKeys } from "./auth.js";
import { CallObserver, type CallSink } from "./call-observer.js";
import { MessageSizes } from "./message-sizes.js";
import { addReflection } from "./reflection.js";
import { serverCredentials } from "./tls.js";
import type { ServiceBinding } from "../service/index.js";
import { type CallHooks, grpcServiceImplementation } from "./service-adapter.js";
import { guardStatuses } from "./status-guard.js";

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
   * Sets only the health status (calls are still let through while serving): replication reports
   * NOT_SERVING while a replica catches up, and SERVING once it has.
   */
  setHealthy(healthy: boolean): void;
  /**
   * Stops accepting calls, sets health to NOT_SERVING, waits up to `graceMs` for in-flight data calls
   * to finish (cancelling them after that), then closes the long-lived health Watch and reflection
   * streams. Resolves when the server is closed.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Admission of data calls: refused with UNAVAILABLE until the server is serving and once it is
 * closing; counts the calls in flight so that shutdown waits for them (and not for long-lived health
 * Watch or reflection streams).
 */
class CallGate implements CallHooks {
  serving = false;
  closing = false;
  private inFlight = 0;
  private onIdle: (() => void) | undefined;

  admit(): void {
    if (this.closing) throw new VectorDbError("unavailable", "the server is shutting down");
    if (!this.serving) throw new VectorDbError("unavailable", "the server is starting; retry shortly");
  }

  started(): void {
    this.inFlight++;
  }

  finished(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.onIdle?.();
  }

  /** Runs `then` once no call is in flight (at once if none is). */
  whenIdle(then: () => void): void {
    if (this.inFlight === 0) then();
    else this.onIdle = then;
  }
}

/**
 * Binds a grpc-js server with the given data services (CollectionService and PointService, wired in
 * `src/main.ts`), grpc.health.v1.Health and server reflection on `config.host:config.port`. Health
 * reports NOT_SERVING for "" and each service until {@link RunningServer.setServing} is called, and
 * the data services answer UNAVAILABLE until then. Messages above `limits.messageBytesMax` are refused
 * by grpc-js with RESOURCE_EXHAUSTED (before they are buffered), requests that do not decode answer
 * INVALID_ARGUMENT, and every status message is bounded (see `status-guard.ts`). Every connection gets
 * a keepalive PING every `keepaliveTimeMs` and is closed when one goes unanswered for
 * `keepaliveTimeoutMs`, which also frees the sockets of connections that broke the HTTP/2 protocol.
 *
 * @throws Error when the address cannot be bound (in use, bad host).
 */
export async function startServer(config: ServerConfig, services: readonly ServiceBinding[], logger: Logger, sink?: CallSink): Promise<RunningServer> {
  // Checked before anything binds: a bad key file or certificate stops the start with its flag named.
  const credentials = serverCredentials(config.tls);
  const keys = new ApiKeyGate(resolveApiKeys(config.auth));
  const server = new grpc.Server({
    "grpc.max_receive_message_length": config.limits.messageBytesMax,
    "grpc.max_send_message_length": config.limits.messageBytesMax,
    "grpc.keepalive_time_ms": config.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": config.keepaliveTimeoutMs,
  });
  const gate = new CallGate();
  // Aborted by shutdown(): client streams (bulk loads) stop being read at once and end with UNAVAILABLE.
  const stopping = new AbortController();
  const serviceNames = services.map(({ service }) => service.typeName);
  const health = new HealthImplementation({ "": "NOT_SERVING", ...Object.fromEntries(serviceNames.map((name) => [name, "NOT_SERVING"])) });
  const setHealth = (status: "SERVING" | "NOT_SERVING"): void => {
    health.setStatus("", status);
    for (const name of serviceNames) health.setStatus(name, status);
  };
  const recursionLimit = decodeRecursionLimit(config.limits);
  // Requests that do not decode reach the adapter as MalformedMessage (INVALID_ARGUMENT), not as a throw.
  // With debug logging, the per-call log line gives the request and response sizes.
  const sizes = logger.isLevelEnabled("debug") ? new MessageSizes() : undefined;
  const wire: WireOptions = {
    requestDeserializer: (schema: DescMessage) => (sizes === undefined ? tolerantDeserializer(schema, recursionLimit) : sizes.deserializer(tolerantDeserializer(schema, recursionLimit))),
    ...(sizes === undefined ? {} : { wrapResponseSerializer: (serialize) => sizes.serializer(serialize) }),
  };
  for (const { service, handlers } of services) {
    server.addService(
      grpcServiceDefinition(service, wire),
      grpcServiceImplementation(service, handlers, { logger, limits: config.limits, hooks: [new CallObserver(sink, logger, sizes), gate, keys], shutdown: stopping.signal }),
    );
  }
  // Health stays open (probes carry no key); reflection needs a key when keys are set, unless told not to.
  health.addToServer(server);
  const reflectionGuard = keys.enabled && !config.auth.reflectionWithoutKey ? (metadata: grpc.Metadata) => keys.admit({ path: "/grpc.reflection/ServerReflectionInfo", metadata }) : undefined;
  addReflection(server, [...services.map(({ service }) => service), Health], reflectionGuard);

  const host = config.host.includes(":") && !config.host.startsWith("[") ? `[${config.host}]` : config.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${config.port}`, credentials, (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
  guardStatuses(server, config.limits.messageBytesMax);

  let closed: Promise<void> | undefined;
  return {
    port,
    address: `${host}:${port}`,
    setServing(value) {
      gate.serving = value;
      setHealth(value && !gate.closing ? "SERVING" : "NOT_SERVING");
    },
    setHealthy(healthy) {
      setHealth(healthy && gate.serving && !gate.closing ? "SERVING" : "NOT_SERVING");
    },
    shutdown(graceMs = config.shutdownGraceMs) {
      closed ??= new Promise<void>((resolve) => {
        gate.closing = true;
        setHealth("NOT_SERVING");
        stopping.abort(new Error("the server is shutting down"));
        drain(server, gate, graceMs, logger, resolve);
      });
      return closed;
    },
  };
}

/**
 * Stops accepting calls, cancels those still running after `graceMs`, and resolves (`done`) once the
 * server is closed. Once the data calls have drained, health Watch and reflection streams (which never
 * end by themselves) are closed too, after a moment for watchers to receive NOT_SERVING.
 */
function drain(server: grpc.Server, gate: CallGate, graceMs: number, logger: Logger, done: () => void): void {
  const timer = setTimeout(() => {
    logger.warn({ graceMs }, "in-flight calls did not finish in time; cancelling them");
    server.forceShutdown();
  }, graceMs);
  server.tryShutdown(() => {
    clearTimeout(timer);
    done();
  });
  gate.whenIdle(() => {
    setTimeout(() => server.forceShutdown(), watchersFlushMs).unref();
  });
}
