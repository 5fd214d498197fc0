import type { JsonObject as ProtoJsonObject } from "@bufbuild/protobuf";
import { payloadKeysPerRequestMax, type Limits } from "../config.js";
import { invalidArgument } from "../errors.js";
import type { Database, WritePath } from "../db/index.js";
import type { JsonObject, PayloadChange } from "../collection/index.js";
import type { Filter } from "../../gen/vectordb/v1/point_pb.js";
import { keyPathFromProto, selectorFromProto } from "./convert.js";

/** The fields every payload update request has. */
interface PayloadRequest {
  collection: string;
  ids: string[];
  filter?: Filter | undefined;
}

/**
 * Applies one payload update request: resolves the collection, converts the selector (exactly one of
 * `ids` and a non-empty `filter`) and the change, and delegates; resolves with `{updated}` once the
 * change is durable and applied.
 */
async function update(db: Database, writes: WritePath, limits: Readonly<Limits>, request: PayloadRequest, change: PayloadChange): Promise<{ updated: number; sequence: bigint }> {
  db.get(request.collection);
  const selector = selectorFromProto(request, limits, "update");
  const outcome = await writes.write(request.collection, { kind: "payload", selector, change, field: selector.kind });
  return { updated: outcome.result as number, sequence: BigInt(outcome.sequence) };
}

/** A request's payload Struct as a domain object (`{}` when unset). */
function payloadOf(payload: ProtoJsonObject | undefined): JsonObject {
  return (payload ?? {}) as JsonObject;
}

/**
 * The handlers of PointService's SetPayload, OverwritePayload, DeletePayloadKeys and ClearPayload.
 *
 * Errors (as VectorDbError): INVALID_ARGUMENT for both or neither of `ids` and `filter`, an empty
 * filter, too many ids, an empty `payload` (SetPayload), no or bad `keys`, a payload over
 * `payload_bytes_max`; NOT_FOUND; UNAVAILABLE when the WAL cannot be written; DATA_LOSS for a
 * collection that failed recovery.
 */
export function payloadHandlers(db: Database, writes: WritePath, limits: Readonly<Limits>) {
  return {
    async setPayload(request: PayloadRequest & { payload?: ProtoJsonObject | undefined }) {
      const payload = payloadOf(request.payload);
      if (Object.keys(payload).length === 0) throw invalidArgument("payload: must hold at least one key to set");
      return update(db, writes, limits, request, { kind: "set", payload });
    },
    async overwritePayload(request: PayloadRequest & { payload?: ProtoJsonObject | undefined }) {
      return update(db, writes, limits, request, { kind: "overwrite", payload: payloadOf(request.payload) });
    },
    async deletePayloadKeys(request: PayloadRequest & { keys: string[] }) {
      if (request.keys.length === 0) throw invalidArgument("keys: must list at least one key");
      if (request.keys.length > payloadKeysPerRequestMax) throw invalidArgument(`keys: has ${request.keys.length} keys, at most ${payloadKeysPerRequestMax} are allowed`);
      const keys = request.keys.map((key, i) => keyPathFromProto(key, `keys[${i}]`, limits));
      return update(db, writes, limits, request, { kind: "deleteKeys", keys });
    },
    async clearPayload(request: PayloadRequest) {
      return update(db, writes, limits, request, { kind: "clear" });
    },
  };
}
