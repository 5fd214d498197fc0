import { readdirSync, readlinkSync } from "node:fs";
import { connect } from "node:net";
import * as grpc from "@grpc/grpc-js";

/**
 * The wire below the typed client, for tests that send what no well-behaved client would: raw message
 * bytes to any method, broken HTTP/2 frames, and a count of this process's sockets (the test servers
 * run in the test's process).
 */

/** How a raw call ended: the gRPC status, its message and, on success, the response bytes. */
export interface RawResult {
  code: number;
  details: string;
  response?: Buffer;
}

const identity = (bytes: Buffer): Buffer => bytes;

/** A grpc-js channel that sends and receives message bytes as they are (no (de)serialisation). */
export function rawClient(address: string, options: grpc.ChannelOptions = {}): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), options);
}

function resultOf(error: grpc.ServiceError | null, response: Buffer | undefined): RawResult {
  if (error !== null) return { code: error.code, details: error.details };
  return { code: 0, details: "", ...(response === undefined ? {} : { response }) };
}

/** A unary call to `path` with `bytes` as the request message. */
export function rawUnary(client: grpc.Client, path: string, bytes: Uint8Array, timeoutMs = 10_000): Promise<RawResult> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, identity, identity, Buffer.from(bytes), new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) =>
      resolve(resultOf(error, response)),
    );
  });
}

/** A client-streaming call to `path` sending `messages` (raw bytes each), then half-closing. */
export function rawClientStream(client: grpc.Client, path: string, messages: readonly Uint8Array[], timeoutMs = 10_000): Promise<RawResult> {
  return new Promise((resolve) => {
    const call = client.makeClientStreamRequest(path, identity, identity, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) =>
      resolve(resultOf(error, response)),
    );
    for (const message of messages) call.write(Buffer.from(message));
    call.end();
  });
}

/** A server-streaming call to `path` (health Watch): the first status or message, then cancelled. */
export function rawServerStream(client: grpc.Client, path: string, bytes: Uint8Array, timeoutMs = 10_000): Promise<RawResult> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(path, identity, identity, Buffer.from(bytes), new grpc.Metadata(), { deadline: Date.now() + timeoutMs });
    call.once("data", (response: Buffer) => {
      resolve({ code: 0, details: "", response });
      call.cancel();
    });
    call.once("error", (error: grpc.ServiceError) => resolve({ code: error.code, details: error.details }));
    call.once("status", (status: grpc.StatusObject) => resolve({ code: status.code, details: status.details }));
  });
}

/** A bidi-streaming call to `path` (reflection): sends `bytes`, half-closes; the first status or message, then cancelled. */
export function rawBidi(client: grpc.Client, path: string, bytes: Uint8Array, timeoutMs = 10_000): Promise<RawResult> {
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(path, identity, identity, new grpc.Metadata(), { deadline: Date.now() + timeoutMs });
    call.once("data", (response: Buffer) => {
      resolve({ code: 0, details: "", response });
      call.cancel();
    });
    call.once("error", (error: grpc.ServiceError) => resolve({ code: error.code, details: error.details }));
    call.once("status", (status: grpc.StatusObject) => resolve({ code: status.code, details: status.details }));
    call.write(Buffer.from(bytes));
    call.end();
  });
}

/** The sockets this process holds open (TCP listeners and connections, both ends), from /proc/self/fd. */
export function socketFdCount(): number {
  let count = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:")) count++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return count;
}

/** The HTTP/2 client preface and an empty SETTINGS frame: what every connection starts with. */
export const http2Preface = Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), Buffer.from("000000040000000000", "hex")]);

/** Frames that break the HTTP/2 protocol right after the preface (each makes the server send GOAWAY). */
export const protocolErrorFrames: Readonly<Record<string, Buffer>> = {
  // DATA frame declaring 16 MiB on stream 1, beyond the default SETTINGS_MAX_FRAME_SIZE.
  oversizeFrame: Buffer.from("ffffff000000000001", "hex"),
  // HEADERS on stream 1 whose HPACK block refers to index 0, which does not exist.
  badHpack: Buffer.from("00000101050000000180", "hex"),
  // Bytes that are no frame at all.
  garbage: Buffer.from("deadbeefdeadbeefdeadbeefdeadbeef", "hex"),
};

/**
 * Connects to 127.0.0.1:`port`, sends `bytes`, half-closes, and destroys the socket after `lingerMs`
 * (or when the server closes first). Resolves once this side's socket is closed.
 */
export function sendAndClose(port: number, bytes: Uint8Array, lingerMs = 100): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.write(bytes);
      socket.end();
    });
    socket.on("error", () => {});
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Polls `condition` every 50 ms until it holds (resolves true) or `timeoutMs` passes (false). */
export async function eventually(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}
