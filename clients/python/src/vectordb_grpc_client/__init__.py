"""Python client of the vectordb gRPC vector database.

    from vectordb_grpc_client import Client

    c = Client("127.0.0.1:50051")
    c.create_collection("docs", dimension=8, distance="cosine")
    c.upsert("docs", ids=["a", "b"], vectors=[[...], [...]], payloads=[{"lang": "en"}, {"lang": "fr"}])
    hits = c.search("docs", [...], k=3, filter={"must": [{"field": {"key": "lang", "equals": "en"}}]})

``Client`` has a method for every RPC of ``vectordb.v1`` (collections, aliases, points, payloads,
scroll and count, bulk loads, snapshots). The generated messages and stubs are in
``vectordb_grpc_client.vectordb.v1`` (``Client.channel`` is the underlying ``grpc.Channel``).
"""

from .client import (
    DEFAULT_ABORTED_RETRY_S,
    DEFAULT_INGEST_BATCH_SIZE,
    DEFAULT_MESSAGE_BYTES_MAX,
    DEFAULT_STALL_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    SNAPSHOT_CHUNK_BYTES,
    Client,
)
from .errors import VectorDbError
from .models import (
    Alias,
    AliasActionItem,
    Batch,
    CollectionInfo,
    CreateAlias,
    DeleteAlias,
    Hit,
    IngestResult,
    IngestStreamResult,
    Payload,
    Point,
    Query,
    RenameAlias,
    ScrollPage,
    SegmentInfo,
    SnapshotInfo,
    UpsertResult,
)

__version__ = "0.1.0"

__all__ = [
    "Alias",
    "AliasActionItem",
    "Batch",
    "Client",
    "CollectionInfo",
    "CreateAlias",
    "DEFAULT_ABORTED_RETRY_S",
    "DEFAULT_INGEST_BATCH_SIZE",
    "DEFAULT_MESSAGE_BYTES_MAX",
    "DEFAULT_STALL_TIMEOUT_S",
    "DEFAULT_TIMEOUT_S",
    "DeleteAlias",
    "Hit",
    "IngestResult",
    "IngestStreamResult",
    "Payload",
    "Point",
    "Query",
    "RenameAlias",
    "SNAPSHOT_CHUNK_BYTES",
    "ScrollPage",
    "SegmentInfo",
    "SnapshotInfo",
    "UpsertResult",
    "VectorDbError",
]
