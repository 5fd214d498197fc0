#!/usr/bin/python3
"""End-to-end check of the Python client package (clients/python, import name vectordb_grpc_client).

Usage: /usr/bin/python3 test/python/package_check.py HOST:PORT
  The package must be importable: from source (PYTHONPATH=clients/python/src) or installed in the
  interpreter's environment (a venv's python). Needs numpy, and openssl on PATH for the TLS check.

Checks every Client method against the real server at HOST:PORT (numpy and plain-list vectors, every
ingest item form, flow of errors), then `tls` and `api_key` against a small grpcio TLS server that
this script starts on 127.0.0.1 (the vectordb server speaks plaintext only, for now).

Prints one JSON summary line on stdout and exits 0 when every check passes; on the first failure it
prints "FAIL: <what>" on stderr and exits 1 (2 for bad usage or a package that does not import).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent import futures

if len(sys.argv) != 2:
    print("usage: package_check.py HOST:PORT", file=sys.stderr)
    sys.exit(2)
ADDRESS = sys.argv[1]

try:
    import grpc
    import numpy as np

    import vectordb_grpc_client
    from vectordb_grpc_client import Batch, Client, Hit, Point, Query, VectorDbError
    from vectordb_grpc_client.vectordb.v1 import point_pb2
except ImportError as error:
    print(f"cannot import grpc, numpy or vectordb_grpc_client: {error}", file=sys.stderr)
    sys.exit(2)

TIMEOUT_S = 10.0
DIM = 8
checks = []


def passed(name):
    checks.append(name)


def expect_error(code, fn, what, mentions=None):
    try:
        fn()
    except VectorDbError as error:
        assert error.code == code, f"{what}: expected {code.name}, got {error.code_name}: {error.details}"
        assert error.code_name == code.name and error.code_value == code.value[0], f"{what}: code fields {error!r}"
        assert str(error) == f"{code.name}: {error.details}", f"{what}: str(error) is {str(error)!r}"
        if mentions is not None:
            assert mentions in error.details, f"{what}: details {error.details!r} do not mention {mentions!r}"
        return error
    raise AssertionError(f"{what}: expected VectorDbError {code.name}, but the call succeeded")


def expect_raises(kind, fn, what):
    try:
        fn()
    except kind as error:
        return error
    raise AssertionError(f"{what}: expected {kind.__name__}")


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def check_server(summary):
    name = f"pkg_{uuid.uuid4().hex[:10]}"
    # api_key is sent as metadata; the server ignores it today, so every call must work with it.
    c = Client(ADDRESS, api_key="test-key", timeout=TIMEOUT_S)
    assert c.health() == "SERVING", "health"
    assert c.health("vectordb.v1.PointService") == "SERVING", "health of a named service"
    passed("health")

    info = c.create_collection(name, dimension=DIM, distance="cosine", m=8, ef_construction=64)
    assert (info.name, info.dimension, info.distance, info.m, info.ef_construction) == (name, DIM, "cosine", 8, 64), info
    assert info.ef > 0 and info.point_count == 0, info
    expect_error(grpc.StatusCode.ALREADY_EXISTS, lambda: c.create_collection(name, dimension=DIM), "create twice")
    expect_raises(ValueError, lambda: c.create_collection("x", dimension=DIM, distance="manhattan"), "unknown distance")
    assert name in [i.name for i in c.list_collections()], "list_collections"
    assert c.get_collection(name).dimension == DIM, "get_collection"
    assert info.quantization is None and not info.quantization_trained, info
    quantized = c.create_collection(name + "_int8", dimension=DIM, distance="euclidean", quantization="int8", quantile=0.95)
    assert quantized.quantization == "int8" and not quantized.quantization_trained, quantized
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: c.create_collection("q", dimension=DIM, quantization="int8", quantile=0.3), "quantile", "quantization.scalar.quantile")
    expect_raises(ValueError, lambda: c.create_collection("q", dimension=DIM, quantile=0.9), "quantile without quantization")
    c.upsert(name + "_int8", ids=["a"], vectors=[[1.0] * DIM])
    assert [h.id for h in c.search(name + "_int8", [1.0] * DIM, k=1, rescore=False, oversampling=3.0)] == ["a"], "search with rescore"
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: c.search(name + "_int8", [1.0] * DIM, k=1, oversampling=0.5), "oversampling", "oversampling")
    c.delete_collection(name + "_int8")
    passed("collections")

    # upsert: numpy float32 (n, d), the exact call of the issue.
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((6, DIM)).astype(np.float32)
    ids = [f"p{i}" for i in range(6)]
    payloads = [{"lang": "en" if i % 2 else "fr", "n": i, "tags": ["t", i], "meta": {"ok": i > 2, "none": None}} for i in range(6)]
    result = c.upsert(name, ids=ids, vectors=vectors, payloads=payloads)
    assert (result.inserted, result.updated) == (6, 0), result
    # list of lists (and float64 numpy, converted to float32) replace two points (vector and payload).
    result = c.upsert(
        name, ids=["p0", "p1"], vectors=[list(map(float, vectors[0])), vectors[1].astype(np.float64)], payloads=payloads[:2]
    )
    assert (result.inserted, result.updated) == (0, 2), result
    result = c.upsert(name, ids=["q0"], vectors=np.ones((1, DIM), dtype=np.float64), payloads=[None])
    assert (result.inserted, result.updated) == (1, 0), result
    expect_raises(ValueError, lambda: c.upsert(name, ids=["a", "b"], vectors=vectors[:1]), "fewer vectors than ids")
    expect_raises(ValueError, lambda: c.upsert(name, ids=["a"], vectors=vectors[:1], payloads=[{}, {}]), "more payloads")
    expect_raises(ValueError, lambda: c.upsert(name, ids=["a"], vectors=vectors[0]), "1-D array as vectors")
    expect_raises(TypeError, lambda: c.upsert(name, ids="a", vectors=vectors[:1]), "one str as ids")
    expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: c.upsert(name, ids=["bad"], vectors=[[1.0, 2.0]]),
        "upsert with a wrong dimension",
        mentions="dimension",
    )
    passed("upsert")

    # get: payloads as plain dicts (whole numbers back as int), vectors normalised (cosine).
    got = c.get(name, ["p3", "missing", "q0"])
    assert [p.id for p in got] == ["p3", "q0"], got
    assert got[0].payload == payloads[3], f"payload round trip: {got[0].payload} != {payloads[3]}"
    assert isinstance(got[0].payload["n"], int), got[0].payload
    assert np.allclose(got[0].vector, unit(vectors[3]), atol=1e-6), "get: vector not the unit vector"
    assert got[1].payload == {}, f"a point upserted with payload None: {got[1].payload}"
    bare = c.get(name, ["p3"], with_payload=False, with_vector=False)[0]
    assert bare == Point(id="p3", vector=None, payload=None), bare
    passed("get")

    # search: the call, then filters as a dict and as a Filter message, threshold, vectors.
    hits = c.search(name, vectors[3], k=3, filter=None)
    assert len(hits) == 3 and all(isinstance(h, Hit) for h in hits), hits
    assert hits[0].id == "p3" and abs(hits[0].score - 1.0) < 1e-5, hits[0]
    assert hits[0].payload == payloads[3] and hits[0].vector is None, hits[0]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:])), "hits not best first"
    english = {"must": [{"field": {"key": "lang", "equals": "en"}}], "must_not": [{"has_id": {"ids": ["p5"]}}]}
    hits = c.search(name, vectors[3].tolist(), k=10, filter=english, with_vector=True)
    assert sorted(h.id for h in hits) == ["p1", "p3"], [h.id for h in hits]
    assert all(len(h.vector) == DIM for h in hits), "with_vector"
    as_message = point_pb2.Filter(must=[point_pb2.Condition(field=point_pb2.FieldCondition(key="n", range=point_pb2.Range(gte=4)))])
    assert sorted(h.id for h in c.search(name, vectors[0], k=10, filter=as_message)) == ["p4", "p5"], "Filter message"
    hits = c.search(name, vectors[3], k=10, score_threshold=0.999, exact=True, with_payload=False)
    assert [h.id for h in hits] == ["p3"] and hits[0].payload is None, hits
    expect_raises(ValueError, lambda: c.search(name, vectors[0], filter={"must": [{"nope": 1}]}), "malformed filter")
    summary["dimension_error"] = expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, lambda: c.search(name, [1.0, 2.0], k=3), "search with 2 components", mentions="dimension"
    ).details
    expect_error(grpc.StatusCode.NOT_FOUND, lambda: c.search(f"{name}_missing", vectors[0]), "search a missing collection")
    passed("search")

    # batch_search: a 2-D array, then vectors mixed with Query objects that override the shared settings.
    results = c.batch_search(name, vectors[[3, 4]], k=2)
    assert [r[0].id for r in results] == ["p3", "p4"] and all(len(r) == 2 for r in results), results
    results = c.batch_search(
        name,
        [vectors[3], Query(vectors[4], k=1, with_payload=False, with_vector=True), Query(vectors[0], filter=english)],
        k=3,
    )
    assert [len(r) for r in results] == [3, 1, 2], [len(r) for r in results]
    assert results[1][0].payload is None and len(results[1][0].vector) == DIM, results[1]
    assert results[0][0].payload is not None and results[0][0].vector is None, results[0]
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: c.batch_search(name, [vectors[0], [1.0]]), "batch with a bad query", mentions="queries[1]")
    passed("batch_search")

    # ingest: every item form, grouped by batch_size; numpy rows and arrays.
    def items():
        for i in range(25):  # 25 single points → batches of 10, 10, 5
            yield (f"i{i}", rng.standard_normal(DIM).astype(np.float32), {"src": "gen"})
        yield Batch(ids=[f"b{i}" for i in range(23)], vectors=rng.standard_normal((23, DIM)))  # → 10, 10, 3
        yield {"id": "d0", "vector": [0.5] * DIM, "payload": {"src": "dict"}}
        yield Point(id="d1", vector=np.full(DIM, 0.25, dtype=np.float32))  # d0, d1 → one batch
        yield ([f"t{i}" for i in range(3)], rng.standard_normal((3, DIM)), [{"src": "tuple"}] * 3)
        yield {"ids": ["p0"], "vectors": vectors[:1], "payloads": payloads[:1]}  # an update

    totals = c.ingest(name, items(), batch_size=10)
    assert (totals.batches, totals.inserted, totals.updated) == (9, 53, 1), totals
    assert c.get_collection(name).point_count == 7 + 53, "point_count after ingest"
    assert c.get(name, ["t2"])[0].payload == {"src": "tuple"}, "tuple batch payload"
    passed("ingest_forms")

    # Lazy and flow-controlled: a bad batch (3rd message) ends the call; the producer is not drained.
    consumed = []

    def many_batches():
        for b in range(1000):
            consumed.append(b)
            width = 3 if b == 2 else DIM
            yield ([f"lazy-{b}-{j}" for j in range(100)], np.ones((100, width), dtype=np.float32))

    error = expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: c.ingest(name, many_batches()), "ingest a bad batch", mentions="batches[2]")
    summary["ingest_bad_batch_error"] = error.details
    summary["ingest_items_read_of_1000"] = len(consumed)
    assert len(consumed) < 100, f"ingest read {len(consumed)} of 1000 batches after the server refused batch 2"
    assert len(c.get(name, [f"lazy-1-{j}" for j in range(100)])) == 100, "batches before the bad one stay applied"
    assert c.get(name, ["lazy-2-0"]) == [], "the bad batch is not applied"

    def failing():
        yield ("f0", [1.0] * DIM)
        raise RuntimeError("producer failed")

    error = expect_raises(RuntimeError, lambda: c.ingest(name, failing(), batch_size=1), "producer exception")
    assert str(error) == "producer failed", error
    expect_raises(ValueError, lambda: c.ingest(name, [], batch_size=0), "batch_size 0")
    empty = c.ingest(name, iter(()))
    assert (empty.batches, empty.inserted) == (0, 0), empty
    passed("ingest_errors")

    # delete by ids and by filter; exactly one of them.
    assert c.delete(name, ["p4", "missing"]) == 1, "delete by ids"
    assert c.delete(name, filter={"must": [{"field": {"key": "src", "equals": "gen"}}]}) == 25, "delete by filter"
    expect_raises(ValueError, lambda: c.delete(name), "delete with neither ids nor filter")
    expect_raises(ValueError, lambda: c.delete(name, ["a"], filter=english), "delete with both")
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: c.delete(name, filter={}), "delete with an empty filter")
    passed("delete")

    # A deadline that passes is DEADLINE_EXCEEDED, as VectorDbError too: a producer that stalls for
    # 2 s after its first point, under a 0.3 s deadline for the whole stream.
    def stalling():
        yield ("s0", [1.0] * DIM)
        time.sleep(2.0)
        yield ("s1", [1.0] * DIM)

    expect_error(grpc.StatusCode.DEADLINE_EXCEEDED, lambda: c.ingest(name, stalling(), batch_size=1, timeout=0.3), "0.3 s deadline")
    count = c.get_collection(name).point_count
    assert c.delete_collection(name) == count, "delete_collection reports the points it held"
    expect_error(grpc.StatusCode.NOT_FOUND, lambda: c.get_collection(name), "get a dropped collection")
    c.close()
    with Client(ADDRESS) as scoped:
        assert scoped.health() == "SERVING", "context manager"
    expect_error(grpc.StatusCode.UNAVAILABLE, lambda: Client("127.0.0.1:1", timeout=5).health(), "nothing listening")
    passed("lifecycle_errors")


def make_certificate(directory):
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60,
    )
    with open(key, "rb") as k, open(cert, "rb") as c:
        return k.read(), c.read()


def check_tls_and_api_key(summary):
    """tls=True/bytes/ChannelCredentials and api_key, against a grpcio TLS server answering Health/Check."""
    seen_keys = []

    def check(request_bytes, context):
        seen_keys.append(dict(context.invocation_metadata()).get("api-key"))
        return b"\x08\x01"  # HealthCheckResponse{status: SERVING}

    handler = grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(check)}
    )
    with tempfile.TemporaryDirectory() as directory:
        key, cert = make_certificate(directory)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)]))
    server.start()
    try:
        address = f"127.0.0.1:{port}"
        with Client(address, api_key="secret-1", tls=cert, timeout=TIMEOUT_S) as c:
            assert c.health() == "SERVING", "tls=<root cert bytes>"
        with Client(address, tls=grpc.ssl_channel_credentials(root_certificates=cert), timeout=TIMEOUT_S) as c:
            assert c.health() == "SERVING", "tls=ChannelCredentials"
        assert seen_keys == ["secret-1", None], f"api-key metadata seen by the server: {seen_keys}"
        # tls=True trusts the system's roots, which do not include this self-signed certificate.
        with Client(address, tls=True, timeout=5) as c:
            expect_error(grpc.StatusCode.UNAVAILABLE, c.health, "tls=True with a self-signed server certificate")
        # Plaintext to a TLS port fails too.
        with Client(address, timeout=5) as c:
            expect_error(grpc.StatusCode.UNAVAILABLE, c.health, "plaintext to a TLS server")
        expect_raises(TypeError, lambda: Client(address, tls="yes"), "tls as a str")
    finally:
        server.stop(grace=None)
    summary["api_keys_seen"] = seen_keys
    passed("tls_api_key")


def main():
    started = time.monotonic()
    summary = {
        "python": sys.version.split()[0],
        "grpcio": grpc.__version__,
        "numpy": np.__version__,
        "package_file": vectordb_grpc_client.__file__,
        "package_version": vectordb_grpc_client.__version__,
    }
    try:
        check_server(summary)
        check_tls_and_api_key(summary)
    except AssertionError as error:
        print(f"FAIL: {error} (passed so far: {checks})", file=sys.stderr)
        return 1
    except VectorDbError as error:
        print(f"FAIL: unexpected {error!r}: {error} (passed so far: {checks})", file=sys.stderr)
        return 1
    summary["checks"] = checks
    summary["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    summary["ok"] = True
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
