import type { DescMessage, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";

/** What a handler knows about its call, independent of the transport. */
export interface CallContext {
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
  /**
   * Aborted when the server begins to shut down. A client stream then yields no more messages: the
   * iteration throws VectorDbError unavailable whose `cause` is this signal's `reason` (see
   * {@link isShutdownStop}), so a handler can say in its status how much of the stream it applied.
   */
  shutdown: AbortSignal;
}

/** True when `error` is the stop of a client stream because the server is shutting down (see {@link CallContext.shutdown}). */
export function isShutdownStop(error: unknown, context: CallContext): boolean {
  return context.shutdown.aborted && error instanceof Error && error.cause !== undefined && error.cause === context.shutdown.reason;
}

type MethodsOf<S> = S extends { method: infer M } ? M : never;

/** Where a handler of a method with a response stream writes its responses. */
export interface ResponseSink<T> {
  /**
   * Sends one response. Resolves at once while the transport has room, else once it has drained
   * (HTTP/2 flow control), so a slow client slows the handler down instead of filling memory.
   * @throws VectorDbError cancelled (as a rejection) once the call was cancelled or its deadline passed.
   */
  send(message: T): Promise<void>;
}

type HandlerOf<M> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (request: MessageShape<I>, context: CallContext) => Promise<MessageInitShape<O>>
  : M extends { methodKind: "client_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (requests: AsyncIterable<MessageShape<I>>, context: CallContext) => Promise<MessageInitShape<O>>
    : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? (request: MessageShape<I>, responses: ResponseSink<MessageInitShape<O>>, context: CallContext) => Promise<void>
      : M extends { methodKind: "bidi_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? (requests: AsyncIterable<MessageShape<I>>, responses: ResponseSink<MessageInitShape<O>>, context: CallContext) => Promise<void>
        : never;

/**
 * The handlers of a generated service, keyed by each method's `localName` (`createCollection`,
 * `upsert`, ...). Unary handlers take one message; client-streaming handlers take an async iterable
 * that yields the next message only when asked, which is what gives the transport its backpressure.
 * Handlers of methods with a response stream get a {@link ResponseSink} and resolve when the stream is
 * complete (the transport then ends it with OK). Handlers throw `VectorDbError` for every failure the
 * client should see.
 */
export type ServiceHandlers<S extends DescService> = {
  [K in keyof MethodsOf<S>]: HandlerOf<MethodsOf<S>[K]>;
};

/** A generated service and its handlers, ready to be served (see {@link bindService}). */
export interface ServiceBinding {
  readonly service: DescService;
  readonly handlers: ServiceHandlers<DescService>;
}

/** Pairs a service with its handlers, checked against the service's methods. */
export function bindService<S extends DescService>(service: S, handlers: ServiceHandlers<S>): ServiceBinding {
  return { service, handlers: handlers as unknown as ServiceHandlers<DescService> };
}
