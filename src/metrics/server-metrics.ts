import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** What the metrics read from one collection when they are scraped. */
/** What the replication metrics read at each scrape (the replicator's snapshot). */
export interface ReplicationMetricsSource {
  snapshot(): {
    isLeader: boolean;
    term: number | undefined;
    metaApplied: number;
    caughtUp: boolean;
    collections: readonly { name: string; applied: number; lag: number; fenced: number }[];
  };
}

export interface CollectionMetricsSource {
  readonly name: string;
  stats(): {
    pointCount: number;
    indexedPointCount: number;
    memoryBytes: number;
    vectorBytes: number;
    quantizedVectorBytes: number;
    recallEstimate?: number | undefined;
    recallSamples: number;
    /** The segments: their deleted points still held. */
    segments?: readonly { deletedCount: number }[] | undefined;
  };
  /** Bytes of its write-ahead log now. */
  readonly walBytes: number;
  /** Duration of its last checkpoint, ms; undefined before the first. */
  readonly lastCheckpointMs: number | undefined;
  /** Points written (inserted or replaced) since the server started. */
  readonly pointsWritten: number;
}

/**
 * Bucket bounds of the RPC latency histogram, in seconds: 100 µs to 10 s, about three per decade, so
 * that p50, p95 and p99 of calls from a fraction of a millisecond to seconds fall between two close
 * bounds.
 */
export const rpcSecondsBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Bucket bounds of the WAL fsync latency histogram, in seconds: 50 µs to 2.5 s. */
export const fsyncSecondsBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The server's Prometheus metrics (prom-client), in their own registry:
 * - `vectordb_rpc_requests_total{method,code}` and `vectordb_rpc_duration_seconds{method,code}`
 *   (histogram, {@link rpcSecondsBuckets}): every call by method (e.g. `PointService/Search`) and
 *   gRPC status name;
 * - per collection, read at each scrape: `vectordb_collection_points`, `…_points_indexed`,
 *   `…_memory_bytes`, `…_vector_bytes`, `…_quantized_vector_bytes`, `…_wal_bytes`,
 *   `…_last_checkpoint_seconds`, `…_recall_estimate` and `…_recall_samples` (the recall monitor),
 *   and the counter `vectordb_collection_points_written_total` (its rate is the ingest rate);
 * - `vectordb_wal_fsync_duration_seconds` (histogram, {@link fsyncSecondsBuckets});
 * - Node's process metrics (prom-client's defaults: CPU, memory, event-loop lag, GC, handles).
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly rpcRequests: Counter<"method" | "code">;
  private readonly rpcSeconds: Histogram<"method" | "code">;
  private readonly fsyncSeconds: Histogram;
  private replication: ReplicationMetricsSource | undefined;

  /** @param collections the collections to report at each scrape. */
  constructor(collections: () => Iterable<CollectionMetricsSource>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.rpcRequests = new Counter({ name: "vectordb_rpc_requests_total", help: "gRPC calls, by method and status", labelNames: ["method", "code"], registers });
    this.rpcSeconds = new Histogram({
      name: "vectordb_rpc_duration_seconds",
      help: "gRPC call latency from arrival to the status, in seconds, by method and status",
      labelNames: ["method", "code"],
      buckets: rpcSecondsBuckets,
      registers,
    });
    this.fsyncSeconds = new Histogram({ name: "vectordb_wal_fsync_duration_seconds", help: "fdatasync of a write-ahead log, in seconds", buckets: fsyncSecondsBuckets, registers });
    // One gauge labelled by collection; `rows` gives each collection's value at a scrape (undefined: no sample).
    const byCollection = (name: string, help: string, rows: () => Iterable<readonly [string, number | undefined]>): void => {
      new Gauge({
        name,
        help,
        labelNames: ["collection"],
        registers,
        collect() {
          this.reset();
          for (const [collection, value] of rows()) if (value !== undefined) this.set({ collection }, value);
        },
      });
    };
    const perCollection = (name: string, help: string, read: (source: CollectionMetricsSource) => number | undefined): void =>
      byCollection(name, help, () => Array.from(collections(), (source) => [source.name, read(source)] as const));
    perCollection("vectordb_collection_points", "points stored", (c) => c.stats().pointCount);
    perCollection("vectordb_collection_points_indexed", "points linked into the HNSW graph", (c) => c.stats().indexedPointCount);
    perCollection("vectordb_collection_memory_bytes", "approximate memory held, bytes", (c) => c.stats().memoryBytes);
    perCollection("vectordb_collection_vector_bytes", "memory of the float32 vectors, bytes", (c) => c.stats().vectorBytes);
    perCollection("vectordb_collection_quantized_vector_bytes", "memory of the int8 codes, bytes", (c) => c.stats().quantizedVectorBytes);
    perCollection("vectordb_collection_wal_bytes", "size of the write-ahead log, bytes", (c) => c.walBytes);
    perCollection("vectordb_collection_last_checkpoint_seconds", "duration of the last checkpoint, seconds", (c) => (c.lastCheckpointMs === undefined ? undefined : c.lastCheckpointMs / 1000));
    perCollection("vectordb_collection_recall_estimate", "recall@k of sampled graph searches against exact scans (recall monitor)", (c) => c.stats().recallEstimate);
    perCollection("vectordb_collection_recall_samples", "samples behind the recall estimate", (c) => c.stats().recallSamples);
    perCollection("vectordb_collection_segments", "segments the collection is made of (sealed ones and the appendable one)", (c) => c.stats().segments?.length);
    perCollection("vectordb_collection_points_deleted", "deleted points the segments still hold until the optimizer vacuums them", (c) =>
      c.stats().segments?.reduce((sum, segment) => sum + segment.deletedCount, 0),
    );
    new Counter({
      name: "vectordb_collection_points_written_total",
      help: "points inserted or replaced since the server started",
      labelNames: ["collection"],
      registers,
      collect() {
        this.reset();
        for (const source of collections()) this.inc({ collection: source.name }, source.pointsWritten);
      },
    });
    const replicated = (name: string, help: string, read: (snapshot: ReturnType<ReplicationMetricsSource["snapshot"]>) => number): void => {
      const metrics = this;
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.reset();
          if (metrics.replication !== undefined) this.set(read(metrics.replication.snapshot()));
        },
      });
    };
    replicated("vectordb_replication_leader", "1 while this node is the replication leader, else 0", (s) => (s.isLeader ? 1 : 0));
    replicated("vectordb_replication_caught_up", "1 while every replicated log is applied within catchUpLagMax, else 0", (s) => (s.caughtUp ? 1 : 0));
    replicated("vectordb_replication_meta_applied_sequence", "last meta log record applied here", (s) => s.metaApplied);
    const perLog = (name: string, help: string, read: (log: { applied: number; lag: number; fenced: number }) => number): void =>
      byCollection(name, help, () => (this.replication?.snapshot().collections ?? []).map((log) => [log.name, read(log)] as const));
    perLog("vectordb_replication_applied_sequence", "last record of the collection's replicated log applied here", (log) => log.applied);
    perLog("vectordb_replication_lag_records", "records of the collection's replicated log not applied here yet", (log) => log.lag);
    perLog("vectordb_replication_fenced_records", "records of deposed leaders ignored since start", (log) => log.fenced);
  }

  /** Reports replication's state from now on (a server started with --replication). */
  setReplication(source: ReplicationMetricsSource): void {
    this.replication = source;
  }

  /** Counts a finished call: `method` as `Service/Method`, `code` the gRPC status name, `seconds` its latency. */
  observeCall(method: string, code: string, seconds: number): void {
    this.rpcRequests.inc({ method, code });
    this.rpcSeconds.observe({ method, code }, seconds);
  }

  /** Records one WAL fdatasync that took `seconds`. */
  observeFsync(seconds: number): void {
    this.fsyncSeconds.observe(seconds);
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
