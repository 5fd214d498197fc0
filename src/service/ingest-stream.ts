import type { DurableCollection, UpsertResult } from "../collection/index.js";
import { ingestIdBytesMax, type Limits } from "../config.js";
import { invalidArgument, quote, VectorDbError } from "../errors.js";
import type { Database, WritePath } from "../db/index.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { IngestStreamRequest, IngestStreamResponseSchema } from "../../gen/vectordb/v1/point_service_pb.js";
import { pointFromProto } from "./convert.js";
import { isShutdownStop, type CallContext, type ResponseSink } from "./handler-types.js";

type Response = MessageInitShape<typeof IngestStreamResponseSchema>;

/** One open IngestStream: its collection, load, and where it stands. */
interface Session {
  collection: DurableCollection;
  /** The name the first message gave (a collection or an alias). */
  name: string;
  ingestId: string;
  /** Releases the claim on `ingestId` (see `DurableCollection.claimIngest`). */
  release: () => void;
  /** The highest batch of the load that is durable. */
  durable: number;
  /** The last `batch_seq` this stream carried; undefined before its first batch. */
  last: number | undefined;
}

/**
 * Serves one PointService.IngestStream call (see point_service.proto): the first message opens the
 * load (collection, `ingest_id`) and is answered at once with the durable batch; each batch is then
 * checked (its `batch_seq` follows the previous one, without a gap after the durable batch), skipped
 * when it is durable already, else logged and applied (`DurableCollection.ingestBatch`) and
 * acknowledged, before the next message is read: the WAL's pace is the stream's backpressure, and so
 * is the client's reading of the responses. When the server shuts down, the stream ends with
 * UNAVAILABLE giving how many batches of this stream ${applied === 1 ? "was" : "were"} durably applied and the load's durable
 * `batch_seq` (the batch being applied then is finished first).
 *
 * @throws VectorDbError invalid_argument naming `batches[i]` and the field; not_found; aborted when
 *   another stream of the same load is open; the collection's write errors.
 */
export async function serveIngestStream(
  db: Database,
  writes: WritePath,
  limits: Readonly<Limits>,
  requests: AsyncIterable<IngestStreamRequest>,
  responses: ResponseSink<Response>,
  context: CallContext,
): Promise<void> {
  let session: Session | undefined;
  let index = 0;
  let applied = 0;
  try {
    for await (const request of requests) {
      if (context.signal.aborted) break;
      const at = `batches[${index}]`;
      if (session === undefined) {
        session = open(db, request, at);
        await responses.send({ durableBatchSeq: BigInt(session.durable) });
      } else {
        checkSameLoad(session, request, at);
      }
      const response = await ingestBatch(session, writes, request, at, limits);
      if (response?.inserted !== undefined) applied++;
      if (response !== undefined) await responses.send(response);
      index++;
    }
  } catch (error) {
    if (!isShutdownStop(error, context)) throw error;
    const durable = session === undefined ? "" : `; the load's durable batch_seq is ${session.durable}, resume from ${session.durable + 1}`;
    throw new VectorDbError("unavailable", `the server is shutting down: ${applied} ${applied === 1 ? "batch" : "batches"} of this stream ${applied === 1 ? "was" : "were"} durably applied${durable}`, { cause: error });
  } finally {
    session?.release();
  }
}

/** Opens the load named by the first message. */
function open(db: Database, request: IngestStreamRequest, at: string): Session {
  if (request.collection === "") throw invalidArgument(`${at}.collection: the first message must name the collection`);
  const idBytes = Buffer.byteLength(request.ingestId, "utf8");
  if (idBytes === 0) throw invalidArgument(`${at}.ingest_id: the first message must give the load's ingest_id`);
  if (idBytes > ingestIdBytesMax) throw invalidArgument(`${at}.ingest_id: is ${idBytes} bytes, at most ${ingestIdBytesMax} are allowed`);
  const collection = db.get(request.collection, `${at}.collection`);
  const release = collection.claimIngest(request.ingestId, `${at}.ingest_id`);
  return { collection, name: request.collection, ingestId: request.ingestId, release, durable: collection.durableIngestBatch(request.ingestId), last: undefined };
}

function checkSameLoad(session: Session, request: IngestStreamRequest, at: string): void {
  if (request.collection !== "" && request.collection !== session.name) {
    throw invalidArgument(`${at}.collection: ${quote(request.collection)} differs from "${session.name}" named by the first message`);
  }
  if (request.ingestId !== "" && request.ingestId !== session.ingestId) {
    throw invalidArgument(`${at}.ingest_id: ${JSON.stringify(request.ingestId)} differs from ${JSON.stringify(session.ingestId)} given by the first message`);
  }
}

/**
 * Checks the message's batch and, unless it has no points or is durable already, applies it; returns
 * the acknowledgement to send (undefined when there is nothing to acknowledge).
 */
async function ingestBatch(session: Session, writes: WritePath, request: IngestStreamRequest, at: string, limits: Readonly<Limits>): Promise<Response | undefined> {
  const { points } = request;
  if (request.batchSeq === 0n) {
    if (points.length > 0) throw invalidArgument(`${at}.batch_seq: required (1, 2, 3, …) in a message with points`);
    return undefined;
  }
  if (request.batchSeq > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`${at}.batch_seq: ${request.batchSeq} is above 2^53 - 1`);
  const batch = Number(request.batchSeq);
  if (points.length === 0) throw invalidArgument(`${at}.points: a message with batch_seq ${batch} must hold at least one point`);
  if (points.length > limits.batchPointsMax) throw invalidArgument(`${at}.points: has ${points.length} points, the limit is batch_points_max ${limits.batchPointsMax}`);
  if (session.last === undefined ? batch > session.durable + 1 : batch !== session.last + 1) {
    const expected = session.last === undefined ? `at most ${session.durable + 1} (the durable batch + 1)` : `${session.last + 1} (the previous batch + 1)`;
    throw invalidArgument(`${at}.batch_seq: ${batch} would leave a gap; expected ${expected}`);
  }
  session.last = batch;
  if (batch <= session.durable) return undefined;
  const { ingestId } = session;
  const outcome = await writes.write(session.collection.name, { kind: "ingestBatch", ingestId, batch, points: points.map(pointFromProto), field: `${at}.points` });
  const result = outcome.result as UpsertResult;
  session.durable = batch;
  return { durableBatchSeq: BigInt(batch), inserted: BigInt(result.inserted), updated: BigInt(result.updated) };
}
