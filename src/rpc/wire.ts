import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type MessageShape } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** The grpc-js path of a method: `/vectordb.v1.PointService/Search`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function serializer<Desc extends DescMessage>(schema: Desc): (message: MessageShape<Desc>) => Buffer {
  return (message) => {
    const bytes = toBinary(schema, message);
    // grpc-js needs a Buffer; wrap the Uint8Array's memory without copying.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<Desc extends DescMessage>(schema: Desc): (bytes: Buffer) => MessageShape<Desc> {
  return (bytes) => fromBinary(schema, bytes);
}

/** How a side decodes the requests it receives: the server passes a tolerant decoder (see `decode.ts`). */
export interface WireOptions {
  /** Builds the request deserializer of each method; default: protobuf-es `fromBinary`, which throws on bad bytes. */
  requestDeserializer?: (schema: DescMessage) => (bytes: Buffer) => unknown;
  /** Wraps the response serializer (protobuf-es `toBinary`) of each method, e.g. to record sizes. */
  wrapResponseSerializer?: (serialize: (value: unknown) => Buffer) => (value: unknown) => Buffer;
}

/**
 * A grpc-js service definition built from a protobuf-es service descriptor: one entry per method,
 * keyed by the method's `localName`, with protobuf-es binary (de)serialisers. Used by both the server
 * and the typed client, so the wire format has one source: the generated descriptors in `gen/`.
 */
export function grpcServiceDefinition(service: DescService, options: WireOptions = {}): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  const requestDeserializer = options.requestDeserializer ?? deserializer;
  const wrapResponseSerializer = options.wrapResponseSerializer ?? ((serialize) => serialize);
  for (const method of service.methods) {
    definition[method.localName] = {
      path: methodPath(method),
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input) as (value: unknown) => Buffer,
      requestDeserialize: requestDeserializer(method.input),
      responseSerialize: wrapResponseSerializer(serializer(method.output) as (value: unknown) => Buffer),
      responseDeserialize: deserializer(method.output),
      originalName: method.name,
    };
  }
  return definition;
}
