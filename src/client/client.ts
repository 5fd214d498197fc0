import type { DescMessage, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { CollectionService } from "../../gen/vectordb/v1/collection_service_pb.js";
import { PointService } from "../../gen/vectordb/v1/point_service_pb.js";
import { SnapshotService } from "../../gen/vectordb/v1/snapshot_service_pb.js";
import { defaultLimits } from "../config.js";
import { grpcServiceDefinition, RpcError, rpcErrorOf } from "../rpc/index.js";

/** Per-call options. */
export interface CallOptions {
  /** Deadline relative to now, in ms; the call fails with DEADLINE_EXCEEDED (4) after it. */
  timeoutMs?: number;
  /** Cancels the call (CANCELLED, 1). */
  signal?: AbortSignal;
}

/** Options of a client-streaming call. */
export interface StreamCallOptions extends CallOptions {
  /** Called after each message has been handed to the transport (flow control permitting). */
  onSent?: (index: number, message: unknown) => void;
}

/**
 * An open bidirectional call: messages go out with {@link send} (flow control permitting) while the
 * responses come in through {@link responses}.
 */
export interface BidiStream<I, O> {
  /**
   * Writes one message; resolves at once while the transport has room, else once it has drained
   * (HTTP/2 flow control), or when the call has ended (check {@link ended}).
   */
  send(message: I): Promise<void>;
  /** Half-closes the call: no more messages; the server may still answer. */
  end(): void;
  /** Cancels the call (CANCELLED, 1). */
  cancel(): void;
  /** The responses, in order; the iteration ends with the call's OK status, or throws its {@link RpcError}. */
  readonly responses: AsyncIterable<O>;
  /** True once the call has ended (status received or cancelled). */
  readonly ended: boolean;
}

type MethodsOf<S> = S extends { method: infer M } ? M : never;
type ClientMethodOf<M> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
  : M extends { methodKind: "client_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (requests: Iterable<MessageInitShape<I>> | AsyncIterable<MessageInitShape<I>>, options?: StreamCallOptions) => Promise<MessageShape<O>>
    : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? (request: MessageInitShape<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
      : M extends { methodKind: "bidi_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? (options?: CallOptions) => BidiStream<MessageInitShape<I>, MessageShape<O>>
        : never;

/** Promise-based methods of a generated service, keyed by `localName` (`search`, `ingest`, ...). */
export type TypedClient<S extends DescService> = { [K in keyof MethodsOf<S>]: ClientMethodOf<MethodsOf<S>[K]> };

function callOptionsOf(options: CallOptions | undefined): grpc.CallOptions {
  return options?.timeoutMs === undefined ? {} : { deadline: Date.now() + options.timeoutMs };
}

function bindAbort(call: { cancel(): void }, signal: AbortSignal | undefined): void {
  if (signal === undefined) return;
  if (signal.aborted) call.cancel();
  else signal.addEventListener("abort", () => call.cancel(), { once: true });
}

/**
 * A typed client for one service over an existing grpc-js channel, built from the same generated
 * descriptors as the server. Unary methods return promises; client-streaming methods take an iterable
 * or async iterable and write each message only when the transport has room (HTTP/2 flow control),
 * so a slow server slows the producer instead of buffering without bound. Failures reject with
 * {@link RpcError}.
 */
export function createTypedClient<S extends DescService>(service: S, client: grpc.Client, metadata: () => grpc.Metadata = () => new grpc.Metadata()): TypedClient<S> {
  const definition = grpcServiceDefinition(service);
  const typed: Record<string, unknown> = {};
  for (const method of service.methods) {
    const { path, requestSerialize, responseDeserialize } = definition[method.localName]!;
    if (method.methodKind === "unary") {
      typed[method.localName] = (request: MessageInitShape<DescMessage>, options?: CallOptions) =>
        new Promise((resolve, reject) => {
          const call = client.makeUnaryRequest(
            path,
            requestSerialize,
            responseDeserialize,
            create(method.input, request),
            metadata(),
            callOptionsOf(options),
            (error, response) => (error ? reject(rpcErrorOf(error)) : resolve(response)),
          );
          bindAbort(call, options?.signal);
        });
    } else if (method.methodKind === "client_streaming") {
      typed[method.localName] = (
        requests: Iterable<MessageInitShape<DescMessage>> | AsyncIterable<MessageInitShape<DescMessage>>,
        options?: StreamCallOptions,
      ) => clientStream(client, path, requestSerialize, responseDeserialize, method.input, requests, metadata(), options);
    } else if (method.methodKind === "server_streaming") {
      typed[method.localName] = (request: MessageInitShape<DescMessage>, options?: CallOptions) => {
        const call = client.makeServerStreamRequest(path, requestSerialize, responseDeserialize, create(method.input, request), metadata(), callOptionsOf(options));
        bindAbort(call, options?.signal);
        return responsesOf(call);
      };
    } else {
      typed[method.localName] = (options?: CallOptions) => bidiStream(client, path, requestSerialize, responseDeserialize, method.input, metadata(), options);
    }
  }
  return typed as TypedClient<S>;
}

async function clientStream(
  client: grpc.Client,
  path: string,
  serialize: (value: unknown) => Buffer,
  deserialize: (bytes: Buffer) => unknown,
  input: DescMessage,
  requests: Iterable<MessageInitShape<DescMessage>> | AsyncIterable<MessageInitShape<DescMessage>>,
  metadata: grpc.Metadata,
  options: StreamCallOptions | undefined,
): Promise<unknown> {
  let settled = false;
  let response!: Promise<unknown>;
  const call = await new Promise<grpc.ClientWritableStream<unknown>>((resolveCall) => {
    response = new Promise((resolve, reject) => {
      const stream = client.makeClientStreamRequest(path, serialize, deserialize, metadata, callOptionsOf(options), (error, value) => {
        settled = true;
        if (error) reject(rpcErrorOf(error));
        else resolve(value);
      });
      resolveCall(stream);
    });
  });
  bindAbort(call, options?.signal);
  // The server may end the call (an error status) while we are still writing: stop writing then.
  const ended = response.then(
    () => undefined,
    () => undefined,
  );
  let index = 0;
  try {
    for await (const request of requests) {
      if (settled) break;
      const message = create(input, request);
      if (!call.write(message)) {
        await Promise.race([new Promise((resolve) => call.once("drain", resolve)), ended]);
      }
      options?.onSent?.(index, message);
      index++;
    }
  } catch (error) {
    call.cancel();
    await ended;
    throw error;
  }
  if (!settled) call.end();
  return response;
}

/**
 * The messages a call receives, as an async iterable; a failed call throws its {@link RpcError}. The
 * failure is captured from the start: grpc-js ends the stream and then emits the error, so a reader
 * that starts late would otherwise see a clean end.
 */
function responsesOf(call: grpc.ClientReadableStream<unknown> | grpc.ClientDuplexStream<unknown, unknown>): AsyncGenerator<never> {
  let failure: Error | undefined;
  call.on("error", (error: unknown) => {
    failure ??= rpcErrorOf(error);
  });
  return (async function* () {
    try {
      for await (const message of call) yield message as never;
    } catch (error) {
      throw failure ?? rpcErrorOf(error);
    }
    if (failure !== undefined) throw failure;
  })();
}

function bidiStream(
  client: grpc.Client,
  path: string,
  serialize: (value: unknown) => Buffer,
  deserialize: (bytes: Buffer) => unknown,
  input: DescMessage,
  metadata: grpc.Metadata,
  options: CallOptions | undefined,
): BidiStream<MessageInitShape<DescMessage>, never> {
  const call = client.makeBidiStreamRequest(path, serialize, deserialize, metadata, callOptionsOf(options));
  bindAbort(call, options?.signal);
  let ended = false;
  const whenEnded = new Promise<void>((resolve) => {
    call.once("status", () => {
      ended = true;
      resolve();
    });
  });
  const responses = responsesOf(call);
  return {
    async send(message) {
      if (ended) return;
      if (!call.write(create(input, message))) await Promise.race([new Promise((resolve) => call.once("drain", resolve)), whenEnded]);
    },
    end: () => call.end(),
    cancel: () => call.cancel(),
    responses,
    get ended() {
      return ended;
    },
  };
}

/** Options of {@link VectorDbClient}. */
export interface VectorDbClientOptions {
  /** Channel credentials; plaintext by default, TLS with {@link tls}. Wins over `tls`. */
  credentials?: grpc.ChannelCredentials;
  /**
   * TLS to the server: `true` trusts the system's CAs; an object may give the PEM CA bundle to trust
   * (`rootCerts`), a client certificate and key for mutual TLS, and the name the server's certificate
   * must carry when it differs from the address's host (`serverName`, e.g. `localhost` for 127.0.0.1).
   * `skipVerify` accepts any server certificate (encryption without authentication, as
   * `grpcurl -insecure`): only for probing a server on the same host, e.g. a container's health check.
   */
  tls?: boolean | { rootCerts?: Buffer; certChain?: Buffer; privateKey?: Buffer; serverName?: string; skipVerify?: boolean };
  /** API key sent with every call as `api-key` metadata (the server's `--api-key` / `--read-only-api-key`). */
  apiKey?: string;
  /** Largest message sent or received, in bytes; default 64 MiB (the server's default limit). */
  messageBytesMax?: number;
}

/**
 * The typed TypeScript client of the vector database.
 *
 * ```ts
 * const client = new VectorDbClient("127.0.0.1:50051");
 * await client.collections.createCollection({ name: "docs", dimension: 3, distance: Distance.COSINE });
 * await client.points.upsert({ collection: "docs", points: [{ id: "a", vector: [1, 0, 0], payload: { lang: "en" } }] });
 * const { hits } = await client.points.search({ collection: "docs", vector: [1, 0, 0], k: 5 });
 * client.close();
 * ```
 */
export class VectorDbClient {
  private readonly channel: grpc.Client;
  /**
   * CollectionService: createCollection, getCollection, listCollections, deleteCollection,
   * updateCollection, updateAliases, listAliases.
   */
  readonly collections: TypedClient<typeof CollectionService>;
  /**
   * PointService: upsert, get, delete, search, batchSearch, scroll, count, setPayload,
   * overwritePayload, deletePayloadKeys, clearPayload, ingest (client stream), ingestStream
   * (bidirectional: `const stream = client.points.ingestStream(); await stream.send(…)`).
   */
  readonly points: TypedClient<typeof PointService>;
  /**
   * SnapshotService: createSnapshot, listSnapshots, deleteSnapshot, downloadSnapshot (an async
   * iterable of chunks), restoreSnapshot (client stream of chunks).
   */
  readonly snapshots: TypedClient<typeof SnapshotService>;
  private readonly healthService: TypedClient<typeof Health>;

  /** @param address `host:port`, e.g. `127.0.0.1:50051`. */
  constructor(
    readonly address: string,
    options: VectorDbClientOptions = {},
  ) {
    const messageBytesMax = options.messageBytesMax ?? defaultLimits.messageBytesMax;
    const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls;
    const credentials =
      options.credentials ??
      (tls === undefined
        ? grpc.credentials.createInsecure()
        : grpc.credentials.createSsl(tls.rootCerts ?? null, tls.privateKey ?? null, tls.certChain ?? null, tls.skipVerify === true ? { rejectUnauthorized: false } : {}));
    this.channel = new grpc.Client(address, credentials, {
      "grpc.max_receive_message_length": messageBytesMax,
      "grpc.max_send_message_length": messageBytesMax,
      ...(tls?.serverName === undefined ? {} : { "grpc.ssl_target_name_override": tls.serverName, "grpc.default_authority": tls.serverName }),
    });
    const { apiKey } = options;
    const metadata = (): grpc.Metadata => {
      const headers = new grpc.Metadata();
      if (apiKey !== undefined) headers.set("api-key", apiKey);
      return headers;
    };
    this.collections = createTypedClient(CollectionService, this.channel, metadata);
    this.points = createTypedClient(PointService, this.channel, metadata);
    this.snapshots = createTypedClient(SnapshotService, this.channel, metadata);
    this.healthService = createTypedClient(Health, this.channel, metadata);
  }

  /**
   * grpc.health.v1 Check: the serving status (`SERVING`, `NOT_SERVING`, `UNKNOWN`, `SERVICE_UNKNOWN`)
   * of `service` ("" for the whole server). Rejects with {@link RpcError} when the server is unreachable.
   */
  async health(service = "", options?: CallOptions): Promise<string> {
    const { status } = await this.healthService.check({ service }, options);
    return HealthCheckResponse_ServingStatus[status] ?? String(status);
  }

  /** Resolves once the channel is connected, or rejects after `timeoutMs`. */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.channel.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Closes the channel. */
  close(): void {
    this.channel.close();
  }
}
