import type * as http2 from "node:http2";
import type * as grpc from "@grpc/grpc-js";
import { statusMessageBytesMax } from "../config.js";
import { quote, wellFormed } from "../errors.js";

/**
 * The last word on every gRPC status the server sends, whoever made it: our handlers, the health and
 * reflection services, or grpc-js itself (which answers some faults before any handler runs).
 *
 * - **Bounded.** The `grpc-message` trailer is cut to {@link statusMessageBytesMax} bytes (percent-
 *   encoded), so no status can exceed a client's metadata limit: gRPC C-core clients (Python, Go
 *   through cgo, …) drop the whole HTTP/2 connection when a status is larger than that, failing every
 *   other call on it. (The health service, for one, echoes the service name it was asked about.)
 * - **The client's fault is not INTERNAL.** grpc-js answers INTERNAL for a request it cannot
 *   decompress, a malformed `grpc-timeout` header, or (for the services whose deserializers throw:
 *   health, reflection) a message that does not decode; these become INVALID_ARGUMENT.
 * - **Our limit's name.** grpc-js refuses a message larger than `grpc.max_receive_message_length`
 *   as soon as its length prefix arrives (nothing is buffered), in its own words; the status names
 *   `message_bytes_max` instead, as every other limit does.
 *
 * grpc-js offers no hook for the statuses it makes itself (server interceptors see only those of the
 * handlers), so this works one level down: it wraps `respond` (trailers-only responses) and
 * `sendTrailers` of each HTTP/2 stream before grpc-js sees the stream. Reaching grpc-js's HTTP/2
 * servers uses one private field of grpc-js 1.14 (`http2Servers`); {@link guardStatuses} throws at
 * startup if it is missing, and test/abuse.test.ts checks every rewrite through a real client.
 */

/** The message texts grpc-js 1.14 makes itself, and what the client gets instead (null: unchanged). */
function rewrite(code: number, message: string, messageBytesMax: number): [number, string] | null {
  let match: RegExpMatchArray | null;
  if (code === 8 && (match = message.match(/^Received message larger than max \((\d+) vs (\d+)\)/)) !== null) {
    return [8, `[resource_exhausted] request: the message is ${match[1]} bytes, the limit is message_bytes_max ${messageBytesMax}`];
  }
  if (code === 8 && /^Received message that decompresses to a size larger than/.test(message)) {
    return [8, `[resource_exhausted] request: the message decompresses to more than message_bytes_max ${messageBytesMax} bytes`];
  }
  if (code === 8 && (match = message.match(/^Sent message larger than max \((\d+) vs (\d+)\)/)) !== null) {
    return [8, `[resource_exhausted] response: the message would be ${match[1]} bytes, the limit is message_bytes_max ${messageBytesMax}; ask for fewer points or leave vectors out`];
  }
  if (code === 13 && /^Error deserializing request/.test(message)) {
    return [3, "[invalid_argument] request: not a valid request message for this method"];
  }
  if (code === 13 && /^Failed to decompress message/.test(message)) {
    return [3, "[invalid_argument] request: the message does not decompress with its grpc-encoding"];
  }
  if (code === 13 && (match = message.match(/^Invalid grpc-timeout value "(.*)"$/s)) !== null) {
    return [3, `[invalid_argument] grpc-timeout: ${quote(match[1]!)} is not a valid timeout`];
  }
  if (code === 12 && (match = message.match(/^The server does not implement the method (.*)$/s)) !== null) {
    return [12, `[unimplemented] the server does not implement the method ${quote(match[1]!)}`];
  }
  return null;
}

/** Percent-decodes a `grpc-message` value (grpc-js encodes with encodeURI; some of its paths do not encode at all). */
function decodeMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * `text` percent-encoded in at most `bytesMax` bytes: whole when it fits, else its start and
 * `… (cut: N characters)`.
 */
export function encodeBoundedMessage(text: string, bytesMax = statusMessageBytesMax): string {
  const clean = wellFormed(text);
  const encoded = encodeURI(clean);
  if (encoded.length <= bytesMax) return encoded;
  const suffix = encodeURI(`… (cut: ${clean.length} characters)`);
  let keep = Math.min(clean.length, bytesMax - suffix.length);
  for (;;) {
    if (keep > 0 && /[\uD800-\uDBFF]/.test(clean[keep - 1]!)) keep--;
    const cut = encodeURI(clean.slice(0, keep)) + suffix;
    if (cut.length <= bytesMax || keep === 0) return cut;
    keep = Math.floor(keep * 0.75);
  }
}

/** The headers as the client must see them: the status message rewritten where needed and bounded. */
function guardHeaders(headers: http2.OutgoingHttpHeaders | undefined, messageBytesMax: number): http2.OutgoingHttpHeaders | undefined {
  const status = headers?.["grpc-status"];
  if (headers === undefined || status === undefined || status === 0 || status === "0") return headers;
  const raw = headers["grpc-message"];
  const code = Number(status);
  const text = decodeMessage(typeof raw === "string" ? raw : "");
  const replaced = text.startsWith("[") ? null : rewrite(code, text, messageBytesMax);
  const [newCode, newText] = replaced ?? [code, text];
  return { ...headers, "grpc-status": String(newCode), "grpc-message": encodeBoundedMessage(newText) };
}

type Respond = (headers?: http2.OutgoingHttpHeaders, options?: http2.ServerStreamResponseOptions) => void;
type SendTrailers = (headers: http2.OutgoingHttpHeaders) => void;

/** The HTTP/2 servers grpc-js listens with (grpc-js 1.14 keeps them in the private `http2Servers` map). */
function http2ServersOf(server: grpc.Server): http2.Http2Server[] {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    throw new Error("grpc-js has no `http2Servers` map any more (its internals changed): see src/transport/status-guard.ts");
  }
  return [...servers.keys()] as http2.Http2Server[];
}

/**
 * Guards every status of `server` (see the module documentation). Call after `bindAsync` has
 * resolved and before any connection can be served; `messageBytesMax` is the limit grpc-js enforces.
 * @throws Error when grpc-js's internals are not what this expects.
 */
export function guardStatuses(server: grpc.Server, messageBytesMax: number): void {
  let respond: Respond | undefined;
  let sendTrailers: SendTrailers | undefined;
  // Shared by every stream (no closure per call); `this` is the stream.
  function guardedRespond(this: http2.ServerHttp2Stream, headers?: http2.OutgoingHttpHeaders, options?: http2.ServerStreamResponseOptions): void {
    respond!.call(this, guardHeaders(headers, messageBytesMax), options);
  }
  function guardedSendTrailers(this: http2.ServerHttp2Stream, headers: http2.OutgoingHttpHeaders): void {
    sendTrailers!.call(this, guardHeaders(headers, messageBytesMax)!);
  }
  const onStream = (stream: http2.ServerHttp2Stream): void => {
    respond ??= stream.respond;
    sendTrailers ??= stream.sendTrailers;
    stream.respond = guardedRespond;
    stream.sendTrailers = guardedSendTrailers;
  };
  for (const http2Server of http2ServersOf(server)) http2Server.prependListener("stream", onStream);
}
