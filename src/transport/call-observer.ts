import type { Logger } from "pino";
import { errorCodeOfGrpcStatus, grpcStatusName } from "../errors.js";
import type { MessageSizes } from "./message-sizes.js";
import type { CallHooks, CallInfo } from "./service-adapter.js";

/** Where {@link CallObserver} reports a finished call. */
export interface CallSink {
  /** `method` as `Service/Method` (e.g. `PointService/Search`), `code` the gRPC status name, `seconds` the latency. */
  observeCall(method: string, code: string, seconds: number): void;
}

/**
 * Sees every call of the data services end, refused ones included (UNAVAILABLE while starting,
 * UNAUTHENTICATED, …): reports it to the metrics (count and latency by method and status) and logs one
 * line at debug level with the method, the collection named by a unary request, the status, the
 * milliseconds, and the request and response sizes in bytes (unary calls, when `sizes` records them). Expected outcomes of a client's own doing
 * (CANCELLED, DEADLINE_EXCEEDED) are never logged above debug.
 */
export class CallObserver implements CallHooks {
  private readonly startedAt = new WeakMap<CallInfo, number>();

  constructor(
    private readonly sink: CallSink | undefined,
    private readonly logger: Logger,
    private readonly sizes?: MessageSizes,
  ) {}

  /** Notes the arrival: this observer comes first among the hooks, so refused calls are timed too. */
  admit(call: CallInfo): void {
    this.startedAt.set(call, performance.now());
  }

  refused(call: CallInfo, code: number): void {
    this.finished(call, code);
  }

  finished(call: CallInfo, code: number): void {
    const started = this.startedAt.get(call);
    const ms = started === undefined ? 0 : performance.now() - started;
    const method = call.path.slice(call.path.lastIndexOf(".") + 1);
    const errorCode = errorCodeOfGrpcStatus(code);
    const status = code === 0 ? "OK" : errorCode === undefined ? String(code) : grpcStatusName(errorCode);
    this.sink?.observeCall(method, status, ms / 1000);
    if (this.logger.isLevelEnabled("debug")) {
      const request = call.request as { collection?: unknown; name?: unknown } | undefined;
      const collection = typeof request?.collection === "string" ? request.collection : typeof request?.name === "string" ? request.name : undefined;
      const requestBytes = this.sizes?.bytesOf(call.request);
      const responseBytes = this.sizes?.bytesOf(call.response);
      this.logger.debug({ method, collection, status, ms: Math.round(ms * 100) / 100, requestBytes, responseBytes }, "call");
    }
  }
}
