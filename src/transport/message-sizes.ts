/**
 * Remembers the encoded size of the messages the server decodes and encodes, keyed by the message
 * object, for the per-call debug log (request and response bytes). Wraps a method's deserializer and
 * serializer; a WeakMap, so nothing outlives its message. Installed only when debug logging is on.
 */
export class MessageSizes {
  private readonly sizes = new WeakMap<object, number>();

  /** `deserialize`, recording the size in bytes of each buffer it decodes into an object. */
  deserializer(deserialize: (bytes: Buffer) => unknown): (bytes: Buffer) => unknown {
    return (bytes) => {
      const message = deserialize(bytes);
      if (typeof message === "object" && message !== null) this.sizes.set(message, bytes.length);
      return message;
    };
  }

  /** `serialize`, recording the size in bytes of what it encodes for each object. */
  serializer(serialize: (value: unknown) => Buffer): (value: unknown) => Buffer {
    return (value) => {
      const bytes = serialize(value);
      if (typeof value === "object" && value !== null) this.sizes.set(value, bytes.length);
      return bytes;
    };
  }

  /** Encoded size of `message` in bytes, if it went through a wrapped (de)serializer. */
  bytesOf(message: unknown): number | undefined {
    return typeof message === "object" && message !== null ? this.sizes.get(message) : undefined;
  }
}
