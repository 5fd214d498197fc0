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

import io
import json
import os
import subprocess
import sys
import tempfile
import threading
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
    from vectordb_grpc_client import Alias, Batch, Client, DeleteAlias, Hit, Point, Query, RenameAlias, VectorDbError
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
    info = c.get_collection(name)
    assert info.point_count == 7 + 53, "point_count after ingest"
    assert sum(s.point_count for s in info.segments) == info.point_count, f"segments hold the points: {info.segments}"
    assert info.segments[-1].sealed is False, "the appendable segment comes last"
    assert info.vector_bytes >= info.point_count * DIM * 4, f"vector_bytes {info.vector_bytes}"
    assert info.applied_sequence > 0 and info.replication_lag == 0, "applied_sequence, replication_lag"
    assert info.recall_estimate is None or 0.0 <= info.recall_estimate <= 1.0, "recall_estimate"
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


def check_data_api(summary):
    """Scroll, count, payload updates, aliases, update_collection, snapshots and ingest_stream."""
    name = f"pkg_{uuid.uuid4().hex[:10]}"
    c = Client(ADDRESS, timeout=TIMEOUT_S)
    c.create_collection(name, dimension=4, distance="euclidean")
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((250, 4)).astype(np.float32)
    ids = [f"s{i:03d}" for i in range(250)]
    c.upsert(name, ids=ids, vectors=vectors, payloads=[{"g": i % 3, "i": i} for i in range(250)])

    # scroll, iter_points and count.
    first = c.scroll(name, limit=3, with_vector=True)
    assert [p.id for p in first.points] == ["s000", "s001", "s002"] and first.next_cursor is not None, first
    assert np.allclose(first.points[1].vector, vectors[1]) and first.points[1].payload == {"g": 1, "i": 1}, first.points[1]
    second = c.scroll(name, limit=2, cursor=first.next_cursor, with_payload=False)
    assert [p.id for p in second.points] == ["s003", "s004"], second
    assert second.points[0].payload is None and second.points[0].vector is None, second.points[0]
    g1 = {"must": [{"field": {"key": "g", "equals": 1}}]}
    last = c.scroll(name, limit=1000, filter=g1)
    assert len(last.points) == 83 and last.next_cursor is None, (len(last.points), last.next_cursor)
    seen = [p.id for p in c.iter_points(name, page_size=60)]
    assert seen == ids, "iter_points: every id once, ascending"
    assert [p.id for p in c.iter_points(name, filter=g1, page_size=7)] == ids[1::3], "iter_points with a filter"
    assert c.count(name) == 250 and c.count(name, g1) == 83, "count"
    assert c.count(name, {"must": [{"field": {"key": "i", "range": {"gte": 200}}}]}) == 50, "count with a range"
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: c.scroll(name, limit=10_001), "scroll limit", "limit")
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: c.scroll(name, cursor="bogus"), "scroll cursor", "cursor")
    expect_error(grpc.StatusCode.NOT_FOUND, lambda: c.count(name + "_missing"), "count a missing collection")
    passed("scroll_count")

    # Payload updates, by ids and by filter.
    assert c.set_payload(name, {"tag": "x", "meta": {"lang": "en", "n": 1}}, ["s000", "s001", "missing"]) == 2, "set_payload ids"
    assert c.get(name, ["s000"])[0].payload == {"g": 0, "i": 0, "tag": "x", "meta": {"lang": "en", "n": 1}}, "merged"
    assert c.delete_payload_keys(name, ["meta.lang", "i"], ["s000"]) == 1, "delete_payload_keys"
    assert c.get(name, ["s000"])[0].payload == {"g": 0, "tag": "x", "meta": {"n": 1}}, "nested key removed"
    g2 = {"must": [{"field": {"key": "g", "equals": 2}}]}
    assert c.overwrite_payload(name, {"only": True}, filter=g2) == 83, "overwrite_payload filter"
    assert c.get(name, ["s002"])[0].payload == {"only": True}, "overwritten"
    assert c.count(name, {"must": [{"field": {"key": "only", "exists": True}}]}) == 83, "count after overwrite"
    assert c.clear_payload(name, filter={"must": [{"field": {"key": "tag", "equals": "x"}}]}) == 2, "clear_payload filter"
    assert c.get(name, ["s001"])[0].payload == {}, "cleared"
    assert c.clear_payload(name, ["s003"]) == 1, "clear_payload ids"
    expect_raises(ValueError, lambda: c.set_payload(name, {"a": 1}), "set_payload without ids or filter")
    expect_raises(ValueError, lambda: c.clear_payload(name, ["s0"], filter=g1), "clear_payload with both")
    expect_raises(TypeError, lambda: c.delete_payload_keys(name, "tag", ["s0"]), "one str as keys")
    expect_raises(TypeError, lambda: c.overwrite_payload(name, [1], ["s0"]), "a list as payload")
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: c.set_payload(name, {}, ["s000"]), "set_payload {}", "payload")
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: c.clear_payload(name, filter={}), "clear_payload empty filter", "filter")
    passed("payload_updates")

    # update_collection and aliases.
    assert c.update_collection(name, ef=77).ef == 77 and c.get_collection(name).ef == 77, "update_collection"
    expect_raises(ValueError, lambda: c.update_collection(name, ef=0), "ef 0")
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, lambda: c.update_collection(name, ef=1_000_000), "ef too large", "ef")
    other = name + "_v2"
    c.create_collection(other, dimension=4, distance="euclidean")
    alias = name + "_live"
    c.create_alias(alias, name)
    assert c.count(alias) == 250, "count through an alias"
    c.switch_alias(alias, other)
    assert c.count(alias) == 0, "the alias names the other collection after switch_alias"
    assert c.list_aliases(other) == [Alias(alias=alias, collection=other)], c.list_aliases(other)
    c.rename_alias(alias, alias + "2")
    c.update_aliases([DeleteAlias(alias + "2"), {"create_alias": {"alias": alias, "collection": name}}, RenameAlias(alias, alias + "3")])
    assert [a for a in c.list_aliases() if a.alias.startswith(name)] == [Alias(alias + "3", name)], c.list_aliases()
    expect_error(grpc.StatusCode.NOT_FOUND, lambda: c.switch_alias(name + "_nope", other), "switch a missing alias", name + "_nope")
    expect_error(grpc.StatusCode.ALREADY_EXISTS, lambda: c.create_alias(other, name), "an alias named like a collection", other)
    expect_raises(TypeError, lambda: c.update_aliases([("create", "a", "b")]), "a tuple as an action")
    c.delete_alias(alias + "3")
    assert [a for a in c.list_aliases() if a.alias.startswith(name)] == [], "aliases left"
    c.delete_collection(other)
    passed("update_collection_aliases")

    check_snapshots(c, name)
    check_ingest_stream(c, name, summary)
    c.delete_collection(name)
    c.close()


def check_snapshots(c, name):
    info = c.create_snapshot(name)
    assert info.collection == name and info.point_count == 250 and len(info.sha256) == 64, info
    assert info.created_at is not None and info.created_at.tzinfo is not None, info.created_at
    assert c.list_snapshots(name) == [info], c.list_snapshots(name)
    copy, copy2 = name + "_copy", name + "_copy2"
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "copy.snapshot")
        assert c.download_snapshot(name, info.name, path) == info, "download to a path"
        assert os.path.getsize(path) == info.size_bytes and os.listdir(directory) == ["copy.snapshot"], os.listdir(directory)
        buffer = io.BytesIO()
        assert c.download_snapshot(name, info.name, buffer) == info and buffer.getvalue() == open(path, "rb").read(), "download to a stream"
        restored = c.restore_snapshot(copy, path)
        assert (restored.name, restored.point_count, restored.dimension) == (copy, 250, 4), restored
        buffer.seek(0)
        restored = c.restore_snapshot(copy2, buffer, sha256=info.sha256, chunk_bytes=4096)
        assert restored.point_count == 250, restored
        assert c.get(copy2, ["s002"]) == c.get(name, ["s002"]), "restored points equal the original's"
        damaged = bytearray(buffer.getvalue())
        damaged[len(damaged) // 2] ^= 0xFF
        expect_error(grpc.StatusCode.DATA_LOSS, lambda: c.restore_snapshot(name + "_bad", io.BytesIO(bytes(damaged))), "damaged snapshot", "snapshot")
        expect_error(grpc.StatusCode.DATA_LOSS, lambda: c.restore_snapshot(name + "_bad", path, sha256="0" * 64), "wrong sha256", "sha256")
        assert name + "_bad" not in [i.name for i in c.list_collections()], "a refused restore leaves nothing"
        unseekable = open(path, "rb", buffering=0)
        unseekable.seekable = lambda: False
        expect_raises(ValueError, lambda: c.restore_snapshot(name + "_bad", unseekable), "no sha256 for a stream that cannot seek")
        unseekable.close()
        expect_raises(ValueError, lambda: c.restore_snapshot(name + "_bad", path, chunk_bytes=0), "chunk_bytes 0")
        missing = os.path.join(directory, "missing.snapshot")
        expect_error(grpc.StatusCode.NOT_FOUND, lambda: c.download_snapshot(name, info.name[:-17] + "00000000.snapshot", missing), "download a missing snapshot")
        assert sorted(os.listdir(directory)) == ["copy.snapshot"], f"a failed download left {os.listdir(directory)}"
    c.delete_snapshot(name, info.name)
    assert c.list_snapshots(name) == [], "delete_snapshot"
    expect_error(grpc.StatusCode.NOT_FOUND, lambda: c.delete_snapshot(name, info.name), "delete a deleted snapshot")
    c.delete_collection(copy)
    c.delete_collection(copy2)
    passed("snapshots")


def check_ingest_stream(c, name, summary):
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((300, 4)).astype(np.float32)

    def load(fail_at=None, gate=None, reached=None):
        """10 batches of 30 points; raises at batch `fail_at`; after the first, sets `reached` and waits for `gate`."""
        for b in range(10):
            if b == fail_at:
                raise RuntimeError("producer died")
            if b == 1 and gate is not None:
                reached.set()
                gate.wait(10)
            yield ([f"L{b * 30 + j:03d}" for j in range(30)], vectors[b * 30 : (b + 1) * 30], [{"b": b}] * 30)

    error = expect_raises(RuntimeError, lambda: c.ingest_stream(name, load(fail_at=4), ingest_id="load-a"), "producer exception")
    assert str(error) == "producer died", error
    progress = []
    result = c.ingest_stream(name, load(), ingest_id="load-a", on_durable=lambda seq, points: progress.append((seq, points)))
    before = result.resumed_after
    assert before <= 4 and result.skipped_points == 30 * before, result
    assert (result.batches, result.durable_batch_seq) == (10 - before, 10), result
    # No batch was applied twice: every point this call sent was new.
    assert (result.inserted, result.updated) == (30 * (10 - before), 0), result
    assert progress[-1] == (10, 300) and [seq for seq, _ in progress] == list(range(before + 1, 11)), progress
    assert c.count(name, {"must": [{"field": {"key": "b", "range": {"gte": 0}}}]}) == 300, "every point of the load"
    assert c.ingest_progress(name, "load-a") == 10 and c.ingest_progress(name, "load-new") == 0, "ingest_progress"
    again = c.ingest_stream(name, load(), ingest_id="load-a")
    assert (again.resumed_after, again.batches, again.skipped_points, again.inserted) == (10, 0, 300, 0), again
    summary["ingest_stream_resumed_after"] = before

    # A second stream of a load that is open: ABORTED at once without retry, resumed with one.
    gate, reached = threading.Event(), threading.Event()
    holder = {}
    thread = threading.Thread(target=lambda: holder.update(result=c.ingest_stream(name, load(gate=gate, reached=reached), ingest_id="load-b")))
    thread.start()
    assert reached.wait(10), "the first stream did not start"  # it has sent batch 1 and waits for the gate
    expect_error(grpc.StatusCode.ABORTED, lambda: c.ingest_stream(name, load(), ingest_id="load-b", aborted_retry=0), "a second stream of one load", "ingest_id")
    threading.Timer(0.3, gate.set).start()
    waited = c.ingest_stream(name, load(), ingest_id="load-b", aborted_retry=10)
    thread.join(10)
    assert holder["result"].durable_batch_seq == 10, holder
    assert (waited.resumed_after, waited.batches) == (10, 0), waited

    error = expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: c.ingest_stream(name, [("bad", [1.0, 2.0])], ingest_id="load-c"),
        "a bad batch", "batches[1]",
    )
    summary["ingest_stream_bad_batch_error"] = error.details
    expect_raises(ValueError, lambda: c.ingest_stream(name, [], ingest_id=""), "empty ingest_id")
    expect_raises(ValueError, lambda: c.ingest_stream(name, [], ingest_id="x", batch_size=0), "batch_size 0")
    expect_error(grpc.StatusCode.NOT_FOUND, lambda: c.ingest_stream(name + "_missing", [], ingest_id="x"), "missing collection")
    passed("ingest_stream")


def check_ingest_stream_stall(summary):
    """stall_timeout, against a grpcio server that answers the opening message and then never acknowledges."""
    cancelled = threading.Event()

    def ingest_stream(request_iterator, context):
        next(request_iterator)
        yield b""  # IngestStreamResponse{durable_batch_seq: 0}
        context.add_callback(cancelled.set)
        for _ in request_iterator:
            pass  # reads the batches, acknowledges none
        cancelled.wait(10)

    handler = grpc.method_handlers_generic_handler(
        "vectordb.v1.PointService", {"IngestStream": grpc.stream_stream_rpc_method_handler(ingest_stream)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with Client(f"127.0.0.1:{port}") as c:
            started = time.monotonic()
            error = expect_error(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                lambda: c.ingest_stream("x", [("a", [1.0])], ingest_id="stalled", stall_timeout=0.5),
                "a stalled load", "stall_timeout",
            )
            elapsed = time.monotonic() - started
            assert 0.5 <= elapsed < 5, f"gave up after {elapsed:.2f} s"
            assert cancelled.wait(5), "the stalled stream was not cancelled"
    finally:
        server.stop(grace=None)
    summary["stall_error"] = error.details
    passed("ingest_stream_stall")


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
        check_data_api(summary)
        check_ingest_stream_stall(summary)
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
