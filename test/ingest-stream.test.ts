import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Distance, RpcError, type IngestStreamResponse, type PointInit, type VectorDbClient } from "../src/client/index.js";
import { walRecordType } from "../src/collection/index.js";
import { collectionDir, removeTempDirs, tempDataDir, walRecords } from "./helpers/files.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

afterEach(removeTempDirs);

const batchOf = (seq: number, size = 10): PointInit[] => Array.from({ length: size }, (_, i) => ({ id: `b${seq}-${i}`, vector: [seq, i], payload: { seq } }));

/** One IngestStream call: sends `messages` one by one, returns every response and the error that ended it, if any. */
async function stream(
  client: VectorDbClient,
  messages: { collection?: string; ingestId?: string; batchSeq?: bigint; points?: PointInit[] }[],
): Promise<{ responses: IngestStreamResponse[]; error: RpcError | undefined }> {
  const call = client.points.ingestStream();
  const responses: IngestStreamResponse[] = [];
  const reading = (async () => {
    for await (const response of call.responses) responses.push(response);
  })();
  for (const message of messages) await call.send(message);
  call.end();
  try {
    await reading;
    return { responses, error: undefined };
  } catch (error) {
    if (!(error instanceof RpcError)) throw error;
    return { responses, error };
  }
}

const summary = (responses: IngestStreamResponse[]): [number, number, number][] => responses.map((r) => [Number(r.durableBatchSeq), Number(r.inserted), Number(r.updated)]);

async function pointCount(client: VectorDbClient, name: string): Promise<number> {
  return Number((await client.collections.getCollection({ name })).collection?.pointCount);
}

describe("IngestStream", () => {
  it("answers where to resume at once, applies each batch once, and skips batches that are durable already", async () => {
    const dataDir = tempDataDir();
    let t: TestServer = await startTestServer({}, { dataDir });
    try {
      await t.client.collections.createCollection({ name: "load", dimension: 2, distance: Distance.DOT });
      const first = await stream(t.client, [{ collection: "load", ingestId: "job-1" }, ...[1, 2, 3].map((seq) => ({ batchSeq: BigInt(seq), points: batchOf(seq) }))]);
      expect(first.error).toBeUndefined();
      expect(summary(first.responses)).toEqual([[0, 0, 0], [1, 10, 0], [2, 10, 0], [3, 10, 0]]);
      // The first message may carry a batch; a client that starts over from 1 has 1..3 skipped.
      const second = await stream(t.client, [1, 2, 3, 4, 5].map((seq) => ({ collection: seq === 1 ? "load" : "", ingestId: seq === 1 ? "job-1" : "", batchSeq: BigInt(seq), points: batchOf(seq) })));
      expect(summary(second.responses)).toEqual([[3, 0, 0], [4, 10, 0], [5, 10, 0]]);
      expect(await pointCount(t.client, "load")).toBe(50);
      // Another load of the same points is a load of its own: its batches are applied (as updates).
      const other = await stream(t.client, [{ collection: "load", ingestId: "job-2", batchSeq: 1n, points: batchOf(1) }]);
      expect(summary(other.responses)).toEqual([[0, 0, 0], [1, 0, 10]]);
      // The pairs survive a restart replaying the WAL, and one loading them from a segment.
      await t.running.close({ checkpoint: false });
      t.client.close();
      const walPath = `${collectionDir(dataDir, "load")}/wal.log`;
      const ingestRecords = walRecords(walPath).filter((record) => record.type === walRecordType.ingestBatch);
      expect(ingestRecords).toHaveLength(6);
      for (const checkpoint of [false, true]) {
        t = await startTestServer({}, { dataDir });
        const resumed = await stream(t.client, [{ collection: "load", ingestId: "job-1" }, { batchSeq: 5n, points: batchOf(5) }, { batchSeq: 6n, points: batchOf(6) }]);
        expect(summary(resumed.responses)).toEqual([[checkpoint ? 6 : 5, 0, 0], ...(checkpoint ? [] : [[6, 10, 0] as [number, number, number]])]);
        await t.running.close({ checkpoint: true });
        t.client.close();
      }
      t = await startTestServer({}, { dataDir });
      expect(await pointCount(t.client, "load")).toBe(60);
    } finally {
      await t.stop();
    }
  });

  it("ends the call at a bad batch naming it, keeping the batches acknowledged before", async () => {
    const t = await startTestServer({ batchPointsMax: 20 });
    try {
      await t.client.collections.createCollection({ name: "strict", dimension: 2, distance: Distance.DOT });
      const bad = await stream(t.client, [
        { collection: "strict", ingestId: "x", batchSeq: 1n, points: batchOf(1) },
        { batchSeq: 2n, points: [...batchOf(2, 3), { id: "broken", vector: [1] }] },
        { batchSeq: 3n, points: batchOf(3) },
      ]);
      expect(summary(bad.responses)).toEqual([[0, 0, 0], [1, 10, 0]]);
      expect(bad.error?.status).toBe(status.INVALID_ARGUMENT);
      expect(bad.error?.details).toBe(`[invalid_argument] batches[1].points[3] (id "broken").vector: has 1 components, the collection's dimension is 2`);
      expect(await pointCount(t.client, "strict")).toBe(10);
      const cases: [Parameters<typeof stream>[1], number, RegExp][] = [
        [[{ ingestId: "x" }], status.INVALID_ARGUMENT, /^\[invalid_argument\] batches\[0\]\.collection: the first message must name the collection$/],
        [[{ collection: "strict" }], status.INVALID_ARGUMENT, /^\[invalid_argument\] batches\[0\]\.ingest_id: the first message must give the load's ingest_id$/],
        [[{ collection: "strict", ingestId: "é".repeat(129) }], status.INVALID_ARGUMENT, /^\[invalid_argument\] batches\[0\]\.ingest_id: is 258 bytes, at most 256 are allowed$/],
        [[{ collection: "ghost", ingestId: "x" }], status.NOT_FOUND, /^\[not_found\] batches\[0\]\.collection: collection "ghost" does not exist$/],
        [[{ collection: "strict", ingestId: "x", points: batchOf(2) }], status.INVALID_ARGUMENT, /^\[invalid_argument\] batches\[0\]\.batch_seq: required \(1, 2, 3, …\) in a message with points$/],
        [[{ collection: "strict", ingestId: "x", batchSeq: 2n }], status.INVALID_ARGUMENT, /^\[invalid_argument\] batches\[0\]\.points: a message with batch_seq 2 must hold at least one point$/],
        [[{ collection: "strict", ingestId: "x", batchSeq: 3n, points: batchOf(3) }], status.INVALID_ARGUMENT, /^\[invalid_argument\] batches\[0\]\.batch_seq: 3 would leave a gap; expected at most 2 \(the durable batch \+ 1\)$/],
        [[{ collection: "strict", ingestId: "x", batchSeq: 2n, points: batchOf(2) }, { batchSeq: 4n, points: batchOf(4) }], status.INVALID_ARGUMENT, /^\[invalid_argument\] batches\[1\]\.batch_seq: 4 would leave a gap; expected 3 \(the previous batch \+ 1\)$/],
        [[{ collection: "strict", ingestId: "y", batchSeq: 1n, points: batchOf(1, 21) }], status.INVALID_ARGUMENT, /^\[invalid_argument\] batches\[0\]\.points: has 21 points, the limit is batch_points_max 20$/],
        [[{ collection: "strict", ingestId: "y" }, { collection: "other" }], status.INVALID_ARGUMENT, /^\[invalid_argument\] batches\[1\]\.collection: "other" differs from "strict" named by the first message$/],
        [[{ collection: "strict", ingestId: "y" }, { ingestId: "z" }], status.INVALID_ARGUMENT, /^\[invalid_argument\] batches\[1\]\.ingest_id: "z" differs from "y" given by the first message$/],
      ];
      for (const [messages, code, message] of cases) {
        const { error } = await stream(t.client, messages);
        expect(error?.status, message.source).toBe(code);
        expect(error?.details).toMatch(message);
      }
    } finally {
      await t.stop();
    }
  });

  it("refuses a second stream of the same load with ABORTED while the first is open, and admits it afterwards", async () => {
    const t = await startTestServer();
    try {
      await t.client.collections.createCollection({ name: "busy", dimension: 2, distance: Distance.DOT });
      const open = t.client.points.ingestStream();
      const firstResponses = open.responses[Symbol.asyncIterator]();
      await open.send({ collection: "busy", ingestId: "same" });
      expect(Number((await firstResponses.next()).value?.durableBatchSeq)).toBe(0);
      const second = await stream(t.client, [{ collection: "busy", ingestId: "same" }]);
      expect(second.error?.status).toBe(status.ABORTED);
      expect(second.error?.details).toBe(`[aborted] batches[0].ingest_id: another IngestStream of ingest_id "same" is open on collection "busy"; retry once it has ended`);
      // Another load runs alongside.
      expect((await stream(t.client, [{ collection: "busy", ingestId: "other", batchSeq: 1n, points: batchOf(1) }])).error).toBeUndefined();
      open.end();
      while (!(await firstResponses.next()).done);
      expect(summary((await stream(t.client, [{ collection: "busy", ingestId: "same", batchSeq: 1n, points: batchOf(1) }])).responses)).toEqual([[0, 0, 0], [1, 0, 10]]);
    } finally {
      await t.stop();
    }
  });
});
