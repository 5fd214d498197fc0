import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { invalidArgument, quote } from "../errors.js";
import type { Database, SnapshotRecord } from "../db/index.js";
import { type RestoreSnapshotRequest, type SnapshotInfo, SnapshotInfoSchema, type SnapshotService } from "../../gen/vectordb/v1/snapshot_service_pb.js";
import { collectionInfo } from "./collection-service.js";
import type { ServiceHandlers } from "./handler-types.js";

/** A snapshot as the API reports it. */
function snapshotInfo(record: SnapshotRecord): SnapshotInfo {
  return create(SnapshotInfoSchema, {
    name: record.name,
    sizeBytes: BigInt(record.sizeBytes),
    sha256: record.sha256,
    collection: record.collection,
    createdAt: timestampFromMs(record.createdAtMs),
    sequence: BigInt(record.sequence),
    pointCount: BigInt(record.pointCount),
  });
}

/**
 * Handlers of `vectordb.v1.SnapshotService` over the database's snapshot files (`db/snapshots.ts`) and
 * its restore (`Database.restoreSnapshot`).
 *
 * Errors (as VectorDbError): INVALID_ARGUMENT for a bad collection or snapshot name, a bad sha256, a
 * file that is not a snapshot; NOT_FOUND for an unknown collection or snapshot; ALREADY_EXISTS when a
 * restore's name is taken; DATA_LOSS for a corrupt snapshot (naming the section) or a collection that
 * failed recovery; FAILED_PRECONDITION for a snapshot beyond this server's limits; UNAVAILABLE on an
 * I/O error.
 */
export function snapshotServiceHandlers(db: Database): ServiceHandlers<typeof SnapshotService> {
  return {
    async createSnapshot(request) {
      return { snapshot: snapshotInfo(await db.createSnapshot(request.collection)) };
    },
    async listSnapshots(request) {
      const owner = await db.snapshotOwner(request.collection);
      return { snapshots: (await db.snapshots.list(owner)).map(snapshotInfo) };
    },
    async deleteSnapshot(request) {
      const owner = await db.snapshotOwner(request.collection);
      await db.snapshots.delete(owner, request.name);
      return {};
    },
    async downloadSnapshot(request, responses) {
      const owner = await db.snapshotOwner(request.collection);
      const record = await db.snapshots.get(owner, request.name);
      let first = true;
      for await (const chunk of db.snapshots.chunks(owner, record.name)) {
        await responses.send(first ? { chunk, snapshot: snapshotInfo(record) } : { chunk });
        first = false;
      }
    },
    async restoreSnapshot(requests) {
      const iterator = requests[Symbol.asyncIterator]();
      const opening = await iterator.next();
      if (opening.done === true) throw invalidArgument("collection: the stream is empty; the first message must name the collection and give the sha256");
      const { collection: name, sha256 } = opening.value;
      if (name === "") throw invalidArgument("collection: the first message must name the new collection");
      if (!/^[0-9a-fA-F]{64}$/.test(sha256)) throw invalidArgument(`sha256: ${JSON.stringify(sha256.slice(0, 80))} is not 64 hex digits (the SnapshotInfo.sha256 of the file)`);
      const collection = await db.restoreSnapshot(name, sha256.toLowerCase(), restoreChunks(opening.value, iterator));
      return { collection: collectionInfo(collection) };
    },
  };
}

/**
 * The chunks of a RestoreSnapshot stream, the first message's included; later messages may repeat the
 * collection and sha256 but not change them.
 */
async function* restoreChunks(first: RestoreSnapshotRequest, rest: AsyncIterator<RestoreSnapshotRequest>): AsyncGenerator<Uint8Array> {
  yield first.chunk;
  for (let index = 1; ; index++) {
    const next = await rest.next();
    if (next.done === true) return;
    const { collection, sha256, chunk } = next.value;
    if (collection !== "" && collection !== first.collection) throw invalidArgument(`messages[${index}].collection: ${quote(collection)} differs from ${quote(first.collection)} named by the first message`);
    if (sha256 !== "" && sha256 !== first.sha256) throw invalidArgument(`messages[${index}].sha256: differs from the first message's`);
    yield chunk;
  }
}
