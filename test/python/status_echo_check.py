#!/usr/bin/python3
"""Statuses that echo long client values must not break a gRPC C-core client's connection.

grpcio (C-core) drops the whole HTTP/2 connection when a status is larger than its metadata limit
(8 KiB): every other call on that channel fails with it. This opens an Ingest stream, then, on the same
channel while the stream is open, makes three calls whose error statuses quote long client values
(a health Check of an 8,000-character service name, a NaN under a 20,000-character payload key, an
Ingest naming a 20,000-character collection in its second message), then finishes the stream. The
server bounds every status, so all of it must work on the one connection.

Usage: /usr/bin/python3 test/python/status_echo_check.py HOST:PORT STUB_DIR
Prints one JSON summary line and exits 0 when every check passes; "FAIL: <what>" on stderr and exit 1
otherwise (2 for bad usage).
"""

import json
import math
import sys
import threading
import uuid

TIMEOUT_S = 10.0

if len(sys.argv) != 3:
    print("usage: status_echo_check.py HOST:PORT STUB_DIR", file=sys.stderr)
    sys.exit(2)
ADDRESS, STUB_DIR = sys.argv[1], sys.argv[2]
sys.path.insert(0, STUB_DIR)

try:
    import grpc
    from google.protobuf import struct_pb2
    from vectordb.v1 import collection_pb2
    from vectordb.v1 import collection_service_pb2 as cs_pb2
    from vectordb.v1 import collection_service_pb2_grpc as cs_grpc
    from vectordb.v1 import point_pb2
    from vectordb.v1 import point_service_pb2 as ps_pb2
    from vectordb.v1 import point_service_pb2_grpc as ps_grpc
except ImportError as error:
    print(f"cannot import grpc or the generated stubs from {STUB_DIR}: {error}", file=sys.stderr)
    sys.exit(2)


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def failed_status(what, call):
    """Runs `call`, which must fail; returns (status name, details length in bytes)."""
    try:
        call()
    except grpc.RpcError as error:
        details = error.details() or ""
        return error.code().name, len(details.encode("utf-8")), details[:80]
    raise AssertionError(f"{what}: expected an error, but the call succeeded")


def run():
    channel = grpc.insecure_channel(ADDRESS)
    grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)
    collections = cs_grpc.CollectionServiceStub(channel)
    points = ps_grpc.PointServiceStub(channel)
    name = f"py_echo_{uuid.uuid4().hex[:12]}"
    collections.CreateCollection(
        cs_pb2.CreateCollectionRequest(name=name, dimension=2, distance=collection_pb2.DISTANCE_EUCLIDEAN), timeout=TIMEOUT_S
    )

    gate = threading.Event()

    def batches():
        yield ps_pb2.IngestRequest(collection=name, points=[point_pb2.Point(id="s0", vector=[1.0, 2.0])])
        gate.wait(TIMEOUT_S)
        yield ps_pb2.IngestRequest(points=[point_pb2.Point(id="s1", vector=[3.0, 4.0])])

    stream = points.Ingest.future(batches(), timeout=3 * TIMEOUT_S)

    health = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    service = b"x" * 8000
    summary = {"health": failed_status("health", lambda: health(b"\x0a" + varint(len(service)) + service, timeout=TIMEOUT_S))}

    payload = struct_pb2.Struct()
    payload.update({"k" * 20000: math.nan})
    nan_point = point_pb2.Point(id="n", vector=[1.0, 1.0], payload=payload)
    summary["nan_key"] = failed_status("nan_key", lambda: points.Upsert(ps_pb2.UpsertRequest(collection=name, points=[nan_point]), timeout=TIMEOUT_S))

    switched = [ps_pb2.IngestRequest(collection=name), ps_pb2.IngestRequest(collection="c" * 20000)]
    summary["switched"] = failed_status("switched", lambda: points.Ingest(iter(switched), timeout=TIMEOUT_S))

    gate.set()
    result = stream.result(timeout=3 * TIMEOUT_S)
    summary["ingest_batches"] = result.batches
    summary["point_count"] = collections.GetCollection(cs_pb2.GetCollectionRequest(name=name), timeout=TIMEOUT_S).collection.point_count
    collections.DeleteCollection(cs_pb2.DeleteCollectionRequest(name=name), timeout=TIMEOUT_S)
    channel.close()
    summary["ok"] = True
    print(json.dumps(summary))


try:
    run()
except Exception as error:  # noqa: BLE001 - report any failure as one line
    print(f"FAIL: {type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)
