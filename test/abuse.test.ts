import { connect as http2Connect, constants as h2 } from "node:http2";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusMessageBytesMax } from "../src/config.js";
import { wellFormed } from "../src/errors.js";
import { Distance } from "../src/client/index.js";
import { HealthCheckRequestSchema } from "../gen/health/v1/health_pb.js";
import { CollectionService } from "../gen/vectordb/v1/collection_service_pb.js";
import { IngestRequestSchema, PointService, SearchRequestSchema, UpsertRequestSchema } from "../gen/vectordb/v1/point_service_pb.js";
import { SnapshotService } from "../gen/vectordb/v1/snapshot_service_pb.js";
import { rejection } from "./helpers/assertions.js";
import { captureLogs, logLevels } from "./helpers/logs.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import {
  eventually,
  http2Preface,
  protocolErrorFrames,
  rawClient,
  rawClientStream,
  rawServerStream,
  rawUnary,
  sendAndClose,
  socketFdCount,
} from "./helpers/wire.js";

/**
 * Bad input from outside (issue 9, part 1): malformed and deeply nested messages, oversized status
 * messages, connections that break HTTP/2, client aborts. Each answers with a status that names what
 * was wrong, never INTERNAL, and leaves nothing behind.
 */

const bytes = <Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): Uint8Array => toBinary(schema, create(schema, init));
const searchPath = "/vectordb.v1.PointService/Search";
const upsertPath = "/vectordb.v1.PointService/Upsert";
const ingestPath = "/vectordb.v1.PointService/Ingest";
const healthCheckPath = "/grpc.health.v1.Health/Check";

/** A JSON object nested `depth` levels: `{a: {a: … {a: 1}}}` (level 1 is the outer object). */
function nestedPayload(depth: number): Record<string, unknown> {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value as Record<string, unknown>;
}

/** A filter nested `depth` levels, in protobuf-es init form. */
function nestedFilter(depth: number): MessageInitShape<typeof SearchRequestSchema>["filter"] {
  let filter: NonNullable<MessageInitShape<typeof SearchRequestSchema>["filter"]> = {
    must: [{ condition: { case: "field", value: { key: "k", match: { case: "exists", value: true } } } }],
  };
  for (let i = 1; i < depth; i++) filter = { must: [{ condition: { case: "filter", value: filter } }] };
  return filter;
}

let t: TestServer;
let raw: ReturnType<typeof rawClient>;
const logs = captureLogs("debug");
beforeAll(async () => {
  t = await startTestServer({}, { logger: logs.logger });
  raw = rawClient(t.address);
  await t.client.collections.createCollection({ name: "c", dimension: 2, distance: Distance.EUCLIDEAN });
});
afterAll(async () => {
  raw.close();
  await t.stop();
});

describe("malformed messages answer INVALID_ARGUMENT naming what failed", () => {
  it("names the message type, the field and the fault", async () => {
    const upsertBytes = bytes(UpsertRequestSchema, { collection: "c", points: [{ id: "a", vector: [1, 2] }, { id: "b", vector: [3, 4] }] });
    const badUtf8Id = Buffer.from(upsertBytes);
    badUtf8Id[badUtf8Id.lastIndexOf(Buffer.from("b")[0]!)] = 0xc3;
    const cases: [string, Uint8Array, string][] = [
      [searchPath, Buffer.from("ffffff", "hex"), "[invalid_argument] request: not a valid vectordb.v1.SearchRequest: premature EOF"],
      ["/vectordb.v1.CollectionService/CreateCollection", Buffer.from("0a01c3", "hex"), "[invalid_argument] request: not a valid vectordb.v1.CreateCollectionRequest: name: is not valid UTF-8"],
      [upsertPath, upsertBytes.subarray(0, upsertBytes.length - 3), "[invalid_argument] request: not a valid vectordb.v1.UpsertRequest: points[1]: declares 13 bytes, only 10 remain"],
      [upsertPath, badUtf8Id, "[invalid_argument] request: not a valid vectordb.v1.UpsertRequest: points[1].id: is not valid UTF-8"],
    ];
    for (const [path, request, message] of cases) {
      const result = await rawUnary(raw, path, request);
      expect(result, path).toEqual({ code: status.INVALID_ARGUMENT, details: message });
    }
  });

  it("holds for every method of every service, the health service included", async () => {
    const garbage = Buffer.from("ffffff", "hex");
    for (const service of [CollectionService, PointService, SnapshotService]) {
      for (const method of service.methods) {
        const path = `/${service.typeName}/${method.name}`;
        const result =
          method.methodKind === "client_streaming"
            ? await rawClientStream(raw, path, [garbage])
            : method.methodKind === "server_streaming"
              ? await rawServerStream(raw, path, garbage)
              : await rawUnary(raw, path, garbage);
        expect(result.code, path).toBe(status.INVALID_ARGUMENT);
        const at = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming" ? "messages[0]" : "request";
        expect(result.details).toBe(`[invalid_argument] ${at}: not a valid ${method.input.typeName}: premature EOF`);
      }
    }
    for (const result of [await rawUnary(raw, healthCheckPath, garbage), await rawServerStream(raw, "/grpc.health.v1.Health/Watch", garbage)]) {
      expect(result).toEqual({ code: status.INVALID_ARGUMENT, details: "[invalid_argument] request: not a valid request message for this method" });
    }
  });

  it("names the stream message that did not decode; the batches before it stay applied", async () => {
    const good = bytes(IngestRequestSchema, { collection: "c", points: [{ id: "s1", vector: [1, 1] }] });
    const result = await rawClientStream(raw, ingestPath, [good, Buffer.from("0a01c3", "hex")]);
    expect(result).toEqual({ code: status.INVALID_ARGUMENT, details: "[invalid_argument] messages[1]: not a valid vectordb.v1.IngestRequest: collection: is not valid UTF-8" });
    expect((await t.client.points.get({ collection: "c", ids: ["s1"] })).points).toHaveLength(1);
  });
});

describe("deep nesting answers INVALID_ARGUMENT naming the depth limit", () => {
  it("filters: filter_depth_max, whether the filter decodes or is too deep to", async () => {
    const over = await rejection(t.client.points.search({ collection: "c", vector: [1, 1], k: 1, filter: nestedFilter(17) }));
    expect(over.details).toMatch(/^\[invalid_argument\] filter(\.must\[0\]\.filter){16}: filters nest deeper than filter_depth_max 16$/);
    const deep = await rawUnary(raw, searchPath, bytes(SearchRequestSchema, { collection: "c", vector: [1, 1], k: 1, filter: nestedFilter(80) }));
    expect(deep.code).toBe(status.INVALID_ARGUMENT);
    expect(deep.details).toMatch(
      /^\[invalid_argument\] request: not a valid vectordb\.v1\.SearchRequest: filter\.must\[0\]\.filter.*: nests messages deeper than 100 levels; payloads may nest payload_depth_max 32 levels and filters filter_depth_max 16$/,
    );
  });

  it("payloads: payload_depth_max (32), whether the payload decodes or is too deep to", async () => {
    const over = await rejection(t.client.points.upsert({ collection: "c", points: [{ id: "deep", vector: [1, 1], payload: nestedPayload(33) as never }] }));
    expect(over.status).toBe(status.INVALID_ARGUMENT);
    expect(over.details).toBe(`[invalid_argument] points[0] (id "deep").payload${".a".repeat(32)}: nests deeper than payload_depth_max 32`);
    await t.client.points.upsert({ collection: "c", points: [{ id: "at-limit", vector: [1, 1], payload: nestedPayload(32) as never }] });
    const deep = await rawUnary(raw, upsertPath, bytes(UpsertRequestSchema, { collection: "c", points: [{ id: "deeper", vector: [1, 1], payload: nestedPayload(70) as never }] }));
    expect(deep.code).toBe(status.INVALID_ARGUMENT);
    expect(deep.details).toMatch(/^\[invalid_argument\] request: not a valid vectordb\.v1\.UpsertRequest: points\[0\]\.payload(\.a)+: nests messages deeper than 100 levels; payloads may nest payload_depth_max 32/);
  });
});

describe("status messages are bounded; echoed values are cut", () => {
  it("cuts a long field path without splitting a character (grpc-js cannot send a status with a lone surrogate)", async () => {
    for (const key of ["😀", "a😀", "ab😀", "abc😀", "abcd😀", "abcde😀", "abcdef😀"]) {
      let payload: unknown = 1;
      for (let i = 0; i < 70; i++) payload = { [key]: payload };
      const request = bytes(UpsertRequestSchema, { collection: "c", points: [{ id: "e", vector: [1, 1], payload: payload as never }] });
      const result = await rawUnary(raw, upsertPath, request, 5_000);
      expect(result.code, `key ${key}: ${result.details}`).toBe(status.INVALID_ARGUMENT);
      expect(result.details).toBe(wellFormed(result.details));
    }
  });

  it("cuts echoed values to 64 characters and gives their length", async () => {
    const key = "k".repeat(20_000);
    const nan = await rejection(t.client.points.upsert({ collection: "c", points: [{ id: "n", vector: [1, 1], payload: { [key]: Number.NaN } }] }));
    expect(nan.details).toBe(`[invalid_argument] points[0] (id "n").payload["${"k".repeat(64)}"… (20000 characters)]: is not a finite number (NaN and Infinity cannot be stored)`);
    const other = "o".repeat(20_000);
    const switched = await rejection(t.client.points.ingest([{ collection: "c", points: [] }, { collection: other, points: [] }]));
    expect(switched.details).toBe(`[invalid_argument] batches[1].collection: "${"o".repeat(64)}"… (20000 characters) differs from "c" named by the first message`);
    const unknown = await rawUnary(raw, `/vectordb.v1.PointService/${"X".repeat(3000)}`, new Uint8Array());
    expect(unknown.code).toBe(status.UNIMPLEMENTED);
    expect(unknown.details).toBe(`[unimplemented] the server does not implement the method "/vectordb.v1.PointService/${"X".repeat(38)}"… (3026 characters)`);
  });

  it(`bounds every status to ${statusMessageBytesMax} bytes, the health service's echo included`, async () => {
    const result = await rawUnary(raw, healthCheckPath, bytes(HealthCheckRequestSchema, { service: "x".repeat(8000) }));
    expect(result.code).toBe(status.NOT_FOUND);
    expect(encodeURI(result.details).length).toBeLessThanOrEqual(statusMessageBytesMax);
    expect(result.details).toMatch(/^Health status unknown for service x+… \(cut: 8034 characters\)$/);
    // Non-ASCII text is cut by its encoded size, never inside a character.
    const wide = await rawUnary(raw, healthCheckPath, bytes(HealthCheckRequestSchema, { service: "é😀".repeat(3000) }));
    expect(encodeURI(wide.details).length).toBeLessThanOrEqual(statusMessageBytesMax);
    expect(wide.details).toMatch(/^Health status unknown for service (é😀)+é?… \(cut: 9034 characters\)$/);
  });
});

describe("message_bytes_max", () => {
  it("names the limit for a unary request and for a message in a stream, and logs no error", async () => {
    const small = await startTestServer({ messageBytesMax: 4096 }, { logger: logs.logger });
    const before = logs.lines.length;
    try {
      await small.client.collections.createCollection({ name: "m", dimension: 2000, distance: Distance.DOT });
      const point = { id: "a", vector: Array.from({ length: 2000 }, () => 1) };
      const unary = await rejection(small.client.points.upsert({ collection: "m", points: [point] }));
      expect(unary.status).toBe(status.RESOURCE_EXHAUSTED);
      expect(unary.details).toBe("[resource_exhausted] request: the message is 8012 bytes, the limit is message_bytes_max 4096");
      const streamed = await rejection(small.client.points.ingest([{ collection: "m", points: [] }, { points: [point] }]));
      expect(streamed.status).toBe(status.RESOURCE_EXHAUSTED);
      expect(streamed.details).toBe("[resource_exhausted] request: the message is 8009 bytes, the limit is message_bytes_max 4096");
      expect((await small.client.collections.getCollection({ name: "m" })).collection?.pointCount).toBe(0n);
    } finally {
      await small.stop();
    }
    // grpc-js ends the stream itself; the handler, still waiting for a message, ends when the server
    // stops: cut off (premature close, a client event logged at debug) or stopped by the shutdown
    // (UNAVAILABLE, not logged), whichever grpc-js reports first. Never a warning or an error.
    expect(logs.lines.slice(before).filter((line) => line.level >= logLevels.warn)).toEqual([]);
    expect(logs.lines.slice(before).filter((line) => line.msg === "call cancelled by the client").length).toBeLessThanOrEqual(1);
  });
});

describe("client aborts are client events, not server errors", () => {
  it("logs a cancelled Ingest, a dropped connection and an undecodable message below warn", async () => {
    // grpc-js's cancel half-closes the stream before resetting it, so the server sees a normal end.
    const before = logs.lines.length;
    const controller = new AbortController();
    async function* slow(): AsyncGenerator<MessageInitShape<typeof IngestRequestSchema>> {
      yield { collection: "c", points: [{ id: "x1", vector: [1, 2] }] };
      await new Promise((resolve) => setTimeout(resolve, 100));
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await rejection(t.client.points.ingest(slow(), { signal: controller.signal }))).status).toBe(status.CANCELLED);

    // A connection dropped in the middle of a stream: HTTP/2 by hand, then the session destroyed.
    const session = http2Connect(`http://${t.address}`);
    const stream = session.request({ [h2.HTTP2_HEADER_METHOD]: "POST", [h2.HTTP2_HEADER_PATH]: ingestPath, "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {});
    const message = bytes(IngestRequestSchema, { collection: "c", points: [{ id: "x2", vector: [1, 2] }] });
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    stream.write(frame);
    await eventually(() => t.running.db.get("c").get(["x2"], { withPayload: false, withVector: false }).length === 1, 5_000);
    session.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));

    await rawClientStream(raw, ingestPath, [Buffer.from("0a01c3", "hex")]);
    const loud = logs.lines.slice(before).filter((line) => line.level >= logLevels.warn);
    expect(loud).toEqual([]);
  });
});

describe("connections that break the HTTP/2 protocol", () => {
  it("give back their sockets (Node's HTTP/2 server stops reading them; keepalive closes them)", async () => {
    const s = await startTestServer({}, { keepaliveTimeMs: 300, keepaliveTimeoutMs: 300 });
    try {
      const port = s.running.server.port;
      await s.client.health(); // the test's own client connection is part of the baseline
      const baseline = socketFdCount();
      for (const [name, frame] of Object.entries(protocolErrorFrames)) {
        for (let i = 0; i < 10; i++) await sendAndClose(port, Buffer.concat([http2Preface, frame]));
        const leaked = socketFdCount() - baseline;
        const freed = await eventually(() => socketFdCount() <= baseline, 5_000);
        expect(freed, `${name}: ${socketFdCount() - baseline} of ${leaked} sockets still open`).toBe(true);
      }
      // A healthy connection answers the keepalive PINGs and stays usable while idle.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await s.client.health()).toBe("SERVING");
      expect(socketFdCount()).toBe(baseline);
    } finally {
      await s.stop();
    }
  });
});
