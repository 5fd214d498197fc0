import { create, type DescService } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import type { Readable } from "node:stream";
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

/** The call's context: its signal aborts when grpc-js reports the call cancelled (by the client or its deadline). */
function callContext(call: NodeJS.EventEmitter): CallContext {
  const controller = new AbortController();
  call.once("cancelled", () => controller.abort());
  return { signal: controller.signal };
}

/**
 * Writes one response to a call with a response stream; resolves once the transport has room again
 * (at once if it has), rejects with `cancelled` when the call ends first.
 */
function writeResponse(call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, message: unknown, signal: AbortSignal): Promise<void> {
  const cancelled = (): VectorDbError => new VectorDbError("cancelled", "the call was cancelled (or its deadline passed) while responses were being sent");
  if (signal.aborted) return Promise.reject(cancelled());
  if (call.write(message)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    };
    const onAbort = (): void => {
      call.removeListener("drain", onDrain);
      reject(cancelled());
    };
    call.once("drain", onDrain);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * grpc-js handlers for a service: each call is handed to the matching handler; a thrown
 * {@link VectorDbError} becomes its gRPC status (errors.ts), anything else INTERNAL (and is logged).
 * `hooks` admit or refuse each call and count the calls in flight (the server drains them on shutdown).
 * Client-streaming and bidirectional handlers get the call itself as an async iterable: grpc-js reads
 * the next message from HTTP/2 only when the iterator asks for it, so a slow handler throttles a fast
 * client. Handlers with a response stream get a sink whose `send` waits while the transport is full;
 * the stream ends with OK when the handler resolves, or with its error's status.
 */
export function grpcServiceImplementation<S extends DescService>(
  service: S,
  handlers: ServiceHandlers<S>,
  logInternal: InternalErrorLogger,
  hooks: CallHooks = { admit() {}, started() {}, finished() {} },
): grpc.UntypedServiceImplementation {
  const implementation: grpc.UntypedServiceImplementation = {};
  const table = handlers as unknown as Record<string, (input: unknown, ...rest: unknown[]) => Promise<unknown>>;
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
    /** As `run`, for a method with a response stream: the handler writes through a sink. */
    const stream = (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, input: unknown, onError: () => void): void => {
      let admitted = false;
      const context = callContext(call);
      const sink = { send: (message: unknown) => writeResponse(call, create(method.output, message as never), context.signal) };
      Promise.resolve()
        .then(() => {
          hooks.admit();
          admitted = true;
          hooks.started();
          return handler(input, sink, context);
        })
        .then(
          () => call.end(),
          (error: unknown) => {
            onError();
            call.emit("error", toServiceError(error, path, logInternal));
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
      case "server_streaming":
        implementation[method.localName] = (call: grpc.ServerWritableStream<unknown, unknown>) => stream(call, call.request, () => {});
        break;
      case "bidi_streaming":
        // Not the call itself as the iterable: a finished for-await destroys the stream it iterates,
        // which here would also destroy the response side before the status is sent.
        implementation[method.localName] = (call: grpc.ServerDuplexStream<unknown, unknown>) =>
          stream(call, (call as unknown as Readable).iterator({ destroyOnReturn: false }), () => call.pause());
        break;
    }
  }
  return implementation;
}
