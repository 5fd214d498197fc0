"""Plain data returned by (and accepted by) the client: frozen dataclasses, payloads as dicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

Payload = Dict[str, Any]
"""A point's payload: a JSON object (str keys; values str, int, float, bool, None, lists, dicts).

On the wire it is a ``google.protobuf.Struct``, whose numbers are doubles: a whole number within
±2**53 comes back as ``int`` (so ``{"year": 2024}`` round-trips), any other number as ``float``.
"""


@dataclass(frozen=True)
class Point:
    """A point: a unique id (1 to 256 UTF-8 bytes), a vector and an optional payload.

    ``vector`` is ``None`` in ``Client.get`` results asked ``with_vector=False``; ``payload`` is
    ``None`` when asked ``with_payload=False``, and ``{}`` for a point stored without one. Also accepted
    as an item of ``Client.ingest``, with ``vector`` a sequence of floats or a 1-D numpy array.
    """

    id: str
    vector: Optional[Sequence[float]]
    payload: Optional[Payload] = None


@dataclass(frozen=True)
class Batch:
    """Points for ``Client.ingest`` given column-wise: ``vectors`` is a 2-D numpy array (n, dimension)
    or a sequence of n vectors; ``payloads``, when given, has n dicts (or ``None`` entries)."""

    ids: Sequence[str]
    vectors: Any
    payloads: Optional[Sequence[Optional[Payload]]] = None


@dataclass(frozen=True)
class Hit:
    """One search result. ``score``: cosine similarity in [-1, 1] (cosine), inner product (dot) or L2
    distance (euclidean); results are best first (highest similarity, smallest distance).
    ``payload`` is ``None`` when the search asked ``with_payload=False`` (``{}`` for a point stored
    without one); ``vector`` is ``None``
    unless it asked ``with_vector=True`` (cosine collections store, and return, unit vectors)."""

    id: str
    score: float
    payload: Optional[Payload] = None
    vector: Optional[List[float]] = None


@dataclass(frozen=True)
class Query:
    """One query of ``Client.batch_search`` with its own settings; a field left ``None`` takes the
    value given to ``batch_search`` for all queries."""

    vector: Sequence[float]
    k: Optional[int] = None
    filter: Any = None
    score_threshold: Optional[float] = None
    ef: Optional[int] = None
    exact: Optional[bool] = None
    with_payload: Optional[bool] = None
    with_vector: Optional[bool] = None


@dataclass(frozen=True)
class SegmentInfo:
    """One segment of a collection (its own memory, HNSW graph and file).

    ``id``: the segment's id within the collection, never reused; ``point_count`` live points;
    ``deleted_count`` deleted points it still holds until the optimizer vacuums it; ``memory_bytes``
    approximate memory (vectors, graph, ids, payloads); ``indexed`` whether every live point is linked
    into its graph; ``sealed`` ``False`` for the appendable segment; ``file_bytes`` size of its file as
    the last checkpoint wrote it (0 before the first).
    """

    id: int
    point_count: int
    deleted_count: int
    memory_bytes: int
    indexed: bool
    sealed: bool
    file_bytes: int


@dataclass(frozen=True)
class CollectionInfo:
    """A collection as the server describes it.

    ``distance``: ``"cosine"``, ``"dot"`` or ``"euclidean"``. ``m``, ``ef_construction``, ``ef``: the
    effective HNSW parameters (the server's defaults where creation left them out). ``point_count``:
    live points; ``indexed_point_count``: points linked into the HNSW graph so far (equal to
    ``point_count`` once background indexing has caught up); ``memory_bytes``: approximate memory used,
    of which ``vector_bytes`` are float32 vectors and ``quantized_vector_bytes`` int8 codes;
    ``quantization``: ``"int8"`` or ``None``; ``quantization_trained``: whether searches use the codes
    (from 1,000 points on). ``recall_estimate``: mean recall@k of the last sampled graph searches
    against an exact scan (``None`` before the first sample), over ``recall_samples`` samples.
    ``segments``: sealed segments first, the appendable one last. ``applied_sequence``: the last write
    applied (WAL sequence, or the replicated log's in replication mode); ``replication_lag``: log
    records this replica has not applied yet (0 in embedded mode).
    """

    name: str
    dimension: int
    distance: str
    m: int
    ef_construction: int
    ef: int
    point_count: int
    indexed_point_count: int
    memory_bytes: int
    quantization: Optional[str] = None
    quantization_trained: bool = False
    vector_bytes: int = 0
    quantized_vector_bytes: int = 0
    recall_estimate: Optional[float] = None
    recall_samples: int = 0
    segments: Tuple[SegmentInfo, ...] = ()
    applied_sequence: int = 0
    replication_lag: int = 0


@dataclass(frozen=True)
class UpsertResult:
    """What an upsert did: ``inserted`` new ids, ``updated`` existing ids replaced."""

    inserted: int
    updated: int


@dataclass(frozen=True)
class IngestResult:
    """Totals of an ingest stream: ``batches`` messages sent, ``inserted`` new ids, ``updated`` ids replaced."""

    batches: int
    inserted: int
    updated: int


@dataclass(frozen=True)
class ScrollPage:
    """One page of ``Client.scroll``: ``points`` ascending by id (ids compare by their UTF-16 code
    units), and ``next_cursor``, the ``cursor`` of the next page, ``None`` after the last one."""

    points: List[Point]
    next_cursor: Optional[str]


@dataclass(frozen=True)
class Alias:
    """An alias (another name of a collection, accepted wherever a collection is named) and the
    collection's own name."""

    alias: str
    collection: str


@dataclass(frozen=True)
class CreateAlias:
    """An action of ``Client.update_aliases``: create ``alias`` for ``collection`` (its own name, not
    another alias). ``ALREADY_EXISTS`` when a collection or an alias has that name."""

    alias: str
    collection: str


@dataclass(frozen=True)
class DeleteAlias:
    """An action of ``Client.update_aliases``: delete ``alias`` (its collection stays).
    ``NOT_FOUND`` when there is no such alias."""

    alias: str


@dataclass(frozen=True)
class RenameAlias:
    """An action of ``Client.update_aliases``: rename ``old_alias`` to ``new_alias`` (it keeps naming
    the same collection)."""

    old_alias: str
    new_alias: str


AliasActionItem = Union[CreateAlias, DeleteAlias, RenameAlias]
"""One action of ``Client.update_aliases`` (a dict in the proto3 JSON form of
``vectordb.v1.AliasAction`` or an ``AliasAction`` message are accepted too)."""


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot file on the server, in ``<data-dir>/snapshots/<collection>/``.

    ``name``: ``<collection>-<UTC time>-<8 hex digits>.snapshot``; ``size_bytes``: the file's size;
    ``sha256``: 64 lowercase hex digits of the whole file; ``collection``: the collection it was taken
    of (its own name); ``created_at``: when it was taken (timezone-aware, UTC; ``None`` if the server
    did not say); ``sequence``: the collection's last write sequence it holds; ``point_count``: points
    it holds.
    """

    name: str
    size_bytes: int
    sha256: str
    collection: str
    created_at: Optional[datetime]
    sequence: int
    point_count: int


@dataclass(frozen=True)
class IngestStreamResult:
    """What one ``Client.ingest_stream`` call did.

    ``ingest_id``: the load's id; ``resumed_after``: the batch that was durable already when the call
    started (0 for a new load), whose batches were read but not sent; ``skipped_points``: their points;
    ``batches``: batches sent and acknowledged as durable by this call; ``inserted``/``updated``: their
    new and replaced ids; ``durable_batch_seq``: the load's last durable batch now
    (``resumed_after + batches``, the number of batches of the whole load once it is complete).
    """

    ingest_id: str
    resumed_after: int
    skipped_points: int
    batches: int
    inserted: int
    updated: int
    durable_batch_seq: int
