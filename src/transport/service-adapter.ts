import { create, type DescService } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { grpcStatusOf, VectorDbError } from "../errors.js";
import { methodPath } from "../rpc/index.js";
import type { CallContext, ServiceHandlers } from "../service/index.js";

/** Logs calls that fail with INTERNAL (bugs); the transport logs nothing else per call. */
export type InternalErrorLogger = (error: unknown, path: string) => void;

/** Hooks around each call of a service built by {@link grpcServiceImplementation}. */
export interface CallHooks {
  /** Runs before the handler; throws (e.g. UNAVAILABLE while starting or shutting down) to refuse it. */
  admit(): void;
  /** A call was admitted and is now running. */
  started(): void;
  /** An admitted call finished (response or error sent). */
  finished(): void;
}

/** Fields of a failure handed to grpc-js: the status and the message. */
function toServiceError(error: unknown, path: string, logInternal: InternalErrorLogger): Partial<grpc.StatusObject> {
  const code = grpcStatusOf(error);
  if (!(error instanceof VectorDbError)) {
    logInternal(error, path);
    return { code, details: `[internal] ${path}: ${error instanceof Error ? error.message : String(error)}` };
  }
  return { code, details: error.message };
}

function callContext(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>): CallContext {
  const controller = new AbortController();
  call.once("cancelled", () => controller.abort());
  return { signal: controller.signal };
}

/**
 * grpc-js handlers for a service: each call is handed to the matching handler; a thrown
 * {@link VectorDbError} becomes its gRPC status (errors.ts), anything else INTERNAL (and is logged).
 * `hooks` admit or refuse each call and count the calls in flight (the server drains them on shutdown).
 * Client-streaming handlers get the call itself as an async iterable: grpc-js reads the next message
 * from HTTP/2 only when the iterator asks for it, so a slow handler throttles a fast client.
 */
export function grpcServiceImplementation<S extends DescService>(
  service: S,
  handlers: ServiceHandlers<S>,
  logInternal: InternalErrorLogger,
  hooks: CallHooks = { admit() {}, started() {}, finished() {} },
): grpc.UntypedServiceImplementation {
  const implementation: grpc.UntypedServiceImplementation = {};
  const table = handlers as unknown as Record<string, (input: unknown, context: CallContext) => Promise<unknown>>;
  for (const method of service.methods) {
    const handler = table[method.localName];
    if (handler === undefined) throw new Error(`no handler for ${methodPath(method)}`);
    const path = methodPath(method);
    /** Admits the call, runs the handler, sends its response or status, and counts it in flight. */
    const run = (
      call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>,
      input: unknown,
      callback: grpc.sendUnaryData<unknown>,
      onError: () => void,
    ): void => {
      let admitted = false;
      Promise.resolve()
        .then(() => {
          hooks.admit();
          admitted = true;
          hooks.started();
          return handler(input, callContext(call));
        })
        .then(
          (response) => callback(null, create(method.output, response as never)),
          (error: unknown) => {
            onError();
            callback(toServiceError(error, path, logInternal));
          },
        )
        .catch((error: unknown) => logInternal(error, path))
        .finally(() => {
          if (admitted) hooks.finished();
        });
    };
    switch (method.methodKind) {
      case "unary":
        implementation[method.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
          run(call, call.request, callback, () => {});
        break;
      case "client_streaming":
        // The handler gets the call itself as its async iterable; on error, stop reading what the
        // client still sends: the status ends the call.
        implementation[method.localName] = (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
          run(call, call, callback, () => call.pause());
        break;
      default:
        throw new Error(`${path}: ${method.methodKind} methods are not supported by this adapter`);
    }
  }
  return implementation;
}
