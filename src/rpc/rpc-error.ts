import { errorCodeOfGrpcStatus, grpcStatusName, VectorDbError } from "../errors.js";

/**
 * A failed call as the client sees it: the database's {@link VectorDbError}, with its `code` taken
 * from the gRPC status, plus the status itself. `message` is `STATUS_NAME: details`.
 */
export class RpcError extends VectorDbError {
  override readonly name: string = "RpcError";

  constructor(
    /** gRPC status number (3 INVALID_ARGUMENT, 5 NOT_FOUND, ...). */
    readonly status: number,
    /** The server's message (it leads with `[code]`). */
    readonly details: string,
  ) {
    super(errorCodeOfGrpcStatus(status) ?? "unknown", details.replace(/^\[[a-z_]+\] /, ""));
    this.message = `${this.statusName}: ${details}`;
  }

  /** The status name, e.g. `INVALID_ARGUMENT` (the number, for a status outside the gRPC set). */
  get statusName(): string {
    const code = errorCodeOfGrpcStatus(this.status);
    return code === undefined ? String(this.status) : grpcStatusName(code);
  }
}

/** An {@link RpcError} for a grpc-js call error (anything with a numeric `code`); other errors as they are. */
export function rpcErrorOf(error: unknown): Error {
  if (error !== null && typeof error === "object" && "code" in error && typeof error.code === "number") {
    const details = "details" in error && typeof error.details === "string" ? error.details : String(error);
    return new RpcError(error.code, details);
  }
  return error instanceof Error ? error : new Error(String(error));
}
