import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { BatchSearchRequestSchema, SearchRequestSchema, UpsertRequestSchema } from "../../gen/vectordb/v1/point_service_pb.js";
import { HealthCheckRequestSchema } from "../../gen/health/v1/health_pb.js";
import { decodeWithFloatVectors, floatVectorPlan } from "../../src/rpc/float-vectors.js";
import { MalformedMessage, tolerantDeserializer } from "../../src/rpc/index.js";
import { rng } from "../helpers/random.js";

const options = { recursionLimit: 100 };

/** The message with every Float32Array turned into number[], to compare with protobuf-es's own decoding. */
function plain(value: unknown): unknown {
  if (value instanceof Float32Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

describe("decoding vectors straight into Float32Array", () => {
  it("gives what protobuf-es gives, with Float32Arrays for the vectors (points with payloads, empty vectors, special values)", () => {
    const random = rng(15);
    const points = Array.from({ length: 50 }, (_, i) => ({
      id: `p${i}`,
      vector: i === 3 ? [] : Array.from({ length: 1 + (i % 7) * 20 }, () => Math.fround((random() - 0.5) * 1e6)),
      payload: i % 2 === 0 ? { i, tags: ["a", "b"], nested: { x: null, y: true } } : undefined,
    }));
    points[5]!.vector[0] = Number.NaN;
    points[6]!.vector[0] = Number.NEGATIVE_INFINITY;
    points[7]!.vector[0] = -0;
    const bytes = toBinary(UpsertRequestSchema, create(UpsertRequestSchema, { collection: "c", points }));
    const plan = floatVectorPlan(UpsertRequestSchema)!;
    const fast = decodeWithFloatVectors(UpsertRequestSchema, plan, bytes, options)!;
    expect(fast.points[0]!.vector).toBeInstanceOf(Float32Array);
    expect(fast.points[3]!.vector).toEqual([]);
    expect(Object.is(fast.points[7]!.vector[0], -0)).toBe(true);
    expect(plain(fast)).toEqual(plain(fromBinary(UpsertRequestSchema, bytes)));

    const batch = create(BatchSearchRequestSchema, { collection: "c", queries: [{ vector: [1, 2, 3], k: 3 }, { vector: [4.5], k: 1, filter: { must: [] } }] });
    const batchBytes = toBinary(BatchSearchRequestSchema, batch);
    expect(plain(decodeWithFloatVectors(BatchSearchRequestSchema, floatVectorPlan(BatchSearchRequestSchema)!, batchBytes, options))).toEqual(plain(fromBinary(BatchSearchRequestSchema, batchBytes)));
    expect(floatVectorPlan(HealthCheckRequestSchema)).toBeUndefined();
  });

  it("accepts unpacked and split vectors, as proto3 requires", () => {
    // SearchRequest: collection (1), vector (2) as one unpacked float, then a packed run, then another unpacked float; k (3).
    const writer = new BinaryWriter();
    writer.tag(1, WireType.LengthDelimited).string("c");
    writer.tag(2, WireType.Bit32).float(1.5);
    writer.tag(2, WireType.LengthDelimited).fork().float(2.5).float(3.5).join();
    writer.tag(3, WireType.Varint).uint32(10);
    writer.tag(2, WireType.Bit32).float(4.5);
    const bytes = writer.finish();
    const fast = decodeWithFloatVectors(SearchRequestSchema, floatVectorPlan(SearchRequestSchema)!, bytes, options)!;
    expect(Array.from(fast.vector)).toEqual([1.5, 2.5, 3.5, 4.5]);
    expect(fast.k).toBe(10);
    expect(plain(fast)).toEqual(plain(fromBinary(SearchRequestSchema, bytes)));
  });

  it("leaves malformed bytes to the ordinary decoder, which names the field", () => {
    const good = toBinary(UpsertRequestSchema, create(UpsertRequestSchema, { collection: "c", points: [{ id: "a", vector: [1, 2, 3] }] }));
    const plan = floatVectorPlan(UpsertRequestSchema)!;
    const decode = tolerantDeserializer(UpsertRequestSchema, 100);
    let malformedCuts = 0;
    for (let cut = 1; cut < good.length; cut++) {
      // A cut at a field boundary is a valid (shorter) message: both decoders must agree either way.
      const truncated = good.subarray(0, cut);
      const fast = decodeWithFloatVectors(UpsertRequestSchema, plan, truncated, options);
      const ordinary = decode(truncated);
      if (ordinary instanceof MalformedMessage) {
        malformedCuts++;
        expect(fast, `cut at ${cut}`).toBeUndefined();
      } else {
        expect(plain(fast), `cut at ${cut}`).toEqual(plain(ordinary));
      }
    }
    expect(malformedCuts).toBeGreaterThan(good.length / 2);
    // A packed float field whose length is not a multiple of 4.
    const odd = new BinaryWriter();
    odd.tag(2, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string("a").tag(2, WireType.LengthDelimited).bytes(new Uint8Array(6)).join();
    const bytes = odd.finish();
    expect(decodeWithFloatVectors(UpsertRequestSchema, plan, bytes, options)).toBeUndefined();
    const malformed = decode(bytes);
    expect(malformed).toBeInstanceOf(MalformedMessage);
  });
});
