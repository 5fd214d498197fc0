import { create, type DescService } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Limits } from "../config.js";
import type { Readable } from "node:stream";
import { grpcStatusOf, VectorDbError, wellFormed } from "../errors.js";
import { MalformedMessage, methodPath } from "../rpc/index.js";
import type { CallContext, ServiceHandlers } from "../service/index.js";

/** What the adapter knows about a call before its handler runs. */
export interface CallInfo {
  /** The method, e.g. `/vectordb.v1.PointService/Search`. */
  readonly path: string;
  /** The request metadata (headers): where an API key or a trace id would be read. */
  readonly metadata: grpc.Metadata;
  /** The decoded request of a unary call (undefined for a stream or a request that did not decode). */
  readonly request?: unknown;
  /** The response message of a unary call that succeeded, once it is sent. */
  response?: unknown;
}

/**
 * A per-call interceptor of {@link grpcServiceImplementation}: admission (auth, draining), timing,
 * counting. The adapter calls `admit` of each in order before the handler, `started` once all have
 * admitted, and `finished` (in reverse order) when the status is sent.
 */
export interface CallHooks {
  /** Runs before the handler; throws a VectorDbError (UNAVAILABLE while draining, UNAUTHENTICATED, …) to refuse the call. */
  admit(call: CallInfo): void;
  /** The call was admitted by every hook and its handler now runs. */
  started?(call: CallInfo): void;
  /** An admitted call ended; `code` is its gRPC status (0 OK). */
  finished?(call: CallInfo, code: number): void;
  /** A call some hook refused (UNAVAILABLE, UNAUTHENTICATED, …) ended with status `code`; its handler never ran. */
  refused?(call: CallInfo, code: number): void;
}

/** Where the adapter reports what it does not answer itself: bugs (INTERNAL) at error level, cancellations at debug. */
export interface AdapterOptions {
  logger: Logger;
  /** The limits named when a request is too deep to decode (`payload_depth_max`, `filter_depth_max`). */
  limits: Readonly<Pick<Limits, "payloadDepthMax" | "filterDepthMax">>;
  hooks?: readonly CallHooks[];
  /** Aborted when the server begins to shut down: client streams stop being read (see `CallContext.shutdown`). */
  shutdown?: AbortSignal;
}

type ServerCall =
  | grpc.ServerUnaryCall<unknown, unknown>
  | grpc.ServerReadableStream<unknown, unknown>
  | grpc.ServerWritableStream<unknown, unknown>
  | grpc.ServerDuplexStream<unknown, unknown>;

/** INVALID_ARGUMENT for a request that did not decode; `at` names it (`request`, `messages[3]`). */
export function malformedError(message: MalformedMessage, at: string, limits: AdapterOptions["limits"]): VectorDbError {
  const where = message.path === "" ? "" : ` ${message.path.replace(/^\./, "")}:`;
  const limitsNote = message.tooDeep
    ? `; payloads may nest payload_depth_max ${limits.payloadDepthMax} levels and filters filter_depth_max ${limits.filterDepthMax}`
    : "";
  return new VectorDbError("invalid_argument", `${at}: not a valid ${message.typeName}:${where} ${message.reason}${limitsNote}`);
}

/** True for the errors a readable stream throws when the client cancelled or the connection dropped. */
function isCancellation(error: unknown, call: ServerCall): boolean {
  if (call.cancelled) return true;
  return error !== null && typeof error === "object" && "code" in error && (error.code === "ERR_STREAM_PREMATURE_CLOSE" || error.code === "ABORT_ERR");
}

/**
 * The handler's view of the call. Its abort signal is made on first use only (most handlers never
 * look), aborted when the client cancels or the deadline passes.
 */
function callContext(call: ServerCall, shutdown: AbortSignal): CallContext {
  let controller: AbortController | undefined;
  return {
    shutdown,
    get signal() {
      if (controller === undefined) {
        const made = new AbortController();
        controller = made;
        if (call.cancelled) made.abort();
        else (call as NodeJS.EventEmitter).once("cancelled", () => made.abort());
      }
      return controller.signal;
    },
  };
}

/**
 * The messages of a client stream for its handler: a message that did not decode ends the stream
 * with INVALID_ARGUMENT naming its index (`messages[i]`), and a stream cut by the client (cancel,
 * dropped connection) ends it with CANCELLED instead of a stream error. Once `shutdown` is aborted
 * no further message is read (the call is paused, a pending read is abandoned) and the iteration
 * throws UNAVAILABLE whose `cause` is the signal's reason.
 */
async function* streamMessages(call: ServerCall, messages: AsyncIterable<unknown>, limits: AdapterOptions["limits"], shutdown: AbortSignal): AsyncGenerator<unknown> {
  let index = 0;
  const iterator = messages[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await nextOrShutdown(iterator, shutdown);
      if (next.done === true) return;
      const message = next.value;
      if (message instanceof MalformedMessage) throw malformedError(message, `messages[${index}]`, limits);
      index++;
      yield message;
    }
  } catch (error) {
    if (error instanceof VectorDbError) throw error;
    if (isCancellation(error, call)) throw new VectorDbError("cancelled", `the client closed the stream after ${index} messages`, { cause: error });
    if (!shutdown.aborted) throw error;
    (call as grpc.ServerReadableStream<unknown, unknown>).pause();
    throw new VectorDbError("unavailable", `the server is shutting down; it stopped reading this stream after ${index} messages`, { cause: shutdown.reason });
  }
}

/** The iterator's next message, or a rejection as soon as `shutdown` is aborted (the pending read is abandoned). */
function nextOrShutdown(iterator: AsyncIterator<unknown>, shutdown: AbortSignal): Promise<IteratorResult<unknown>> {
  if (shutdown.aborted) return Promise.reject(shutdown.reason);
  const next = iterator.next();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      next.catch(() => undefined);
      reject(shutdown.reason);
    };
    shutdown.addEventListener("abort", onAbort, { once: true });
    next.then(
      (result) => {
        shutdown.removeEventListener("abort", onAbort);
        resolve(result);
      },
      (error: unknown) => {
        shutdown.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** Fields of a failure handed to grpc-js: the status and the message (well formed: see {@link wellFormed}). */
function toServiceError(error: unknown, path: string, logger: Logger): Partial<grpc.StatusObject> {
  const code = grpcStatusOf(error);
  if (!(error instanceof VectorDbError)) {
    logger.error({ err: error, path }, "internal error");
    return { code, details: wellFormed(`[internal] ${path}: ${error instanceof Error ? error.message : String(error)}`) };
  }
  if (error.code === "cancelled") logger.debug({ path, reason: error.rawMessage }, "call cancelled by the client");
  return { code, details: wellFormed(error.message) };
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
 * {@link VectorDbError} becomes its gRPC status (errors.ts), anything else INTERNAL (and is logged at
 * error level). A request that did not decode ({@link MalformedMessage}, from the server's tolerant
 * deserializers) answers INVALID_ARGUMENT naming what failed; a client that cancels or drops a stream
 * is logged at debug only. `options.hooks` admit or refuse each call and see it end (the server uses
 * one to drain calls on shutdown). Client-streaming and bidirectional handlers get the call's messages
 * as an async iterable: grpc-js reads the next message from HTTP/2 only when the iterator asks for it,
 * so a slow handler throttles a fast client. Handlers with a response stream get a sink whose `send`
 * waits while the transport is full; the stream ends with OK when the handler resolves, or with its
 * error's status.
 */
export function grpcServiceImplementation<S extends DescService>(service: S, handlers: ServiceHandlers<S>, options: AdapterOptions): grpc.UntypedServiceImplementation {
  const { logger, limits, hooks = [] } = options;
  const shutdown = options.shutdown ?? new AbortController().signal;
  const implementation: grpc.UntypedServiceImplementation = {};
  const table = handlers as unknown as Record<string, (input: unknown, ...rest: unknown[]) => Promise<unknown>>;
  for (const method of service.methods) {
    const handler = table[method.localName];
    const path = methodPath(method);
    if (handler === undefined) throw new Error(`no handler for ${path}`);
    /** Admits the call, runs the handler, sends its response or status, and tells the hooks. */
    const run = (call: ServerCall, input: unknown, callback: grpc.sendUnaryData<unknown>, onError: () => void): void => {
      const info: CallInfo = { path, metadata: call.metadata, request: method.methodKind === "unary" && !(input instanceof MalformedMessage) ? input : undefined };
      let admitted = false;
      let code = 0;
      Promise.resolve()
        .then(() => {
          for (const hook of hooks) hook.admit(info);
          admitted = true;
          for (const hook of hooks) hook.started?.(info);
          if (input instanceof MalformedMessage) throw malformedError(input, "request", limits);
          return handler(input, callContext(call, shutdown));
        })
        .then(
          (response) => {
            const message = create(method.output, response as never);
            info.response = message;
            callback(null, message);
          },
          (error: unknown) => {
            onError();
            const status = toServiceError(error, path, logger);
            code = status.code ?? 2;
            callback(status);
          },
        )
        .catch((error: unknown) => logger.error({ err: error, path }, "internal error"))
        .finally(() => {
          if (!admitted) {
            for (const hook of hooks) hook.refused?.(info, code);
            return;
          }
          for (let i = hooks.length - 1; i >= 0; i--) hooks[i]!.finished?.(info, code);
        });
    };
    /** As `run`, for a method with a response stream: the handler writes through a sink. */
    const stream = (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, input: unknown, onError: () => void): void => {
      const info: CallInfo = { path, metadata: call.metadata, request: method.methodKind === "server_streaming" && !(input instanceof MalformedMessage) ? input : undefined };
      let admitted = false;
      let code = 0;
      const context = callContext(call, shutdown);
      const sink = { send: (message: unknown) => writeResponse(call, create(method.output, message as never), context.signal) };
      Promise.resolve()
        .then(() => {
          for (const hook of hooks) hook.admit(info);
          admitted = true;
          for (const hook of hooks) hook.started?.(info);
          if (input instanceof MalformedMessage) throw malformedError(input, "request", limits);
          return handler(input, sink, context);
        })
        .then(
          () => call.end(),
          (error: unknown) => {
            onError();
            const status = toServiceError(error, path, logger);
            code = status.code ?? 2;
            call.emit("error", status);
          },
        )
        .catch((error: unknown) => logger.error({ err: error, path }, "internal error"))
        .finally(() => {
          if (!admitted) {
            for (const hook of hooks) hook.refused?.(info, code);
            return;
          }
          for (let i = hooks.length - 1; i >= 0; i--) hooks[i]!.finished?.(info, code);
        });
    };
    switch (method.methodKind) {
      case "unary":
        implementation[method.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
          run(call, call.request, callback, () => {});
        break;
      case "client_streaming":
        // On error, stop reading what the client still sends: the status ends the call.
        implementation[method.localName] = (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
          run(call, streamMessages(call, call, limits, shutdown), callback, () => call.pause());
        break;
      case "server_streaming":
        implementation[method.localName] = (call: grpc.ServerWritableStream<unknown, unknown>) => stream(call, call.request, () => {});
        break;
      case "bidi_streaming":
        // Not the call itself as the iterable: a finished for-await destroys the stream it iterates,
        // which here would also destroy the response side before the status is sent.
        implementation[method.localName] = (call: grpc.ServerDuplexStream<unknown, unknown>) =>
          stream(call, streamMessages(call, (call as unknown as Readable).iterator({ destroyOnReturn: false }), limits, shutdown), () => call.pause());
        break;
    }
  }
  return implementation;
}
