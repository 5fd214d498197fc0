/**
 * The one error class of the database, with a closed set of codes, on both sides of the wire. Every
 * server layer throws it; only the transport layer turns it into a gRPC status (through
 * {@link grpcStatusOf}), so the meaning of each code is decided here once. The client's `RpcError`
 * (`src/rpc/rpc-error.ts`) is the same class, built back from the status a call failed with.
 *
 * Messages lead with the code and name the field and the limit, e.g.
 * `[invalid_argument] points[3].vector: has 64 components, the collection's dimension is 128`.
 */

import { echoCharsMax } from "./config.js";

/**
 * gRPC status numbers (grpc/status.proto) by error code. Kept as plain numbers so that no layer below
 * the transport needs to import grpc-js. The server throws only the codes documented in the API; the
 * rest (`cancelled`, `unknown`, …) reach a client from its own transport.
 */
const grpcStatusByCode = {
  cancelled: 1,
  unknown: 2,
  invalid_argument: 3,
  deadline_exceeded: 4,
  not_found: 5,
  already_exists: 6,
  permission_denied: 7,
  resource_exhausted: 8,
  failed_precondition: 9,
  aborted: 10,
  out_of_range: 11,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  data_loss: 15,
  unauthenticated: 16,
} as const;

/** The closed set of error codes: one per gRPC status other than OK. */
export type ErrorCode = keyof typeof grpcStatusByCode;

/** An error with a code from the closed set; `message` starts with `[code]`. */
export class VectorDbError extends Error {
  override readonly name: string = "VectorDbError";
  /** Message without the `[code]` prefix. */
  readonly rawMessage: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`[${code}] ${message}`, options);
    this.rawMessage = message;
  }
}

/**
 * A value the client sent, as an error message shows it: JSON-quoted, cut to its first
 * {@link echoCharsMax} characters with its length after it when longer, so that no client input can
 * make a status message large (`"aaaa…aaa…" (20000 characters)`).
 */
export function quote(value: string): string {
  if (value.length <= echoCharsMax) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, echoCharsMax))}… (${value.length} characters)`;
}

/**
 * `text` with every unpaired UTF-16 surrogate replaced by U+FFFD. A status message must be well formed:
 * grpc-js percent-encodes it with encodeURI, which throws on a lone surrogate, and the call then never
 * gets a status at all. Cutting a string at a fixed length can split a pair.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

/** Shorthand for `new VectorDbError("invalid_argument", message)`. */
export function invalidArgument(message: string): VectorDbError {
  return new VectorDbError("invalid_argument", message);
}

/**
 * The gRPC status number for an error: the mapped code for a {@link VectorDbError}, INTERNAL (13) for
 * anything else (a bug, never the client's fault).
 */
export function grpcStatusOf(error: unknown): number {
  return error instanceof VectorDbError ? grpcStatusByCode[error.code] : grpcStatusByCode.internal;
}

/** The error code whose gRPC status is `status`, or undefined for a status outside the closed set (OK, or unknown numbers). */
export function errorCodeOfGrpcStatus(status: number): ErrorCode | undefined {
  for (const [code, value] of Object.entries(grpcStatusByCode)) {
    if (value === status) return code as ErrorCode;
  }
  return undefined;
}

/** The gRPC name of a code's status, e.g. `INVALID_ARGUMENT`. */
export function grpcStatusName(code: ErrorCode): string {
  return code.toUpperCase();
}
