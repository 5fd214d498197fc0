/**
 * The one error class of the database, with a closed set of codes. Every layer throws it; only the
 * transport layer turns it into a gRPC status (through {@link grpcStatusOf}), so the meaning of each
 * code is decided here once.
 *
 * Messages lead with the code and name the field and the limit, e.g.
 * `[invalid_argument] points[3].vector: has 64 components, the collection's dimension is 128`.
 */

/** The closed set of error codes. Each maps to exactly one gRPC status code. */
export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "resource_exhausted"
  | "failed_precondition"
  | "unavailable"
  | "data_loss"
  | "unauthenticated"
  | "deadline_exceeded"
  | "internal";

/**
 * gRPC status numbers (grpc/status.proto). Kept as plain numbers so that no layer below the transport
 * needs to import grpc-js.
 */
const grpcStatusByCode: Readonly<Record<ErrorCode, number>> = {
  invalid_argument: 3,
  deadline_exceeded: 4,
  not_found: 5,
  already_exists: 6,
  resource_exhausted: 8,
  failed_precondition: 9,
  internal: 13,
  unavailable: 14,
  data_loss: 15,
  unauthenticated: 16,
};

/** An error with a code from the closed set; `message` starts with `[code]`. */
export class VectorDbError extends Error {
  override readonly name = "VectorDbError";
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

/** The error code whose gRPC status is `status`, or undefined for a status outside the closed set. */
export function errorCodeOfGrpcStatus(status: number): ErrorCode | undefined {
  for (const [code, value] of Object.entries(grpcStatusByCode)) {
    if (value === status) return code as ErrorCode;
  }
  return undefined;
}
