"""Calls a vectordb server with Debian's python3-grpcio and reports the status of each case.

Usage: security_check.py '<json>' where the JSON holds {"address": "127.0.0.1:PORT", "cases": [...]}
and each case is {"name": str, "call": "list" | "create", "api_key": str | null,
"tls": null | {"ca": path, "cert": path | null, "key": path | null}}. Prints one JSON object: case
name -> gRPC status name ("OK", "UNAUTHENTICATED", ...), or "UNAVAILABLE" when no channel comes up.
Uses the generated stubs of clients/python (PYTHONPATH=clients/python/src), not the typed layer, so the
headers and credentials are exactly grpcio's.
"""
import json
import sys

import grpc

from vectordb_grpc_client.vectordb.v1 import collection_service_pb2, collection_service_pb2_grpc


def read(path):
    if path is None:
        return None
    with open(path, "rb") as handle:
        return handle.read()


def run_case(address, case):
    tls = case.get("tls")
    if tls is None:
        channel = grpc.insecure_channel(address)
    else:
        credentials = grpc.ssl_channel_credentials(read(tls["ca"]), read(tls.get("key")), read(tls.get("cert")))
        channel = grpc.secure_channel(address, credentials)
    metadata = [] if case.get("api_key") is None else [("api-key", case["api_key"])]
    stub = collection_service_pb2_grpc.CollectionServiceStub(channel)
    try:
        if case["call"] == "list":
            stub.ListCollections(collection_service_pb2.ListCollectionsRequest(), metadata=metadata, timeout=10)
        else:
            request = collection_service_pb2.CreateCollectionRequest(name=case["name"].replace(" ", "_"), dimension=2, distance=3)
            stub.CreateCollection(request, metadata=metadata, timeout=10)
        return "OK"
    except grpc.RpcError as error:
        return error.code().name
    finally:
        channel.close()


def main():
    config = json.loads(sys.argv[1])
    results = {case["name"]: run_case(config["address"], case) for case in config["cases"]}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
