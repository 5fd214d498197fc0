"""The one exception the client raises for a failed call."""

from __future__ import annotations

import grpc


class VectorDbError(Exception):
    """A call failed: the server answered with a non-OK gRPC status, or the call never reached it.

    A few are raised by the client itself, with the status that fits: ``DATA_LOSS`` when a downloaded
    snapshot's size or SHA-256 differs from what the server reports, ``DEADLINE_EXCEEDED`` when
    ``ingest_stream`` saw no acknowledgement for its ``stall_timeout``.

    Attributes:
        code: the gRPC status, e.g. ``grpc.StatusCode.NOT_FOUND``. ``UNAVAILABLE`` when the server
            cannot be reached or is starting or shutting down; ``DEADLINE_EXCEEDED`` when the call
            took longer than its timeout.
        code_name: the status name, e.g. ``"NOT_FOUND"``.
        code_value: the status number, e.g. ``5``.
        details: the server's message, e.g. ``'[not_found] collection "docs" does not exist'``.

    ``str(error)`` is ``"NOT_FOUND: <details>"``. Arguments that are wrong before any call is made
    (a vector count that does not match the ids, an unknown distance name) raise ``ValueError`` or
    ``TypeError`` instead.
    """

    code: grpc.StatusCode
    code_name: str
    code_value: int
    details: str

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        self.code_value, _ = code.value
        self.code_name = code.name
        self.details = details
        super().__init__(f"{self.code_name}: {details}")

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "VectorDbError":
        """Wraps the ``grpc.RpcError`` that grpcio raises (it is also a ``grpc.Call`` with code/details)."""
        code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
        details = error.details() if isinstance(error, grpc.Call) else str(error)
        return cls(code if code is not None else grpc.StatusCode.UNKNOWN, details or "")
