/**
 * Every limit and default of the server in one place, with units in the names. The CLI builds its flags
 * from {@link configOptions}, so a flag, its environment variable and its default are declared once;
 * a flag beats the environment, which beats the default.
 */
import { availableParallelism } from "node:os";

/** Limits that bound every request. Exceeding one is INVALID_ARGUMENT or RESOURCE_EXHAUSTED. */
export interface Limits {
  /** Largest vector dimension a collection may declare (components). */
  dimensionMax: number;
  /** Largest top-k of a search. */
  kMax: number;
  /** Largest HNSW candidate-list width, for `ef` and `ef_construction`. */
  efMax: number;
  /** Largest HNSW `m` (links per node on the upper layers). */
  hnswMMax: number;
  /** Most points in one Upsert request or one Ingest message. */
  batchPointsMax: number;
  /** Most queries in one BatchSearch request. */
  batchQueriesMax: number;
  /** Most ids in one Get or Delete request or one `has_id` condition. */
  idsPerRequestMax: number;
  /** Longest point id, in UTF-8 bytes. */
  idBytesMax: number;
  /** Largest payload of one point, in bytes of its JSON serialisation. */
  payloadBytesMax: number;
  /**
   * Deepest payload of one point: the payload object is level 1 and each object or array inside it
   * adds a level. Requests nesting messages deeper than the decoder allows (see
   * {@link decodeRecursionLimit}) are refused naming this limit too.
   */
  payloadDepthMax: number;
  /** Deepest nesting of filters inside filters. */
  filterDepthMax: number;
  /** Most conditions in one filter tree, counting nested ones. */
  filterConditionsMax: number;
  /** Most values in one `any_of` condition. */
  anyOfValuesMax: number;
  /** Longest payload key in a filter condition, in UTF-8 bytes. */
  filterKeyBytesMax: number;
  /** Most collections the server holds. */
  collectionsMax: number;
  /** Most points one collection holds. */
  collectionPointsMax: number;
  /** Largest gRPC message the server accepts or sends, in bytes. */
  messageBytesMax: number;
  /**
   * Most Ingest streams open at once. Each may hold up to 16 decoded messages in its read buffer plus
   * the HTTP/2 window, so this bounds the memory bulk loads can take.
   */
  ingestStreamsMax: number;
  /** Most points one Scroll page returns (the request's `limit` may not exceed it). */
  scrollPointsMax: number;
  /** Points per Scroll page when the request leaves `limit` at 0; at most `scrollPointsMax`. */
  scrollPointsDefault: number;
  /** Most aliases the server holds, and most actions in one UpdateAliases request. */
  aliasesMax: number;
}

/** HNSW parameters a collection gets when its create request leaves them at 0. */
export interface HnswDefaults {
  m: number;
  efConstruction: number;
  ef: number;
}

/**
 * When a search uses the HNSW graph and how the graph is built. A Qdrant user knows the first two as
 * `full_scan_threshold` (there in kilobytes, here in points).
 */
export interface IndexingConfig {
  /** A collection with at most this many live points is searched by exact scan (it is as fast). */
  fullScanPointsMax: number;
  /**
   * A filtered search whose estimated number of matching points (from a sample of 256 points) is at
   * most this scores the matching points exactly instead of walking the graph.
   */
  filteredScanPointsMax: number;
  /**
   * Threads that link points into HNSW graphs in the background, shared by every collection, while
   * the main thread serves calls (0 = link on the main thread, in slices of `indexSliceMs`). At most
   * {@link indexThreadsMax}.
   */
  indexThreads: number;
  /**
   * With `indexThreads` 0, points are linked into the graph on the main thread in slices of at most
   * this many ms; between slices the server answers other calls.
   */
  indexSliceMs: number;
  /**
   * Share of unfiltered graph searches (0..1) that the recall monitor re-runs as exact scans in the
   * background to estimate the recall@k being served; 0 = off.
   */
  recallSampleRate: number;
  /**
   * Most points in one segment of a collection: the appendable segment is sealed, and a new one
   * started, once it holds this many (it may pass it by the points of one write). Merges never make
   * a segment above it. Default {@link defaultSegments}.
   */
  segmentPointsMax?: number;
  /** The same bound in bytes of float32 vectors (slots × dimension × 4); at most {@link segmentBytesCeiling}. */
  segmentBytesMax?: number;
  /**
   * A sealed segment whose dead slots pass this share of its slots (0..1) is vacuumed: its live points
   * are merged into a new segment with a fresh graph, and its memory and file are released.
   */
  vacuumDeletedRatio?: number;
}

/** Segment bounds and the optimizer's vacuum threshold (see {@link IndexingConfig}). */
export const defaultSegments = Object.freeze({ segmentPointsMax: 1_000_000, segmentBytesMax: 1024 * 1024 * 1024, vacuumDeletedRatio: 0.2 });

/**
 * Largest `segmentBytesMax`: a segment's vectors and graph share one 4 GiB WebAssembly memory, and
 * the appendable segment may pass its bound by one write (at most `messageBytesMax` of vectors).
 */
export const segmentBytesCeiling = 2 * 1024 * 1024 * 1024;

/** Most graph builder threads (a graph's memory has 15 thread slots, one of them the main thread's). */
export const indexThreadsMax = 14;

/**
 * When a write is acknowledged (the WAL's durability policy): see the module documentation of
 * `src/storage/wal/wal.ts` and the README.
 */
export type FsyncPolicy = "fsync" | "interval" | "os";

/** The fsync policies, for validation and the README. */
export const fsyncPolicies: readonly FsyncPolicy[] = ["fsync", "interval", "os"];

/** Durable storage: how the write-ahead log is flushed and when it is folded into a segment file. */
export interface StorageConfig {
  /**
   * `fsync`: a write is acknowledged once its WAL record is fsynced (group commit: one fsync covers
   * every write waiting at that moment). `interval`: once written to the OS, fsynced every
   * `flushIntervalMs`. `os`: once written to the OS, never fsynced by the server (except at checkpoints
   * and shutdown).
   */
  fsync: FsyncPolicy;
  /** Period of the background fsync under the `interval` policy, in ms (at least 1). */
  flushIntervalMs: number;
  /**
   * When a collection's WAL file grows past this many bytes, a checkpoint writes a new segment file
   * and cuts the WAL (at least 1).
   */
  walBytesMax: number;
}

/** Who may call: API keys (absent: everyone). Clients send `api-key: <key>` or `authorization: Bearer <key>`. */
export interface AuthConfig {
  /** Allows every call. */
  apiKey?: string | undefined;
  /** Allows reads only: Search, BatchSearch, Get, GetCollection, ListCollections. */
  readOnlyApiKey?: string | undefined;
  /**
   * A file holding the keys, so they stay out of process lists: one key per line, `rw <key>` or
   * `ro <key>`, or a single bare line (the read-write key). Keys from flags or the environment win.
   */
  apiKeyFile?: string | undefined;
  /** Serve gRPC reflection although keys are set (reflection needs no key then). Off by default. */
  reflectionWithoutKey: boolean;
}

/** TLS of the gRPC listener (absent files: plaintext). */
export interface TlsConfig {
  /** PEM certificate chain of the server. */
  certFile?: string | undefined;
  /** PEM private key of the certificate. */
  keyFile?: string | undefined;
  /** PEM CA bundle: clients must present a certificate it signed (mutual TLS). */
  clientCaFile?: string | undefined;
}

/**
 * Replication (off unless `servers` is set): the collections live in replicated logs on a NATS
 * JetStream cluster, one node writes (the leader, by a lease), every node applies (see the README's
 * "Replication" section and `src/replication/`).
 */
export interface ReplicationConfig {
  /** NATS URLs, comma-separated (`nats://h1:4222,nats://h2:4222`); undefined = replication off. */
  servers?: string | undefined;
  /** This node's name, unique in the cluster (the lease and logs name it). Default: the host name. */
  nodeId?: string | undefined;
  /** The gRPC address other nodes and clients reach this node at (`host:port`); default `host:port` as bound. */
  advertiseAddress?: string | undefined;
  /** How long the leader's lease lasts without a renewal, ms; a follower takes over after that. */
  leaseTtlMs: number;
  /** Replicas of the JetStream streams, KV and object store buckets (1, 3 or 5; at most the NATS nodes). */
  streamReplicas: number;
  /** Health is NOT_SERVING while a collection's log has more records than this unapplied here. */
  catchUpLagMax: number;
  /** The leader stores a checkpoint of a collection in the object store after this many records. */
  checkpointRecords: number;
  /** How long a publish to the log waits for JetStream's acknowledgement, ms. */
  publishTimeoutMs: number;
}

/** Replication's defaults (off: no servers). */
export const defaultReplication: Readonly<ReplicationConfig> = Object.freeze({
  leaseTtlMs: 3_000,
  streamReplicas: 3,
  catchUpLagMax: 10_000,
  checkpointRecords: 20_000,
  publishTimeoutMs: 5_000,
});

/** Everything the server needs to start. */
export interface ServerConfig {
  /** Address to listen on. 127.0.0.1 by default; 0.0.0.0 in the container. */
  host: string;
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  /** Directory for collection data: `<dataDir>/collections/<name>/` per collection (see the README). */
  dataDir: string;
  /** pino log level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: string;
  /** `json` (one object per line, for collectors) or `pretty` (coloured lines for a terminal, pino-pretty). */
  logFormat: "json" | "pretty";
  /** Address of the Prometheus metrics listener (HTTP, `GET /metrics`). */
  metricsHost: string;
  /** Port of the metrics listener; 0 = no listener. */
  metricsPort: number;
  auth: AuthConfig;
  tls: TlsConfig;
  /** How long SIGTERM waits for in-flight calls before cancelling them, in ms. */
  shutdownGraceMs: number;
  /**
   * Every connection is sent an HTTP/2 PING this often, in ms; a connection that does not answer
   * within `keepaliveTimeoutMs` is closed. This is also what frees the socket of a connection that
   * broke the HTTP/2 protocol: Node's HTTP/2 server stops reading such a connection without closing it.
   */
  keepaliveTimeMs: number;
  /**
   * How long a keepalive PING may go unanswered before the connection is closed, in ms. Generous (gRPC's
   * default, 20 s): grpc-js checks it in a timer that runs before pending I/O, so a main thread busy
   * for longer (decoding a 64 MiB message takes seconds) would close healthy connections.
   */
  keepaliveTimeoutMs: number;
  limits: Limits;
  hnswDefaults: HnswDefaults;
  indexing: IndexingConfig;
  storage: StorageConfig;
  replication: ReplicationConfig;
}

/** The defaults, as documented in the README's limits table. */
export const defaultLimits: Readonly<Limits> = Object.freeze({
  dimensionMax: 65_536,
  kMax: 10_000,
  efMax: 4_096,
  hnswMMax: 128,
  batchPointsMax: 10_000,
  batchQueriesMax: 1_024,
  idsPerRequestMax: 10_000,
  idBytesMax: 256,
  payloadBytesMax: 65_536,
  payloadDepthMax: 32,
  filterDepthMax: 16,
  filterConditionsMax: 1_024,
  anyOfValuesMax: 1_024,
  filterKeyBytesMax: 256,
  collectionsMax: 1_000,
  collectionPointsMax: 50_000_000,
  messageBytesMax: 64 * 1024 * 1024,
  ingestStreamsMax: 8,
  scrollPointsMax: 10_000,
  scrollPointsDefault: 100,
  aliasesMax: 10_000,
});

export const defaultHnsw: Readonly<HnswDefaults> = Object.freeze({ m: 16, efConstruction: 200, ef: 64 });

/** Search planning and background indexing defaults (see {@link IndexingConfig}). */
export const defaultIndexing: Readonly<IndexingConfig> = Object.freeze({
  fullScanPointsMax: 5_000,
  filteredScanPointsMax: 2_000,
  // One builder per core: the main thread mostly waits on I/O while a bulk load is being indexed.
  indexThreads: Math.min(indexThreadsMax, availableParallelism()),
  indexSliceMs: 5,
  recallSampleRate: 0.01,
  ...defaultSegments,
});

/** Storage defaults (see {@link StorageConfig}): fsync per group, 100 ms interval, 64 MiB of WAL. */
export const defaultStorage: Readonly<StorageConfig> = Object.freeze({ fsync: "fsync", flushIntervalMs: 100, walBytesMax: 64 * 1024 * 1024 });

/** Defaults of the `vectordb` command's client commands (flags override them; see `src/cli/`). */
export const cliDefaults = Object.freeze({
  /** Server address of client commands, when neither `--address` nor VECTORDB_ADDRESS is given. */
  address: "127.0.0.1:50051",
  /** Metrics endpoint `stats` reads, when neither `--metrics-url` nor VECTORDB_METRICS_URL is given. */
  metricsUrl: "http://127.0.0.1:9464/metrics",
  /** Deadline of each call of a client command, ms (`ingest` has none unless `--timeout-ms`). */
  callTimeoutMs: 30_000,
  /** Deadline of `health`, ms: short, so that a container health check fails fast. */
  healthTimeoutMs: 3_000,
  /** Points per IngestStream batch of `ingest`. */
  ingestBatchSize: 1_000,
  /**
   * `ingest` (which has no overall deadline) gives up when no batch has been acknowledged for this
   * long while some are waiting, ms.
   */
  ingestStallTimeoutMs: 60_000,
  /** How long `ingest --resume` retries while the server still holds the interrupted stream (ABORTED), ms. */
  ingestResumeRetryMs: 10_000,
  /** Hits of `search`. */
  searchK: 10,
});

// Bounds that are not settings of their own: they follow from the settings above, or are fixed.

/** Live points a filtered search samples to estimate how many points match (see {@link IndexingConfig}). */
export const filterSamplePoints = 256;

/**
 * int8 scalar quantization (see the proto's ScalarQuantization). A quantized collection trains its
 * ranges when it first holds `trainingPoints` points (searches use float32 until then), and trains
 * them again at a checkpoint when, after at least `trainingPoints` more vectors were coded, the share
 * of values clipped to the ranges exceeds `driftFactor` × (1 − quantile) + `driftSlack`: the data
 * drifted out of the ranges. Requests: `oversampling` defaults to 2 and is at most `oversamplingMax`;
 * `quantile` defaults to 0.99.
 */
export const quantizationDefaults = Object.freeze({
  trainingPoints: 1_000,
  driftFactor: 2,
  driftSlack: 0.001,
  quantile: 0.99,
  oversampling: 2,
  oversamplingMax: 100,
});

/**
 * Most bytes of WAL record bodies waiting to be written, per collection; an append beyond it is
 * refused with RESOURCE_EXHAUSTED. Bounds memory when the disk falls behind.
 */
export const walQueueBytesMax = 256 * 1024 * 1024;

/**
 * Largest WAL record body, in bytes: an upsert record is about as large as its request, so twice the
 * message limit (room for payload JSON), at least 128 MiB, at most 2^32 − 1 (the WAL's u32 length).
 */
export function walRecordBytesMax(limits: Readonly<Pick<Limits, "messageBytesMax">>): number {
  return Math.min(0xffff_ffff, Math.max(128 * 1024 * 1024, 2 * limits.messageBytesMax));
}

/**
 * Most characters of one client-supplied value (an id, a name, a key) quoted in an error message; a
 * longer value is cut and its length given (see `quote` in errors.ts).
 */
export const echoCharsMax = 64;

/**
 * Largest status message the server sends, in bytes of the percent-encoded `grpc-message` trailer.
 * Longer messages (from any service: ours, health, reflection, grpc-js itself) are cut, so that a
 * status can never exceed a client's metadata limit (8 KiB in gRPC C-core) and drop its connection.
 */
export const statusMessageBytesMax = 1_024;

/**
 * Deepest nesting of protobuf messages the server decodes in a request: at least protobuf-es's
 * default (100), and enough for a payload one level past `payloadDepthMax` and a filter one level past
 * `filterDepthMax` (two messages per level: Struct and Value, Filter and Condition; plus the request's
 * own few), so that those limits answer with their own message. Deeper requests are refused as
 * undecodable, naming both limits.
 */
export function decodeRecursionLimit(limits: Readonly<Pick<Limits, "payloadDepthMax" | "filterDepthMax">>): number {
  return Math.max(100, 2 * (limits.payloadDepthMax + 1) + 8, 2 * (limits.filterDepthMax + 1) + 8);
}
/** Longest `ingest_id` of an IngestStream, in UTF-8 bytes. */
export const ingestIdBytesMax = 256;

/**
 * Ingest ids whose durable batch a collection remembers (the ones written to most recently); the
 * oldest is forgotten when a new one would exceed it.
 */
export const ingestProgressEntriesMax = 1_024;

/** Most keys in one DeletePayloadKeys request. */
export const payloadKeysPerRequestMax = 1_024;

/** Longest Scroll cursor accepted, in bytes. */
export const scrollCursorBytesMax = 1_024;

/** Bytes per DownloadSnapshot message. */
export const snapshotChunkBytes = 1024 * 1024;

/** After a checkpoint fails, the next automatic one waits this long, ms. */
export const checkpointRetryMs = 5_000;

/** A complete configuration with every default; `overrides` replaces top-level fields, limits, indexing and storage settings. */
export function makeConfig(
  overrides: Partial<Omit<ServerConfig, "limits" | "indexing" | "storage" | "auth" | "tls" | "replication">> & {
    replication?: Partial<ReplicationConfig>;
    limits?: Partial<Limits>;
    indexing?: Partial<IndexingConfig>;
    storage?: Partial<StorageConfig>;
    auth?: Partial<AuthConfig>;
    tls?: Partial<TlsConfig>;
  } = {},
): ServerConfig {
  return {
    host: overrides.host ?? "127.0.0.1",
    port: overrides.port ?? 50051,
    dataDir: overrides.dataDir ?? "./.vectordb-data",
    logLevel: overrides.logLevel ?? "info",
    logFormat: overrides.logFormat ?? "json",
    metricsHost: overrides.metricsHost ?? "127.0.0.1",
    metricsPort: overrides.metricsPort ?? 9464,
    auth: { reflectionWithoutKey: false, ...overrides.auth },
    tls: { ...overrides.tls },
    shutdownGraceMs: overrides.shutdownGraceMs ?? 10_000,
    keepaliveTimeMs: overrides.keepaliveTimeMs ?? 10_000,
    keepaliveTimeoutMs: overrides.keepaliveTimeoutMs ?? 20_000,
    limits: { ...defaultLimits, ...overrides.limits },
    hnswDefaults: { ...defaultHnsw, ...overrides.hnswDefaults },
    indexing: { ...defaultIndexing, ...overrides.indexing },
    storage: { ...defaultStorage, ...overrides.storage },
    replication: { ...defaultReplication, ...overrides.replication },
  };
}

/** One configurable setting: its flag, environment variable and where it goes in {@link ServerConfig}. */
export interface ConfigOption {
  /** Long flag without dashes, e.g. `port`. */
  flag: string;
  /** Environment variable, e.g. `VECTORDB_PORT`. */
  env: string;
  /** Dotted path into ServerConfig, e.g. `limits.kMax`. */
  path: string;
  kind: "string" | "integer" | "number" | "boolean";
  /** For a string setting with a closed set of values: the values allowed. */
  values?: readonly string[];
  /** How the README states a default that depends on the machine (e.g. its core count). */
  defaultText?: string;
  description: string;
}

const limitDescriptions: Record<keyof Limits, string> = {
  dimensionMax: "largest vector dimension (components)",
  kMax: "largest top-k of a search",
  efMax: "largest ef / ef_construction",
  hnswMMax: "largest HNSW m",
  batchPointsMax: "most points per Upsert request or Ingest message",
  batchQueriesMax: "most queries per BatchSearch request",
  idsPerRequestMax: "most ids per Get/Delete request or has_id condition",
  idBytesMax: "longest point id (UTF-8 bytes)",
  payloadBytesMax: "largest payload per point (bytes of JSON)",
  payloadDepthMax: "deepest payload nesting (the payload object is level 1)",
  filterDepthMax: "deepest filter nesting",
  filterConditionsMax: "most conditions per filter tree",
  anyOfValuesMax: "most values per any_of condition",
  filterKeyBytesMax: "longest filter key (UTF-8 bytes)",
  collectionsMax: "most collections",
  collectionPointsMax: "most points per collection",
  messageBytesMax: "largest gRPC message (bytes)",
  ingestStreamsMax: "most Ingest and IngestStream streams open at once",
  scrollPointsMax: "most points per Scroll page",
  scrollPointsDefault: "points per Scroll page when the request's limit is 0",
  aliasesMax: "most aliases (and most actions per UpdateAliases request)",
};

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function screamingSnake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** Every setting the server reads from flags and the environment. */
export const configOptions: readonly ConfigOption[] = [
  { flag: "host", env: "VECTORDB_HOST", path: "host", kind: "string", description: "address to listen on" },
  { flag: "port", env: "VECTORDB_PORT", path: "port", kind: "integer", description: "TCP port (0 = any free port)" },
  { flag: "data-dir", env: "VECTORDB_DATA_DIR", path: "dataDir", kind: "string", description: "data directory" },
  { flag: "log-level", env: "VECTORDB_LOG_LEVEL", path: "logLevel", kind: "string", description: "log level (pino)" },
  { flag: "log-format", env: "VECTORDB_LOG_FORMAT", path: "logFormat", kind: "string", values: ["json", "pretty"], description: "log lines as JSON objects or pretty text" },
  { flag: "metrics-host", env: "VECTORDB_METRICS_HOST", path: "metricsHost", kind: "string", description: "address of the Prometheus metrics listener" },
  { flag: "metrics-port", env: "VECTORDB_METRICS_PORT", path: "metricsPort", kind: "integer", description: "port of the metrics listener (0 = off)" },
  { flag: "recall-sample-rate", env: "VECTORDB_RECALL_SAMPLE_RATE", path: "indexing.recallSampleRate", kind: "number", description: "share of graph searches re-run exactly to estimate the recall served (0 = off)" },
  { flag: "api-key", env: "VECTORDB_API_KEY", path: "auth.apiKey", kind: "string", defaultText: "none", description: "read-write API key (none: no key needed)" },
  { flag: "read-only-api-key", env: "VECTORDB_READ_ONLY_API_KEY", path: "auth.readOnlyApiKey", kind: "string", defaultText: "none", description: "read-only API key" },
  { flag: "api-key-file", env: "VECTORDB_API_KEY_FILE", path: "auth.apiKeyFile", kind: "string", defaultText: "none", description: "file holding the API keys (`rw <key>` / `ro <key>` lines)" },
  { flag: "reflection-without-key", env: "VECTORDB_REFLECTION_WITHOUT_KEY", path: "auth.reflectionWithoutKey", kind: "boolean", description: "serve gRPC reflection without a key although keys are set" },
  { flag: "tls-cert-file", env: "VECTORDB_TLS_CERT_FILE", path: "tls.certFile", kind: "string", defaultText: "none", description: "PEM certificate chain: serve TLS" },
  { flag: "tls-key-file", env: "VECTORDB_TLS_KEY_FILE", path: "tls.keyFile", kind: "string", defaultText: "none", description: "PEM private key of the certificate" },
  { flag: "tls-client-ca-file", env: "VECTORDB_TLS_CLIENT_CA_FILE", path: "tls.clientCaFile", kind: "string", defaultText: "none", description: "PEM CA bundle: require client certificates (mutual TLS)" },
  { flag: "shutdown-grace-ms", env: "VECTORDB_SHUTDOWN_GRACE_MS", path: "shutdownGraceMs", kind: "integer", description: "drain time on SIGTERM (ms)" },
  { flag: "keepalive-time-ms", env: "VECTORDB_KEEPALIVE_TIME_MS", path: "keepaliveTimeMs", kind: "integer", description: "HTTP/2 PING to every connection this often (ms)" },
  { flag: "replication", env: "VECTORDB_REPLICATION", path: "replication.servers", kind: "string", defaultText: "off", description: "NATS JetStream URLs, comma-separated: replicate through them (off: the embedded WAL)" },
  { flag: "node-id", env: "VECTORDB_NODE_ID", path: "replication.nodeId", kind: "string", defaultText: "the host name", description: "this node's name in the replication cluster" },
  { flag: "advertise-address", env: "VECTORDB_ADVERTISE_ADDRESS", path: "replication.advertiseAddress", kind: "string", defaultText: "host:port", description: "gRPC address followers name when they refuse a write" },
  { flag: "lease-ttl-ms", env: "VECTORDB_LEASE_TTL_MS", path: "replication.leaseTtlMs", kind: "integer", description: "leader lease without renewal (ms); failover takes about this long" },
  { flag: "stream-replicas", env: "VECTORDB_STREAM_REPLICAS", path: "replication.streamReplicas", kind: "integer", description: "replicas of the JetStream streams and buckets (1, 3 or 5)" },
  { flag: "checkpoint-records", env: "VECTORDB_CHECKPOINT_RECORDS", path: "replication.checkpointRecords", kind: "integer", description: "replication: the leader stores a checkpoint in the object store every this many records of a collection" },
  { flag: "keepalive-timeout-ms", env: "VECTORDB_KEEPALIVE_TIMEOUT_MS", path: "keepaliveTimeoutMs", kind: "integer", description: "close a connection whose PING is unanswered this long (ms)" },
  { flag: "hnsw-m", env: "VECTORDB_HNSW_M", path: "hnswDefaults.m", kind: "integer", description: "default HNSW m" },
  { flag: "hnsw-ef-construction", env: "VECTORDB_HNSW_EF_CONSTRUCTION", path: "hnswDefaults.efConstruction", kind: "integer", description: "default HNSW ef_construction" },
  { flag: "hnsw-ef", env: "VECTORDB_HNSW_EF", path: "hnswDefaults.ef", kind: "integer", description: "default HNSW search ef" },
  { flag: "full-scan-points-max", env: "VECTORDB_FULL_SCAN_POINTS_MAX", path: "indexing.fullScanPointsMax", kind: "integer", description: "collections with at most this many points are searched exactly" },
  { flag: "filtered-scan-points-max", env: "VECTORDB_FILTERED_SCAN_POINTS_MAX", path: "indexing.filteredScanPointsMax", kind: "integer", description: "filtered searches matching at most this many points (estimated) score them exactly" },
  { flag: "index-threads", env: "VECTORDB_INDEX_THREADS", path: "indexing.indexThreads", kind: "integer", defaultText: "one per core, at most 14", description: `threads that build HNSW graphs in the background (0 = the main thread; at most ${indexThreadsMax})` },
  { flag: "index-slice-ms", env: "VECTORDB_INDEX_SLICE_MS", path: "indexing.indexSliceMs", kind: "integer", description: "with --index-threads 0, longest slice of graph building between other calls (ms)" },
  { flag: "segment-points-max", env: "VECTORDB_SEGMENT_POINTS_MAX", path: "indexing.segmentPointsMax", kind: "integer", description: "most points per segment: the appendable segment is sealed past it" },
  { flag: "segment-bytes-max", env: "VECTORDB_SEGMENT_BYTES_MAX", path: "indexing.segmentBytesMax", kind: "integer", description: "most bytes of float32 vectors per segment (at most 2 GiB)" },
  { flag: "vacuum-deleted-ratio", env: "VECTORDB_VACUUM_DELETED_RATIO", path: "indexing.vacuumDeletedRatio", kind: "number", description: "a sealed segment whose deleted share passes this is vacuumed (0..1)" },
  { flag: "fsync", env: "VECTORDB_FSYNC", path: "storage.fsync", kind: "string", values: fsyncPolicies, description: "when a write is acknowledged: fsync (per group commit), interval or os" },
  { flag: "flush-interval-ms", env: "VECTORDB_FLUSH_INTERVAL_MS", path: "storage.flushIntervalMs", kind: "integer", description: "period of the background fsync under --fsync interval (ms)" },
  { flag: "wal-bytes-max", env: "VECTORDB_WAL_BYTES_MAX", path: "storage.walBytesMax", kind: "integer", description: "a collection's WAL size that triggers a checkpoint (bytes)" },
  ...(Object.keys(limitDescriptions) as (keyof Limits)[]).map((key) => ({
    flag: kebab(key),
    env: `VECTORDB_${screamingSnake(key)}`,
    path: `limits.${key}`,
    kind: "integer" as const,
    description: limitDescriptions[key],
  })),
];

/**
 * Builds a configuration from parsed settings keyed by {@link ConfigOption.path} (strings, as they come
 * from a flag or the environment). Throws an Error naming the flag for a value that is not a
 * non-negative integer where one is needed, a value outside an option's closed set (e.g. `--fsync`),
 * a port outside 0..65535, or a limit, flush interval or WAL size below 1.
 */
export function configFromSettings(settings: Readonly<Record<string, string | undefined>>): ServerConfig {
  const config = makeConfig();
  for (const option of configOptions) {
    const raw = settings[option.path];
    if (raw === undefined) continue;
    let value: string | number | boolean = raw;
    if (option.kind === "integer") {
      if (!/^\d+$/.test(raw.trim())) {
        throw new Error(`--${option.flag} (${option.env}): "${raw}" is not a non-negative integer`);
      }
      value = Number(raw.trim());
    } else if (option.kind === "number") {
      const number = Number(raw.trim());
      if (raw.trim() === "" || !Number.isFinite(number)) throw new Error(`--${option.flag} (${option.env}): "${raw}" is not a number`);
      value = number;
    } else if (option.kind === "boolean") {
      if (!/^(true|false|1|0)$/i.test(raw.trim())) throw new Error(`--${option.flag} (${option.env}): "${raw}" is not true or false`);
      value = /^(true|1)$/i.test(raw.trim());
    } else if (option.values !== undefined && !option.values.includes(raw)) {
      throw new Error(`--${option.flag} (${option.env}): "${raw}" is not one of ${option.values.join(", ")}`);
    }
    const [head, tail] = option.path.split(".") as [string, string | undefined];
    if (tail === undefined) {
      (config as unknown as Record<string, unknown>)[head] = value;
    } else {
      (config as unknown as Record<string, Record<string, unknown>>)[head]![tail] = value;
    }
  }
  if (config.port > 65_535) throw new Error(`--port (VECTORDB_PORT): ${config.port} is outside 0..65535`);
  if (config.metricsPort > 65_535) throw new Error(`--metrics-port (VECTORDB_METRICS_PORT): ${config.metricsPort} is outside 0..65535`);
  const rate = config.indexing.recallSampleRate;
  if (!(rate >= 0 && rate <= 1)) throw new Error(`--recall-sample-rate (VECTORDB_RECALL_SAMPLE_RATE): ${rate} is outside 0..1`);
  for (const [key, value] of Object.entries(config.limits)) {
    if (value < 1) throw new Error(`--${kebab(key)}: must be at least 1, got ${value}`);
  }
  const { replication } = config;
  if (replication.leaseTtlMs < 500) throw new Error(`--lease-ttl-ms (VECTORDB_LEASE_TTL_MS): must be at least 500, got ${replication.leaseTtlMs}`);
  if (![1, 3, 5].includes(replication.streamReplicas)) throw new Error(`--stream-replicas (VECTORDB_STREAM_REPLICAS): must be 1, 3 or 5, got ${replication.streamReplicas}`);
  if (replication.servers !== undefined) {
    const urls = replication.servers.split(",").map((url) => url.trim());
    const bad = urls.find((url) => !/^(nats|tls):\/\/[^\s/]+$/.test(url));
    if (bad !== undefined) throw new Error(`--replication (VECTORDB_REPLICATION): "${bad}" is not a NATS URL (nats://host:port)`);
    if (urls.length > 16) throw new Error(`--replication (VECTORDB_REPLICATION): at most 16 URLs, got ${urls.length}`);
  }
  if (replication.nodeId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(replication.nodeId)) {
    throw new Error(`--node-id (VECTORDB_NODE_ID): "${replication.nodeId}" must be 1-64 letters, digits, _ or -`);
  }
  for (const key of ["keepaliveTimeMs", "keepaliveTimeoutMs"] as const) {
    if (config[key] < 1) throw new Error(`--${kebab(key)}: must be at least 1, got ${config[key]}`);
  }
  for (const key of ["flushIntervalMs", "walBytesMax"] as const) {
    if (config.storage[key] < 1) throw new Error(`--${kebab(key)}: must be at least 1, got ${config.storage[key]}`);
  }
  if (config.limits.scrollPointsDefault > config.limits.scrollPointsMax) {
    throw new Error(`--scroll-points-default: must be at most --scroll-points-max ${config.limits.scrollPointsMax}, got ${config.limits.scrollPointsDefault}`);
  }
  const ratio = config.indexing.vacuumDeletedRatio ?? defaultSegments.vacuumDeletedRatio;
  if (!(ratio > 0 && ratio <= 1)) throw new Error(`--vacuum-deleted-ratio (VECTORDB_VACUUM_DELETED_RATIO): ${ratio} is outside (0, 1]`);
  if ((config.indexing.segmentPointsMax ?? 1) < 1) throw new Error(`--segment-points-max (VECTORDB_SEGMENT_POINTS_MAX): must be at least 1, got ${config.indexing.segmentPointsMax}`);
  const segmentBytes = config.indexing.segmentBytesMax ?? defaultSegments.segmentBytesMax;
  if (segmentBytes < 1 || segmentBytes > segmentBytesCeiling) throw new Error(`--segment-bytes-max (VECTORDB_SEGMENT_BYTES_MAX): must be in 1..${segmentBytesCeiling}, got ${segmentBytes}`);
  if (config.indexing.indexThreads > indexThreadsMax) throw new Error(`--index-threads (VECTORDB_INDEX_THREADS): must be at most ${indexThreadsMax}, got ${config.indexing.indexThreads}`);
  if (config.storage.flushIntervalMs > 2_147_483_647) throw new Error(`--flush-interval-ms: must be at most 2147483647, got ${config.storage.flushIntervalMs}`);
  return config;
}
