#!/usr/bin/python3
"""End-to-end check of the vectordb gRPC API from Python, with stubs generated from proto/.

Proves that a client generated in another language (grpcio + protoc's Python output) interoperates
with the server: unary calls, a client-streaming call, google.protobuf.Struct / Value payloads,
proto3 `optional` fields and gRPC status codes.

Usage: /usr/bin/python3 test/python/client_check.py HOST:PORT STUB_DIR
  STUB_DIR is the output of scripts/setup-python-client.sh (holds vectordb/v1/*_pb2*.py).

Prints one JSON summary line on stdout and exits 0 when every check passes; on the first failure it
prints "FAIL: <what>" on stderr and exits 1 (2 for bad usage or stubs that do not import).
Run with Debian's /usr/bin/python3: that is the interpreter with python3-grpcio and python3-protobuf.
"""

import json
import math
import sys
import time
import uuid

TIMEOUT_S = 10.0
DIM = 4


def usage_exit(message):
    print(f"usage: client_check.py HOST:PORT STUB_DIR\n{message}", file=sys.stderr)
    sys.exit(2)


if len(sys.argv) != 3:
    usage_exit("expected 2 arguments")
ADDRESS, STUB_DIR = sys.argv[1], sys.argv[2]
sys.path.insert(0, STUB_DIR)

try:
    import grpc
    import google.protobuf
    from google.protobuf import json_format, struct_pb2
    from vectordb.v1 import collection_pb2
    from vectordb.v1 import collection_service_pb2 as cs_pb2
    from vectordb.v1 import collection_service_pb2_grpc as cs_grpc
    from vectordb.v1 import point_pb2
    from vectordb.v1 import point_service_pb2 as ps_pb2
    from vectordb.v1 import point_service_pb2_grpc as ps_grpc
except ImportError as error:
    usage_exit(f"cannot import grpc or the generated stubs from {STUB_DIR}: {error}")

checks = []


def passed(name):
    checks.append(name)


def struct_of(obj):
    s = struct_pb2.Struct()
    s.update(obj)
    return s


def value_of(py):
    """A google.protobuf.Value holding a scalar (string, number, bool or None)."""
    v = struct_pb2.Value()
    if py is None:
        v.null_value = struct_pb2.NULL_VALUE
    elif isinstance(py, bool):
        v.bool_value = py
    elif isinstance(py, (int, float)):
        v.number_value = py
    else:
        v.string_value = py
    return v


def field_equals(key, py):
    return point_pb2.Condition(field=point_pb2.FieldCondition(key=key, equals=value_of(py)))


def field_range(key, **bounds):
    return point_pb2.Condition(field=point_pb2.FieldCondition(key=key, range=point_pb2.Range(**bounds)))


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def close(a, b, tol=1e-5):
    return abs(a - b) <= tol


def expect_error(code, fn, *, mentions=None, what):
    try:
        fn()
    except grpc.RpcError as error:
        assert error.code() == code, f"{what}: expected {code.name}, got {error.code().name}: {error.details()}"
        if mentions is not None:
            assert mentions in (error.details() or ""), f"{what}: details {error.details()!r} do not mention {mentions!r}"
        return error.details()
    raise AssertionError(f"{what}: expected {code.name}, but the call succeeded")


# Payloads exercise every google.protobuf.Value kind: nested object, list, number, string, bool, null.
PAYLOADS = {
    "a": {
        "name": "alpha",
        "price": 10,
        "ratio": 0.25,
        "active": True,
        "missing": None,
        "tags": ["red", "green", 3, False],
        "meta": {"lang": "en", "rank": {"score": 1.5, "labels": ["x"]}, "empty": {}},
    },
    "b": {"name": "beta", "price": 20, "active": False, "tags": [], "meta": {"lang": "en"}},
    "c": {"name": "gamma", "price": 30, "active": True, "tags": ["blue"], "meta": {"lang": "de"}},
}
VECTORS = {
    "a": [1.0, 0.0, 0.0, 0.0],
    "b": [0.9, 0.1, 0.0, 0.0],
    "c": [0.0, 1.0, 0.0, 0.0],
}


def run():
    summary = {
        "address": ADDRESS,
        "python": sys.version.split()[0],
        "grpcio": grpc.__version__,
        "protobuf": google.protobuf.__version__,
    }
    collection = f"py_client_{uuid.uuid4().hex[:12]}"
    summary["collection"] = collection
    channel = grpc.insecure_channel(ADDRESS)
    try:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)
    except grpc.FutureTimeoutError:
        raise AssertionError(f"could not connect to {ADDRESS} within {TIMEOUT_S} s")
    collections = cs_grpc.CollectionServiceStub(channel)
    points = ps_grpc.PointServiceStub(channel)
    started = time.monotonic()

    # Health (optional service): raw call, since Debian's grpcio has no grpc_health module.
    # HealthCheckRequest{service: ""} encodes as no bytes; HealthCheckResponse.status is field 1.
    try:
        health = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )(b"", timeout=TIMEOUT_S)
        assert health == b"\x08\x01", f"health: expected SERVING (08 01), got {health.hex()}"
        summary["health"] = "SERVING"
        passed("health")
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
        summary["health"] = "unimplemented"

    # CreateCollection: the response reports the effective HNSW defaults.
    created = collections.CreateCollection(
        cs_pb2.CreateCollectionRequest(name=collection, dimension=DIM, distance=collection_pb2.DISTANCE_COSINE),
        timeout=TIMEOUT_S,
    ).collection
    assert created.name == collection, f"CreateCollection: name {created.name!r}"
    assert created.dimension == DIM, f"CreateCollection: dimension {created.dimension}"
    assert created.distance == collection_pb2.DISTANCE_COSINE, f"CreateCollection: distance {created.distance}"
    assert created.point_count == 0, f"CreateCollection: point_count {created.point_count}"
    assert created.HasField("hnsw") and created.hnsw.m > 0 and created.hnsw.ef > 0, (
        f"CreateCollection: hnsw defaults not filled in: {created.hnsw}"
    )
    summary["hnsw"] = json_format.MessageToDict(created.hnsw, preserving_proto_field_name=True)
    passed("create_collection")

    expect_error(
        grpc.StatusCode.ALREADY_EXISTS,
        lambda: collections.CreateCollection(
            cs_pb2.CreateCollectionRequest(name=collection, dimension=DIM, distance=collection_pb2.DISTANCE_COSINE),
            timeout=TIMEOUT_S,
        ),
        what="CreateCollection twice",
    )
    passed("create_collection_already_exists")

    # Upsert 3 points with Struct payloads.
    upserted = points.Upsert(
        ps_pb2.UpsertRequest(
            collection=collection,
            points=[point_pb2.Point(id=i, vector=VECTORS[i], payload=struct_of(PAYLOADS[i])) for i in "abc"],
        ),
        timeout=TIMEOUT_S,
    )
    assert upserted.inserted == 3 and upserted.updated == 0, f"Upsert: {upserted}"
    passed("upsert")

    # Get: optional with_payload / with_vector left unset -> server defaults (both true).
    got = points.Get(ps_pb2.GetRequest(collection=collection, ids=["a", "nope"]), timeout=TIMEOUT_S).points
    assert [p.id for p in got] == ["a"], f"Get: ids {[p.id for p in got]} (missing ids must be omitted)"
    assert got[0].payload == struct_of(PAYLOADS["a"]), (
        f"Get: payload does not round-trip:\n sent {PAYLOADS['a']}\n got  {json_format.MessageToDict(got[0].payload)}"
    )
    assert json_format.MessageToDict(got[0].payload) == PAYLOADS["a"], "Get: payload differs as a dict"
    assert list(got[0].vector) == VECTORS["a"], f"Get: vector {list(got[0].vector)}"
    passed("get_roundtrip")

    # Get with explicit with_payload=false: payload absent, vector present.
    bare = points.Get(
        ps_pb2.GetRequest(collection=collection, ids=["c"], with_payload=False), timeout=TIMEOUT_S
    ).points[0]
    assert not bare.HasField("payload"), f"Get with_payload=false: payload present: {bare.payload}"
    assert list(bare.vector) == VECTORS["c"], f"Get with_payload=false: vector {list(bare.vector)}"
    passed("get_with_payload_false")

    # Search with a filter: meta.lang == "en" AND price >= 10 (inclusive; proto3 optional `gte`).
    rng = point_pb2.Range(gte=10)
    assert rng.HasField("gte") and not rng.HasField("lte"), "Range: proto3 optional presence not generated"
    hits = points.Search(
        ps_pb2.SearchRequest(
            collection=collection,
            vector=[2.0, 0.0, 0.0, 0.0],  # same direction as "a", different length
            k=10,
            filter=point_pb2.Filter(must=[field_equals("meta.lang", "en"), field_range("price", gte=10)]),
        ),
        timeout=TIMEOUT_S,
    ).hits
    assert [h.id for h in hits] == ["a", "b"], f"Search: ids {[h.id for h in hits]}, expected ['a', 'b']"
    assert close(hits[0].score, 1.0), f"Search: score of identical direction {hits[0].score}, expected 1.0"
    expected_b = cosine([1, 0, 0, 0], VECTORS["b"])
    assert close(hits[1].score, expected_b), f"Search: score of b {hits[1].score}, expected cosine {expected_b}"
    # Defaults: with_payload true, with_vector false.
    assert hits[0].payload == struct_of(PAYLOADS["a"]), "Search: payload missing or different (default with_payload)"
    assert len(hits[0].vector) == 0, f"Search: vector returned by default: {list(hits[0].vector)}"
    summary["search_scores"] = [round(h.score, 6) for h in hits]
    passed("search_filter")

    # Search: price >= 20 (excludes a), ranked against c's direction; score_threshold as optional float.
    hits = points.Search(
        ps_pb2.SearchRequest(
            collection=collection,
            vector=VECTORS["c"],
            k=5,
            filter=point_pb2.Filter(must=[field_range("price", gte=20)]),
            exact=True,
        ),
        timeout=TIMEOUT_S,
    ).hits
    assert [h.id for h in hits] == ["c", "b"], f"Search price>=20: ids {[h.id for h in hits]}, expected ['c', 'b']"
    assert hits[0].score >= hits[1].score, "Search: hits not ordered best first"
    hits = points.Search(
        ps_pb2.SearchRequest(collection=collection, vector=VECTORS["c"], k=5, score_threshold=0.5), timeout=TIMEOUT_S
    ).hits
    assert [h.id for h in hits] == ["c"], f"Search score_threshold=0.5: ids {[h.id for h in hits]}, expected ['c']"
    passed("search_order_threshold")

    # BatchSearch with 2 queries; the second asks for vectors and no payloads.
    results = points.BatchSearch(
        ps_pb2.BatchSearchRequest(
            collection=collection,
            queries=[
                point_pb2.SearchQuery(vector=VECTORS["a"], k=1),
                point_pb2.SearchQuery(vector=VECTORS["c"], k=2, with_payload=False, with_vector=True),
            ],
        ),
        timeout=TIMEOUT_S,
    ).results
    assert len(results) == 2, f"BatchSearch: {len(results)} results, expected 2"
    assert [h.id for h in results[0].hits] == ["a"], f"BatchSearch[0]: {[h.id for h in results[0].hits]}"
    assert results[0].hits[0].HasField("payload"), "BatchSearch[0]: payload missing (default with_payload)"
    second = results[1].hits
    assert [h.id for h in second] == ["c", "b"], f"BatchSearch[1]: {[h.id for h in second]}, expected ['c', 'b']"
    assert not second[0].HasField("payload"), "BatchSearch[1]: payload present with with_payload=false"
    # Cosine collections store (and return) the unit-length vector.
    norm_b = math.sqrt(sum(x * x for x in VECTORS["b"]))
    assert all(close(x, y / norm_b) for x, y in zip(second[1].vector, VECTORS["b"])), (
        f"BatchSearch[1]: vector of b {list(second[1].vector)}, expected it normalised"
    )
    passed("batch_search")

    # Client-streaming Ingest: 5 batches from a generator; the last batch repeats one id (an update).
    def ingest_batches():
        for b in range(5):
            ids = [f"ing-{b}-{j}" for j in range(4)]
            if b == 4:
                ids[-1] = "ing-0-0"
            yield ps_pb2.IngestRequest(
                collection=collection if b == 0 else "",  # later messages may leave it empty
                points=[
                    point_pb2.Point(
                        id=pid,
                        vector=[1.0, float(b + 1), float(j), 0.5],
                        payload=struct_of({"source": "ingest", "batch": b}),
                    )
                    for j, pid in enumerate(ids)
                ],
            )

    ingested = points.Ingest(ingest_batches(), timeout=TIMEOUT_S)
    assert (ingested.batches, ingested.inserted, ingested.updated) == (5, 19, 1), (
        f"Ingest: batches={ingested.batches} inserted={ingested.inserted} updated={ingested.updated}, expected 5/19/1"
    )
    info = collections.GetCollection(cs_pb2.GetCollectionRequest(name=collection), timeout=TIMEOUT_S).collection
    assert info.point_count == 22, f"GetCollection after Ingest: point_count {info.point_count}, expected 22"
    passed("ingest_stream")

    # Delete by filter.
    deleted = points.Delete(
        ps_pb2.DeleteRequest(collection=collection, filter=point_pb2.Filter(must=[field_equals("source", "ingest")])),
        timeout=TIMEOUT_S,
    ).deleted
    assert deleted == 19, f"Delete by filter: deleted {deleted}, expected 19"
    info = collections.GetCollection(cs_pb2.GetCollectionRequest(name=collection), timeout=TIMEOUT_S).collection
    assert info.point_count == 3, f"GetCollection after Delete: point_count {info.point_count}, expected 3"
    passed("delete_filter")

    # Errors carry gRPC status codes and useful details.
    summary["dimension_error"] = expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: points.Search(ps_pb2.SearchRequest(collection=collection, vector=[1.0, 0.0, 0.0], k=1), timeout=TIMEOUT_S),
        mentions="dimension",
        what="Search with a 3-component vector",
    )
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        lambda: collections.GetCollection(cs_pb2.GetCollectionRequest(name=f"{collection}_missing"), timeout=TIMEOUT_S),
        what="GetCollection of a missing collection",
    )
    expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: points.Delete(ps_pb2.DeleteRequest(collection=collection), timeout=TIMEOUT_S),
        what="Delete with neither ids nor filter",
    )
    passed("errors")

    # ListCollections includes ours; DeleteCollection reports the points it held.
    names = [c.name for c in collections.ListCollections(cs_pb2.ListCollectionsRequest(), timeout=TIMEOUT_S).collections]
    assert collection in names, f"ListCollections: {collection} not in {names}"
    dropped = collections.DeleteCollection(cs_pb2.DeleteCollectionRequest(name=collection), timeout=TIMEOUT_S)
    assert dropped.deleted_points == 3, f"DeleteCollection: deleted_points {dropped.deleted_points}, expected 3"
    passed("list_and_drop")

    channel.close()
    summary["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    summary["checks"] = checks
    summary["ok"] = True
    return summary


def main():
    try:
        summary = run()
    except AssertionError as error:
        print(f"FAIL: {error} (passed so far: {checks})", file=sys.stderr)
        return 1
    except grpc.RpcError as error:
        print(f"FAIL: unexpected gRPC error {error.code().name}: {error.details()} (passed so far: {checks})", file=sys.stderr)
        return 1
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
