import type { JsonObject } from "@bufbuild/protobuf";
import { RpcError, type VectorDbClient } from "../client/index.js";

/** One batch of a load, in file order: its points, and how far into the file it reaches (for progress). */
export interface LoadBatch {
  points: { id: string; vector: number[]; payload?: JsonObject }[];
  /** Records (fvecs) or bytes (jsonl) of the file up to the end of this batch. */
  position: number;
}

/** What {@link runLoad} needs. */
export interface LoadOptions {
  collection: string;
  ingestId: string;
  /** The file's batches, in order; batch N (from 1) is always the same points for one file and batch size. */
  batches: AsyncIterable<LoadBatch>;
  /** Gives up when no batch is acknowledged for this long while some wait (or the first answer is due), ms. */
  stallTimeoutMs: number;
  /** While the server still holds the load's previous stream (ABORTED), retry for this long, ms. */
  abortedRetryMs: number;
  /** Called as batches become durable: their points, and the file position of the last one. */
  onDurable?: (points: number, position: number) => void;
  /** Called once the server has said where the load stands: batches and points durable already. */
  onResume?: (batches: number, points: number) => void;
}

/** The outcome of a load. */
export interface LoadResult {
  /** The batch the server had durable when this run started (0 for a new load). */
  resumedAfter: number;
  /** Points of the batches durable before this run (skipped, not sent). */
  skippedPoints: number;
  /** Batches sent and acknowledged in this run. */
  batches: number;
  inserted: number;
  updated: number;
}

/** An error for a load that saw no acknowledgement for `stallTimeoutMs`. */
export class StallError extends Error {
  override readonly name = "StallError";
}

const abortedRetryPauseMs = 250;

/**
 * Runs a resumable bulk load over PointService.IngestStream: opens the stream with the load's
 * `ingest_id`, learns from the first response which batch is durable already, skips the batches up to
 * it (reading but not sending them), and sends the rest, numbered 1, 2, 3, … in file order, while
 * reading the acknowledgements. The stream has no deadline; it fails with a {@link StallError} when no
 * acknowledgement arrives for `stallTimeoutMs` while one is due. While the server still holds a
 * previous stream of the same load (ABORTED, e.g. after the client was killed), it retries for
 * `abortedRetryMs`.
 *
 * @throws RpcError for a failed call (the batches acknowledged before stay durable); StallError; the
 *   batches' own errors (a malformed file).
 */
export async function runLoad(client: VectorDbClient, options: LoadOptions): Promise<LoadResult> {
  const giveUpAt = Date.now() + options.abortedRetryMs;
  for (;;) {
    try {
      return await runStream(client, options);
    } catch (error) {
      const retry = error instanceof RetryableOpening && Date.now() < giveUpAt;
      if (!retry) throw error instanceof RetryableOpening ? error.cause : error;
      await new Promise((resolve) => setTimeout(resolve, abortedRetryPauseMs));
    }
  }
}

/** The stream was refused with ABORTED before any batch was read: another stream of the load is open. */
class RetryableOpening extends Error {
  constructor(override readonly cause: RpcError) {
    super(cause.message);
  }
}

/** Arms a timer while acknowledgements are due; fires `onStall` once if none comes in time. */
class StallWatchdog {
  private timer: NodeJS.Timeout | undefined;
  stalled = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly onStall: () => void,
  ) {}

  /** Restarts the wait (an acknowledgement arrived, or one became due) if `due`, else stops it. */
  reset(due: boolean): void {
    clearTimeout(this.timer);
    this.timer = due
      ? setTimeout(() => {
          this.stalled = true;
          this.onStall();
        }, this.timeoutMs)
      : undefined;
  }
}

async function runStream(client: VectorDbClient, options: LoadOptions): Promise<LoadResult> {
  const stream = client.points.ingestStream();
  const watchdog = new StallWatchdog(options.stallTimeoutMs, () => stream.cancel());
  const sent = new Map<number, LoadBatch>();
  const result: LoadResult = { resumedAfter: 0, skippedPoints: 0, batches: 0, inserted: 0, updated: 0 };
  let opened!: (durable: number) => void;
  const openedAt = new Promise<number>((resolve) => (opened = resolve));
  let durable = 0;
  let sawFirst = false;
  const reading = (async () => {
    for await (const response of stream.responses) {
      durable = Number(response.durableBatchSeq);
      if (!sawFirst) {
        sawFirst = true;
        opened(durable);
      } else {
        result.inserted += Number(response.inserted);
        result.updated += Number(response.updated);
      }
      acknowledge(sent, durable, options);
      watchdog.reset(sent.size > 0);
    }
  })();
  // If reading fails, sending stops: the opening promise settles through the race below.
  const readingDone = reading.then(
    () => undefined,
    () => undefined,
  );
  try {
    watchdog.reset(true);
    await stream.send({ collection: options.collection, ingestId: options.ingestId });
    const resumedAfter = await Promise.race([openedAt, readingDone.then(() => undefined)]);
    if (resumedAfter !== undefined) await sendBatches(stream, options, resumedAfter, sent, result, watchdog);
    stream.end();
    await reading;
  } catch (error) {
    stream.cancel();
    await readingDone;
    throw failure(error, watchdog, options, sawFirst);
  } finally {
    watchdog.reset(false);
  }
  const last = result.resumedAfter + result.batches;
  if (durable < last) throw new Error(`the stream ended with batch ${durable} of ${last} durable; rerun with --resume`);
  return result;
}

/** Sends the batches after `resumedAfter`, skipping (reading only) those before. */
async function sendBatches(
  stream: ReturnType<VectorDbClient["points"]["ingestStream"]>,
  options: LoadOptions,
  resumedAfter: number,
  sent: Map<number, LoadBatch>,
  result: LoadResult,
  watchdog: StallWatchdog,
): Promise<void> {
  result.resumedAfter = resumedAfter;
  let seq = 0;
  for await (const batch of options.batches) {
    seq++;
    if (seq <= resumedAfter) {
      result.skippedPoints += batch.points.length;
      if (seq === resumedAfter) options.onResume?.(resumedAfter, result.skippedPoints);
      continue;
    }
    if (seq === 1) options.onResume?.(0, 0);
    if (stream.ended) return;
    sent.set(seq, batch);
    result.batches++;
    if (sent.size === 1) watchdog.reset(true);
    await stream.send({ batchSeq: BigInt(seq), points: batch.points });
  }
}

/** Settles the batches up to `durable`: counts and reports them. */
function acknowledge(sent: Map<number, LoadBatch>, durable: number, options: LoadOptions): void {
  for (const [seq, batch] of sent) {
    if (seq > durable) break;
    sent.delete(seq);
    options.onDurable?.(batch.points.length, batch.position);
  }
}

/** The error to report for a failed stream. */
function failure(error: unknown, watchdog: StallWatchdog, options: LoadOptions, sawFirst: boolean): unknown {
  if (watchdog.stalled) {
    return new StallError(`no acknowledgement from the server for ${(options.stallTimeoutMs / 1000).toFixed(1)} s (--stall-timeout-ms ${options.stallTimeoutMs}): it is stalled or unreachable; the acknowledged batches are durable, rerun with --resume`);
  }
  if (error instanceof RpcError && error.status === 10 && !sawFirst) return new RetryableOpening(error);
  return error;
}
