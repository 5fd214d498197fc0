"""Python client of the vectordb gRPC vector database.

    from vectordb_grpc_client import Client

    c = Client("127.0.0.1:50051")
    c.create_collection("docs", dimension=8, distance="cosine")
    c.upsert("docs", ids=["a", "b"], vectors=[[...], [...]], payloads=[{"lang": "en"}, {"lang": "fr"}])
    hits = c.search("docs", [...], k=3, filter={"must": [{"field": {"key": "lang", "equals": "en"}}]})

The generated messages and stubs are in ``vectordb_grpc_client.vectordb.v1`` for anything the typed
layer does not cover (``Client.channel`` is the underlying ``grpc.Channel``).
"""

from .client import DEFAULT_INGEST_BATCH_SIZE, DEFAULT_MESSAGE_BYTES_MAX, DEFAULT_TIMEOUT_S, Client
from .errors import VectorDbError
from .models import Batch, CollectionInfo, Hit, IngestResult, Payload, Point, Query, UpsertResult

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "Client",
    "CollectionInfo",
    "DEFAULT_INGEST_BATCH_SIZE",
    "DEFAULT_MESSAGE_BYTES_MAX",
    "DEFAULT_TIMEOUT_S",
    "Hit",
    "IngestResult",
    "Payload",
    "Point",
    "Query",
    "UpsertResult",
    "VectorDbError",
]
