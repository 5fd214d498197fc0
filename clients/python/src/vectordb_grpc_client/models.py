"""Plain data returned by (and accepted by) the client: frozen dataclasses, payloads as dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

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
class CollectionInfo:
    """A collection as the server describes it.

    ``distance``: ``"cosine"``, ``"dot"`` or ``"euclidean"``. ``m``, ``ef_construction``, ``ef``: the
    effective HNSW parameters (the server's defaults where creation left them out). ``point_count``:
    live points; ``indexed_point_count``: points linked into the HNSW graph so far (equal to
    ``point_count`` once background indexing has caught up); ``memory_bytes``: approximate memory used;
    ``quantization``: ``"int8"`` or ``None``; ``quantization_trained``: whether searches use the codes
    (from 1,000 points on).
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
