import { Presets, SingleBar } from "cli-progress";
import { cliDefaults } from "../config.js";
import { Command, Option } from "commander";
import type { JsonObject } from "@bufbuild/protobuf";
import { distanceNames, distanceToProto, RpcError, type DistanceKind, type VectorDbClient } from "../client/index.js";
import { action, UsageError } from "./cli-errors.js";
import { print, withClient } from "./client-context.js";
import { hnswOptions } from "./collections-command.js";
import { runLoad, type LoadBatch } from "./ingest-load.js";
import { resumeLoad, startLoad, type IngestLoad } from "./ingest-state.js";
import { integerIn } from "./parse.js";
import { fileBytes, inspectFvecsFile, streamFvecsRecords, streamJsonlRecords, vectorFileFormat } from "../datasets/index.js";

/** Options of `ingest`. */
interface IngestOptions {
  collection: string;
  batchSize: number;
  create?: boolean;
  distance?: DistanceKind;
  m?: number;
  efConstruction?: number;
  ef?: number;
  progress: boolean;
  resume?: boolean;
  /** No acknowledgement for this long while one is due ends the load, ms. */
  stallTimeoutMs: number;
}

/** A point to send, with the progress position reached once it is read. */
interface SourcePoint {
  point: { id: string; vector: number[]; payload?: JsonObject };
  /** Records read (fvecs) or bytes read (jsonl) so far. */
  position: number;
}

/** The points of a vector file and how far reading them goes, for the progress bar. */
interface PointSource {
  points: AsyncGenerator<SourcePoint>;
  /** Final value of `position`: record count (fvecs) or file size in bytes (jsonl). */
  total: number;
  /** What `position` counts. */
  unit: "points" | "bytes";
}

/** The components as a plain array; a counted loop is ~5× faster than Array.from on a Float32Array. */
function toNumberArray(vector: Float32Array): number[] {
  const array = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) array[i] = vector[i]!;
  return array;
}

async function* fvecsPoints(path: string): AsyncGenerator<SourcePoint> {
  for await (const { index, vector } of streamFvecsRecords(path)) {
    yield { point: { id: String(index), vector: toNumberArray(vector) }, position: index + 1 };
  }
}

async function* jsonlPoints(path: string): AsyncGenerator<SourcePoint> {
  for await (const { id, vector, payload, bytesRead } of streamJsonlRecords(path)) {
    yield { point: payload === undefined ? { id, vector } : { id, vector, payload }, position: bytesRead };
  }
}

/**
 * The points of a `.fvecs` or `.jsonl` / `.ndjson` file, streamed.
 *
 * @throws Error for an unknown extension or (fvecs) a bad layout.
 */
async function openPointSource(path: string): Promise<PointSource> {
  if (vectorFileFormat(path) === "fvecs") {
    const { count } = await inspectFvecsFile(path);
    return { points: fvecsPoints(path), total: count, unit: "points" };
  }
  return { points: jsonlPoints(path), total: await fileBytes(path), unit: "bytes" };
}

/** Groups points into batches of at most `batchSize` points, each with the position reached at its end. */
async function* batches(first: SourcePoint, rest: AsyncIterator<SourcePoint>, batchSize: number): AsyncGenerator<LoadBatch> {
  let points: LoadBatch["points"] = [first.point];
  let position = first.position;
  for (;;) {
    const next = await rest.next();
    if (next.done) break;
    if (points.length === batchSize) {
      yield { points, position };
      points = [];
    }
    points.push(next.value.point);
    position = next.value.position;
  }
  yield { points, position };
}

/** A progress bar on stderr, or nothing when disabled. */
interface Progress {
  update(position: number, points: number): void;
  stop(): void;
}

function progressBar(enabled: boolean, total: number, unit: PointSource["unit"], startedMs: number): Progress {
  if (!enabled) return { update() {}, stop() {} };
  const format =
    unit === "points"
      ? "ingest |{bar}| {percentage}% | {value}/{total} points | {rate} vectors/s | ETA {eta_formatted}"
      : "ingest |{bar}| {percentage}% | {points} points | {rate} vectors/s | ETA {eta_formatted}";
  const bar = new SingleBar({ stream: process.stderr, format, hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
  bar.start(total, 0, { points: 0, rate: "0" });
  return {
    update(position, points) {
      bar.update(position, { points, rate: formatRate(points, (performance.now() - startedMs) / 1000) });
    },
    stop() {
      bar.stop();
    },
  };
}

/**
 * Vectors per second, rounded, with comma thousands separators (`11,905`); 0 when `seconds` is not
 * positive. (Not toLocaleString: its first call loads ICU data, ~30 ms.)
 */
export function formatRate(points: number, seconds: number): string {
  const rate = Math.round(seconds > 0 ? points / seconds : 0);
  return String(rate).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Creates the collection of `--create` (dimension from the first vector); with `--resume`, one that exists already is fine. */
async function createCollection(client: VectorDbClient, options: IngestOptions, distance: DistanceKind, dimension: number, timeoutMs: number | undefined): Promise<void> {
  try {
    await client.collections.createCollection(
      {
        name: options.collection,
        dimension,
        distance: distanceToProto(distance),
        hnsw: { m: options.m ?? 0, efConstruction: options.efConstruction ?? 0, ef: options.ef ?? 0 },
      },
      { timeoutMs },
    );
  } catch (error) {
    if (!(options.resume === true && error instanceof RpcError && error.statusName === "ALREADY_EXISTS")) throw error;
  }
}

/** Creates the collection when asked, runs the resumable load, prints the totals and the rate. */
async function ingest(client: VectorDbClient, timeoutMs: number | undefined, options: IngestOptions, load: IngestLoad, source: PointSource, first: SourcePoint, rest: AsyncIterator<SourcePoint>): Promise<void> {
  // The action checked that --create comes with --distance.
  if (options.create && options.distance !== undefined) await createCollection(client, options, options.distance, first.point.vector.length, timeoutMs);
  const startedMs = performance.now();
  const progress = progressBar(options.progress && process.stderr.isTTY === true, source.total, source.unit, startedMs);
  let durablePoints = 0;
  try {
    const result = await runLoad(client, {
      collection: options.collection,
      ingestId: load.state.ingestId,
      batches: batches(first, rest, options.batchSize),
      stallTimeoutMs: options.stallTimeoutMs,
      abortedRetryMs: cliDefaults.ingestResumeRetryMs,
      onResume(batchesDone, points) {
        if (batchesDone > 0) print(`resuming after batch ${batchesDone}: ${points} points of the file were durable already\n`);
      },
      onDurable(points, position) {
        durablePoints += points;
        progress.update(position, durablePoints);
      },
    });
    progress.stop();
    await load.markComplete();
    const seconds = (performance.now() - startedMs) / 1000;
    const points = result.inserted + result.updated;
    print(`ingested ${points} points (${result.inserted} inserted, ${result.updated} updated) in ${seconds.toFixed(2)} s: ${formatRate(points, seconds)} vectors/s\n`);
  } catch (error) {
    progress.stop();
    if (durablePoints > 0) process.stderr.write(`note: ${durablePoints} points of this run are durable; rerun with --resume to continue after them\n`);
    throw error;
  }
}

/**
 * `vectordb ingest --collection <name> <file>`: a resumable bulk load of a `.fvecs` or `.jsonl` file
 * through the server's IngestStream, in batches of `--batch-size` points (default 1000), numbered in
 * file order. Batches are written only when the transport has room, so memory stays bounded. The load's
 * `ingest_id` is recorded in the state directory (see `ingest-state.ts`); after any failure, the same
 * command with `--resume` asks the server which batch is durable and continues after it (none is
 * applied twice). With `--create --distance <d>` the collection is created first, its dimension taken
 * from the first vector. The progress bar (stderr, when a TTY, unless `--no-progress`) counts durable
 * points. Prints `ingested N points (I inserted, U updated) in S s: R vectors/s` (after
 * `resuming after batch B: …` when resuming).
 *
 * The load has no overall deadline (`--timeout-ms` bounds only its CreateCollection call); it gives up
 * when no batch is acknowledged for `--stall-timeout-ms` (default 60 s) while some wait. Exits 1 on a
 * server error, a stall or a malformed file (naming the record or line; the acknowledged batches stay
 * durable), 2 on a usage error.
 */
export function ingestCommand(): Command {
  const command = new Command("ingest")
    .description("bulk-load points from a .fvecs file (ids = record index) or a .jsonl/.ndjson file ({id, vector, payload} per line)")
    .argument("<file>", "a .fvecs, .jsonl or .ndjson file")
    .requiredOption("--collection <name>", "target collection (required)")
    .addOption(new Option("--batch-size <n>", "points per batch (keep it the same for --resume)").argParser(integerIn(1)).default(cliDefaults.ingestBatchSize))
    .option("--resume", "continue the interrupted load of this file into this collection after its last durable batch")
    .addOption(
      new Option("--stall-timeout-ms <n>", "give up when no batch is acknowledged for this long (ms); the load itself has no deadline")
        .argParser(integerIn(1))
        .env("VECTORDB_STALL_TIMEOUT_MS")
        .default(cliDefaults.ingestStallTimeoutMs),
    )
    .option("--create", "create the collection first (dimension from the first vector; needs --distance)")
    .addOption(new Option("--distance <distance>", "distance of the collection created by --create").choices(distanceNames));
  for (const option of hnswOptions()) command.addOption(option);
  command.option("--no-progress", "no progress bar (it is also off when stderr is not a TTY)");
  command.action(
    action(async (file: string, options: IngestOptions) => {
      if (options.create && options.distance === undefined) throw new UsageError("--create needs --distance <cosine|dot|euclidean>");
      const hnswGiven = options.m !== undefined || options.efConstruction !== undefined || options.ef !== undefined;
      if (!options.create && (options.distance !== undefined || hnswGiven)) {
        throw new UsageError("--distance, --m, --ef-construction and --ef only apply with --create");
      }
      try {
        vectorFileFormat(file);
      } catch (error) {
        throw new UsageError(error instanceof Error ? error.message : String(error));
      }
      const source = await openPointSource(file);
      const iterator = source.points[Symbol.asyncIterator]();
      try {
        const first = await iterator.next();
        if (first.done) throw new Error(`${file}: no points to ingest`);
        const load = options.resume === true ? await resumeLoad(options.collection, file, options.batchSize) : await startLoad(options.collection, file, options.batchSize);
        await withClient(command, (context) => ingest(context.client, context.timeoutMs, options, load, source, first.value, iterator));
      } finally {
        // Closes the file when the call ended before the whole file was read.
        await iterator.return?.(undefined);
      }
    }),
  );
  return command;
}
