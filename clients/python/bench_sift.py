#!/usr/bin/python3
"""SIFT10K through the Python client: ingest rate, single-threaded search QPS, batch search QPS, recall@10.

Against a running server (it creates its own collection and drops it at the end):

    PYTHONPATH=clients/python/src /usr/bin/python3 clients/python/bench_sift.py --address 127.0.0.1:50051

`npm run bench:clients` starts a server and runs this beside the same measurement through the
TypeScript client (bench/client-sift-bench.ts).

Steps, timed with time.perf_counter:
  1. ingest: the 10,000 base vectors (128-d, euclidean) through Client.ingest in batches of
     --batch-size from a generator of numpy slices; vectors/s = 10,000 / seconds until Ingest returns
     (every batch durable and applied; the HNSW graph is built in the background meanwhile);
  2. index catch-up: seconds from the start of ingest until GetCollection reports every point linked
     into the graph (polled every 50 ms, at most --index-wait-s);
  3. search: the 100 queries, one Search at a time, k=10, ef=--ef, without payloads, --rounds times
     after 20 warm-up calls; QPS = calls / seconds, and p50/p99 latency in ms;
  4. recall@10: |hits ∩ ground-truth top 10| / 10, averaged over the 100 queries (first round);
  5. batch search: the 100 queries in one BatchSearch, --rounds times; QPS = queries / seconds.
Prints a table, or one JSON object with --json. Exit 1 with a message if the dataset is missing.
"""

import argparse
import json
import os
import platform
import sys
import time
import uuid

import grpc
import numpy as np

from vectordb_grpc_client import Client

K = 10
WARMUP_CALLS = 20
POLL_S = 0.05


def read_vecs(path, dtype):
    """A .fvecs/.ivecs file (TEXMEX: per record an int32 dimension, then that many values) as (n, d)."""
    raw = np.fromfile(path, dtype="<i4")
    if raw.size == 0:
        raise ValueError(f"{path}: empty")
    dimension = int(raw[0])
    if raw.size % (dimension + 1) != 0:
        raise ValueError(f"{path}: {raw.size * 4} bytes is not a whole number of {dimension}-d records")
    records = raw.reshape(-1, dimension + 1)
    if not np.all(records[:, 0] == dimension):
        raise ValueError(f"{path}: records of different dimensions")
    return np.ascontiguousarray(records[:, 1:]).view(dtype)


def default_dataset_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("VECTORDB_DATASETS_SIFT10K") or os.path.join(here, "..", "..", "..", "shared", "datasets", "sift10k")


def wait_indexed(client, name, deadline_s):
    deadline = time.perf_counter() + deadline_s
    while True:
        info = client.get_collection(name)
        if info.indexed_point_count == info.point_count:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{name}: {info.indexed_point_count} of {info.point_count} points indexed after {deadline_s} s")
        time.sleep(POLL_S)


def run(args):
    base = read_vecs(os.path.join(args.dataset, "siftsmall_base.fvecs"), "<f4")
    queries = read_vecs(os.path.join(args.dataset, "siftsmall_query.fvecs"), "<f4")
    truth = read_vecs(os.path.join(args.dataset, "siftsmall_groundtruth.ivecs"), "<i4")
    ids = [str(i) for i in range(len(base))]
    name = f"bench_sift_py_{uuid.uuid4().hex[:8]}"

    with Client(args.address, timeout=60.0) as client:
        client.create_collection(name, dimension=base.shape[1], distance="euclidean")
        try:
            started = time.perf_counter()
            batches = ((ids[i : i + args.batch_size], base[i : i + args.batch_size]) for i in range(0, len(base), args.batch_size))
            totals = client.ingest(name, batches, batch_size=args.batch_size)
            ingest_s = time.perf_counter() - started
            assert totals.inserted == len(base), totals
            wait_indexed(client, name, args.index_wait_s)
            indexed_s = time.perf_counter() - started

            for i in range(WARMUP_CALLS):
                client.search(name, queries[i % len(queries)], k=K, ef=args.ef, with_payload=False)
            latencies = []
            recall_hits = 0
            loop_started = time.perf_counter()
            for round_index in range(args.rounds):
                for q, query in enumerate(queries):
                    t = time.perf_counter()
                    hits = client.search(name, query, k=K, ef=args.ef, with_payload=False)
                    latencies.append(time.perf_counter() - t)
                    if round_index == 0:
                        recall_hits += len({int(h.id) for h in hits} & set(truth[q, :K].tolist()))
            search_s = time.perf_counter() - loop_started

            batch_started = time.perf_counter()
            for _ in range(args.rounds):
                results = client.batch_search(name, queries, k=K, ef=args.ef, with_payload=False)
                assert len(results) == len(queries)
            batch_s = time.perf_counter() - batch_started
        finally:
            client.delete_collection(name)

    latencies_ms = np.array(latencies) * 1000
    return {
        "client": "python",
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "points": len(base),
        "batch_size": args.batch_size,
        "ingest_s": round(ingest_s, 3),
        "ingest_vectors_per_s": round(len(base) / ingest_s),
        "indexed_s": round(indexed_s, 3),
        "ef": args.ef,
        "search_calls": len(latencies),
        "search_qps": round(len(latencies) / search_s),
        "search_p50_ms": round(float(np.percentile(latencies_ms, 50)), 3),
        "search_p99_ms": round(float(np.percentile(latencies_ms, 99)), 3),
        "batch_search_qps": round(args.rounds * len(queries) / batch_s),
        "recall_at_10": round(recall_hits / (K * len(queries)), 4),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="server host:port")
    parser.add_argument("--dataset", default=default_dataset_dir(), help="folder with siftsmall_*.fvecs/.ivecs")
    parser.add_argument("--batch-size", type=int, default=1000, help="points per Ingest message")
    parser.add_argument("--ef", type=int, default=64, help="HNSW ef of each search")
    parser.add_argument("--rounds", type=int, default=10, help="passes over the 100 queries (1 to 1000)")
    parser.add_argument("--index-wait-s", type=float, default=600.0, help="longest wait for the graph to catch up, s")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 1000:
        parser.error("--rounds must be 1 to 1000")
    if not os.path.exists(os.path.join(args.dataset, "siftsmall_base.fvecs")):
        print(f"bench_sift: SIFT10K not found in {args.dataset} (--dataset)", file=sys.stderr)
        return 1
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
